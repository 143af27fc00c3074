/*
 * Tests of per-session limits. Both back-ends run against fake trees (a
 * forced back-end over plain directories, see limits.h): layout, the order
 * of the v2 set-up, values written, usage parsing including malformed
 * files, removal. The v1 back-end also runs for real where the machine has
 * v1 memory and pids hierarchies and the tests run as root: the kernel must
 * enforce the limits, and destroy must kill and remove.
 */
#include "autoconfig.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <linux/magic.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_limits.h"
#include "util.h"

Suite *suite_limits(void);

#define MIB (1024ull * 1024ull)
#define BASE "/system.slice/shojid.service"
#define OTHER_PID "31337" /* a second process the fake base cgroup lists */

/* ---- helpers ---- */

static const char *pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Formats into one of a few rotating buffers, so several can be in use. */
static const char *pathf(const char *fmt, ...)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char *b = bufs[next++ % 8];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(b, PATH_MAX, fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && n < PATH_MAX);
	return b;
}

/* The file's content, or NULL if it cannot be read. */
static const char *slurp(const char *path)
{
	static char bufs[4][8192];
	static unsigned next;
	char *b = bufs[next++ % 4];
	size_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	while (n < sizeof(bufs[0]) - 1 && (r = read(fd, b + n, sizeof(bufs[0]) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	b[n] = '\0';
	return b;
}

static void put(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(write_all(fd, content, strlen(content)), 0);
	close(fd);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static const char *self_line(void)
{
	return pathf("%d\n", (int)getpid());
}

/* Every fake tree lives under one directory made for the test case and
 * removed by the runner afterwards, even when a test failed. */
static char tmp_parent[64];

static void tmp_setup(void)
{
	snprintf(tmp_parent, sizeof(tmp_parent), "/tmp/shoji-limits-XXXXXX");
	if (!mkdtemp(tmp_parent))
		tmp_parent[0] = '\0';
}

static void tmp_teardown(void)
{
	if (tmp_parent[0])
		remove_tree(tmp_parent);
}

static void new_root(char *root, size_t size)
{
	ck_assert_msg(tmp_parent[0], "no temporary directory");
	snprintf(root, size, "%s/t-XXXXXX", tmp_parent);
	ck_assert_ptr_nonnull(mkdtemp(root));
}

/* ---- cgroup v2, fake tree ---- */

struct fake {
	char root[128];
	char base[PATH_MAX];
};

/* A delegated cgroup as systemd leaves it: controllers offered, this
 * process and one other in it. With `fifos`, both subtree_control files are
 * FIFOs, so a watcher sees the moment they are written. */
static void fake_v2(struct fake *f, const char *controllers, bool fifos)
{
	new_root(f->root, sizeof(f->root));
	snprintf(f->base, sizeof(f->base), "%s%s", f->root, BASE);
	ck_assert_int_eq(mkdir_p(f->base, 0755), 0);
	put(pathf("%s/cgroup.controllers", f->base), controllers);
	put(pathf("%s/cgroup.procs", f->base), pathf("%d\n" OTHER_PID "\n", (int)getpid()));
	if (!fifos)
		return;
	ck_assert_int_eq(mkfifo(pathf("%s/cgroup.subtree_control", f->base), 0644), 0);
	ck_assert_int_eq(mkdir(pathf("%s/shoji", f->base), 0755), 0);
	ck_assert_int_eq(mkfifo(pathf("%s/shoji/cgroup.subtree_control", f->base), 0644), 0);
}

static struct limits *open_fake_v2(struct fake *f)
{
	fake_v2(f, "cpu memory pids\n", false);
	struct limits *l = limits_open_backend(f->root, BASE, LIMITS_V2);
	ck_assert_ptr_nonnull(l);
	return l;
}

/* Records what is written into each FIFO and what supervisor/cgroup.procs
 * held at the moment the write arrived. */
struct watch {
	int fd[2];
	char supervisor_procs[PATH_MAX];
	char written[2][64];
	char procs_then[2][64];
};

static void *watch_run(void *arg)
{
	struct watch *w = arg;
	struct pollfd pfd[2] = {{w->fd[0], POLLIN, 0}, {w->fd[1], POLLIN, 0}};
	uint64_t deadline = now_ms() + 5000;
	int open_fds = 2;

	while (open_fds > 0 && now_ms() < deadline) {
		if (poll(pfd, 2, 100) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			size_t have = strlen(w->written[i]);
			if (have == 0) {
				const char *now = slurp(w->supervisor_procs);
				snprintf(w->procs_then[i], sizeof(w->procs_then[i]), "%s",
				         now ? now : "(missing)");
			}
			ssize_t n =
			    read(pfd[i].fd, w->written[i] + have, sizeof(w->written[i]) - 1 - have);
			if (n <= 0) {
				pfd[i].fd = -1;
				open_fds--;
			}
		}
	}
	return NULL;
}

START_TEST(v2_moves_daemon_before_enabling_controllers)
{
	struct fake f;
	struct watch w = {0};
	pthread_t thread;

	fake_v2(&f, "cpuset cpu io memory pids\n", true);
	w.fd[0] = open(pathf("%s/cgroup.subtree_control", f.base), O_RDONLY | O_NONBLOCK);
	w.fd[1] = open(pathf("%s/shoji/cgroup.subtree_control", f.base), O_RDONLY | O_NONBLOCK);
	ck_assert(w.fd[0] >= 0 && w.fd[1] >= 0);
	snprintf(w.supervisor_procs, sizeof(w.supervisor_procs), "%s",
	         pathf("%s/supervisor/cgroup.procs", f.base));
	ck_assert_int_eq(pthread_create(&thread, NULL, watch_run, &w), 0);

	struct limits *l = limits_open_backend(f.root, BASE, LIMITS_V2);
	ck_assert_int_eq(pthread_join(thread, NULL), 0);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(limits_backend(l), LIMITS_V2);
	ck_assert_str_eq(limits_backend_name(l), "cgroup v2");

	/* Both processes were in the leaf before either subtree_control write. */
	const char *moved = pathf("%d\n" OTHER_PID "\n", (int)getpid());
	ck_assert_str_eq(w.written[0], "+cpu +memory +pids\n");
	ck_assert_str_eq(w.written[1], "+cpu +memory +pids\n");
	ck_assert_str_eq(w.procs_then[0], moved);
	ck_assert_str_eq(w.procs_then[1], moved);
	ck_assert_str_eq(slurp(w.supervisor_procs), moved);
	limits_close(l);
	close(w.fd[0]);
	close(w.fd[1]);
}
END_TEST

START_TEST(v2_enables_cpu_only_when_delegated)
{
	struct fake f;

	fake_v2(&f, "memory io pids\n", false);
	struct limits *l = limits_open_backend(f.root, BASE, LIMITS_V2);
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(slurp(pathf("%s/cgroup.subtree_control", f.base)), "+memory +pids\n");
	ck_assert_str_eq(slurp(pathf("%s/shoji/cgroup.subtree_control", f.base)),
	                 "+memory +pids\n");
	limits_close(l);
}
END_TEST

START_TEST(v2_refuses_undelegated_memory_or_pids)
{
	static const char *const offered[] = {"cpu memory io\n", "cpu pids\n", ""};
	struct fake f;

	for (size_t i = 0; i < ARRAY_SIZE(offered); i++) {
		fake_v2(&f, offered[i], false);
		errno = 0;
		ck_assert_ptr_null(limits_open_backend(f.root, BASE, LIMITS_V2));
		ck_assert_int_eq(errno, ENOTSUP);
		/* Refused before anything was moved or enabled. */
		ck_assert(!exists(pathf("%s/supervisor", f.base)));
		ck_assert(!exists(pathf("%s/cgroup.subtree_control", f.base)));
	}
	fake_v2(&f, "cpu memory pids\n", false);
	unlink(pathf("%s/cgroup.controllers", f.base));
	errno = 0;
	ck_assert_ptr_null(limits_open_backend(f.root, BASE, LIMITS_V2));
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(v2_refuses_bad_base)
{
	static const char *const bad[] = {"system.slice", "/a/../../b", "/..", "/a/./b"};
	struct fake f;

	fake_v2(&f, "cpu memory pids\n", false);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		ck_assert_ptr_null(limits_open_backend(f.root, bad[i], LIMITS_V2));
		ck_assert_int_eq(errno, EINVAL);
	}
	ck_assert(!exists(pathf("%s/supervisor", f.base)));
}
END_TEST

/* With no base given, the back-end uses this process's "0::" cgroup. */
START_TEST(v2_base_from_proc_self_cgroup)
{
	char own[PATH_MAX] = "";
	char line[PATH_MAX + 16], root[PATH_MAX];
	FILE *cg = fopen("/proc/self/cgroup", "r");

	ck_assert_ptr_nonnull(cg);
	while (fgets(line, sizeof(line), cg))
		if (!strncmp(line, "0::", 3))
			snprintf(own, sizeof(own), "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
	fclose(cg);
	ck_assert_msg(own[0] == '/', "no 0:: line in /proc/self/cgroup");
	if (strstr(own, "/.."))
		return; /* outside this cgroup namespace; refused by design */

	new_root(root, sizeof(root));
	char base[PATH_MAX];
	snprintf(base, sizeof(base), "%s", pathf("%s%s", root, strcmp(own, "/") ? own : ""));
	ck_assert_int_eq(mkdir_p(base, 0755), 0);
	put(pathf("%s/cgroup.controllers", base), "memory pids\n");
	struct limits *l = limits_open_backend(root, NULL, LIMITS_V2);
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(slurp(pathf("%s/supervisor/cgroup.procs", base)), self_line());
	ck_assert(exists(pathf("%s/shoji", base)));
	limits_close(l);
}
END_TEST

START_TEST(v2_session_values)
{
	struct fake f;
	struct limits *l = open_fake_v2(&f);
	struct limits_values v = {.memory_max = 256 * MIB, .pids_max = 100};
	struct limits_values unlimited = {0};
	char leaf[PATH_MAX];

	snprintf(leaf, sizeof(leaf), "%s", pathf("%s/shoji/s-1_A", f.base));
	ck_assert_int_eq(limits_session_create(l, "s-1_A", &v), 0);
	ck_assert_str_eq(slurp(pathf("%s/memory.max", leaf)), "268435456\n");
	ck_assert_str_eq(slurp(pathf("%s/memory.swap.max", leaf)), "0\n");
	ck_assert_str_eq(slurp(pathf("%s/pids.max", leaf)), "100\n");

	ck_assert_int_eq(limits_session_create(l, "free", &unlimited), 0);
	ck_assert_str_eq(slurp(pathf("%s/shoji/free/memory.max", f.base)), "max\n");
	ck_assert_str_eq(slurp(pathf("%s/shoji/free/pids.max", f.base)), "max\n");

	/* A second create of the same id fails and leaves the first alone. */
	errno = 0;
	ck_assert_int_eq(limits_session_create(l, "s-1_A", &unlimited), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_str_eq(slurp(pathf("%s/memory.max", leaf)), "268435456\n");

	ck_assert_int_eq(limits_session_attach(l, "s-1_A", 4242), 0);
	ck_assert_int_eq(limits_session_attach(l, "s-1_A", 0), 0);
	ck_assert_str_eq(slurp(pathf("%s/cgroup.procs", leaf)), pathf("4242\n%d\n", (int)getpid()));
	/* With processes in it, still refused. */
	errno = 0;
	ck_assert_int_eq(limits_session_create(l, "s-1_A", &unlimited), -1);
	ck_assert_int_eq(errno, EEXIST);
	/* A leaf left without processes (its session's supervisor was killed) is used again. */
	ck_assert_int_eq(mkdir(pathf("%s/shoji/left", f.base), 0755), 0);
	int fd = open(pathf("%s/shoji/left/cgroup.procs", f.base), O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(limits_session_create(l, "left", &v), 0);
	ck_assert_str_eq(slurp(pathf("%s/shoji/left/pids.max", f.base)), "100\n");
	errno = 0;
	ck_assert_int_eq(limits_session_attach(l, "nosuch", 4242), -1);
	ck_assert_int_eq(errno, ENOENT);
	errno = 0;
	ck_assert_int_eq(limits_session_attach(l, "s-1_A", -5), -1);
	ck_assert_int_eq(errno, EINVAL);
	limits_close(l);
}
END_TEST

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;

	ck_assert_ptr_nonnull(d);
	for (struct dirent *de; (de = readdir(d));)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

START_TEST(v2_cpu_max)
{
	struct fake f;
	struct limits *l = open_fake_v2(&f);
	struct limits_values half = {.memory_max = MIB, .pids_max = 10, .cpu_max = 50};
	struct limits_values two = {.memory_max = MIB, .pids_max = 10, .cpu_max = 200};
	struct limits_values free_cpu = {.memory_max = MIB, .pids_max = 10};

	ck_assert_int_eq(limits_session_create(l, "half", &half), 0);
	ck_assert_str_eq(slurp(pathf("%s/shoji/half/cpu.max", f.base)), "50000 100000\n");
	ck_assert_int_eq(limits_session_create(l, "two", &two), 0);
	ck_assert_str_eq(slurp(pathf("%s/shoji/two/cpu.max", f.base)), "200000 100000\n");
	/* 0 leaves the kernel's default (no limit) alone. */
	ck_assert_int_eq(limits_session_create(l, "free", &free_cpu), 0);
	ck_assert(!exists(pathf("%s/shoji/free/cpu.max", f.base)));
	limits_close(l);

	/* cpu not delegated: the session is made, its CPU not limited. */
	fake_v2(&f, "memory pids\n", false);
	l = limits_open_backend(f.root, BASE, LIMITS_V2);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(limits_session_create(l, "half", &half), 0);
	ck_assert(exists(pathf("%s/shoji/half", f.base)));
	ck_assert(!exists(pathf("%s/shoji/half/cpu.max", f.base)));
	ck_assert_str_eq(slurp(pathf("%s/shoji/half/pids.max", f.base)), "10\n");
	limits_close(l);
}
END_TEST

START_TEST(rejects_bad_session_ids)
{
	static const char *const bad[] = {
	    "",
	    ".",
	    "..",
	    "a/b",
	    "../x",
	    "a.b",
	    "a b",
	    "a\n",
	    "\xc3\xa9",
	    "s\x01",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
	    NULL,
	};
	const char *max_id =
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"; /* 64 */
	struct limits_values v = {.memory_max = MIB, .pids_max = 1};
	struct limits_usage u;
	struct fake f;
	struct limits *l = open_fake_v2(&f);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		ck_assert_int_eq(limits_session_create(l, bad[i], &v), -1);
		ck_assert_int_eq(errno, EINVAL);
		errno = 0;
		ck_assert_int_eq(limits_session_attach(l, bad[i], 1), -1);
		ck_assert_int_eq(errno, EINVAL);
		errno = 0;
		ck_assert_int_eq(limits_session_usage(l, bad[i], &u), -1);
		ck_assert_int_eq(errno, EINVAL);
		errno = 0;
		ck_assert_int_eq(limits_session_destroy(l, bad[i], 0), -1);
		ck_assert_int_eq(errno, EINVAL);
	}
	/* Nothing was made anywhere: shoji/ holds only its subtree_control. */
	ck_assert_int_eq(count_entries(pathf("%s/shoji", f.base)), 1);
	ck_assert_int_eq(count_entries(f.base), 5);
	ck_assert_int_eq(strlen(max_id), 64);
	ck_assert_int_eq(limits_session_create(l, max_id, &v), 0);
	limits_close(l);
}
END_TEST

/* Writes a plausible set of v2 usage files into a session leaf. */
static void put_v2_usage(const char *leaf)
{
	put(pathf("%s/memory.current", leaf), "1048576\n");
	put(pathf("%s/memory.peak", leaf), "2097152\n");
	put(pathf("%s/memory.events", leaf),
	    "low 0\nhigh 0\nmax 7\noom 2\noom_group_kill 9\noom_kill 3\n");
	put(pathf("%s/pids.current", leaf), "4\n");
	put(pathf("%s/cpu.stat", leaf),
	    "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\nnr_periods 0\n");
}

START_TEST(v2_usage)
{
	struct limits_values v = {.memory_max = 64 * MIB, .pids_max = 20};
	struct limits_usage u;
	struct fake f;
	struct limits *l = open_fake_v2(&f);
	char leaf[PATH_MAX];

	snprintf(leaf, sizeof(leaf), "%s", pathf("%s/shoji/u", f.base));
	ck_assert_int_eq(limits_session_create(l, "u", &v), 0);
	put_v2_usage(leaf);
	ck_assert_int_eq(limits_session_usage(l, "u", &u), 0);
	ck_assert_uint_eq(u.memory_bytes, 1048576);
	ck_assert_uint_eq(u.memory_peak, 2097152);
	ck_assert_uint_eq(u.oom_kills, 3); /* not oom_group_kill's 9 */
	ck_assert_uint_eq(u.memory_limit_hits, 7);
	ck_assert_uint_eq(u.pids, 4);
	ck_assert_uint_eq(u.cpu_usec, 123456);

	/* Kernels before 5.19 have no memory.peak; before 4.13 no oom_kill. */
	unlink(pathf("%s/memory.peak", leaf));
	put(pathf("%s/memory.events", leaf), "low 0\nhigh 0\nmax 1\noom 0\n");
	ck_assert_int_eq(limits_session_usage(l, "u", &u), 0);
	ck_assert_uint_eq(u.memory_peak, 0);
	ck_assert_uint_eq(u.oom_kills, 0);
	ck_assert_uint_eq(u.memory_limit_hits, 1);
	ck_assert_uint_eq(u.memory_bytes, 1048576);

	errno = 0;
	ck_assert_int_eq(limits_session_usage(l, "nosuch", &u), -1);
	ck_assert_int_eq(errno, ENOENT);
	limits_close(l);
}
END_TEST

START_TEST(v2_usage_malformed)
{
	static const struct {
		const char *file, *content;
		int err;
	} cases[] = {
	    {"memory.current", "12abc\n", EINVAL},
	    {"memory.current", "", EINVAL},
	    {"memory.current", "-1\n", EINVAL},
	    {"memory.current", " 12\n", EINVAL},
	    {"memory.current", "18446744073709551616\n", ERANGE},
	    {"memory.peak", "0x10\n", EINVAL},
	    {"pids.current", "4294967296\n", ERANGE},
	    {"pids.current", "4 5\n", EINVAL},
	    {"cpu.stat", "user_usec 5\nsystem_usec 5\n", EINVAL},
	    {"cpu.stat", "usage_usec\n", EINVAL},
	    {"cpu.stat", "usage_usec 12 34\n", EINVAL},
	    {"cpu.stat", "usage_usec  12\n", EINVAL},
	    {"memory.events", "max 1\noom_kill x\n", EINVAL},
	};
	struct limits_values v = {0};
	struct limits_usage u;
	struct fake f;
	struct limits *l = open_fake_v2(&f);
	char leaf[PATH_MAX];

	snprintf(leaf, sizeof(leaf), "%s", pathf("%s/shoji/m", f.base));

	ck_assert_int_eq(limits_session_create(l, "m", &v), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		put_v2_usage(leaf);
		put(pathf("%s/%s", leaf, cases[i].file), cases[i].content);
		errno = 0;
		ck_assert_msg(limits_session_usage(l, "m", &u) == -1, "case %zu accepted", i);
		ck_assert_msg(errno == cases[i].err, "case %zu: errno %d", i, errno);
	}
	put_v2_usage(leaf);
	unlink(pathf("%s/memory.current", leaf));
	errno = 0;
	ck_assert_int_eq(limits_session_usage(l, "m", &u), -1);
	ck_assert_int_eq(errno, ENOENT);
	limits_close(l);
}
END_TEST

START_TEST(v2_destroy)
{
	struct limits_values v = {.memory_max = MIB, .pids_max = 2};
	struct fake f;
	struct limits *l = open_fake_v2(&f);
	char leaf[PATH_MAX];

	snprintf(leaf, sizeof(leaf), "%s", pathf("%s/shoji/d", f.base));
	ck_assert_int_eq(limits_session_create(l, "d", &v), 0);
	/* This process is listed: a fake tree's pids are never signalled, so
	 * destroy waits, times out, and leaves the session. */
	ck_assert_int_eq(limits_session_attach(l, "d", 0), 0);
	uint64_t start = now_ms();
	errno = 0;
	ck_assert_int_eq(limits_session_destroy(l, "d", 50), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_uint_ge(now_ms() - start, 50);
	ck_assert(exists(leaf));

	put(pathf("%s/cgroup.procs", leaf), "");
	ck_assert_int_eq(limits_session_destroy(l, "d", 1000), 0);
	ck_assert(!exists(leaf));
	errno = 0;
	ck_assert_int_eq(limits_session_destroy(l, "d", 1000), -1);
	ck_assert_int_eq(errno, ENOENT);

	/* A missing cgroup.procs (never attached) counts as empty. */
	ck_assert_int_eq(limits_session_create(l, "e", &v), 0);
	ck_assert_int_eq(limits_session_destroy(l, "e", 0), 0);
	ck_assert(!exists(pathf("%s/shoji/e", f.base)));
	limits_close(l);
}
END_TEST

START_TEST(v2_destroy_uses_cgroup_kill)
{
	struct limits_values v = {0};
	struct fake f;
	struct limits *l = open_fake_v2(&f);
	char leaf[PATH_MAX];
	char got[16] = "";

	snprintf(leaf, sizeof(leaf), "%s", pathf("%s/shoji/k", f.base));
	ck_assert_int_eq(limits_session_create(l, "k", &v), 0);
	ck_assert_int_eq(mkfifo(pathf("%s/cgroup.kill", leaf), 0644), 0);
	int fd = open(pathf("%s/cgroup.kill", leaf), O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(limits_session_destroy(l, "k", 1000), 0);
	ck_assert_int_eq(read(fd, got, sizeof(got) - 1), 2);
	ck_assert_str_eq(got, "1\n");
	ck_assert(!exists(leaf));
	close(fd);
	limits_close(l);
}
END_TEST

/* shojid's view: usage only; nothing made, moved, enabled or removed. */
START_TEST(v2_readonly_usage)
{
	struct limits_usage u;
	struct fake f;
	char leaf[PATH_MAX];

	fake_v2(&f, "cpu memory pids\n", false);
	struct limits *l = limits_open_readonly(f.root, BASE, LIMITS_V2);
	ck_assert_ptr_nonnull(l);
	ck_assert(!exists(pathf("%s/supervisor", f.base)));
	ck_assert(!exists(pathf("%s/shoji", f.base)));
	ck_assert(!exists(pathf("%s/cgroup.subtree_control", f.base)));
	ck_assert_str_eq(slurp(pathf("%s/cgroup.procs", f.base)),
	                 pathf("%d\n" OTHER_PID "\n", (int)getpid()));
	errno = 0;
	ck_assert_int_eq(limits_session_usage(l, "r", &u), -1);
	ck_assert_int_eq(errno, ENOENT);

	snprintf(leaf, sizeof(leaf), "%s", pathf("%s/shoji/r", f.base));
	ck_assert_int_eq(mkdir_p(leaf, 0755), 0);
	put_v2_usage(leaf);
	ck_assert_int_eq(limits_session_usage(l, "r", &u), 0);
	ck_assert_uint_eq(u.cpu_usec, 123456);
	ck_assert_uint_eq(u.memory_bytes, 1048576);
	ck_assert_uint_eq(u.rss_bytes, 0); /* no memory.stat: not known */
	put(pathf("%s/memory.stat", leaf), "anon 524288\nfile 4096\nkernel 8192\n");
	ck_assert_int_eq(limits_session_usage(l, "r", &u), 0);
	ck_assert_uint_eq(u.rss_bytes, 524288);
	limits_close(l);
	ck_assert(exists(leaf));
	ck_assert(exists(pathf("%s/shoji", f.base)));
}
END_TEST

START_TEST(v1_readonly_usage)
{
	char root[PATH_MAX];
	struct limits_usage u;

	new_root(root, sizeof(root));
	ck_assert_int_eq(mkdir_p(pathf("%s/memory/test/shoji/r", root), 0755), 0);
	ck_assert_int_eq(mkdir_p(pathf("%s/pids/test/shoji/r", root), 0755), 0);
	ck_assert_int_eq(mkdir_p(pathf("%s/cpuacct/test/shoji/r", root), 0755), 0);
	struct limits *l = limits_open_readonly(root, "/test", LIMITS_V1);
	ck_assert_ptr_nonnull(l);
	put(pathf("%s/memory/test/shoji/r/memory.usage_in_bytes", root), "3145728\n");
	put(pathf("%s/memory/test/shoji/r/memory.max_usage_in_bytes", root), "4194304\n");
	put(pathf("%s/memory/test/shoji/r/memory.failcnt", root), "0\n");
	put(pathf("%s/memory/test/shoji/r/memory.stat", root),
	    "cache 1048576\nrss 2097152\ntotal_cache 1048576\ntotal_rss 2097152\n");
	put(pathf("%s/pids/test/shoji/r/pids.current", root), "9\n");
	put(pathf("%s/cpuacct/test/shoji/r/cpuacct.usage", root), "2500000000\n");
	ck_assert_int_eq(limits_session_usage(l, "r", &u), 0);
	ck_assert_uint_eq(u.cpu_usec, 2500000);
	ck_assert_uint_eq(u.rss_bytes, 2097152);
	ck_assert_uint_eq(u.memory_bytes, 3145728);
	ck_assert_uint_eq(u.pids, 9);
	limits_close(l);
	ck_assert(exists(pathf("%s/memory/test/shoji/r", root)));
}
END_TEST

START_TEST(autodetect_refuses_plain_directories)
{
	char root[PATH_MAX];

	new_root(root, sizeof(root));
	ck_assert_int_eq(mkdir(pathf("%s/memory", root), 0755), 0);
	ck_assert_int_eq(mkdir(pathf("%s/pids", root), 0755), 0);
	errno = 0;
	ck_assert_ptr_null(limits_open(root, "/"));
	ck_assert_int_eq(errno, ENOTSUP);
	errno = 0;
	ck_assert_ptr_null(limits_open(pathf("%s/missing", root), "/"));
	ck_assert_int_eq(errno, ENOTSUP);
	ck_assert_int_eq(count_entries(pathf("%s/memory", root)), 0);
}
END_TEST

/* ---- cgroup v1, fake tree ---- */

static struct limits *open_fake_v1(char *root, size_t size, bool with_cpuacct)
{
	new_root(root, size);
	ck_assert_int_eq(mkdir_p(pathf("%s/memory/test", root), 0755), 0);
	ck_assert_int_eq(mkdir_p(pathf("%s/pids/test", root), 0755), 0);
	if (with_cpuacct)
		ck_assert_int_eq(mkdir_p(pathf("%s/cpuacct/test", root), 0755), 0);
	struct limits *l = limits_open_backend(root, "/test/", LIMITS_V1);
	ck_assert_ptr_nonnull(l);
	return l;
}

START_TEST(v1_fake_session)
{
	static const char *const ctrl[] = {"memory", "pids", "cpuacct"};
	struct limits_values v = {.memory_max = 64 * MIB, .pids_max = 20};
	struct limits_values unlimited = {0};
	struct limits_usage u;
	char root[PATH_MAX];
	struct limits *l = open_fake_v1(root, sizeof(root), true);
	char mem[PATH_MAX];

	snprintf(mem, sizeof(mem), "%s", pathf("%s/memory/test/shoji/s", root));
	ck_assert_int_eq(limits_backend(l), LIMITS_V1);
	ck_assert_str_eq(limits_backend_name(l), "cgroup v1");
	ck_assert_int_eq(limits_session_create(l, "s", &v), 0);
	ck_assert_str_eq(slurp(pathf("%s/memory.limit_in_bytes", mem)), "67108864\n");
	ck_assert_str_eq(slurp(pathf("%s/memory.memsw.limit_in_bytes", mem)), "67108864\n");
	ck_assert_str_eq(slurp(pathf("%s/pids/test/shoji/s/pids.max", root)), "20\n");
	ck_assert(exists(pathf("%s/cpuacct/test/shoji/s", root)));

	ck_assert_int_eq(limits_session_create(l, "free", &unlimited), 0);
	ck_assert(!exists(pathf("%s/memory/test/shoji/free/memory.limit_in_bytes", root)));
	ck_assert_str_eq(slurp(pathf("%s/pids/test/shoji/free/pids.max", root)), "max\n");

	ck_assert_int_eq(limits_session_attach(l, "s", 4242), 0);
	for (size_t i = 0; i < ARRAY_SIZE(ctrl); i++)
		ck_assert_str_eq(slurp(pathf("%s/%s/test/shoji/s/cgroup.procs", root, ctrl[i])),
		                 "4242\n");

	put(pathf("%s/memory.usage_in_bytes", mem), "1000\n");
	put(pathf("%s/memory.max_usage_in_bytes", mem), "2000\n");
	put(pathf("%s/memory.oom_control", mem), "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
	put(pathf("%s/memory.failcnt", mem), "5\n");
	put(pathf("%s/pids/test/shoji/s/pids.current", root), "3\n");
	put(pathf("%s/cpuacct/test/shoji/s/cpuacct.usage", root), "5000999\n");
	ck_assert_int_eq(limits_session_usage(l, "s", &u), 0);
	ck_assert_uint_eq(u.memory_bytes, 1000);
	ck_assert_uint_eq(u.memory_peak, 2000);
	ck_assert_uint_eq(u.oom_kills, 2);
	ck_assert_uint_eq(u.memory_limit_hits, 5);
	ck_assert_uint_eq(u.pids, 3);
	ck_assert_uint_eq(u.cpu_usec, 5000);

	put(pathf("%s/memory.oom_control", mem), "oom_kill_disable 0\nunder_oom 0\n");
	ck_assert_int_eq(limits_session_usage(l, "s", &u), 0);
	ck_assert_uint_eq(u.oom_kills, 0);
	put(pathf("%s/memory.failcnt", mem), "five\n");
	errno = 0;
	ck_assert_int_eq(limits_session_usage(l, "s", &u), -1);
	ck_assert_int_eq(errno, EINVAL);

	for (size_t i = 0; i < ARRAY_SIZE(ctrl); i++)
		put(pathf("%s/%s/test/shoji/s/cgroup.procs", root, ctrl[i]), "");
	ck_assert_int_eq(limits_session_destroy(l, "s", 1000), 0);
	ck_assert_int_eq(limits_session_destroy(l, "free", 1000), 0);
	for (size_t i = 0; i < ARRAY_SIZE(ctrl); i++)
		ck_assert(!exists(pathf("%s/%s/test/shoji/s", root, ctrl[i])));
	limits_close(l);
	/* The emptied shoji/ parents go with the last user. */
	for (size_t i = 0; i < ARRAY_SIZE(ctrl); i++)
		ck_assert(!exists(pathf("%s/%s/test/shoji", root, ctrl[i])));
}
END_TEST

/* v1 with a cpu hierarchy of its own, then co-mounted with cpuacct. */
START_TEST(v1_fake_cpu_quota)
{
	static const char *const ctrl[] = {"memory", "pids", "cpuacct", "cpu"};
	struct limits_values v = {.memory_max = MIB, .pids_max = 5, .cpu_max = 150};
	char root[PATH_MAX];

	new_root(root, sizeof(root));
	for (size_t i = 0; i < ARRAY_SIZE(ctrl); i++)
		ck_assert_int_eq(mkdir_p(pathf("%s/%s/test", root, ctrl[i]), 0755), 0);
	struct limits *l = limits_open_backend(root, "/test/", LIMITS_V1);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(limits_session_create(l, "q", &v), 0);
	ck_assert_str_eq(slurp(pathf("%s/cpu/test/shoji/q/cpu.cfs_period_us", root)), "100000\n");
	ck_assert_str_eq(slurp(pathf("%s/cpu/test/shoji/q/cpu.cfs_quota_us", root)), "150000\n");
	ck_assert(!exists(pathf("%s/cpuacct/test/shoji/q/cpu.cfs_quota_us", root)));
	ck_assert_int_eq(limits_session_attach(l, "q", 4242), 0);
	for (size_t i = 0; i < ARRAY_SIZE(ctrl); i++)
		ck_assert_str_eq(slurp(pathf("%s/%s/test/shoji/q/cgroup.procs", root, ctrl[i])),
		                 "4242\n");
	for (size_t i = 0; i < ARRAY_SIZE(ctrl); i++)
		put(pathf("%s/%s/test/shoji/q/cgroup.procs", root, ctrl[i]), "");
	ck_assert_int_eq(limits_session_destroy(l, "q", 1000), 0);
	for (size_t i = 0; i < ARRAY_SIZE(ctrl); i++)
		ck_assert(!exists(pathf("%s/%s/test/shoji/q", root, ctrl[i])));
	limits_close(l);

	/* "cpu" a link to the cpuacct hierarchy, as Debian mounts cpu,cpuacct. */
	new_root(root, sizeof(root));
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_eq(mkdir_p(pathf("%s/%s/test", root, ctrl[i]), 0755), 0);
	ck_assert_int_eq(symlink("cpuacct", pathf("%s/cpu", root)), 0);
	l = limits_open_backend(root, "/test/", LIMITS_V1);
	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(limits_session_create(l, "q", &v), 0);
	ck_assert_str_eq(slurp(pathf("%s/cpuacct/test/shoji/q/cpu.cfs_quota_us", root)),
	                 "150000\n");
	ck_assert_int_eq(limits_session_attach(l, "q", 4242), 0);
	/* Attached once there, not twice. */
	ck_assert_str_eq(slurp(pathf("%s/cpuacct/test/shoji/q/cgroup.procs", root)), "4242\n");
	limits_close(l);
}
END_TEST

START_TEST(v1_fake_without_cpuacct)
{
	struct limits_values v = {.memory_max = MIB, .pids_max = 5};
	struct limits_usage u;
	char root[PATH_MAX];
	struct limits *l = open_fake_v1(root, sizeof(root), false);
	char mem[PATH_MAX];

	snprintf(mem, sizeof(mem), "%s", pathf("%s/memory/test/shoji/c", root));
	ck_assert_int_eq(limits_session_create(l, "c", &v), 0);
	put(pathf("%s/memory.usage_in_bytes", mem), "1\n");
	put(pathf("%s/memory.max_usage_in_bytes", mem), "2\n");
	put(pathf("%s/memory.oom_control", mem), "oom_kill 0\n");
	put(pathf("%s/memory.failcnt", mem), "0\n");
	put(pathf("%s/pids/test/shoji/c/pids.current", root), "1\n");
	ck_assert_int_eq(limits_session_usage(l, "c", &u), 0);
	ck_assert_uint_eq(u.cpu_usec, 0);
	ck_assert_uint_eq(u.pids, 1);
	ck_assert_int_eq(limits_session_destroy(l, "c", 100), 0);
	limits_close(l);
}
END_TEST

/* ---- cgroup v1, for real ---- */

static char v1_tag[40]; /* in session ids, so parallel runs never collide */
static const char *const v1_sessions[] = {"files", "pids", "oom", "cpu"};

static bool v1_available(char *why, size_t size)
{
	static const char *const needed[] = {"memory", "pids"};
	struct statfs sf;

	if (geteuid() != 0) {
		snprintf(why, size, "not running as root");
		return false;
	}
	for (size_t i = 0; i < ARRAY_SIZE(needed); i++) {
		char dir[64];
		snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s", needed[i]);
		if (statfs(dir, &sf) < 0 || sf.f_type != CGROUP_SUPER_MAGIC) {
			snprintf(why, size, "%s is not a cgroup v1 hierarchy", dir);
			return false;
		}
	}
	return true;
}

static const char *v1_id(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s-%s", v1_tag, name);
	return out;
}

/* The session's directory in one v1 hierarchy, worked out independently
 * from /proc/self/cgroup by the layout limits.h documents. */
static bool v1_leaf(char *out, size_t size, const char *controller, const char *id)
{
	char line[PATH_MAX + 64];
	bool found = false;
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *list = strchr(line, ':'), *path = list ? strchr(list + 1, ':') : NULL;
		if (!path)
			continue;
		*path++ = '\0';
		path[strcspn(path, "\n")] = '\0';
		char *save = NULL;
		for (char *c = strtok_r(list + 1, ",", &save); c && !found;
		     c = strtok_r(NULL, ",", &save))
			found = !strcmp(c, controller);
		if (found)
			snprintf(out, size, "/sys/fs/cgroup/%s%s/shoji/%s", controller,
			         strcmp(path, "/") ? path : "", id);
	}
	fclose(f);
	return found;
}

static void v1_setup(void)
{
	uint8_t r[4];
	char hex[9] = "0";

	if (random_bytes(r, sizeof(r)) == 0)
		hex_encode(hex, r, sizeof(r));
	snprintf(v1_tag, sizeof(v1_tag), "test%d-%s", (int)getpid(), hex);
}

/* Runs in the runner after the tests, failed ones included: kills and
 * removes whatever a failed test left behind. */
static void v1_teardown(void)
{
	char mem[PATH_MAX], pids[PATH_MAX];
	struct limits *l = limits_open(NULL, NULL);

	if (!l)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(v1_sessions); i++) {
		char buf[64];
		const char *id = v1_id(buf, sizeof(buf), v1_sessions[i]);
		if ((v1_leaf(mem, sizeof(mem), "memory", id) && exists(mem)) ||
		    (v1_leaf(pids, sizeof(pids), "pids", id) && exists(pids)))
			limits_session_destroy(l, id, 5000);
	}
	limits_close(l);
}

static struct limits *v1_open(void)
{
	struct limits *l = limits_open(NULL, NULL);

	ck_assert_ptr_nonnull(l);
	ck_assert_int_eq(limits_backend(l), LIMITS_V1);
	return l;
}

/* Forks a child that joins the session and then runs fn, which may report
 * to the parent on `fd`. Returns once the child has joined. */
static pid_t spawn_in_session(struct limits *l, const char *id, void (*fn)(int fd), int *report)
{
	int p[2];
	char c = 0;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		c = limits_session_attach(l, id, 0) == 0 ? 'y' : 'n';
		if (write(p[1], &c, 1) != 1 || c != 'y')
			_exit(90);
		fn(p[1]);
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	*report = p[0];
	return pid;
}

static void child_sleep(int fd)
{
	(void)fd;
	for (;;)
		pause();
}

/* Tries 50 forks, keeping every child, and reports how many worked, how
 * many failed with EAGAIN, and how many failed otherwise. */
static void child_fork_many(int fd)
{
	int counts[3] = {0, 0, 0};

	for (int i = 0; i < 50; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause();
		}
		counts[pid > 0 ? 0 : errno == EAGAIN ? 1 : 2]++;
	}
	if (write(fd, counts, sizeof(counts)) != sizeof(counts))
		_exit(92);
	child_sleep(fd);
}

static void child_eat_memory(int fd)
{
	size_t size = 200 * MIB;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)fd;
	if (p == MAP_FAILED)
		_exit(91);
	for (size_t i = 0; i < size; i += 4096)
		p[i] = 1;
}

static void child_spin(int fd)
{
	struct timespec ts;

	(void)fd;
	do
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	while (ts.tv_sec == 0 && ts.tv_nsec < 300 * 1000 * 1000);
}

static bool file_lists_pid(const char *path, pid_t pid)
{
	const char *s = slurp(path);
	char want[24];

	snprintf(want, sizeof(want), "%d", (int)pid);
	for (const char *p = s; p && *p; p += strcspn(p, "\n"), p += *p == '\n')
		if (strcspn(p, "\n") == strlen(want) && !strncmp(p, want, strlen(want)))
			return true;
	return false;
}

static void assert_killed(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	              "child not killed by SIGKILL: status %#x", status);
}

START_TEST(v1_real_limits_attach_destroy)
{
	static const char *const ctrl[] = {"memory", "pids", "cpuacct"};
	struct limits_values v = {.memory_max = 64 * MIB, .pids_max = 20};
	struct limits_usage u;
	char leaf[3][PATH_MAX];
	char idbuf[64];
	const char *id = v1_id(idbuf, sizeof(idbuf), "files");
	struct limits *l = v1_open();
	int fd;

	ck_assert_int_eq(limits_session_create(l, id, &v), 0);
	for (size_t i = 0; i < ARRAY_SIZE(ctrl); i++) {
		ck_assert(v1_leaf(leaf[i], sizeof(leaf[i]), ctrl[i], id));
		ck_assert_msg(exists(leaf[i]), "%s missing", leaf[i]);
	}
	ck_assert_str_eq(slurp(pathf("%s/memory.limit_in_bytes", leaf[0])), "67108864\n");
	const char *memsw = pathf("%s/memory.memsw.limit_in_bytes", leaf[0]);
	if (exists(memsw))
		ck_assert_str_eq(slurp(memsw), "67108864\n");
	ck_assert_str_eq(slurp(pathf("%s/pids.max", leaf[1])), "20\n");

	pid_t child = spawn_in_session(l, id, child_sleep, &fd);
	for (size_t i = 0; i < ARRAY_SIZE(ctrl); i++)
		ck_assert_msg(file_lists_pid(pathf("%s/cgroup.procs", leaf[i]), child),
		              "pid %d not in %s", (int)child, leaf[i]);
	ck_assert_int_eq(limits_session_usage(l, id, &u), 0);
	ck_assert_uint_eq(u.pids, 1);
	ck_assert_uint_le(u.memory_bytes, 64 * MIB);

	ck_assert_int_eq(limits_session_destroy(l, id, 5000), 0);
	assert_killed(child);
	for (size_t i = 0; i < ARRAY_SIZE(ctrl); i++)
		ck_assert_msg(!exists(leaf[i]), "%s left behind", leaf[i]);
	close(fd);
	limits_close(l);
}
END_TEST

/* The kernel takes the quota (where this machine has a cpu hierarchy). */
START_TEST(v1_real_cpu_quota)
{
	struct limits_values v = {.memory_max = 64 * MIB, .pids_max = 20, .cpu_max = 50};
	char leaf[PATH_MAX], idbuf[64];
	const char *id = v1_id(idbuf, sizeof(idbuf), "cpuq");

	if (!exists("/sys/fs/cgroup/cpu")) {
		fprintf(stderr, "limits: no cpu hierarchy here; v1_real_cpu_quota skipped\n");
		return;
	}
	struct limits *l = v1_open();
	ck_assert_int_eq(limits_session_create(l, id, &v), 0);
	ck_assert(v1_leaf(leaf, sizeof(leaf), "cpu", id));
	ck_assert_str_eq(slurp(pathf("%s/cpu.cfs_period_us", leaf)), "100000\n");
	ck_assert_str_eq(slurp(pathf("%s/cpu.cfs_quota_us", leaf)), "50000\n");
	ck_assert_int_eq(limits_session_destroy(l, id, 5000), 0);
	ck_assert(!exists(leaf));
	limits_close(l);
}
END_TEST

START_TEST(v1_real_pids_limit)
{
	struct limits_values v = {.memory_max = 0, .pids_max = 20};
	struct limits_usage u;
	char idbuf[64];
	const char *id = v1_id(idbuf, sizeof(idbuf), "pids");
	struct limits *l = v1_open();
	int fd, counts[3];

	ck_assert_int_eq(limits_session_create(l, id, &v), 0);
	pid_t child = spawn_in_session(l, id, child_fork_many, &fd);
	ck_assert_int_eq(read(fd, counts, sizeof(counts)), sizeof(counts));
	/* The child itself is one of the 20. */
	ck_assert_int_eq(counts[0], 19);
	ck_assert_int_eq(counts[1], 31);
	ck_assert_int_eq(counts[2], 0);
	ck_assert_int_eq(limits_session_usage(l, id, &u), 0);
	ck_assert_uint_eq(u.pids, 20);

	ck_assert_int_eq(limits_session_destroy(l, id, 5000), 0);
	assert_killed(child);
	close(fd);
	limits_close(l);
}
END_TEST

START_TEST(v1_real_memory_limit)
{
	struct limits_values v = {.memory_max = 64 * MIB, .pids_max = 0};
	struct limits_usage u;
	char leaf[PATH_MAX];
	char idbuf[64];
	const char *id = v1_id(idbuf, sizeof(idbuf), "oom");
	struct limits *l = v1_open();
	int fd;

	ck_assert_int_eq(limits_session_create(l, id, &v), 0);
	pid_t child = spawn_in_session(l, id, child_eat_memory, &fd);
	assert_killed(child);
	ck_assert_int_eq(limits_session_usage(l, id, &u), 0);
	ck_assert_uint_gt(u.memory_peak, 32 * MIB);
	ck_assert_uint_le(u.memory_peak, 64 * MIB);
	ck_assert(v1_leaf(leaf, sizeof(leaf), "memory", id));
	const char *oom = slurp(pathf("%s/memory.oom_control", leaf));
	ck_assert_ptr_nonnull(oom);
	if (strstr(oom, "\noom_kill ")) {
		ck_assert_uint_ge(u.oom_kills, 1);
	} else {
		printf("# limits: memory.oom_control has no oom_kill count on this kernel; "
		       "checking memory.failcnt instead\n");
		ck_assert_uint_gt(u.memory_limit_hits, 0);
	}

	ck_assert_int_eq(limits_session_destroy(l, id, 5000), 0);
	ck_assert(!exists(leaf));
	close(fd);
	limits_close(l);
}
END_TEST

START_TEST(v1_real_cpu_usage)
{
	struct limits_values v = {0};
	struct limits_usage u;
	char idbuf[64];
	const char *id = v1_id(idbuf, sizeof(idbuf), "cpu");
	struct limits *l = v1_open();
	int fd, status;

	ck_assert_int_eq(limits_session_create(l, id, &v), 0);
	pid_t child = spawn_in_session(l, id, child_spin, &fd);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(limits_session_usage(l, id, &u), 0);
	ck_assert_uint_ge(u.cpu_usec, 250 * 1000);
	ck_assert_uint_lt(u.cpu_usec, 60 * 1000 * 1000);
	ck_assert_uint_eq(u.pids, 0);
	ck_assert_int_eq(limits_session_destroy(l, id, 5000), 0);
	close(fd);
	limits_close(l);
}
END_TEST

Suite *suite_limits(void)
{
	Suite *s = suite_create("limits");
	TCase *fake = tcase_create("fake_trees");
	char why[PATH_MAX];

	tcase_add_unchecked_fixture(fake, tmp_setup, tmp_teardown);
	tcase_add_test(fake, v2_moves_daemon_before_enabling_controllers);
	tcase_add_test(fake, v2_enables_cpu_only_when_delegated);
	tcase_add_test(fake, v2_refuses_undelegated_memory_or_pids);
	tcase_add_test(fake, v2_refuses_bad_base);
	tcase_add_test(fake, v2_base_from_proc_self_cgroup);
	tcase_add_test(fake, v2_session_values);
	tcase_add_test(fake, v2_cpu_max);
	tcase_add_test(fake, rejects_bad_session_ids);
	tcase_add_test(fake, v2_usage);
	tcase_add_test(fake, v2_readonly_usage);
	tcase_add_test(fake, v1_readonly_usage);
	tcase_add_test(fake, v2_usage_malformed);
	tcase_add_test(fake, v2_destroy);
	tcase_add_test(fake, v2_destroy_uses_cgroup_kill);
	tcase_add_test(fake, autodetect_refuses_plain_directories);
	tcase_add_test(fake, v1_fake_session);
	tcase_add_test(fake, v1_fake_without_cpuacct);
	tcase_add_test(fake, v1_fake_cpu_quota);
	suite_add_tcase(s, fake);

	if (!v1_available(why, sizeof(why))) {
		printf("# limits: skipping the real cgroup v1 tests: %s\n", why);
		fflush(stdout);
		return s;
	}
	TCase *real = tcase_create("v1_real");
	tcase_set_timeout(real, 60);
	tcase_add_unchecked_fixture(real, v1_setup, v1_teardown);
	tcase_add_test(real, v1_real_limits_attach_destroy);
	tcase_add_test(real, v1_real_pids_limit);
	tcase_add_test(real, v1_real_cpu_quota);
	tcase_add_test(real, v1_real_memory_limit);
	tcase_add_test(real, v1_real_cpu_usage);
	suite_add_tcase(s, real);
	return s;
}
