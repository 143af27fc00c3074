/*
 * Per-session resource limits behind one small interface, with a cgroup v1
 * back-end (these build machines: separate memory, pids, cpuacct
 * hierarchies) and a cgroup v2 back-end (production Debian 12 under
 * systemd with Delegate=yes).
 *
 * No untrusted input. The root of the cgroup file system is a parameter so
 * tests can run either back-end against a fake tree.
 *
 * Layout, cgroup v2 (base is the daemon's delegated cgroup, e.g.
 * /system.slice/shojid.service):
 *
 *   <base>/                 subtree_control: +cpu +memory +pids
 *   <base>/supervisor/      the daemon's own processes (a leaf)
 *   <base>/shoji/           subtree_control: +cpu +memory +pids
 *   <base>/shoji/<id>/      one leaf per session
 *
 * v2 lets a cgroup that enables controllers for its children hold no
 * processes, so limits_open first moves the daemon (and anything else in
 * <base>) into <base>/supervisor, and only then enables the controllers.
 * "cpu" is enabled when delegated; "memory" and "pids" are required.
 *
 * Layout, cgroup v1 (base defaults to this process's own cgroup in each
 * hierarchy, from /proc/self/cgroup):
 *
 *   <fs_root>/memory<base>/shoji/<id>/
 *   <fs_root>/pids<base>/shoji/<id>/
 *   <fs_root>/cpuacct<base>/shoji/<id>/   (CPU time; optional)
 *   <fs_root>/cpu<base>/shoji/<id>/       (CPU limit; optional; the same
 *                                          directory when cpu and cpuacct
 *                                          share a hierarchy)
 *
 * The CPU limit is cpu.max ("QUOTA PERIOD") under v2 and cpu.cfs_period_us
 * plus cpu.cfs_quota_us under v1, with a period of 100 ms. Without a cpu
 * controller (v2 not delegated, v1 no cpu hierarchy) sessions are created
 * all the same, their CPU not limited, and a warning logged.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum limits_backend { LIMITS_NONE, LIMITS_V1, LIMITS_V2 };

struct limits_values {
	uint64_t memory_max; /* bytes; 0 = no limit; swap never extends it */
	uint32_t pids_max;   /* processes and threads; 0 = no limit */
	uint32_t cpu_max;    /* percent of one CPU (200 = two whole CPUs); 0 = no limit */
};

struct limits_usage {
	uint64_t cpu_usec;     /* CPU time used by the session so far (v1: 0 without cpuacct) */
	uint64_t memory_bytes; /* current memory use (RSS plus page cache charged) */
	uint64_t rss_bytes;    /* anonymous memory (v2 memory.stat anon, v1 total_rss), or 0 */
	uint64_t memory_peak;  /* highest memory use seen, if the kernel reports it, else 0 */
	uint64_t oom_kills;    /* processes the kernel killed at the memory limit, if reported */
	/* Times use reached the limit: v2 memory.events "max", v1 memory.failcnt.
	 * For v1 kernels without an oom_kill count; some recent kernels leave
	 * memory.failcnt at 0, so prefer oom_kills. */
	uint64_t memory_limit_hits;
	uint32_t pids; /* processes and threads now */
};

struct limits;

/**
 * Opens the back-end under `fs_root` (NULL means "/sys/fs/cgroup"),
 * detecting it: a cgroup2 mount at fs_root is v2; otherwise "memory" and
 * "pids" v1 hierarchies under fs_root are v1 ("cpuacct" too, for CPU time).
 *
 * `base` is an absolute cgroup path relative to the hierarchy root (see the
 * layouts above). When NULL it is read from /proc/self/cgroup; for v2 a
 * trailing "/supervisor" is dropped, so a daemon that already moved itself
 * there finds the same base again. For v2 this call moves the caller's
 * processes and enables controllers, as described above.
 * Returns NULL with errno (ENOTSUP: no usable back-end) and logs why.
 */
struct limits *limits_open(const char *fs_root, const char *base);

/**
 * Like limits_open, but with the back-end forced instead of detected; for
 * tests. fs_root may then be an ordinary directory standing in for a cgroup
 * file system, and the calls behave as a kernel would not:
 *  - a control file is created when first written, and every write is
 *    appended to it, so the file records what was written, in order;
 *  - files written only "when present" (memory.swap.max,
 *    memory.memsw.limit_in_bytes) are always written;
 *  - a missing cgroup.procs reads as empty, and no pid found in the tree is
 *    ever signalled (a fake tree's pids are not in any cgroup);
 *  - a session directory is removed with the files in it.
 * Passing LIMITS_NONE detects, exactly as limits_open.
 */
struct limits *limits_open_backend(const char *fs_root, const char *base,
                                   enum limits_backend forced);

/**
 * Opens the back-end for limits_session_usage only, as shojid's control
 * process does to show each session's CPU and memory: detects like
 * limits_open and finds the same base (NULL: from /proc/self/cgroup), but
 * creates, moves and enables nothing, and limits_close removes nothing.
 * The other calls must not be used on it. `forced` as for
 * limits_open_backend (tests); LIMITS_NONE detects. NULL with errno.
 */
struct limits *limits_open_readonly(const char *fs_root, const char *base,
                                    enum limits_backend forced);

enum limits_backend limits_backend(const struct limits *l);
/** "cgroup v1" or "cgroup v2". */
const char *limits_backend_name(const struct limits *l);

/**
 * Frees l (NULL is fine) and removes the "shoji" directories it made if no
 * session is left in them. Sessions still open are left as they are.
 */
void limits_close(struct limits *l);

/**
 * Creates the session's cgroup(s) and sets the values. `session_id` is 1 to
 * 64 of [A-Za-z0-9_-] (EINVAL otherwise); EEXIST if the session exists.
 * On failure nothing is left behind. 0 or -1 (errno).
 */
int limits_session_create(struct limits *l, const char *session_id, const struct limits_values *v);

/** Moves pid (0 = the caller) into the session's cgroup(s). 0 or -1 (errno). */
int limits_session_attach(struct limits *l, const char *session_id, pid_t pid);

/** Reads usage. 0 or -1 (errno; EINVAL when the kernel's file did not parse). */
int limits_session_usage(struct limits *l, const char *session_id, struct limits_usage *u);

/**
 * Kills every process of the session (v2: cgroup.kill where the kernel has
 * it, >= 5.14; otherwise SIGKILL to each listed pid, repeated), waits until
 * the cgroup(s) are empty, polling every 10 ms, and removes them, retrying
 * while the kernel still reports EBUSY. Gives up after `timeout_ms` with
 * ETIMEDOUT, leaving the cgroup(s) in place. ENOENT if the session does not
 * exist. 0 or -1 (errno).
 */
int limits_session_destroy(struct limits *l, const char *session_id, int timeout_ms);
