/*
 * The RDP front-end's side of the pixel link, after login: takes the link
 * over (RESYNC), asks render for the RDP client's desktop size, keeps its
 * own copy of the picture at that size with the rectangles that changed
 * since they were last taken, and turns the client's input into
 * pixel-link messages, tracking held keys and buttons so that nothing
 * stays pressed when the client goes. No FreeRDP header here: rdp.c and
 * rdp_output.c speak RDP, this module speaks only the pixel link.
 *
 * Handles untrusted input: the pixel link (checked by pixlink_client;
 * damage is clipped again to the desktop here). Not thread-safe: the
 * worker's one RDP thread owns it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fbdiff.h"
#include "rect.h"

struct worker;
struct rdp_session;

/* The cursor image as render last sent it (premultiplied B, G, R, A). */
struct rdp_cursor {
	uint32_t serial;
	uint16_t width, height, hot_x, hot_y;
	uint8_t pixels[128 * 128 * 4];
};

/**
 * Takes over the pixel link link_fd (owned from here on, closed on
 * failure too) for a desktop of width x height (the caller clamps it to
 * [display] max_width/max_height): sends RESYNC, and RESIZE once render's
 * framebuffer turns out to be another size. NULL on error (logged).
 */
struct rdp_session *rdp_session_create(struct worker *w, int link_fd, uint16_t width,
                                       uint16_t height);

/**
 * The client's desktop is now width x height (the caller clamps it): the
 * picture takes that size at once (what render has, cropped or padded
 * with black, all marked changed) and render is asked for it; until render
 * answers or a few seconds pass, rdp_session_ready() is false. 0, or -1 when out of memory (nothing
 * changed).
 */
int rdp_session_resize(struct rdp_session *s, uint16_t width, uint16_t height);

/** Releases held keys and buttons, closes the link, frees. Accepts NULL. */
void rdp_session_destroy(struct rdp_session *s);

/**
 * The browser's clipboard text (filtered UTF-8, as the pixel link
 * carries it) that came since the last call (the last one, if several);
 * NULL if none. The session owns it until the next rdp_session_read().
 */
const uint8_t *rdp_session_take_clipboard(struct rdp_session *s, size_t *len);

/**
 * Hands the viewer's clipboard text to the browser: len bytes of text
 * already through cliptext_filter() (at most PIXLINK_MAX_CLIPBOARD).
 */
void rdp_session_clipboard_in(struct rdp_session *s, const uint8_t *text, size_t len);

/** The link's socket, for the caller's wait (readable: rdp_session_read). */
int rdp_session_fd(const struct rdp_session *s);

/**
 * Handles everything render sent: damage is copied into the picture and
 * remembered as changed. 0, or -1 when the link ended (logged).
 */
int rdp_session_read(struct rdp_session *s);

/**
 * True once the picture is worth showing: render sent a framebuffer of the
 * desktop's size, or refused to resize, or did not within a few seconds
 * (the picture is then cropped or padded with black).
 */
bool rdp_session_ready(const struct rdp_session *s);

uint16_t rdp_session_width(const struct rdp_session *s);
uint16_t rdp_session_height(const struct rdp_session *s);

/** The picture: width x height pixels, B G R X, stride bytes per row. */
const uint8_t *rdp_session_pixels(const struct rdp_session *s, size_t *stride);

/* Scrolls kept for one frame at most; more within one frame are sent as pixels. */
#define RDP_SESSION_MAX_MOVES 8

/**
 * Takes the scrolls (at most cap, in order) the client must apply before
 * the changed rectangles are painted; call it before take_changes.
 */
size_t rdp_session_take_moves(struct rdp_session *s, struct fbdiff_move *out, size_t cap);

/**
 * Called from rdp_session_read() with the pixels each damage report from
 * render changed (scrolls left out), whether or not a frame goes out.
 */
typedef void (*rdp_session_observer)(void *arg, const struct region *changes);
void rdp_session_set_observer(struct rdp_session *s, rdp_session_observer fn, void *arg);

/** Whether a scroll waits to be sent (taken by rdp_session_take_moves). */
bool rdp_session_scrolling(const struct rdp_session *s);

/** The changed rectangles not yet taken. */
const struct region *rdp_session_changes(const struct rdp_session *s);

/** Moves the changed rectangles into *out; false when nothing changed. */
bool rdp_session_take_changes(struct rdp_session *s, struct region *out);

/** Marks the whole picture changed (a client asked for a refresh, a new surface). */
void rdp_session_mark_all(struct rdp_session *s);

/**
 * The client can take another frame: lets render send the next damage
 * (one credit outstanding at most), now or, within [display] max_fps,
 * once the frame's time has come (rdp_session_read gives it then).
 */
void rdp_session_want_frame(struct rdp_session *s);

/** Milliseconds until a frame wanted may be asked for; -1 if none waits. */
int64_t rdp_session_frame_wait_ms(const struct rdp_session *s);

/** The cursor if it changed since the last call, else NULL. */
const struct rdp_cursor *rdp_session_take_cursor(struct rdp_session *s);

/** A key by PC/AT set-1 scancode, 0xe0xx for extended keys. */
void rdp_session_key(struct rdp_session *s, uint16_t scancode, bool down);
/** A key by X keysym (keys RDP sends without a usable scancode: Pause). */
void rdp_session_keysym(struct rdp_session *s, uint32_t keysym, bool down);
/** One UTF-16 code unit typed as text; surrogate pairs are joined here. */
void rdp_session_utf16(struct rdp_session *s, uint16_t unit);
/** Pointer moved (clamped to the desktop). */
void rdp_session_move(struct rdp_session *s, int x, int y);
/** A PIXLINK_BUTTON_* pressed or released at the current position. */
void rdp_session_button(struct rdp_session *s, uint32_t button, bool down);
/** Wheel notches; positive = right, down. */
void rdp_session_wheel(struct rdp_session *s, int dx, int dy);
/** Releases every key and button the client holds (focus lost, synchronise). */
void rdp_session_release_all(struct rdp_session *s);
