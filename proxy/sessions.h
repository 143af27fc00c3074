/*
 * The control process's sessions: one shoji-render each, under a uid of
 * its own from [sandbox] uid_range. States (DESIGN.md §5): warming (render
 * starting), ready (warm, no user yet), attached (a viewer's worker holds
 * the pixel link), detached (the user's viewer went away; kept for
 * reattachment), ending (told to stop: its supervisor got SIGTERM and is
 * wiping the session's files; gone when its process exit is seen). The
 * control process keeps a duplicate of each pixel-link
 * socket so a session outlives the workers that use it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

enum session_state {
	SESSION_WARMING,
	SESSION_READY,
	SESSION_ATTACHED,
	SESSION_DETACHED,
	SESSION_ENDING,
	SESSION_NSTATES
};

#define SESSION_RATE_SECONDS 10 /* `shojictl sessions` rates are over this many seconds */
#define SESSION_USAGE_TRIES 3   /* failed cgroup reads before a session's usage is given up */

struct conn;
struct limits;

struct session {
	char id[17];
	char user[65]; /* "" until assigned */
	uint32_t uid;
	pid_t pid;                    /* the session supervisor (shoji-render) */
	int link;                     /* our duplicate of the pixel-link socket */
	struct pixlink_client *probe; /* reads the link while warming */
	enum session_state state;
	struct conn *conn;    /* the attached worker */
	uint64_t since_ms;    /* entered the current state */
	uint64_t created_ms;  /* spawned */
	uint64_t started_ms;  /* first login; 0 while warm ([pool] max_lifetime) */
	uint64_t activity_ms; /* last input from a viewer ([pool] idle_timeout) */
	char protocol[8];     /* of the last viewer: "vnc", "rdp" */
	char peer[65];        /* the last viewer's address */
	char resolution[16];  /* "WxH" the viewer last asked for, or "" */
	/* Output to its viewers, per second of the last SESSION_RATE_SECONDS (a ring). */
	uint64_t out_sec[SESSION_RATE_SECONDS], out_bytes[SESSION_RATE_SECONDS];
	uint32_t out_frames[SESSION_RATE_SECONDS];
	/* Its sandbox's cgroup, sampled by session_sample_usage: CPU time then and before. */
	uint64_t cpu_usec, cpu_ms, prev_cpu_usec, prev_cpu_ms;
	uint64_t rss_bytes;
	bool usage_known;
	int usage_failures; /* reads of its cgroup that failed in a row */
	struct session *next;
};

struct session_table {
	const struct shoji_config *cfg;
	struct session *head;
};

const char *session_state_name(enum session_state st);

/** Starts a warming session; NULL if no uid is free or the fork failed. */
struct session *session_spawn(struct session_table *t);

/** Handles the probe's readable link; true if the session just became ready. */
bool session_probe(struct session *s);

struct session *session_find_pid(struct session_table *t, pid_t pid);
struct session *session_find_ready(struct session_table *t);
size_t session_count(struct session_table *t, enum session_state st);

/** All sessions in the table, whatever their state. */
size_t session_total(struct session_table *t);

/** The user's sessions that are not ending. */
size_t session_count_user(struct session_table *t, const char *user);

/** The user's detached session that waited longest, or NULL. */
struct session *session_find_detached(struct session_table *t, const char *user);

/** The user's attached session attached longest, or NULL. */
struct session *session_find_attached(struct session_table *t, const char *user);

/** By id (exact), or NULL. */
struct session *session_find_id(struct session_table *t, const char *id);

/**
 * Asks the session to end: SIGTERM to its supervisor, which stops the
 * browser and X server and wipes the session's files. The state becomes
 * SESSION_ENDING; session_remove() follows when its exit is seen.
 */
void session_end(struct session *s);

/** Removes the session from the table and frees it (render already gone). */
void session_remove(struct session_table *t, struct session *s);

/** Counts output sent to the session's viewer now. */
void session_add_output(struct session *s, uint64_t bytes, uint32_t frames);

/** Output over the last SESSION_RATE_SECONDS: kbit/s and frames/s, in tenths. */
void session_output_rate(const struct session *s, uint64_t *kbps_x10, uint64_t *fps_x10);

/** Reads the session's cgroup usage (limits_open_readonly) for the next two calls. */
void session_sample_usage(struct session *s, struct limits *l);

/**
 * CPU use of the sandbox between the last two samples, in tenths of a percent of
 * one core, and its anonymous memory in bytes; false until sampled (twice for CPU).
 */
bool session_usage(const struct session *s, uint64_t *cpu_x10, uint64_t *rss_bytes);

/** Ends every session: closes the links, waits up to timeout_ms, then kills. */
void session_stop_all(struct session_table *t, int timeout_ms);
