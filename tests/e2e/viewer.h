/*
 * A VNC viewer for end-to-end tests, built on libvncclient: it logs in to
 * shojid with VeNCrypt X509Plain (TLS verified against a CA file and the
 * host name 127.0.0.1), keeps a framebuffer in a known pixel format, and
 * sends pointer, key and desktop-size events. The only file of the tests
 * that includes a libvncclient header.
 *
 * libvncclient's own log goes to the file given to viewer_log_to(), so a
 * failed test leaves the client's side of the story beside the daemon's.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct viewer;

struct viewer_options {
	int port;            /* on 127.0.0.1 */
	const char *ca_file; /* the CA that signed shojid's certificate */
	const char *user;
	const char *password;
	const char *encodings; /* libvncclient's list ("tight zrle raw"); NULL = its default */
	bool cursor_shape;     /* ask for the cursor as a shape; else the server draws it in */
	int jpeg_quality;      /* 1..9: allow lossy JPEG at that quality, as TigerVNC does; 0: lossless */
	bool utf8_clipboard;   /* list and speak the extended (UTF-8) clipboard, as TigerVNC does */
};

/** Sends libvncclient's log to path (appended); NULL keeps it quiet. */
void viewer_log_to(const char *path);

/**
 * Connects and logs in; NULL when the connection, the TLS handshake or the
 * login fails (libvncclient's log says why).
 */
struct viewer *viewer_connect(const struct viewer_options *opt);

/** Closes the connection and frees everything. Accepts NULL. */
void viewer_destroy(struct viewer *v);

/**
 * Handles server messages for up to timeout_ms (libvncclient asks for the
 * next update after each one). 0, or -1 once the server has closed the
 * connection (and from then on).
 */
int viewer_pump(struct viewer *v, int timeout_ms);

/** now_ms() when the viewer handed over user name and password (after TLS); 0 before. */
uint64_t viewer_auth_ms(const struct viewer *v);

/** now_ms() when the first framebuffer update was complete; 0 before. */
uint64_t viewer_first_update_ms(const struct viewer *v);

/** Whether the server has closed the connection. */
bool viewer_closed(const struct viewer *v);

int viewer_width(const struct viewer *v);
int viewer_height(const struct viewer *v);

/** 0xRRGGBB of the pixel at x, y; 0xff000000 outside the framebuffer. */
uint32_t viewer_pixel(const struct viewer *v, int x, int y);

/** Pumps until the pixel at x, y is within tol of rgb in each channel. */
bool viewer_wait_pixel(struct viewer *v, int x, int y, uint32_t rgb, int tol, int timeout_ms);

/**
 * Pumps until a w x h block of exactly rgb is seen (its corners and edges
 * checked); its top-left corner in *x, *y.
 */
bool viewer_wait_block(struct viewer *v, uint32_t rgb, int w, int h, int timeout_ms, int *x,
                       int *y);

/** Pumps until the framebuffer is w x h and the server has drawn into it. */
bool viewer_wait_size(struct viewer *v, int w, int h, int timeout_ms);

/** Left click at x, y (move, press, release), pumping in between. 0 or -1. */
int viewer_click(struct viewer *v, int x, int y);

/** Clicks until the pixel at px, py turns rgb (click_until() in click.h). */
bool viewer_click_until(struct viewer *v, int x, int y, int px, int py, uint32_t rgb,
                        int timeout_ms);

/** Presses and releases the keysym of each character of an ASCII string. */
int viewer_type(struct viewer *v, const char *text);

/** Turns the wheel at x, y: notches down (positive) or up (negative). 0 or -1. */
int viewer_wheel(struct viewer *v, int x, int y, int notches);

/** What the server sent since the connection began. */
struct viewer_stats {
	uint64_t updates;       /* complete framebuffer updates */
	uint64_t rects;         /* rectangles of pixels, CopyRect included */
	uint64_t pixels;        /* their area */
	uint64_t copy_rects;    /* CopyRect rectangles */
	uint64_t copied_pixels; /* their area */
};
struct viewer_stats viewer_stats(const struct viewer *v);

/** The picture as 0xRRGGBB values, row by row (width x height); the caller frees it. */
uint32_t *viewer_snapshot(const struct viewer *v);

/** One key event by keysym. 0 or -1. */
int viewer_key(struct viewer *v, uint32_t keysym, bool down);

/** Asks for a new desktop size (SetDesktopSize, one screen at 0,0). 0 or -1. */
int viewer_resize(struct viewer *v, int w, int h);

/** Sends ClientCutText (classic: the bytes are ISO 8859-1). 0 or -1. */
int viewer_send_cut_text(struct viewer *v, const void *text, size_t len);

/**
 * The last ServerCutText received (NUL-terminated, len bytes without it),
 * or NULL before any; *count is how many have arrived.
 */
const char *viewer_cut_text(const struct viewer *v, size_t *len, unsigned *count);

/**
 * With utf8_clipboard: makes text (UTF-8) this viewer's clipboard and
 * announces it (notify); it is provided when the server asks. -1 before
 * the server's extended clipboard caps.
 */
int viewer_send_clipboard_utf8(struct viewer *v, const char *text, size_t len);

/** An unasked extended clipboard provide of text (UTF-8), as some viewers send. 0 or -1. */
int viewer_send_ext_provide(struct viewer *v, const char *text, size_t len);

/** The flags of the server's extended clipboard caps; 0 before any came. */
uint32_t viewer_ext_clipboard_caps(const struct viewer *v);

/** Whether the last cut text (viewer_cut_text()) came over the extended clipboard. */
bool viewer_cut_text_utf8(const struct viewer *v);

/** Writes raw bytes into the RFB stream (over TLS), e.g. a forbidden message. */
int viewer_write_raw(struct viewer *v, const void *buf, size_t len);

/** Writes the framebuffer as a binary PPM for a person to look at. */
void viewer_dump_ppm(const struct viewer *v, const char *path);
