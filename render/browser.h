/*
 * The browser: Debian's Chromium with managed policies, its own sandbox on,
 * and the session's egress listener as its only proxy. Restarted at the
 * start page when the user closes it or it dies.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"

/* The egress listener inside every sandbox (each has its own loopback). */
#define BROWSER_PROXY_PORT 3128

struct browser_opts {
	const char *command;   /* /usr/bin/chromium */
	const char *start_url;
	const char *locale;    /* "ja" */
	const char *profile_dir;
	const char *log_path;  /* the browser's own stderr, inside the sandbox */
	uint16_t width, height;
};

/**
 * Writes Chromium's managed policy (JSON) for a session: no downloads, no
 * file:// or file dialogs, no DevTools or extensions, no printing, the
 * proxy fixed to the egress listener, home page and bookmarks from config.
 * 0 or -1.
 */
int browser_write_policy(FILE *out, const struct shoji_config *cfg);

/** Starts the browser; its pid, or -1. */
pid_t browser_start(const struct browser_opts *o);

/** Kills the browser's process group and reaps the leader. */
void browser_stop(pid_t pid);

/**
 * Looks at the browser's renderer processes and logs whether its sandbox is
 * on (seccomp filter and a user namespace of their own). Returns true if at
 * least one renderer was found and all found are sandboxed.
 */
bool browser_check_sandbox(void);
