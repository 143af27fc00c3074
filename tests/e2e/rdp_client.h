/*
 * An RDP client for end-to-end tests, built on libfreerdp-client 2: it
 * logs in to shojid over TLS with a user name and password, decodes what
 * shojid sends into a software framebuffer (FreeRDP's gdi, B G R X) with
 * the graphics pipeline or with bitmap updates, and sends scancodes,
 * Unicode characters, mouse events and Display Control monitor layouts. The only file of the tests
 * that includes a FreeRDP header.
 *
 * FreeRDP's own log goes to the file given to rdp_client_log_to() (its
 * default, the console, would mix with the runner's TAP output).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rdp_client;

struct rdp_client_options {
	int port;             /* on 127.0.0.1 */
	const char *user;     /* NULL or "": none */
	const char *password; /* NULL or "": none, shojid shows its logon screen */
	int width, height;
	bool gfx;               /* offer the graphics pipeline; else bitmap updates */
	bool h264;              /* with gfx: offer H.264 (AVC420) */
	bool rdp_security_only; /* offer only standard RDP security (shojid refuses it) */
	bool nla;               /* offer only NLA (CredSSP with NTLM), as xfreerdp /sec:nla */
	bool japanese_keyboard; /* report a Japanese 106/109-key keyboard (type 7) */
	bool raw_cliprdr; /* list the cliprdr channel but leave it to rdp_client_send_channel */
	int ack_delay_ms;       /* graphics pipeline: acknowledge each frame this much later */
};

/** Graphics pipeline surface commands received with codec id (RDPGFX_CODECID_*). */
int rdp_client_codec_count(const struct rdp_client *c, unsigned codec_id);

/** Sends FreeRDP's log to dir/name (once, before the first connection). */
void rdp_client_log_to(const char *dir, const char *name);

/**
 * Connects and logs in (without a password: reaches shojid's logon
 * screen); NULL when the connection or the login fails.
 */
struct rdp_client *rdp_client_connect(const struct rdp_client_options *opt);

/** Disconnects and frees everything. Accepts NULL. */
void rdp_client_destroy(struct rdp_client *c);

/** Handles what the server sent for up to timeout_ms. 0, or -1 once closed. */
int rdp_client_pump(struct rdp_client *c, int timeout_ms);

bool rdp_client_closed(const struct rdp_client *c);
/** Whether the graphics pipeline channel came up (shojid opened it). */
bool rdp_client_gfx_open(const struct rdp_client *c);
/** How many pointer shapes the server has set so far. */
int rdp_client_pointers(const struct rdp_client *c);
/** Whether the server opened Display Control and sent its capabilities. */
bool rdp_client_disp_open(const struct rdp_client *c);
/** Asks through Display Control for a desktop of width x height (one monitor). 0 or -1. */
int rdp_client_resize(struct rdp_client *c, int width, int height);
/** How many times the server changed the desktop's size. */
int rdp_client_resizes(const struct rdp_client *c);
int rdp_client_width(const struct rdp_client *c);
int rdp_client_height(const struct rdp_client *c);

/** 0xRRGGBB of the pixel at x, y; 0xff000000 outside the framebuffer. */
uint32_t rdp_client_pixel(const struct rdp_client *c, int x, int y);

/** Pumps until the pixel at x, y is within tol of rgb in each channel. */
bool rdp_client_wait_pixel(struct rdp_client *c, int x, int y, uint32_t rgb, int tol,
                           int timeout_ms);

/** Pumps until some pixel is exactly rgb; the top-left-most one in *x, *y. */
bool rdp_client_wait_color(struct rdp_client *c, uint32_t rgb, int timeout_ms, int *x, int *y);
/**
 * Waits for a whole w x h block of rgb (the first pixel of that colour its
 * top-left corner) that stays in place for BLOCK_STABLE_MS: while the
 * desktop is resized at login, a page may show for a moment laid out
 * elsewhere. Its corner in *x, *y.
 */
#define BLOCK_STABLE_MS 500
bool rdp_client_wait_block(struct rdp_client *c, uint32_t rgb, int w, int h, int timeout_ms, int *x,
                           int *y);

/** Left click at x, y (move, press, release), pumping in between. 0 or -1. */
int rdp_client_click(struct rdp_client *c, int x, int y);

/** Clicks until the pixel at px, py turns rgb (click_until() in click.h). */
bool rdp_client_click_until(struct rdp_client *c, int x, int y, int px, int py, uint32_t rgb,
                            int timeout_ms);

/** Turns the wheel at x, y: notches down (positive) or up (negative). 0 or -1. */
int rdp_client_wheel(struct rdp_client *c, int x, int y, int notches);

/** How many SurfaceToSurface copies (scrolls) the server sent. */
int rdp_client_moves(const struct rdp_client *c);
/** How many bands the server drew from the client's bitmap cache (CacheToSurface). */
int rdp_client_cache_draws(const struct rdp_client *c);

/** How many graphics pipeline frames the client has ended (and acknowledged). */
int rdp_client_frames(const struct rdp_client *c);

/** The picture as 0xRRGGBB values, row by row; the caller frees it. */
uint32_t *rdp_client_snapshot(const struct rdp_client *c);

/** A key press or release by PC/AT set-1 scancode (0xe0xx: extended). 0 or -1. */
int rdp_client_key(struct rdp_client *c, uint16_t scancode, bool down);

/**
 * Types lower-case ASCII letters, digits, '-', '.' and '/' as scancodes of a US
 * keyboard (the same keys on a Japanese one). 0 or -1.
 */
int rdp_client_type_scancodes(struct rdp_client *c, const char *text);

/** Types UTF-8 text (Basic Multilingual Plane) as Unicode keyboard events. 0 or -1. */
int rdp_client_type_unicode(struct rdp_client *c, const char *text);

/**
 * Sends bytes as they are on a static virtual channel the server joined
 * (e.g. "drdynvc"), as a hostile client would. 0 or -1.
 */
int rdp_client_send_channel(struct rdp_client *c, const char *channel, const void *buf, size_t len);

/** Writes the framebuffer as a binary PPM for a person to look at. */
void rdp_client_dump_ppm(const struct rdp_client *c, const char *path);
