/*
 * The session's private X server: Xtigervnc with no VNC port (-rfbport -1),
 * which, unlike Xvfb 21.1, resizes at run time through RandR. It listens
 * only on its UNIX socket in the sandbox's private /tmp, and admits only
 * clients holding the session's random MIT-MAGIC-COOKIE-1.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

struct xserver {
	pid_t pid;
	int display;             /* the N of ":N" */
	char display_name[16];   /* ":N" */
	char auth_path[64];      /* Xauthority file for clients */
};

/**
 * Starts the X server at width x height and waits (up to timeout_ms) until
 * it accepts connections. On success sets DISPLAY and XAUTHORITY in this
 * process's environment so children inherit them. 0 or -1.
 */
int xserver_start(struct xserver *xs, const char *binary, uint16_t width, uint16_t height,
		  int timeout_ms);

/** Terminates the server (SIGTERM, then SIGKILL) and reaps it. */
void xserver_stop(struct xserver *xs);
