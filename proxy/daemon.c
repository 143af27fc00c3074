/*
 * The control process (see daemon.h). For now it keeps one warm session:
 * it starts shoji-render with a pixel link, watches the link (everything
 * render sends is checked by pixlink_client), and starts a fresh session
 * when one ends. Untrusted input: the pixel link, through pixlink_client.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "daemon.h"
#include "log.h"
#include "pixlink_client.h"
#include "util.h"

#define RESTART_DELAY_MS 2000

struct session {
	char id[40];
	uint32_t uid;
	pid_t pid;
	struct pixlink_client *link;
	bool ready;
};

struct shojid {
	const struct shoji_config *cfg;
	struct audit_log *audit;
	int sig_fd;
	bool stopping;
	struct session warm;
	uint64_t next_start;
	uint32_t next_uid;
};

static uint32_t pick_uid(struct shojid *d)
{
	const struct shoji_range *r = &d->cfg->sandbox_uid_range;
	if (d->next_uid < r->lo || d->next_uid > r->hi)
		d->next_uid = r->lo;
	return d->next_uid++;
}

static int start_session(struct shojid *d, struct session *s)
{
	uint8_t rnd[8];
	int sv[2];
	char uid[16], fd[16];

	if (random_bytes(rnd, sizeof(rnd)) < 0)
		return -1;
	hex_encode(s->id, rnd, sizeof(rnd));
	s->uid = pick_uid(d);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	snprintf(uid, sizeof(uid), "%u", s->uid);
	s->pid = fork();
	if (s->pid == 0) {
		int child = fcntl(sv[1], F_DUPFD, 10); /* not close-on-exec */
		snprintf(fd, sizeof(fd), "%d", child);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl(d->cfg->server_render_path, "shoji-render", "-c", d->cfg->source, "--session",
		      s->id, "--uid", uid, "--link-fd", fd, (char *)NULL);
		log_error("cannot run %s: %s", d->cfg->server_render_path, strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	if (s->pid < 0) {
		close(sv[0]);
		return -1;
	}
	s->link = pixlink_client_create(sv[0], (uint32_t)d->cfg->display_max_width,
					(uint32_t)d->cfg->display_max_height);
	s->ready = false;
	log_info("session %s starting (uid %u, pid %d)", s->id, s->uid, (int)s->pid);
	return 0;
}

static void end_session(struct session *s, const char *why)
{
	if (s->link) {
		log_info("session %s: %s", s->id, why);
		pixlink_client_destroy(s->link); /* render sees the link close and ends */
		s->link = NULL;
	}
	s->ready = false;
}

static void handle_link(struct shojid *d, struct session *s)
{
	struct pixlink_event ev;
	int r;

	while ((r = pixlink_client_read(s->link, &ev)) > 0) {
		if (ev.type == PIXLINK_EV_FRAMEBUFFER && !s->ready) {
			s->ready = true;
			log_info("session %s ready (%ux%u)", s->id, ev.msg->u.fb.width,
				 ev.msg->u.fb.height);
		}
	}
	if (r < 0)
		end_session(s, pixlink_client_error(s->link));
	(void)d;
}

static void reap_children(struct shojid *d)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != d->warm.pid)
			continue;
		end_session(&d->warm, "render ended");
		d->warm.pid = -1;
		log_info("session %s ended (status 0x%x)", d->warm.id, status);
		d->next_start = now_ms() + RESTART_DELAY_MS;
	}
}

static void handle_signals(struct shojid *d)
{
	struct signalfd_siginfo si;

	while (read(d->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			d->stopping = true;
	}
	reap_children(d);
}

static int open_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void loop(struct shojid *d)
{
	while (!d->stopping) {
		if (d->warm.pid < 0 && now_ms() >= d->next_start && start_session(d, &d->warm) < 0) {
			log_error("cannot start a session: %s", strerror(errno));
			d->next_start = now_ms() + RESTART_DELAY_MS;
		}
		struct pollfd p[2] = { { .fd = d->sig_fd, .events = POLLIN },
				       { .fd = d->warm.link ? pixlink_client_fd(d->warm.link) : -1,
					 .events = POLLIN } };
		int timeout = d->warm.pid < 0 ? RESTART_DELAY_MS : -1;
		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			handle_signals(d);
		if (p[1].revents && d->warm.link)
			handle_link(d, &d->warm);
	}
}

/* Stops the sessions: closing a link ends its render; then wait, then kill. */
static void stop_sessions(struct shojid *d)
{
	if (d->warm.pid < 0)
		return;
	end_session(&d->warm, "daemon stopping");
	for (int i = 0; i < 200 && d->warm.pid > 0; i++) {
		if (waitpid(d->warm.pid, NULL, WNOHANG) == d->warm.pid)
			d->warm.pid = -1;
		else
			usleep(50000);
	}
	if (d->warm.pid > 0) {
		kill(d->warm.pid, SIGTERM);
		waitpid(d->warm.pid, NULL, 0);
	}
}

int shojid_run(const struct shoji_config *cfg)
{
	struct shojid d = { .cfg = cfg, .sig_fd = -1 };

	d.warm.pid = -1;
	if (mkdir_p(cfg->server_state_dir, 0711) < 0) {
		log_error("cannot create [server] state_dir %s: %s", cfg->server_state_dir,
			  strerror(errno));
		return 1;
	}
	d.audit = audit_open(cfg->audit_file);
	if (!d.audit) {
		log_error("cannot open [audit] file %s: %s; refusing to run unaudited",
			  cfg->audit_file, strerror(errno));
		return 1;
	}
	d.sig_fd = open_signals();
	if (d.sig_fd < 0)
		return 1;
	log_info("shojid %s started; keeping one warm session", PACKAGE_VERSION);
	audit_event(d.audit, "daemon_start", AUDIT_STR, "version", PACKAGE_VERSION, AUDIT_END);
	loop(&d);
	stop_sessions(&d);
	audit_event(d.audit, "daemon_stop", AUDIT_END);
	audit_close(d.audit);
	close(d.sig_fd);
	log_info("shojid stopped");
	return 0;
}
