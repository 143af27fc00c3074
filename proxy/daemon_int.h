/*
 * What the control process's files share (daemon.c: the loop, logins and
 * sessions; admin.c: the admin socket; metrics.c: the Prometheus
 * listener). Internal to shojid; nothing here is an interface for other
 * programs. No untrusted input.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "admin_proto.h"
#include "audit_limit.h"
#include "config.h"
#include "ctl.h"
#include "sessions.h"

#define MAX_LISTENERS 16
#define MAX_ADMIN 8
#define ADMIN_TIMEOUT_MS 5000
#define ADMIN_MAX_ANSWER (64 * 1024)
#define MAX_METRICS_CLIENTS 4

struct listener {
	int fd;
	enum ctl_protocol proto;
	char addr[64];
};

struct conn {
	uint64_t id;
	pid_t pid;
	int ctl;
	enum ctl_protocol proto;
	char peer[CTL_MAX_ADDR + 1];
	char user[CTL_MAX_USER + 1];
	bool authing, authed;
	bool nt_asked;      /* an NT hash was asked for (RDP NLA): once per connection */
	bool nt_given;      /* and handed over */
	bool auth_seen;     /* the worker sent credentials (after NLA: it succeeded) */
	bool eof;           /* the worker closed its end: wait for its exit */
	const char *killed; /* why shojid signalled the worker, if it did: for the detach */
	uint64_t refuse_at; /* send the deferred refusal then; 0 = none */
	char refusal[CTL_MAX_TEXT + 1];
	uint64_t wait_until; /* logged in, waiting for a session to warm; 0 = not */
	uint64_t check_at;   /* the user is backing off: check held_password then; 0 = not */
	char *held_password; /* wiped and freed when checked or when the conn goes */
	struct session *session;
	char session_id[CTL_MAX_SESSION + 1]; /* the last session it had, for the audit */
	struct audit_limit repeats;           /* its repeated audit events ([audit] max_repeats) */
	struct ctl_msg *bytes;                /* the worker's last CTL_BYTES; NULL = none came */
	struct conn *next;
};

/* A shojictl connection: one request, one answer. */
struct admin_client {
	int fd; /* -1 = free slot */
	uid_t uid;
	uint64_t deadline;
	size_t len;
	char buf[ADMIN_MAX_LINE];
};

/* Counters since start, for [metrics] (metrics.c). */
struct shojid_counters {
	uint64_t logins_accepted, logins_refused;
	uint64_t bytes_out[3], frames[3];    /* by enum ctl_protocol (index 0 unused) */
	uint64_t encode[CTL_ENCODE_BUCKETS]; /* frames by encode time, not cumulative */
	uint64_t encode_us;
	uint64_t render_crashes; /* sessions whose render ended other than asked */
};

struct metrics_server;

struct shojid {
	const struct shoji_config *cfg;
	char self[4096]; /* this program, for exec'ing workers */
	struct audit_log *audit;
	struct auth_service *auth;
	struct login_limit *limit;
	int sig_fd;
	bool stopping;
	struct listener listeners[MAX_LISTENERS];
	size_t nlisteners;
	struct conn *conns;
	size_t nconns;
	uint64_t next_conn_id;
	struct session_table sessions;
	uint64_t next_spawn;
	uint64_t started_ms;
	struct shoji_config *reloaded; /* the config since the last good SIGHUP; ours */
	bool drained;                  /* no new sessions; attached ones go on */
	bool audit_failed;             /* the last attachment could not be audited */
	long min_ready, max_sessions;  /* `shojictl pool set`; -1 = from the config */
	bool reload;                   /* SIGHUP seen */
	bool reopen_audit;             /* SIGUSR1 (or SIGHUP) seen: reopen [audit] file */
	int admin_fd;
	struct admin_client admin[MAX_ADMIN];
	struct shojid_counters counters;
	struct metrics_server *metrics; /* NULL: [metrics] listen is off */
	struct limits *limits;          /* read-only, for sessions' usage; NULL: none */
	char audit_path[4096];          /* [audit] file as opened at start (reopened there) */
	uint64_t next_usage_ms;         /* when to sample the sessions' cgroups again */
};

/* daemon.c */
long pool_min_ready(const struct shojid *d);
/** [pool] max_sessions, never more than [sandbox] uid_range holds. */
size_t pool_max_sessions(const struct shojid *d);
const char *proto_name(enum ctl_protocol p);
/** Ends session s for why (its viewer told and disconnected; its files wiped). */
void end_session(struct shojid *d, struct session *s, const char *why);
/** Stops (or resumes) new sessions; attached and detached ones go on. */
void set_drained(struct shojid *d, bool on);

/* admin.c: the admin socket (admin_proto.h) */
int admin_open(struct shojid *d);
void admin_close_all(struct shojid *d);
void admin_on_accept(struct shojid *d);
void admin_on_read(struct shojid *d, struct admin_client *ac);
/** Closes clients past their deadline; lowers *timeout to the next one. */
void admin_timeouts(struct shojid *d, int *timeout);
