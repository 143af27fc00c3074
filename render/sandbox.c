/*
 * Builds the session sandbox (see sandbox.h). No untrusted input; the
 * strings come from the config and the session id, which the caller
 * validated.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "browser.h"
#include "config.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

#define ADMIN_POLICY_MAX (1024 * 1024) /* bytes, one administrator's policy file */

/* Host /etc entries the session may read. Nothing of shoji's own. */
static const char *const etc_binds[] = {
	"fonts", "ssl", "ca-certificates", "alternatives", "ld.so.cache", "ld.so.conf",
	"ld.so.conf.d", "nsswitch.conf", "chromium.d", "X11", "xdg", "mime.types",
	"os-release", "debian_version", "locale.alias", "gtk-3.0", "pango", "machine-id",
	"dbus-1", "fcitx5",
};

struct argv {
	char **v;
	size_t n, cap;
};

static void add(struct argv *a, const char *s)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		char **v = realloc(a->v, a->cap * sizeof(*v));
		if (!v)
			abort();
		a->v = v;
	}
	a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void addf(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct argv *a, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	add(a, buf);
}

static void add3(struct argv *a, const char *x, const char *y, const char *z)
{
	add(a, x);
	add(a, y);
	if (z)
		add(a, z);
}

static void add_etc(struct argv *a, const char *session_dir)
{
	char host[128], own[4096];

	add3(a, "--tmpfs", "/etc", NULL);
	for (size_t i = 0; i < ARRAY_SIZE(etc_binds); i++) {
		snprintf(host, sizeof(host), "/etc/%s", etc_binds[i]);
		add3(a, "--ro-bind-try", host, host);
	}
	add3(a, "--ro-bind-try", "/etc/chromium/master_preferences",
	     "/etc/chromium/master_preferences");
	static const char *const own_files[] = { "passwd", "group", "hosts" };
	for (size_t i = 0; i < ARRAY_SIZE(own_files); i++) {
		snprintf(own, sizeof(own), "%s/etc/%s", session_dir, own_files[i]);
		snprintf(host, sizeof(host), "/etc/%s", own_files[i]);
		add3(a, "--ro-bind", own, host);
	}
	snprintf(own, sizeof(own), "%s/etc/policies", session_dir);
	add3(a, "--ro-bind", own, "/etc/chromium/policies/managed");
	add3(a, "--remount-ro", "/etc", NULL);
}

char **sandbox_argv(const struct sandbox_spec *s)
{
	struct argv a = { 0 };

	add(&a, SANDBOX_BWRAP);
	add(&a, "--unshare-user");
	add(&a, "--unshare-pid");
	add(&a, "--unshare-ipc");
	add(&a, "--unshare-net");
	add(&a, "--unshare-uts");
	add(&a, "--unshare-cgroup-try");
	add(&a, "--die-with-parent");
	add(&a, "--new-session");
	add3(&a, "--hostname", "shoji", NULL);
	add3(&a, "--ro-bind", "/usr", "/usr");
	static const char *const links[][2] = {
		{ "usr/bin", "/bin" }, { "usr/sbin", "/sbin" }, { "usr/lib", "/lib" },
		{ "usr/lib64", "/lib64" }, { "usr/lib32", "/lib32" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		char path[32];
		snprintf(path, sizeof(path), "/%s", links[i][0]);
		if (access(path, F_OK) == 0)
			add3(&a, "--symlink", links[i][0], links[i][1]);
	}
	add_etc(&a, s->session_dir);
	add3(&a, "--proc", "/proc", NULL);
	add3(&a, "--dev", "/dev", NULL);
	add3(&a, "--tmpfs", "/tmp", NULL);
	add3(&a, "--tmpfs", "/run", NULL);
	add3(&a, "--ro-bind", s->render_binary, SANDBOX_RENDER_PATH);
	add3(&a, "--dir", "/home", NULL);
	add(&a, "--bind");
	addf(&a, "%s/home", s->session_dir);
	add(&a, SANDBOX_HOME);
	add3(&a, "--chdir", SANDBOX_HOME, NULL);
	add(&a, "--clearenv");
	add3(&a, "--setenv", "HOME", SANDBOX_HOME);
	add3(&a, "--setenv", "USER", "shoji");
	add3(&a, "--setenv", "LOGNAME", "shoji");
	add3(&a, "--setenv", "PATH", "/usr/bin:/bin");
	add3(&a, "--setenv", "LANG", "C.UTF-8");
	add3(&a, "--setenv", "TZ", s->timezone);
	add3(&a, "--setenv", "XDG_RUNTIME_DIR", "/tmp");
	add(&a, SANDBOX_RENDER_PATH);
	for (char *const *p = s->inner_args; *p; p++)
		add(&a, *p);
	return a.v;
}

void sandbox_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "we");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* A regular file of at most max bytes from src to dst. 0 or -1. */
static int copy_file(const char *src, const char *dst, size_t max)
{
	char buf[8192];
	size_t total = 0, n;
	int rc = -1;

	FILE *in = fopen(src, "re");
	if (!in)
		return -1;
	FILE *out = fopen(dst, "we");
	if (!out)
		goto fail_out;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0 && (total += n) <= max)
		if (fwrite(buf, 1, n, out) != n)
			break;
	rc = ferror(in) || total > max || n > 0 ? -1 : 0;
	if (fclose(out) != 0)
		rc = -1;
	if (rc < 0)
		unlink(dst);
fail_out:
	fclose(in);
	return rc;
}

/*
 * The administrator's policy files ([browser] policies_dir, *.json) into
 * the session's, as admin-NAME. Chromium gives a policy set in two files
 * the value of the file last in name order: shoji.json comes after them
 * all, so what shoji sets (the proxy, the blocklists) stays shoji's. A
 * missing directory is no error; a file that cannot be copied is skipped
 * (logged).
 */
static void copy_admin_policies(const char *from, const char *to)
{
	char src[4200], dst[4200 + sizeof("/admin-") + 256];
	struct stat st;
	struct dirent *de;

	DIR *d = opendir(from);
	if (!d) {
		if (errno != ENOENT)
			log_warn("browser policies: cannot read %s: %s", from, strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
		snprintf(dst, sizeof(dst), "%s/admin-%s", to, de->d_name);
		if (stat(src, &st) < 0 || !S_ISREG(st.st_mode) ||
		    copy_file(src, dst, ADMIN_POLICY_MAX) < 0)
			log_warn("browser policies: %s skipped (not a readable file of at most %d "
			         "bytes)",
			         src, ADMIN_POLICY_MAX);
	}
	closedir(d);
}

int sandbox_write_etc(const char *session_dir, unsigned uid, const struct shoji_config *cfg)
{
	char etc[4096], policies[4200], text[4300];

	snprintf(etc, sizeof(etc), "%s/etc", session_dir);
	snprintf(policies, sizeof(policies), "%s/policies", etc);
	if (mkdir_p(policies, 0755) < 0)
		return -1;
	snprintf(text, sizeof(text),
		 "shoji:x:%u:%u:shoji session:" SANDBOX_HOME ":/usr/sbin/nologin\n"
		 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		 uid, uid);
	if (write_file(etc, "passwd", text) < 0)
		return -1;
	snprintf(text, sizeof(text), "shoji:x:%u:\nnogroup:x:65534:\n", uid);
	if (write_file(etc, "group", text) < 0 ||
	    write_file(etc, "hosts", "127.0.0.1 localhost shoji\n::1 localhost\n") < 0)
		return -1;
	copy_admin_policies(cfg->browser_policies_dir, policies);
	snprintf(text, sizeof(text), "%s/shoji.json", policies);
	FILE *f = fopen(text, "we");
	if (!f)
		return -1;
	int rc = browser_write_policy(f, cfg);
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}
