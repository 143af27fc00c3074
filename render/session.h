/*
 * The inside of a session's sandbox: private X server, window manager,
 * browser, capture, input injection, and the egress listener. Talks to
 * shojid only through the pixel link, and reaches the outside only by
 * handing accepted browser connections to the supervisor's egress proxy.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "browser.h"

#define SESSION_X_SERVER "/usr/bin/Xtigervnc"

struct session_opts {
	int link_fd;   /* pixel link to shojid (SOCK_SEQPACKET) */
	int egress_fd; /* to the supervisor's egress proxy (SOCK_SEQPACKET) */
	uint16_t max_width, max_height;
	/* [policy]: which clipboard directions are open, and the limit. */
	bool clipboard_to_browser, clipboard_to_terminal;
	uint32_t clipboard_max_bytes;
	struct browser_opts browser; /* width/height: the initial desktop size */
};

/** Runs the session until the link closes or the X server dies; exit status. */
int session_run(const struct session_opts *o);
