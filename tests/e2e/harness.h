/*
 * End-to-end test harness: starts real processes (a local HTTP server for
 * the test pages, a real shoji-render session as root) and plays shojid's
 * side of the pixel link with the real pixlink_client.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pixlink_client.h"

struct http_server {
	pid_t pid;
	int port;
	char log_path[256];
};

/** Serves directory dir on 127.0.0.1 with python3's http.server. 0 or -1. */
int http_server_start(struct http_server *s, const char *dir);
void http_server_stop(struct http_server *s);
/** Number of requests the server logged so far. */
int http_server_requests(const struct http_server *s);

struct session_proc {
	pid_t pid;
	struct pixlink_client *link;
	char session[32];
	uint32_t uid;
	char root[128];        /* temp directory of this run */
	char config_path[192];
	char audit_path[192];
	char state_dir[192];
	char log_path[192];    /* the session's stderr (supervisor and sandbox) */
	uint32_t damage_count;
	uint32_t notices;
	uint32_t last_notice;
	uint32_t clips;  /* CLIPBOARD_OUT messages received */
	char clip[1024]; /* the last one's text (cut to fit), NUL-terminated */
	size_t clip_len;
};

/**
 * Writes a config (state and audit under a temp root, plus extra_ini lines
 * appended to the matching sections — pass whole "[section]\nkey = v\n"
 * blocks; keys must not repeat those the harness sets: server state_dir,
 * log_level, audit file, sandbox uid_range) and starts shoji-render as a
 * session of width x height. Waits for HELLO and the first FRAMEBUFFER.
 */
int session_start(struct session_proc *p, const char *extra_ini, uint16_t width,
		  uint16_t height);

/**
 * Reads pixel-link events for up to timeout_ms, keeping one credit granted
 * so frames keep flowing. Returns -1 if the link died.
 */
int session_pump(struct session_proc *p, int timeout_ms);

/** RGB (0xRRGGBB) of the framebuffer pixel at x, y; 0xff000000 if outside. */
uint32_t session_pixel(struct session_proc *p, int x, int y);

/** Pumps until the pixel at x, y is within tol of rgb, or timeout. */
bool session_wait_pixel(struct session_proc *p, int x, int y, uint32_t rgb, int tol,
			int timeout_ms);

/** Pumps until some pixel has colour rgb; its top-left-most position. */
bool session_wait_color(struct session_proc *p, uint32_t rgb, int timeout_ms, int *x, int *y);

int session_send(struct session_proc *p, const struct pixlink_msg *m);
int session_key(struct session_proc *p, uint32_t keysym, bool down);
/** Presses and releases each character of an ASCII string. */
int session_type(struct session_proc *p, const char *text);
int session_click(struct session_proc *p, int x, int y);
/* Clicks until the pixel at px, py turns rgb (click_until() in click.h). */
bool session_click_until(struct session_proc *p, int x, int y, int px, int py, uint32_t rgb,
                         int timeout_ms);
int session_resize(struct session_proc *p, uint16_t w, uint16_t h);

/** Closes the link and waits for the supervisor; its exit status or -1. */
int session_stop(struct session_proc *p, int timeout_ms);

/** Pumps until the session's log has a line containing text. */
bool session_log_has(struct session_proc *p, const char *text, int timeout_ms);

/** True if the audit log contains a line with every one of the given substrings. */
bool audit_has(const char *audit_path, const char *a, const char *b, const char *c);

/** Writes a PNG-free PPM of the framebuffer for a person to look at. */
void session_dump_ppm(struct session_proc *p, const char *path);
