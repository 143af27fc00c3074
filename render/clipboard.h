/*
 * The clipboard inside the session's X server, under [policy]. When the
 * viewer's text may reach the browser, this client owns CLIPBOARD and
 * PRIMARY with it and answers the browser's requests for UTF8_STRING,
 * STRING and TARGETS. When the browser's text may reach the terminal, it
 * watches CLIPBOARD's owner (XFixes), converts the new owner's selection to
 * UTF8_STRING, filters it (cliptext.h) and hands it to on_text. A direction
 * that is off is never opened here, whatever shojid sends.
 *
 * Handles untrusted input: yes, the browser's selection data (filtered and
 * cut at max_bytes; an INCR transfer, which only selections larger than
 * any allowed limit use, is refused).
 */
#pragma once

#include <X11/Xlib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct clipboard_opts {
	bool to_browser, to_terminal;
	size_t max_bytes; /* 1..PIXLINK_MAX_CLIPBOARD */
	/* The browser's filtered clipboard text (to_terminal only). */
	void (*on_text)(void *arg, const uint8_t *text, size_t len);
	void *arg;
};

struct clipboard;

/** Creates the clipboard's window on dpy (XFixes must be there). NULL on error. */
struct clipboard *clipboard_create(Display *dpy, int xfixes_event, const struct clipboard_opts *o);

/** Accepts NULL. */
void clipboard_destroy(struct clipboard *c);

/**
 * The viewer's text (already filtered: the pixel link's parser refuses
 * anything else) becomes CLIPBOARD and PRIMARY. 0, or -1 with errno EPERM
 * when to_browser is off, EMSGSIZE when longer than max_bytes.
 */
int clipboard_set(struct clipboard *c, const uint8_t *text, size_t len);

/** Handles ev if it concerns the clipboard; true if it did. */
bool clipboard_handle_event(struct clipboard *c, const XEvent *ev);
