/*
 * The VNC front-end after login: libvncserver serves the session's pixels
 * to one viewer through a socketpair, in a thread of its own that also owns
 * the pixel link; the worker's main thread relays bytes between the viewer
 * (TLS) and libvncserver, passing the viewer's messages through the
 * whitelist (rfb_filter.h).
 */
#pragma once

#include <stdbool.h>

struct worker;
struct vnc_session;

/**
 * Starts libvncserver for the session behind link_fd (a pixel-link socket,
 * taken over) and returns the relay's end of the socketpair in *fd. NULL
 * on error. The thread greets on *fd like an RFB server.
 */
struct vnc_session *vnc_session_start(struct worker *w, int link_fd, int *fd);

/**
 * Instead of a session: libvncserver serving the notice for reason
 * (refusal_notice.h) for REFUSAL_SHOW_MS, then closing; input is dropped. Same
 * *fd and stop as vnc_session_start. NULL on error.
 */
struct vnc_session *vnc_notice_start(struct worker *w, const char *reason, int *fd);

/** Asks the thread to stop, waits for it, frees everything. Accepts NULL. */
void vnc_session_stop(struct vnc_session *s);
