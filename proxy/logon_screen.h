/*
 * The logon screen an RDP client gets when it sent no password (mstsc
 * without NLA): a title, a user name field, a password field shown as
 * dots, a Sign in button and a message line, in Japanese and English,
 * drawn with cairo and pango (Noto Sans CJK) into a B G R X picture of
 * the client's desktop size. Keys (set-1 scancodes of a US type-4 or a
 * Japanese type-7 keyboard), Unicode characters (IME text) and clicks
 * edit the fields; Enter or the button asks the caller to check the
 * credentials. Only tiles that changed since they were last taken are
 * reported. No FreeRDP or pixel-link code here.
 *
 * Handles untrusted input: every key, character and click of the client;
 * fields are bounded, control characters and lone surrogates dropped.
 * The password is never drawn (only one dot per character) and is wiped
 * whenever it is cleared and on destroy. Not thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rect.h"

/* Field limits in bytes of UTF-8 (the control protocol takes at least this much). */
#define LOGON_MAX_USER 64
#define LOGON_MAX_PASSWORD 256

struct logon_screen;

enum logon_keyboard {
	LOGON_KEYBOARD_US, /* type 4, 101/102 keys */
	LOGON_KEYBOARD_JP, /* type 7, 106/109 keys */
};

enum logon_action {
	LOGON_NONE,
	LOGON_SUBMIT, /* the user asked to sign in: check user and password */
};

/**
 * A screen of width x height, the user name field prefilled with user
 * (NULL or "" for none; cut at LOGON_MAX_USER bytes), focus on the first
 * empty field. NULL on error (logged).
 */
struct logon_screen *logon_screen_create(uint16_t width, uint16_t height, const char *user,
                                         enum logon_keyboard keyboard);

/** Wipes the fields and frees. Accepts NULL. */
void logon_screen_destroy(struct logon_screen *ls);

uint16_t logon_screen_width(const struct logon_screen *ls);
uint16_t logon_screen_height(const struct logon_screen *ls);

/**
 * Draws what changed and moves the changed rectangles into *out; false
 * when nothing changed. Call before logon_screen_pixels.
 */
bool logon_screen_take_changes(struct logon_screen *ls, struct region *out);

/** The picture as last taken: B G R X, stride bytes a row. */
const uint8_t *logon_screen_pixels(const struct logon_screen *ls, size_t *stride);

/** The client needs the whole picture again. */
void logon_screen_mark_all(struct logon_screen *ls);

/** A key by set-1 scancode (0xe0xx: extended), pressed or released. */
enum logon_action logon_screen_key(struct logon_screen *ls, uint16_t scancode, bool down);

/** One UTF-16 code unit typed as text (surrogate pairs are joined). */
enum logon_action logon_screen_utf16(struct logon_screen *ls, uint16_t unit);

/** A left click at x, y: focuses a field or presses the button. */
enum logon_action logon_screen_click(struct logon_screen *ls, int x, int y);

/** The lock keys' state as the client reports it (synchronise); forgets held keys. */
void logon_screen_sync(struct logon_screen *ls, bool caps_lock, bool num_lock);

/** The fields as typed (UTF-8, NUL-terminated; valid until the next call). */
const char *logon_screen_user(const struct logon_screen *ls);
const char *logon_screen_password(const struct logon_screen *ls);

/** Shows a line in the message area (UTF-8); error draws it in red. */
void logon_screen_message(struct logon_screen *ls, const char *text, bool error);

/**
 * The pool refused the login (host full): the whole screen shows the
 * notice for reason (refusal_notice.h) instead of the form; the password is wiped.
 */
void logon_screen_notice(struct logon_screen *ls, const char *reason);

/** The login failed: wipes and clears the password, focuses it, says why. */
void logon_screen_refused(struct logon_screen *ls, const char *message);
