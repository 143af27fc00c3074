/*
 * The whole-daemon harness (see daemon.h). shojid is started with
 * PR_SET_PDEATHSIG = SIGTERM, so a test that dies still lets it end its
 * workers and sessions cleanly; the HTTP server dies with the test.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "util.h"

#define SHOJID_PATH SHOJI_BUILDDIR "/proxy/shojid"
#define SHOJICTL_PATH SHOJI_BUILDDIR "/proxy/shojictl"
#define CERTS_PATH SHOJI_SRCDIR "/certs/shoji-certs"
#define UID_BASE 210000u /* sessions' uids: 8 per test process, away from other tests' */
#define UIDS_PER_RUN 8u

char *shojid_path(const struct shojid_proc *d, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", d->root, name);
	return buf;
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* Runs argv[0] with input on its stdin and its output appended to log; exit status or -1. */
static int run_tool(char *const argv[], const char *input, const char *log)
{
	int in[2], status;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (out < 0 || dup2(in[0], STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
		    dup2(out, STDERR_FILENO) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	if (pid > 0 && input && write_all(in[1], input, strlen(input)) < 0)
		kill(pid, SIGKILL);
	close(in[1]);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int write_config(struct shojid_proc *d, const char *extra_ini, const char *page)
{
	uint32_t uid = UID_BASE + (uint32_t)(getpid() % 1000) * UIDS_PER_RUN;
	FILE *f = fopen(d->config_path, "w");

	if (!f)
		return -1;
	fprintf(f,
	        "[server]\nstate_dir = %s/state\nadmin_socket = %s/admin.sock\n"
	        "render_path = %s/render/shoji-render\nlog_level = %s\n"
	        "[tls]\ncert = %s/tls/server-chain.crt\nkey = %s/tls/server.key\n"
	        "[auth]\nusers_file = %s\n"
	        "[vnc]\nlisten = 127.0.0.1:%d\n[rdp]\nlisten = 127.0.0.1:%d\n"
	        "[browser]\nstart_url = http://127.0.0.1:%d/%s\n"
	        "[egress]\nallow = 127.0.0.1:%d\n"
	        "[sandbox]\nuid_range = %u-%u\n"
	        "[audit]\nfile = %s\n",
	        d->root, d->root, SHOJI_BUILDDIR, d->log_level ? d->log_level : "info", d->root,
	        d->root, d->users_path, d->port, d->rdp_port, d->pages.port, page, d->pages.port,
	        uid, uid + UIDS_PER_RUN - 1, d->audit_path);
	if (extra_ini)
		fputs(extra_ini, f);
	return fclose(f);
}

int shojid_setup(struct shojid_proc *d, const char *extra_ini)
{
	return shojid_setup_page(d, extra_ini, "index.html");
}

int shojid_setup_page(struct shojid_proc *d, const char *extra_ini, const char *page)
{
	char tls[160], log[160];

	/* A peer that closes must show as a failed write, not end the test. */
	signal(SIGPIPE, SIG_IGN);
	const char *level = d->log_level; /* the one field the caller may set first */
	memset(d, 0, sizeof(*d));
	d->log_level = level;
	d->pid = -1;
	d->pages.pid = -1;
	snprintf(d->root, sizeof(d->root), "/tmp/shoji-e2e-vnc-XXXXXX");
	if (!mkdtemp(d->root) || chmod(d->root, 0755) < 0)
		return -1;
	shojid_path(d, "tls", tls, sizeof(tls));
	shojid_path(d, "setup.log", log, sizeof(log));
	shojid_path(d, "tls/ca.crt", d->ca_path, sizeof(d->ca_path));
	shojid_path(d, "shoji.conf", d->config_path, sizeof(d->config_path));
	shojid_path(d, "users", d->users_path, sizeof(d->users_path));
	shojid_path(d, "audit.log", d->audit_path, sizeof(d->audit_path));
	shojid_path(d, "shojid.log", d->log_path, sizeof(d->log_path));
	char *certs[] = {"/bin/sh", CERTS_PATH, "-d", tls, "make", NULL};
	if (run_tool(certs, NULL, log) != 0) {
		fprintf(stderr, "shoji-certs failed; see %s\n", log);
		return -1;
	}
	d->port = free_port();
	do
		d->rdp_port = free_port();
	while (d->rdp_port == d->port);
	if (d->port < 0 || http_server_start(&d->pages, SHOJI_SRCDIR "/tests/pages") < 0)
		return -1;
	return write_config(d, extra_ini, page);
}

int shojid_add_user(struct shojid_proc *d, const char *name, const char *password)
{
	char log[160], line[1100];
	char *argv[] = {SHOJICTL_PATH, "-u", d->users_path, "user", "add", (char *)name, NULL};

	snprintf(line, sizeof(line), "%s\n", password);
	return run_tool(argv, line, shojid_path(d, "setup.log", log, sizeof(log))) == 0 ? 0 : -1;
}

int shojid_add_nla_user(struct shojid_proc *d, const char *name, const char *password)
{
	char log[160], line[1100];
	char *argv[] = {SHOJICTL_PATH, "-u",        d->users_path, "user",
	                "add",         "--nt-hash", (char *)name,  NULL};

	snprintf(line, sizeof(line), "%s\n", password);
	return run_tool(argv, line, shojid_path(d, "setup.log", log, sizeof(log))) == 0 ? 0 : -1;
}

/* How many lines of path contain both a and b (b may be NULL). */
static int count_lines(const char *path, const char *a, const char *b)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, a) && (!b || strstr(line, b));
	fclose(f);
	return n;
}

bool shojid_audit_line(struct shojid_proc *d, int n, const char *a, const char *b, char *out,
                       size_t cap)
{
	FILE *f = fopen(d->audit_path, "r");
	char line[8192];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (strstr(line, a) && (!b || strstr(line, b)) && n-- == 0) {
			snprintf(out, cap, "%s", line);
			found = true;
		}
	fclose(f);
	return found;
}

long long audit_number(const char *line, const char *obj, const char *key)
{
	char pat[96];
	const char *p = line;

	if (obj) {
		snprintf(pat, sizeof(pat), "\"%s\":{", obj);
		if (!(p = strstr(line, pat)))
			return -1;
		p += strlen(pat);
	}
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *end = obj ? strchr(p, '}') : NULL;
	const char *at = strstr(p, pat);
	if (!at || (end && at > end))
		return -1;
	return strtoll(at + strlen(pat), NULL, 10);
}

int shojid_audit_count(struct shojid_proc *d, const char *a, const char *b)
{
	return count_lines(d->audit_path, a, b);
}

int shojid_log_count(struct shojid_proc *d, const char *a, const char *b)
{
	return count_lines(d->log_path, a, b);
}

bool shojid_alive(struct shojid_proc *d)
{
	int status;

	if (d->pid <= 0)
		return false;
	if (waitpid(d->pid, &status, WNOHANG) != d->pid)
		return true;
	fprintf(stderr, "shojid ended early with status 0x%x; see %s\n", status, d->log_path);
	d->pid = -1;
	return false;
}

bool shojid_wait_ready(struct shojid_proc *d, int count, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (count_lines(d->log_path, "session ", " ready after ") < count) {
		if (now_ms() >= end || !shojid_alive(d))
			return false;
		usleep(100000);
	}
	return true;
}

bool shojid_log_wait(struct shojid_proc *d, const char *text, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (count_lines(d->log_path, text, NULL) == 0) {
		if (now_ms() >= end || !shojid_alive(d))
			return false;
		usleep(100000);
	}
	return true;
}

bool shojid_audit_wait(struct shojid_proc *d, const char *a, const char *b, const char *c,
                       int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (!audit_has(d->audit_path, a, b, c)) {
		if (now_ms() >= end)
			return false;
		usleep(100000);
	}
	return true;
}

int shojid_launch(struct shojid_proc *d, int timeout_ms)
{
	d->pid = fork();
	if (d->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int log = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		int null = open("/dev/null", O_RDONLY);
		if (log < 0 || null < 0 || dup2(null, STDIN_FILENO) < 0 ||
		    dup2(log, STDOUT_FILENO) < 0 || dup2(log, STDERR_FILENO) < 0)
			_exit(126);
		close_range(3, ~0u, 0);
		execl(SHOJID_PATH, "shojid", "-c", d->config_path, (char *)NULL);
		_exit(127);
	}
	if (d->pid < 0)
		return -1;
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	if (!shojid_log_wait(d, "listening for vnc viewers on", timeout_ms) ||
	    !shojid_wait_ready(d, 1, (int)(end > now_ms() ? end - now_ms() : 0))) {
		fprintf(stderr, "shojid did not get ready; see %s\n", d->log_path);
		return -1;
	}
	return 0;
}

/* The parent pid of process pid, from /proc/PID/stat; -1 if gone. */
static pid_t parent_of(const char *pid)
{
	char path[64], buf[512];

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command may contain spaces and ')' */
	int ppid;
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

static bool cmdline_has(const char *pid, const char *arg)
{
	char path[64], buf[4096];

	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
		if (!strcmp(buf + i, arg))
			return true;
	}
	return false;
}

int shojid_workers(struct shojid_proc *d, pid_t *first)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!dir || d->pid <= 0)
		goto out;
	while ((de = readdir(dir))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (parent_of(de->d_name) != d->pid || !cmdline_has(de->d_name, "--worker"))
			continue;
		if (n++ == 0 && first)
			*first = (pid_t)atoi(de->d_name);
	}
out:
	if (dir)
		closedir(dir);
	return n;
}

int shojid_stop(struct shojid_proc *d, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;
	int status;

	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	while (waitpid(d->pid, &status, WNOHANG) != d->pid) {
		if (now_ms() >= end) {
			fprintf(stderr, "shojid did not stop within %d ms; killing it\n",
			        timeout_ms);
			kill(d->pid, SIGKILL);
			waitpid(d->pid, NULL, 0);
			d->pid = -1;
			return -1;
		}
		usleep(50000);
	}
	d->pid = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * SHOJI_E2E_KEEP_LOGS=DIR: shojid's log of every test is kept there,
 * passed or not (one that failed keeps its whole directory anyway).
 */
static void keep_log(const struct shojid_proc *d)
{
	const char *dir = getenv("SHOJI_E2E_KEEP_LOGS");
	char dest[256], buf[65536];
	size_t n;
	bool ok = false;

	if (!dir || !*dir || !d->log_path[0])
		return;
	snprintf(dest, sizeof(dest), "%s/%s.log", dir, strrchr(d->root, '/') + 1);
	FILE *in = fopen(d->log_path, "r");
	FILE *out = in ? fopen(dest, "w") : NULL;
	if (out) {
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		ok = !ferror(in);
		ok = fclose(out) == 0 && ok;
	}
	if (in)
		fclose(in);
	if (!ok)
		fprintf(stderr, "cannot keep %s as %s\n", d->log_path, dest);
}

void shojid_cleanup(struct shojid_proc *d)
{
	if (d->pid > 0 && shojid_stop(d, 30000) < 0)
		fprintf(stderr, "shojid had to be killed during clean-up\n");
	http_server_stop(&d->pages);
	if (d->pages.log_path[0])
		unlink(d->pages.log_path);
	keep_log(d);
	if (d->root[0] && remove_tree(d->root) < 0)
		fprintf(stderr, "cannot remove %s: %s\n", d->root, strerror(errno));
}
