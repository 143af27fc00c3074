/*
 * Per-session resource limits on cgroup v2 or v1 (layouts in cgroup_limits.h).
 *
 * Both back-ends share one model: a list of "parent" directories (v2: one,
 * <base>/shoji; v1: one per hierarchy) under each of which a session has a
 * leaf named by its id, and a few control files per back-end.
 *
 * No untrusted input: session ids come from the supervisor, but are still
 * held to a strict alphabet so that none can name a path outside the tree.
 * The kernel's control files are parsed by the pure helpers below.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_limits.h"
#include "log.h"
#include "util.h"

#define LIMITS_DEFAULT_ROOT "/sys/fs/cgroup"
#define LIMITS_PARENT "shoji"
#define LIMITS_SUPERVISOR "supervisor"
#define LIMITS_ID_MAX 64
#define LIMITS_FILE_MAX (1u << 20) /* largest control file read (cgroup.procs) */
#define LIMITS_POLL_MS 10
#define LIMITS_MKDIR_TRIES 3
#define LIMITS_MAX_DIRS 4
#define LIMITS_CPU_PERIOD_US 100000

struct limits {
	enum limits_backend backend;
	bool fake;                   /* forced back-end over a stand-in tree */
	bool readonly;               /* limits_open_readonly: usage only, nothing made or moved */
	char *v2_base;               /* v2: absolute path of the delegated cgroup */
	char v2_enable[32];          /* v2: what to write to cgroup.subtree_control */
	char *dirs[LIMITS_MAX_DIRS]; /* parents of the session leaves */
	int ndirs;
	int mem, pids, cpu; /* index into dirs for each controller, or -1 */
	int cpu_quota;      /* index into dirs of the cpu controller (the limit), or -1 */
};

/* ---- pure parsers over (buf, len) ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* A decimal number or "max" (UINT64_MAX), optionally followed by white
 * space, and nothing else. 0 or -1 (EINVAL, ERANGE). */
static int parse_u64(const char *buf, size_t len, uint64_t *out)
{
	size_t i = 0;
	uint64_t v = 0;

	if (len >= 3 && !memcmp(buf, "max", 3)) {
		v = UINT64_MAX;
		i = 3;
	} else {
		for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
			if (__builtin_mul_overflow(v, 10, &v) ||
			    __builtin_add_overflow(v, (uint64_t)(buf[i] - '0'), &v)) {
				errno = ERANGE;
				return -1;
			}
		}
		if (i == 0)
			goto invalid;
	}
	for (; i < len; i++)
		if (!is_space(buf[i]))
			goto invalid;
	*out = v;
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}

/* Finds the line "<key> <number>" in a flat keyed file (cpu.stat,
 * memory.events, memory.oom_control). 1 found, 0 absent, -1 malformed. */
static int parse_keyed_u64(const char *buf, size_t len, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	const char *end = buf + len;

	for (const char *line = buf; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - line);
		if (n > klen && !memcmp(line, key, klen) && line[klen] == ' ')
			return parse_u64(line + klen + 1, n - klen - 1, out) < 0 ? -1 : 1;
		line = eol + 1;
	}
	return 0;
}

/* Next pid of a cgroup.procs list. 1 with *pid, 0 at the end, -1 malformed. */
static int next_pid(const char **pos, const char *end, pid_t *pid)
{
	const char *p = *pos;
	uint64_t v;

	while (p < end && is_space(*p))
		p++;
	if (p == end)
		return 0;
	const char *start = p;
	while (p < end && !is_space(*p))
		p++;
	if (parse_u64(start, (size_t)(p - start), &v) < 0 || v == 0 || v > INT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	*pid = (pid_t)v;
	*pos = p;
	return 1;
}

/* True if the comma-separated list [list, list + len) holds name. */
static bool list_has(const char *list, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *end = list + len;

	for (const char *p = list; p < end;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		if ((size_t)(e - p) == nlen && !memcmp(p, name, nlen))
			return true;
		p = e + 1;
	}
	return false;
}

/* The path of /proc/self/cgroup's line for `controller` (v1), or of the
 * "0::" line when controller is NULL (v2). 0, or -1 (ENOENT, ENAMETOOLONG). */
static int parse_proc_cgroup(const char *buf, size_t len, const char *controller, char *out,
                             size_t size)
{
	const char *end = buf + len;

	for (const char *line = buf, *next; line < end; line = next) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *eol = nl ? nl : end;
		const char *c1 = memchr(line, ':', (size_t)(eol - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		next = eol + 1;
		if (!c2)
			continue;
		bool match = controller ? list_has(c1 + 1, (size_t)(c2 - c1 - 1), controller)
		                        : c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
		if (!match)
			continue;
		size_t plen = (size_t)(eol - c2 - 1);
		if (plen + 1 > size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(out, c2 + 1, plen);
		out[plen] = '\0';
		return 0;
	}
	errno = ENOENT;
	return -1;
}

/* Space-separated words of a NUL-terminated string (cgroup.controllers). */
static bool words_have(const char *s, const char *word)
{
	size_t wlen = strlen(word);

	for (const char *p = s; *p;) {
		p += strspn(p, " \t\n");
		size_t n = strcspn(p, " \t\n");
		if (n == wlen && !memcmp(p, word, n))
			return true;
		p += n;
	}
	return false;
}

/* ---- paths and control files ---- */

static int path_fmt(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int path_fmt(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(out, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		log_error("limits: path too long: %.64s...", out);
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* "<parent i>/<id>" or "<parent i>/<id>/<file>". */
static int leaf_path(char *out, size_t size, const struct limits *l, int i, const char *id,
                     const char *file)
{
	if (!file)
		return path_fmt(out, size, "%s/%s", l->dirs[i], id);
	return path_fmt(out, size, "%s/%s/%s", l->dirs[i], id, file);
}

/* One write(2), as cgroup files require: each takes a whole value per call.
 * Over a fake tree the file is created if need be and appended to. */
static int write_raw(const struct limits *l, const char *path, const char *val)
{
	int flags = O_WRONLY | O_CLOEXEC | O_NOCTTY | (l->fake ? O_CREAT | O_APPEND : 0);
	size_t len = strlen(val);
	int fd = open(path, flags, 0644);

	if (fd < 0)
		return -1;
	ssize_t n = write(fd, val, len);
	int saved = n < 0 ? errno : EIO;
	close(fd);
	if (n < 0 || (size_t)n != len) {
		errno = saved;
		return -1;
	}
	return 0;
}

static int write_file(const struct limits *l, const char *path, const char *val)
{
	if (write_raw(l, path, val) == 0)
		return 0;
	log_error("limits: writing \"%.*s\" to %s: %s", (int)strcspn(val, "\n"), val, path,
	          strerror(errno));
	return -1;
}

/* The whole file, NUL-terminated, for the caller to free; NULL with errno.
 * Logs, except for a file that does not exist when `missing_ok`. */
static char *read_file(const char *path, size_t *len, bool missing_ok)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		goto fail_open;
	buf = malloc(cap);
	if (!buf)
		goto fail_read;
	for (;;) {
		if (n + 1 == cap) {
			char *bigger = cap < LIMITS_FILE_MAX ? realloc(buf, cap * 2) : NULL;
			if (!bigger) {
				errno = cap < LIMITS_FILE_MAX ? ENOMEM : EFBIG;
				goto fail_read;
			}
			buf = bigger;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail_read;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
fail_read:;
	int saved = errno;
	free(buf);
	close(fd);
	errno = saved;
fail_open:
	if (!missing_ok || errno != ENOENT)
		log_error("limits: reading %s: %s", path, strerror(errno));
	return NULL;
}

/* A file holding one number. 1 read, 0 absent (only when !required), -1. */
static int read_u64(const char *path, uint64_t *out, bool required)
{
	size_t len;
	char *buf = read_file(path, &len, !required);

	*out = 0;
	if (!buf)
		return !required && errno == ENOENT ? 0 : -1;
	int rc = parse_u64(buf, len, out);
	if (rc < 0)
		log_error("limits: %s: expected a number, read \"%.*s\"", path,
		          (int)MIN(strcspn(buf, "\n"), 32), buf);
	free(buf);
	return rc < 0 ? -1 : 1;
}

/* "<key> <number>" from a flat keyed file; a missing key or file is an
 * error when `required`, else reads as 0. 0 or -1. */
static int read_keyed(const char *path, const char *key, uint64_t *out, bool required)
{
	size_t len;
	char *buf = read_file(path, &len, !required);

	*out = 0;
	if (!buf)
		return !required && errno == ENOENT ? 0 : -1;
	int rc = parse_keyed_u64(buf, len, key, out);
	free(buf);
	if (rc < 0)
		log_error("limits: %s: the value of \"%s\" is not a number", path, key);
	if (rc == 0 && required) {
		log_error("limits: %s has no \"%s\" line", path, key);
		errno = EINVAL;
		rc = -1;
	}
	return rc < 0 ? -1 : 0;
}

/* Writes pid to dir/cgroup.procs. `gone_ok`: a pid that has exited (ESRCH)
 * is expected, so it is not logged as an error. */
static int move_pid(const struct limits *l, const char *dir, pid_t pid, bool gone_ok)
{
	char path[PATH_MAX], val[24];

	snprintf(val, sizeof(val), "%d\n", (int)pid);
	if (path_fmt(path, sizeof(path), "%s/cgroup.procs", dir) < 0)
		return -1;
	if (write_raw(l, path, val) == 0)
		return 0;
	if (gone_ok && errno == ESRCH)
		log_debug("limits: pid %d exited before it could be moved to %s", (int)pid, dir);
	else
		log_error("limits: moving pid %d to %s: %s", (int)pid, path, strerror(errno));
	return -1;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- opening: detection, base, parents ---- */

static bool is_v1_hierarchy(const char *root, const char *controller)
{
	char path[PATH_MAX];
	struct statfs sf;

	if (path_fmt(path, sizeof(path), "%s/%s", root, controller) < 0)
		return false;
	return statfs(path, &sf) == 0 && sf.f_type == CGROUP_SUPER_MAGIC;
}

static enum limits_backend detect(const char *root)
{
	struct statfs sf;

	if (statfs(root, &sf) < 0) {
		log_error("limits: %s: %s", root, strerror(errno));
		return LIMITS_NONE;
	}
	if (sf.f_type == CGROUP2_SUPER_MAGIC)
		return LIMITS_V2;
	if (is_v1_hierarchy(root, "memory") && is_v1_hierarchy(root, "pids"))
		return LIMITS_V1;
	log_error("limits: %s is no cgroup2 mount and has no cgroup v1 memory and pids hierarchies",
	          root);
	return LIMITS_NONE;
}

/* Absolute, and no "." or ".." component that could climb out of the tree
 * (/proc/self/cgroup shows "/.." paths outside this cgroup namespace). */
static int check_base(const char *base)
{
	bool ok = base[0] == '/';

	for (const char *p = base; ok && *p;) {
		p += strspn(p, "/");
		size_t n = strcspn(p, "/");
		ok = !(n == 1 && p[0] == '.') && !(n == 2 && p[0] == '.' && p[1] == '.');
		p += n;
	}
	if (ok)
		return 0;
	log_error("limits: cgroup base \"%s\" must be an absolute path without . or ..", base);
	errno = EINVAL;
	return -1;
}

/* Length of base without trailing slashes, so "/" joins as "". */
static int base_len(const char *base)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return (int)n;
}

static int own_cgroup(const char *controller, char *out, size_t size)
{
	size_t len;
	char *buf = read_file("/proc/self/cgroup", &len, false);

	if (!buf)
		return -1;
	int rc = parse_proc_cgroup(buf, len, controller, out, size);
	if (rc < 0)
		log_error("limits: /proc/self/cgroup: no usable line for %s: %s",
		          controller ? controller : "cgroup v2 (0::)", strerror(errno));
	free(buf);
	return rc;
}

/* Makes parent i if it is missing; for v2, enables the controllers in it. */
static int make_parent(const struct limits *l, int i)
{
	char path[PATH_MAX];

	if (mkdir(l->dirs[i], 0755) < 0 && errno != EEXIST) {
		log_error("limits: mkdir %s: %s", l->dirs[i], strerror(errno));
		return -1;
	}
	if (l->backend != LIMITS_V2)
		return 0;
	if (path_fmt(path, sizeof(path), "%s/cgroup.subtree_control", l->dirs[i]) < 0)
		return -1;
	return write_file(l, path, l->v2_enable);
}

/* Chooses what to enable from what the parent delegated to base. */
static int v2_pick_controllers(struct limits *l)
{
	char path[PATH_MAX];
	size_t len;

	if (path_fmt(path, sizeof(path), "%s/cgroup.controllers", l->v2_base) < 0)
		return -1;
	char *have = read_file(path, &len, false);
	if (!have)
		return -1;
	bool ok = words_have(have, "memory") && words_have(have, "pids");
	if (ok)
		snprintf(l->v2_enable, sizeof(l->v2_enable), "%s+memory +pids\n",
		         words_have(have, "cpu") ? "+cpu " : "");
	else
		log_error("limits: %s lists \"%.*s\": memory and pids must be delegated to this "
		          "cgroup (systemd: Delegate=yes)",
		          path, (int)strcspn(have, "\n"), have);
	free(have);
	if (!ok)
		errno = ENOTSUP;
	return ok ? 0 : -1;
}

/* Moves this process, then anything else left in base (helpers started
 * before us), into base/supervisor, so that base holds no process and may
 * enable controllers for its children. */
static int v2_enter_supervisor(const struct limits *l)
{
	char sup[PATH_MAX], procs[PATH_MAX];
	pid_t self = getpid(), pid;
	size_t len;
	int rc;

	if (path_fmt(sup, sizeof(sup), "%s/" LIMITS_SUPERVISOR, l->v2_base) < 0 ||
	    path_fmt(procs, sizeof(procs), "%s/cgroup.procs", l->v2_base) < 0)
		return -1;
	if (mkdir(sup, 0755) < 0 && errno != EEXIST) {
		log_error("limits: mkdir %s: %s", sup, strerror(errno));
		return -1;
	}
	if (move_pid(l, sup, self, false) < 0)
		return -1;
	char *buf = read_file(procs, &len, l->fake);
	if (!buf)
		return l->fake && errno == ENOENT ? 0 : -1;
	const char *p = buf;
	while ((rc = next_pid(&p, buf + len, &pid)) > 0)
		if (pid != self && move_pid(l, sup, pid, true) < 0 && errno != ESRCH)
			break;
	if (rc < 0)
		log_error("limits: %s: malformed pid list", procs);
	free(buf);
	return rc == 0 ? 0 : -1;
}

static int open_v2(struct limits *l, const char *root, const char *base)
{
	char own[PATH_MAX], path[PATH_MAX];
	static const char suffix[] = "/" LIMITS_SUPERVISOR;

	if (!base) {
		if (own_cgroup(NULL, own, sizeof(own)) < 0)
			return -1;
		size_t n = strlen(own), s = sizeof(suffix) - 1;
		if (n >= s && !strcmp(own + n - s, suffix))
			snprintf(own + n - s, sizeof(own) - (n - s), "%s", n == s ? "/" : "");
		base = own;
	}
	if (check_base(base) < 0 ||
	    path_fmt(path, sizeof(path), "%s%.*s", root, base_len(base), base) < 0)
		return -1;
	l->v2_base = xstrdup(path);
	if (l->readonly) {
		if (path_fmt(path, sizeof(path), "%s/" LIMITS_PARENT, l->v2_base) < 0)
			return -1;
		l->dirs[l->ndirs++] = xstrdup(path);
		l->mem = l->pids = l->cpu = 0;
		return 0;
	}
	if (v2_pick_controllers(l) < 0 || v2_enter_supervisor(l) < 0)
		return -1;
	if (path_fmt(path, sizeof(path), "%s/cgroup.subtree_control", l->v2_base) < 0 ||
	    write_file(l, path, l->v2_enable) < 0)
		return -1;
	if (path_fmt(path, sizeof(path), "%s/" LIMITS_PARENT, l->v2_base) < 0)
		return -1;
	l->dirs[0] = xstrdup(path);
	l->ndirs = 1;
	l->mem = l->pids = l->cpu = 0;
	l->cpu_quota = strstr(l->v2_enable, "+cpu ") ? 0 : -1;
	return make_parent(l, 0);
}

/* Whether root/a and root/b are one hierarchy (co-mounted, e.g. cpu,cpuacct). */
static bool same_hierarchy(const char *root, const char *a, const char *b)
{
	char pa[PATH_MAX], pb[PATH_MAX];
	struct stat sa, sb;

	if (path_fmt(pa, sizeof(pa), "%s/%s", root, a) < 0 ||
	    path_fmt(pb, sizeof(pb), "%s/%s", root, b) < 0)
		return false;
	return stat(pa, &sa) == 0 && stat(pb, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int open_v1(struct limits *l, const char *root, const char *base)
{
	static const char *const names[] = {"memory", "pids", "cpuacct", "cpu"};
	static const char *const without[] = {NULL, NULL, "session CPU time will read 0",
	                                      "session CPU is not limited"};
	int *index[] = {&l->mem, &l->pids, &l->cpu, &l->cpu_quota};
	char own[PATH_MAX], path[PATH_MAX];

	for (int i = 0; i < (int)ARRAY_SIZE(names); i++) {
		bool optional = without[i] != NULL;
		if (path_fmt(path, sizeof(path), "%s/%s", root, names[i]) < 0)
			return -1;
		if (optional && access(path, F_OK) < 0) {
			log_warn("limits: no %s hierarchy: %s", path, without[i]);
			continue;
		}
		if (index[i] == &l->cpu_quota && same_hierarchy(root, "cpu", "cpuacct")) {
			l->cpu_quota = l->cpu; /* "cpu,cpuacct": one directory for both */
			continue;
		}
		const char *b = base ? base : own;
		if (!base && own_cgroup(names[i], own, sizeof(own)) < 0) {
			if (!optional)
				return -1;
			continue;
		}
		if (check_base(b) < 0 || path_fmt(path, sizeof(path), "%s/%s%.*s/" LIMITS_PARENT,
		                                  root, names[i], base_len(b), b) < 0)
			return -1;
		*index[i] = l->ndirs;
		l->dirs[l->ndirs++] = xstrdup(path);
		if (!l->readonly && make_parent(l, *index[i]) < 0)
			return -1;
	}
	return 0;
}

struct limits *limits_open(const char *fs_root, const char *base)
{
	return limits_open_backend(fs_root, base, LIMITS_NONE);
}

struct limits *limits_open_readonly(const char *fs_root, const char *base,
                                    enum limits_backend forced)
{
	const char *root = fs_root ? fs_root : LIMITS_DEFAULT_ROOT;
	enum limits_backend backend = forced != LIMITS_NONE ? forced : detect(root);

	if (backend == LIMITS_NONE) {
		errno = ENOTSUP;
		return NULL;
	}
	struct limits *l = xcalloc(1, sizeof(*l));
	l->backend = backend;
	l->readonly = true;
	l->mem = l->pids = l->cpu = -1;
	if ((backend == LIMITS_V2 ? open_v2(l, root, base) : open_v1(l, root, base)) < 0) {
		int saved = errno;
		limits_close(l);
		errno = saved;
		return NULL;
	}
	return l;
}

struct limits *limits_open_backend(const char *fs_root, const char *base,
                                   enum limits_backend forced)
{
	const char *root = fs_root ? fs_root : LIMITS_DEFAULT_ROOT;

	if (forced != LIMITS_NONE && forced != LIMITS_V1 && forced != LIMITS_V2) {
		log_error("limits: unknown back-end %d", (int)forced);
		errno = EINVAL;
		return NULL;
	}
	enum limits_backend backend = forced != LIMITS_NONE ? forced : detect(root);
	if (backend == LIMITS_NONE) {
		errno = ENOTSUP;
		return NULL;
	}
	struct limits *l = xcalloc(1, sizeof(*l));
	l->backend = backend;
	l->fake = forced != LIMITS_NONE;
	l->mem = l->pids = l->cpu = l->cpu_quota = -1;
	if ((backend == LIMITS_V2 ? open_v2(l, root, base) : open_v1(l, root, base)) < 0)
		goto fail;
	log_info("limits: %s%s, sessions under %s%s", limits_backend_name(l),
	         l->fake ? " (forced, stand-in tree)" : "", l->dirs[0],
	         l->ndirs > 1 ? " and its peers in the other hierarchies" : "");
	return l;
fail:;
	int saved = errno;
	limits_close(l);
	errno = saved;
	return NULL;
}

enum limits_backend limits_backend(const struct limits *l)
{
	return l->backend;
}

const char *limits_backend_name(const struct limits *l)
{
	return l->backend == LIMITS_V2 ? "cgroup v2" : "cgroup v1";
}

void limits_close(struct limits *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->ndirs; i++) {
		/* Busy or not empty: sessions (or another instance's) are still there. */
		if (!l->readonly && rmdir(l->dirs[i]) < 0 && errno != EBUSY && errno != ENOTEMPTY &&
		    errno != ENOENT)
			log_warn("limits: rmdir %s: %s", l->dirs[i], strerror(errno));
		free(l->dirs[i]);
	}
	free(l->v2_base);
	free(l);
}

/* ---- sessions ---- */

static int check_id(const char *id)
{
	size_t n = id ? strnlen(id, LIMITS_ID_MAX + 1) : 0;
	bool ok = n >= 1 && n <= LIMITS_ID_MAX;

	for (size_t i = 0; ok && i < n; i++) {
		char c = id[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '-' || c == '_';
	}
	if (ok)
		return 0;
	log_error("limits: invalid session id (1 to %d of A-Z a-z 0-9 - _)", LIMITS_ID_MAX);
	errno = EINVAL;
	return -1;
}

/*
 * Whether a session leaf that already exists holds no process: one left by
 * an earlier session of the same name whose cgroups were not removed (its
 * supervisor killed). Unknown (no cgroup.procs to read) is not empty.
 * errno is kept.
 */
static bool leaf_empty(const char *path)
{
	char procs[PATH_MAX], c;
	int saved = errno;
	ssize_t n = -1;

	if (path_fmt(procs, sizeof(procs), "%s/cgroup.procs", path) == 0) {
		int fd = open(procs, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0) {
			n = read(fd, &c, 1);
			close(fd);
		}
	}
	errno = saved;
	return n == 0;
}

static int make_leaf(const struct limits *l, int i, const char *id)
{
	char path[PATH_MAX];

	if (leaf_path(path, sizeof(path), l, i, id, NULL) < 0)
		return -1;
	for (int tries = 1;; tries++) {
		if (mkdir(path, 0755) == 0)
			return 0;
		if (errno == EEXIST && leaf_empty(path)) {
			log_warn("limits: %s is left from an earlier session of that name, without "
			         "processes: used again",
			         path);
			return 0;
		}
		/* Another instance's limits_close may just have removed the parent. */
		if (errno != ENOENT || tries == LIMITS_MKDIR_TRIES || make_parent(l, i) < 0)
			break;
	}
	log_error("limits: mkdir %s: %s", path, strerror(errno));
	return -1;
}

/* Removes a session leaf; over a fake tree with the files in it. */
static int remove_leaf(const struct limits *l, const char *path)
{
	int rc = l->fake ? remove_tree(path) : rmdir(path);

	return rc < 0 && errno != ENOENT ? -1 : 0;
}

static void format_limit(char *buf, size_t size, uint64_t v)
{
	if (v == 0)
		snprintf(buf, size, "max\n");
	else
		snprintf(buf, size, "%llu\n", (unsigned long long)v);
}

/* Writes `val` to the session's file if it exists (always, over a fake tree). */
static int write_if_present(const struct limits *l, int i, const char *id, const char *file,
                            const char *val)
{
	char path[PATH_MAX];

	if (leaf_path(path, sizeof(path), l, i, id, file) < 0)
		return -1;
	if (!l->fake && access(path, F_OK) < 0)
		return 0;
	return write_file(l, path, val);
}

static int write_leaf(const struct limits *l, int i, const char *id, const char *file,
                      const char *val)
{
	char path[PATH_MAX];

	if (leaf_path(path, sizeof(path), l, i, id, file) < 0)
		return -1;
	return write_file(l, path, val);
}

/* The CPU limit, percent of one CPU; 0 leaves the kernel's "no limit". */
static int set_cpu(const struct limits *l, const char *id, uint32_t percent)
{
	char quota[48];

	if (percent == 0)
		return 0;
	if (l->cpu_quota < 0) {
		log_warn("limits: session %s: no cpu controller, so its CPU is not limited", id);
		return 0;
	}
	uint64_t us = (uint64_t)percent * (LIMITS_CPU_PERIOD_US / 100);
	if (l->backend == LIMITS_V2) {
		snprintf(quota, sizeof(quota), "%llu %u\n", (unsigned long long)us,
		         (unsigned)LIMITS_CPU_PERIOD_US);
		return write_leaf(l, l->cpu_quota, id, "cpu.max", quota);
	}
	snprintf(quota, sizeof(quota), "%llu\n", (unsigned long long)us);
	/* The period first: a quota is checked against the period in force. */
	return write_leaf(l, l->cpu_quota, id, "cpu.cfs_period_us", "100000\n") < 0
	           ? -1
	           : write_leaf(l, l->cpu_quota, id, "cpu.cfs_quota_us", quota);
}

static int set_values(const struct limits *l, const char *id, const struct limits_values *v)
{
	char mem[32], pids[32];

	format_limit(mem, sizeof(mem), v->memory_max);
	format_limit(pids, sizeof(pids), v->pids_max);
	if (l->backend == LIMITS_V2) {
		/* Sessions never swap: swap would let them exceed memory.max. */
		if (write_leaf(l, l->mem, id, "memory.max", mem) < 0 ||
		    write_if_present(l, l->mem, id, "memory.swap.max", "0\n") < 0)
			return -1;
	} else if (v->memory_max) {
		/* memsw (memory plus swap) after the memory limit: it may not be lower. */
		if (write_leaf(l, l->mem, id, "memory.limit_in_bytes", mem) < 0 ||
		    write_if_present(l, l->mem, id, "memory.memsw.limit_in_bytes", mem) < 0)
			return -1;
	}
	return write_leaf(l, l->pids, id, "pids.max", pids) < 0 ? -1 : set_cpu(l, id, v->cpu_max);
}

int limits_session_create(struct limits *l, const char *session_id, const struct limits_values *v)
{
	char path[PATH_MAX];
	int made = 0;

	if (check_id(session_id) < 0)
		return -1;
	for (; made < l->ndirs; made++)
		if (make_leaf(l, made, session_id) < 0)
			goto fail;
	if (set_values(l, session_id, v) < 0)
		goto fail;
	log_debug("limits: session %s: memory %llu, pids %u, cpu %u%%", session_id,
	          (unsigned long long)v->memory_max, v->pids_max, v->cpu_max);
	return 0;
fail:;
	int saved = errno;
	while (made-- > 0)
		if (leaf_path(path, sizeof(path), l, made, session_id, NULL) == 0 &&
		    remove_leaf(l, path) < 0)
			log_warn("limits: removing %s: %s", path, strerror(errno));
	errno = saved;
	return -1;
}

int limits_session_attach(struct limits *l, const char *session_id, pid_t pid)
{
	char path[PATH_MAX];

	if (check_id(session_id) < 0)
		return -1;
	if (pid < 0) {
		log_error("limits: session %s: cannot attach pid %d", session_id, (int)pid);
		errno = EINVAL;
		return -1;
	}
	/* The pid itself, not "0": the same value works in a fake tree. */
	for (int i = 0; i < l->ndirs; i++)
		if (leaf_path(path, sizeof(path), l, i, session_id, NULL) < 0 ||
		    move_pid(l, path, pid ? pid : getpid(), false) < 0)
			return -1;
	return 0;
}

/* One usage figure: a file holding a number, or a key of a keyed file. */
struct usage_field {
	int dir; /* index into dirs; -1: the hierarchy is absent, reads as 0 */
	const char *file, *key;
	uint64_t *out;
	bool required;
};

static int read_fields(const struct limits *l, const char *id, const struct usage_field *f,
                       size_t n)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < n; i++) {
		*f[i].out = 0;
		if (f[i].dir < 0)
			continue;
		if (leaf_path(path, sizeof(path), l, f[i].dir, id, f[i].file) < 0)
			return -1;
		int rc = f[i].key ? read_keyed(path, f[i].key, f[i].out, f[i].required)
		                  : read_u64(path, f[i].out, f[i].required);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int usage_v2(const struct limits *l, const char *id, struct limits_usage *u, uint64_t *pids)
{
	const struct usage_field fields[] = {
	    {l->mem, "memory.current", NULL, &u->memory_bytes, true},
	    {l->mem, "memory.stat", "anon", &u->rss_bytes, false},
	    {l->mem, "memory.peak", NULL, &u->memory_peak, false},       /* >= 5.19 */
	    {l->mem, "memory.events", "oom_kill", &u->oom_kills, false}, /* >= 4.13 */
	    {l->mem, "memory.events", "max", &u->memory_limit_hits, false},
	    {l->pids, "pids.current", NULL, pids, true},
	    {l->cpu, "cpu.stat", "usage_usec", &u->cpu_usec, true},
	};

	return read_fields(l, id, fields, ARRAY_SIZE(fields));
}

static int usage_v1(const struct limits *l, const char *id, struct limits_usage *u, uint64_t *pids)
{
	uint64_t ns = 0;
	const struct usage_field fields[] = {
	    {l->mem, "memory.usage_in_bytes", NULL, &u->memory_bytes, true},
	    {l->mem, "memory.stat", "total_rss", &u->rss_bytes, false},
	    {l->mem, "memory.max_usage_in_bytes", NULL, &u->memory_peak, true},
	    {l->mem, "memory.oom_control", "oom_kill", &u->oom_kills, false}, /* >= 4.13 */
	    {l->mem, "memory.failcnt", NULL, &u->memory_limit_hits, true},
	    {l->pids, "pids.current", NULL, pids, true},
	    {l->cpu, "cpuacct.usage", NULL, &ns, true},
	};

	if (read_fields(l, id, fields, ARRAY_SIZE(fields)) < 0)
		return -1;
	u->cpu_usec = ns / 1000;
	return 0;
}

int limits_session_usage(struct limits *l, const char *session_id, struct limits_usage *u)
{
	uint64_t pids = 0;

	memset(u, 0, sizeof(*u));
	if (check_id(session_id) < 0)
		return -1;
	int rc = l->backend == LIMITS_V2 ? usage_v2(l, session_id, u, &pids)
	                                 : usage_v1(l, session_id, u, &pids);
	if (rc < 0)
		return -1;
	if (pids > UINT32_MAX) {
		log_error("limits: session %s: pids.current %llu out of range", session_id,
		          (unsigned long long)pids);
		errno = ERANGE;
		return -1;
	}
	u->pids = (uint32_t)pids;
	return 0;
}

/* Sends SIGKILL to each pid listed in a cgroup.procs file, when `signal`.
 * Returns how many were listed (a missing file lists none), or -1. */
static int kill_listed(const char *procs, bool signal)
{
	size_t len;
	pid_t pid;
	int n = 0, rc;
	char *buf = read_file(procs, &len, true);

	if (!buf)
		return errno == ENOENT ? 0 : -1;
	const char *p = buf;
	for (; (rc = next_pid(&p, buf + len, &pid)) > 0; n++)
		if (signal && kill(pid, SIGKILL) < 0 && errno != ESRCH)
			log_warn("limits: kill %d (in %s): %s", (int)pid, procs, strerror(errno));
	if (rc < 0)
		log_error("limits: %s: malformed pid list", procs);
	free(buf);
	return rc < 0 ? -1 : n;
}

/* Kills until no cgroup of the session lists a process, or the deadline.
 * With cgroup.kill the kernel kills every member, forks included, at once;
 * without it (v1, v2 before 5.14) each listed pid is signalled on each
 * round, which catches children forked in between. */
static int kill_until_empty(const struct limits *l, const char *id, const bool *present,
                            uint64_t deadline)
{
	char path[PATH_MAX];
	bool kill_file = false;

	if (l->backend == LIMITS_V2) {
		if (leaf_path(path, sizeof(path), l, 0, id, "cgroup.kill") < 0)
			return -1;
		kill_file = access(path, F_OK) == 0;
		if (kill_file && write_file(l, path, "1\n") < 0)
			return -1;
	}
	for (;;) {
		int listed = 0;
		for (int i = 0; i < l->ndirs; i++) {
			if (!present[i])
				continue;
			if (leaf_path(path, sizeof(path), l, i, id, "cgroup.procs") < 0)
				return -1;
			int n = kill_listed(path, !kill_file && !l->fake);
			if (n < 0)
				return -1;
			listed += n;
		}
		if (listed == 0)
			return 0;
		if (now_ms() >= deadline) {
			log_error("limits: session %s: %d processes still in its cgroups at the "
			          "timeout",
			          id, listed);
			errno = ETIMEDOUT;
			return -1;
		}
		sleep_ms(LIMITS_POLL_MS);
	}
}

/* rmdir fails with EBUSY for a moment after the last process exited. */
static int remove_leaves(const struct limits *l, const char *id, const bool *present,
                         uint64_t deadline)
{
	char path[PATH_MAX];

	for (int i = 0; i < l->ndirs; i++) {
		if (!present[i])
			continue;
		if (leaf_path(path, sizeof(path), l, i, id, NULL) < 0)
			return -1;
		while (remove_leaf(l, path) < 0) {
			if (errno != EBUSY || now_ms() >= deadline) {
				log_error("limits: removing %s: %s", path, strerror(errno));
				return -1;
			}
			sleep_ms(LIMITS_POLL_MS);
		}
	}
	return 0;
}

int limits_session_destroy(struct limits *l, const char *session_id, int timeout_ms)
{
	bool present[LIMITS_MAX_DIRS] = {false};
	char path[PATH_MAX];
	int npresent = 0;

	if (check_id(session_id) < 0)
		return -1;
	uint64_t deadline = now_ms() + (uint64_t)MAX(timeout_ms, 0);
	for (int i = 0; i < l->ndirs; i++) {
		if (leaf_path(path, sizeof(path), l, i, session_id, NULL) < 0)
			return -1;
		present[i] = access(path, F_OK) == 0;
		npresent += present[i];
	}
	if (npresent == 0) {
		log_warn("limits: session %s: no cgroup to remove under %s", session_id,
		         l->dirs[0]);
		errno = ENOENT;
		return -1;
	}
	if (kill_until_empty(l, session_id, present, deadline) < 0 ||
	    remove_leaves(l, session_id, present, deadline) < 0)
		return -1;
	log_debug("limits: session %s: cgroups removed", session_id);
	return 0;
}
