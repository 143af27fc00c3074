/*
 * End-to-end harness for the whole daemon: starts a real shojid (as root,
 * built in this tree) in a temp directory of its own with certificates
 * from certs/shoji-certs, a users file written by the built shojictl, a
 * config, and a python3 http.server for tests/pages as the browser's start
 * page. Everything a test leaves behind (configs, logs, the audit log,
 * screenshots) is under d->root, removed by shojid_cleanup() when the test
 * passed and kept for a person to read when it did not.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

struct shojid_proc {
	pid_t pid;
	int port;     /* [vnc] listen, on 127.0.0.1 */
	int rdp_port; /* [rdp] listen, on 127.0.0.1 */
	struct http_server pages;
	char root[64];     /* the test's temp directory */
	char ca_path[128]; /* the CA viewers trust */
	char config_path[128];
	char users_path[128];
	char audit_path[128];
	char log_path[128]; /* shojid's stderr, with its workers' and sessions' */
	const char *log_level; /* [server] log_level, set before shojid_setup; NULL: info */
};

/**
 * Makes the temp directory, the certificates, the users file (empty), the
 * config and the HTTP server; does not start shojid yet. extra_ini is
 * appended to the config (whole "[section]\nkey = v\n" blocks, no key the
 * harness sets: [server] state_dir admin_socket render_path log_level,
 * [tls], [auth], [vnc] listen, [rdp] listen, [browser] start_url,
 * [egress] allow, [sandbox] uid_range, [audit] file). Ignores SIGPIPE in
 * the calling process. 0 or -1.
 */
int shojid_setup(struct shojid_proc *d, const char *extra_ini);

/** The same, with tests/pages/PAGE as the browser's start page. */
int shojid_setup_page(struct shojid_proc *d, const char *extra_ini, const char *page);

/** Adds a user with the built shojictl, the password on its stdin. 0 or -1. */
int shojid_add_user(struct shojid_proc *d, const char *name, const char *password);

/** The same, with the NT hash RDP NLA needs (shojictl user add --nt-hash). 0 or -1. */
int shojid_add_nla_user(struct shojid_proc *d, const char *name, const char *password);

/**
 * Starts shojid and waits until it listens and a browser session is ready
 * (its log says so), for up to timeout_ms. 0 or -1.
 */
int shojid_launch(struct shojid_proc *d, int timeout_ms);

/** Waits until shojid's log has said "session ... ready" count times in all. */
bool shojid_wait_ready(struct shojid_proc *d, int count, int timeout_ms);

/** Waits while shojid runs until its log has a line containing text. */
bool shojid_log_wait(struct shojid_proc *d, const char *text, int timeout_ms);

/** Waits until one audit line contains a and, if not NULL, b and c. */
bool shojid_audit_wait(struct shojid_proc *d, const char *a, const char *b, const char *c,
                       int timeout_ms);

/** How many audit lines contain a and, if not NULL, b. */
int shojid_audit_count(struct shojid_proc *d, const char *a, const char *b);

/**
 * The n-th (0 = first) audit line containing a and, if not NULL, b, into
 * out (cap bytes); true if there is one.
 */
bool shojid_audit_line(struct shojid_proc *d, int n, const char *a, const char *b, char *out,
                       size_t cap);

/**
 * The number after "key": in a JSON line, or within the object "obj":{...}
 * when obj is not NULL ("channels" then "framebuffer" then "out" is
 * audit_number(line, "framebuffer", "out") after strstr(line, "channels")).
 * -1 when it is not there.
 */
long long audit_number(const char *line, const char *obj, const char *key);

/** How many lines of shojid's log contain a and, if not NULL, b. */
int shojid_log_count(struct shojid_proc *d, const char *a, const char *b);

/** Whether shojid is still running (not exited, not a zombie). */
bool shojid_alive(struct shojid_proc *d);

/** The connection workers (children of shojid run with --worker): how many, and the first. */
int shojid_workers(struct shojid_proc *d, pid_t *first);

/**
 * Sends SIGTERM and waits up to timeout_ms; shojid's exit status (0..255),
 * 128 + signal if a signal ended it, or -1 if it had to be killed.
 */
int shojid_stop(struct shojid_proc *d, int timeout_ms);

/** Stops what still runs (SIGKILL) and removes the temp directory. */
void shojid_cleanup(struct shojid_proc *d);

/** A path under d->root into buf; buf. */
char *shojid_path(const struct shojid_proc *d, const char *name, char *buf, size_t len);
