/*
 * Session supervisor (see supervisor.h). Nothing it reads comes from the
 * sandbox except browser connections, which go to the egress proxy, and
 * the sandbox's exit status.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "egress.h"
#include "cgroup_limits.h"
#include "log.h"
#include "sandbox.h"
#include "supervisor.h"
#include "util.h"

#define EGRESS_MAX_CONNECTIONS 256
#define DESTROY_TIMEOUT_MS 5000

struct supervisor {
	const struct shoji_config *cfg;
	const struct supervisor_args *a;
	char dir[4096];
	struct limits *limits;
	struct audit_log *audit;
	struct egress_policy *policy;
	int egress[2]; /* [0] supervisor's end, [1] the sandbox's */
	pthread_t egress_thread;
	bool egress_started;
	pid_t child;
};

bool supervisor_valid_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_'))
			return false;
	return true;
}

static int make_dirs(struct supervisor *sv)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/sessions", sv->cfg->server_state_dir);
	if (mkdir_p(path, 0711) < 0)
		goto fail;
	snprintf(sv->dir, sizeof(sv->dir), "%s/sessions/%s", sv->cfg->server_state_dir,
	         sv->a->session_id);
	remove_tree(sv->dir); /* leftovers of a crash */
	if (mkdir(sv->dir, 0711) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/home", sv->dir);
	if (mkdir(path, 0700) < 0 || chown(path, sv->a->uid, sv->a->uid) < 0)
		goto fail;
	if (sandbox_write_etc(sv->dir, sv->a->uid, sv->cfg) < 0)
		goto fail;
	return 0;
fail:
	log_error("cannot prepare the session directory %s: %s", sv->dir, strerror(errno));
	return -1;
}

static void *egress_main(void *arg)
{
	struct supervisor *sv = arg;
	struct egress_proxy_opts o = {
	    .session_id = sv->a->session_id,
	    .policy = sv->policy,
	    .upstream = sv->cfg->browser_upstream_proxy,
	    .audit = sv->audit,
	    .max_connections = EGRESS_MAX_CONNECTIONS,
	};
	egress_proxy_run(sv->egress[0], &o);
	return NULL;
}

/* Arguments for shoji-render --inner, inside the sandbox. */
static char **inner_args(const struct supervisor *sv)
{
	const struct shoji_config *c = sv->cfg;
	char **v = xcalloc(32, sizeof(*v));
	size_t n = 0;
	char buf[64];

	v[n++] = xstrdup("--inner");
	v[n++] = xstrdup("--link-fd=3");
	v[n++] = xstrdup("--egress-fd=4");
	snprintf(buf, sizeof(buf), "--size=%ux%u", sv->a->width, sv->a->height);
	v[n++] = xstrdup(buf);
	snprintf(buf, sizeof(buf), "--max-size=%ldx%ld", c->display_max_width,
	         c->display_max_height);
	v[n++] = xstrdup(buf);
	snprintf(buf, sizeof(buf), "--log-level=%d", sv->a->log_level);
	v[n++] = xstrdup(buf);
	v[n++] = xstrdup("--browser");
	v[n++] = xstrdup(c->browser_command);
	v[n++] = xstrdup("--start-url");
	v[n++] = xstrdup(c->browser_start_url);
	v[n++] = xstrdup("--locale");
	v[n++] = xstrdup(c->browser_locale);
	v[n++] = xstrdup("--session");
	v[n++] = xstrdup(sv->a->session_id);
	if (c->policy_clipboard_to_browser == SHOJI_CLIPBOARD_TEXT)
		v[n++] = xstrdup("--clipboard-to-browser");
	if (c->policy_clipboard_to_terminal == SHOJI_CLIPBOARD_TEXT)
		v[n++] = xstrdup("--clipboard-to-terminal");
	snprintf(buf, sizeof(buf), "--clipboard-max-bytes=%ld", c->policy_clipboard_max_bytes);
	v[n++] = xstrdup(buf);
	return v;
}

/* In the child: join the cgroup, become the session's uid, exec bwrap. */
static void exec_sandbox(struct supervisor *sv, char **argv)
{
	uid_t uid = sv->a->uid;

	if (limits_session_attach(sv->limits, sv->a->session_id, 0) < 0)
		_exit(126);
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
		_exit(126);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(126);
	/* Exactly fds 0-2, 3 (pixel link) and 4 (egress) survive exec. */
	int link = fcntl(sv->a->link_fd, F_DUPFD_CLOEXEC, 10);
	int egress = fcntl(sv->egress[1], F_DUPFD_CLOEXEC, 10);
	if (link < 0 || egress < 0 || dup2(link, 3) < 0 || dup2(egress, 4) < 0)
		_exit(126);
	close_range(5, ~0u, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(SANDBOX_BWRAP, argv);
	_exit(127);
}

static int start_sandbox(struct supervisor *sv)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -1;
	self[n] = '\0';
	char **inner = inner_args(sv);
	struct sandbox_spec spec = {.session_dir = sv->dir,
	                            .render_binary = self,
	                            .timezone = sv->cfg->browser_timezone,
	                            .inner_args = inner};
	char **argv = sandbox_argv(&spec);
	sv->child = fork();
	if (sv->child == 0)
		exec_sandbox(sv, argv);
	sandbox_argv_free(argv);
	sandbox_argv_free(inner);
	if (sv->child < 0)
		return -1;
	close(sv->egress[1]);
	sv->egress[1] = -1;
	return 0;
}

static int setup(struct supervisor *sv)
{
	const struct shoji_config *c = sv->cfg;
	char err[512];

	sv->audit = audit_open(c->audit_file);
	if (!sv->audit) {
		log_error("cannot open the audit log %s: %s; refusing to run unaudited",
		          c->audit_file, strerror(errno));
		return -1;
	}
	sv->policy = egress_policy_create(&c->egress_allow, &c->egress_deny, err, sizeof(err));
	if (!sv->policy) {
		log_error("%s", err);
		return -1;
	}
	sv->limits = limits_open(
	    c->sandbox_cgroup_root[0] ? c->sandbox_cgroup_root : "/sys/fs/cgroup", NULL);
	if (!sv->limits) {
		log_error("no usable cgroup hierarchy for session limits: %s", strerror(errno));
		return -1;
	}
	struct limits_values v = { .memory_max = c->sandbox_memory_max,
				   .pids_max = (uint32_t)c->sandbox_pids_max,
				   .cpu_max = (uint32_t)c->sandbox_cpu_max };
	if (limits_session_create(sv->limits, sv->a->session_id, &v) < 0) {
		log_error("cannot create the session's cgroups: %s", strerror(errno));
		return -1;
	}
	if (make_dirs(sv) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv->egress) < 0)
		return -1;
	return 0;
}

static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigprocmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Waits for the sandbox to end; returns why, for the audit log. */
static const char *wait_sandbox(struct supervisor *sv, const sigset_t *set, int *status_out)
{
	static char reason[64];
	bool stopping = false;
	int status = 0;

	for (;;) {
		siginfo_t si;
		if (sigwaitinfo(set, &si) < 0)
			continue;
		if (si.si_signo == SIGUSR1) {
			/* shojid passes on logrotate's signal: write to the new file. */
			if (audit_reopen(sv->audit, sv->cfg->audit_file) < 0)
				log_warn("cannot reopen %s: %s", sv->cfg->audit_file,
				         strerror(errno));
			continue;
		}
		if (si.si_signo == SIGTERM || si.si_signo == SIGINT) {
			stopping = true;
			limits_session_destroy(sv->limits, sv->a->session_id, DESTROY_TIMEOUT_MS);
			kill(sv->child, SIGKILL);
			continue;
		}
		if (si.si_signo == SIGCHLD && waitpid(sv->child, &status, WNOHANG) == sv->child)
			break;
	}
	*status_out = status;
	if (stopping)
		return "stopped";
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return "closed";
	if (WIFEXITED(status))
		snprintf(reason, sizeof(reason), "render failed (exit status %d)",
		         WEXITSTATUS(status));
	else
		snprintf(reason, sizeof(reason), "render killed by signal %d", WTERMSIG(status));
	return reason;
}

static void teardown(struct supervisor *sv)
{
	if (sv->limits) {
		limits_session_destroy(sv->limits, sv->a->session_id, DESTROY_TIMEOUT_MS);
		limits_close(sv->limits);
	}
	if (sv->egress[1] >= 0)
		close(sv->egress[1]);
	if (sv->egress_started)
		pthread_join(sv->egress_thread, NULL);
	if (sv->egress[0] >= 0)
		close(sv->egress[0]);
	if (sv->dir[0] && remove_tree(sv->dir) < 0)
		log_error("cannot remove the session directory %s: %s", sv->dir, strerror(errno));
	egress_policy_destroy(sv->policy);
}

int supervisor_run(const struct shoji_config *cfg, const struct supervisor_args *a)
{
	struct supervisor sv = {.cfg = cfg, .a = a, .egress = {-1, -1}, .child = -1};
	sigset_t set;
	int status = 0, rc = 1;
	const char *reason = "could not start";

	block_signals(&set);
	if (setup(&sv) < 0 || start_sandbox(&sv) < 0)
		goto out;
	close(a->link_fd);
	if (pthread_create(&sv.egress_thread, NULL, egress_main, &sv) == 0)
		sv.egress_started = true;
	audit_event(sv.audit, "session_start", AUDIT_STR, "session", a->session_id, AUDIT_INT,
	            "uid", (long long)a->uid, AUDIT_INT, "width", (long long)a->width, AUDIT_INT,
	            "height", (long long)a->height, AUDIT_END);
	log_info("session %s started as uid %u (%s cgroups)", a->session_id, a->uid,
	         limits_backend_name(sv.limits));
	reason = wait_sandbox(&sv, &set, &status);
	rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
out:
	/* The egress proxy stops before the end is audited: no visit after it. */
	teardown(&sv);
	log_info("session %s ended: %s", a->session_id, reason);
	audit_event(sv.audit, "session_end", AUDIT_STR, "session", a->session_id, AUDIT_STR,
	            "reason", reason, AUDIT_END);
	audit_close(sv.audit);
	return rc;
}
