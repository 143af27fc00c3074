/*
 * Per-session resource limits behind one small interface, with a cgroup v1
 * back-end (these build machines: separate memory, pids, cpuacct
 * hierarchies) and a cgroup v2 back-end (production Debian 12 under
 * systemd with Delegate=yes).
 *
 * No untrusted input. The root of the cgroup file system is a parameter so
 * tests can run the v2 back-end against a fake tree.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum limits_backend { LIMITS_NONE, LIMITS_V1, LIMITS_V2 };

struct limits_values {
	uint64_t memory_max; /* bytes; 0 = no limit */
	uint32_t pids_max;   /* 0 = no limit */
};

struct limits_usage {
	uint64_t cpu_usec;     /* CPU time used by the session so far */
	uint64_t memory_bytes; /* current memory use (RSS plus page cache charged) */
	uint64_t memory_peak;  /* highest memory use seen, if the kernel reports it, else 0 */
	uint64_t oom_kills;    /* processes the kernel killed at the memory limit */
	uint32_t pids;         /* processes and threads now */
};

struct limits;

/**
 * Detects the back-end under `fs_root` (normally "/sys/fs/cgroup"). For v2,
 * `base` is the daemon's own cgroup relative to fs_root (read from
 * /proc/self/cgroup when NULL) under which "shoji/<id>" leaves are made;
 * the daemon first moves itself into "<base>/shoji/daemon" (v2 forbids
 * processes in a cgroup that enables controllers for its children).
 * For v1, leaves are "<controller>/<base>/shoji/<id>".
 * Returns NULL with errno when no usable back-end exists.
 */
struct limits *limits_open(const char *fs_root, const char *base);
enum limits_backend limits_backend(const struct limits *l);
const char *limits_backend_name(const struct limits *l);
void limits_close(struct limits *l);

/** Creates the session's cgroup(s) and sets the values. 0 or -1 (errno). */
int limits_session_create(struct limits *l, const char *session_id,
			  const struct limits_values *v);

/** Moves pid (0 = the caller) into the session's cgroup(s). 0 or -1. */
int limits_session_attach(struct limits *l, const char *session_id, pid_t pid);

/** Reads usage. 0 or -1. */
int limits_session_usage(struct limits *l, const char *session_id, struct limits_usage *u);

/**
 * Kills every process of the session (SIGKILL, repeated until the cgroup is
 * empty or `timeout_ms` passed) and removes its cgroup(s). 0 or -1.
 */
int limits_session_destroy(struct limits *l, const char *session_id, int timeout_ms);
