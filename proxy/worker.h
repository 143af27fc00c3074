/*
 * A connection worker: one process per viewer connection, forked by the
 * control process. It drops privileges, runs one front-end (VNC, RDP) over
 * the accepted socket, asks the control process to check credentials, and
 * receives the session's pixel link. A crash here ends one connection; the
 * session stays, detached.
 */
#pragma once

#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ctl.h"

struct worker {
	const struct shoji_config *cfg;
	int client_fd; /* the viewer's TCP connection */
	int ctl_fd;    /* control link to the control process */
	SSL_CTX *tls;  /* server certificate and key, loaded by the control process */
	char peer[CTL_MAX_ADDR + 1];
	char session[CTL_MAX_SESSION + 1]; /* after a successful login */
	bool notice; /* the last refusal is the pool's: show its reason on screen (refusal_notice.h) */
	char refusal[CTL_MAX_TEXT + 1]; /* the last refusal's reason */
	void *fe_data;                  /* the front-end's own, from its prepare() */
	uint64_t activity_ms;           /* when worker_activity last told the control process */
	/* Output counted since the last CTL_STATS (worker_stats_*; atomic). */
	uint64_t out_bytes, out_encode_us, stats_ms;
	uint32_t out_frames, out_encode[CTL_ENCODE_BUCKETS];
	/* Application bytes per channel since the start (worker_bytes; under bytes_lock). */
	struct ctl_channel_bytes bytes[CTL_MAX_CHANNELS];
	uint8_t nbytes;
	bool bytes_lock, bytes_changed;
};

/* A front-end: a protocol spoken to viewers. */
struct frontend {
	const char *name;
	enum ctl_protocol protocol;
	/**
	 * Optional: runs as root before privileges are dropped (to read the
	 * TLS key); 0, or -1 to end the worker.
	 */
	int (*prepare)(struct worker *w);
	/** Serves one connection to its end; the worker's exit status. */
	int (*serve)(struct worker *w);
};

extern const struct frontend vnc_frontend;
extern const struct frontend rdp_frontend;

/**
 * Runs in the freshly forked child: runs the front-end's prepare(), drops
 * privileges to [server] worker_user, then serves. Never returns.
 */
void worker_main(struct worker *w, const struct frontend *fe) __attribute__((noreturn));

/**
 * Asks the control process to check user and password. On success returns
 * the session's pixel-link socket and fills w->session; on refusal -1 with
 * a reason for the viewer in reason. Waits at most timeout_ms.
 */
int worker_authenticate(struct worker *w, enum ctl_protocol proto, const char *user,
                        const char *password, char *reason, size_t reason_len, int timeout_ms);

/**
 * Asks the control process for user's NT hash (RDP NLA): true with the
 * hash in out (a password equivalent: wipe it after use), false when the
 * control process refuses (no such user, no hash stored, NLA off) or does
 * not answer within timeout_ms.
 */
bool worker_nt_hash(struct worker *w, const char *user, uint8_t out[CTL_NT_HASH_LEN],
		    int timeout_ms);

/** Reports something for the audit log (a refused message, the TLS version). */
void worker_note(struct worker *w, enum ctl_note_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * The viewer sent input: tells the control process (for [pool]
 * idle_timeout), at most once per CTL_ACTIVITY_INTERVAL_MS. Safe from any
 * of the front-end's threads; costs a clock read when nothing is sent.
 * Lives in worker_activity.c, in the proxy library, beside the front-ends.
 */
void worker_activity(struct worker *w);

/** Counts bytes sent to the viewer. Safe from any thread. */
void worker_stats_bytes(struct worker *w, uint64_t n);

/** Counts a frame sent to the viewer and how long encoding it took. Safe from any thread. */
void worker_stats_frame(struct worker *w, uint64_t encode_us);

/**
 * Counts application bytes (before TLS) in from and out to the viewer on
 * one channel ("framebuffer", "drdynvc/rdpgfx"; see the connection_bytes
 * audit event). A name outside [a-z0-9_./-], or one past the
 * CTL_MAX_CHANNELS - 1 first, counts as "other". A delta may be negative
 * to move bytes counted in one channel into another; a counter that would
 * go below zero reads 0. Safe from any thread.
 */
void worker_bytes(struct worker *w, const char *channel, int64_t in, int64_t out);

/** The counters so far, in the order the channels first came (for tests). */
size_t worker_bytes_snapshot(struct worker *w, struct ctl_channel_bytes *out, size_t cap);

/**
 * Sends what was counted to the control process (CTL_STATS, and CTL_BYTES
 * when a channel's counters changed) if
 * CTL_STATS_INTERVAL_MS passed since the last time, or now with force.
 * From one thread only (the one that runs the connection's loop).
 */
void worker_stats_flush(struct worker *w, bool force);
