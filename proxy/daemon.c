/*
 * The control process (see daemon.h): listeners, one worker process per
 * viewer connection, the sessions, password checks, the audit log. One
 * poll loop; nothing in it blocks (password hashing runs on auth.c's
 * thread). Untrusted input: control-link messages from workers (ctl_parse)
 * and pixel links while sessions warm (pixlink_client).
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "auth.h"
#include "ctl.h"
#include "daemon.h"
#include "listen.h"
#include "log.h"
#include "pixlink.h"
#include "pixlink_client.h"
#include "sessions.h"
#include "tls.h"
#include "util.h"

#define MAX_LISTENERS 16
#define MAX_CONNS 256
#define MIN_READY 1
#define REFUSAL_DELAY_MS 1000 /* a wrong password is answered after this */
#define RESPAWN_DELAY_MS 2000

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
	bool eof; /* the worker closed its end: wait for its exit */
	uint64_t refuse_at; /* send the deferred refusal then; 0 = none */
	char refusal[CTL_MAX_TEXT + 1];
	struct session *session;
	struct conn *next;
};

struct shojid {
	const struct shoji_config *cfg;
	char self[4096]; /* this program, for exec'ing workers */
	struct audit_log *audit;
	struct auth_service *auth;
	int sig_fd;
	bool stopping;
	struct listener listeners[MAX_LISTENERS];
	size_t nlisteners;
	struct conn *conns;
	size_t nconns;
	uint64_t next_conn_id;
	struct session_table sessions;
	uint64_t next_spawn;
};

static const char *proto_name(enum ctl_protocol p)
{
	return p == CTL_PROTO_RDP ? "rdp" : "vnc";
}

static struct conn *find_conn(struct shojid *d, uint64_t id)
{
	for (struct conn *c = d->conns; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

/* Keeps MIN_READY sessions warm (or warming). */
static void keep_warm(struct shojid *d)
{
	if (d->stopping || now_ms() < d->next_spawn)
		return;
	size_t warm = session_count(&d->sessions, SESSION_READY) +
		      session_count(&d->sessions, SESSION_WARMING);
	while (warm < MIN_READY) {
		if (!session_spawn(&d->sessions)) {
			log_warn("cannot start a session: %s", strerror(errno));
			d->next_spawn = now_ms() + RESPAWN_DELAY_MS;
			return;
		}
		warm++;
	}
}

/* The worker: shojid --worker PROTO, with the connection on fd 3, control on 4. */
static pid_t spawn_worker(struct shojid *d, int client, int ctl, const struct conn *c)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int a = fcntl(client, F_DUPFD_CLOEXEC, 10), b = fcntl(ctl, F_DUPFD_CLOEXEC, 10);
	if (a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0)
		_exit(126);
	close_range(5, ~0u, 0);
	set_nonblock(3, false);
	execl(d->self, "shojid", "--worker", proto_name(c->proto), "-c", d->cfg->source,
	      "--peer", c->peer, (char *)NULL);
	_exit(127);
}

static void on_accept(struct shojid *d, struct listener *l)
{
	int ctl[2];
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (d->nconns >= MAX_CONNS || d->stopping) {
		log_warn("refusing a connection: %zu connections open", d->nconns);
		close(fd);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
		close(fd);
		return;
	}
	struct conn *c = xcalloc(1, sizeof(*c));
	c->id = ++d->next_conn_id;
	c->proto = l->proto;
	peer_name(fd, c->peer, sizeof(c->peer));
	c->pid = spawn_worker(d, fd, ctl[1], c);
	close(fd);
	close(ctl[1]);
	if (c->pid < 0) {
		close(ctl[0]);
		free(c);
		return;
	}
	c->ctl = ctl[0];
	set_nonblock(c->ctl, true);
	c->next = d->conns;
	d->conns = c;
	d->nconns++;
	log_info("%s connection from %s (worker %d)", proto_name(c->proto), c->peer, (int)c->pid);
}

static void remove_conn(struct shojid *d, struct conn *c)
{
	for (struct conn **p = &d->conns; *p; p = &(*p)->next) {
		if (*p != c)
			continue;
		*p = c->next;
		close(c->ctl);
		free(c);
		d->nconns--;
		return;
	}
}

static void send_refusal(struct conn *c, const char *reason)
{
	struct ctl_msg m = { .type = CTL_AUTH_RESULT };
	snprintf(m.u.result.reason, sizeof(m.u.result.reason), "%s", reason);
	ctl_send(c->ctl, &m, -1);
}

static void audit_login(struct shojid *d, struct conn *c, bool ok, const char *reason)
{
	audit_event(d->audit, ok ? "login_accepted" : "login_refused", AUDIT_STR, "user", c->user,
		    AUDIT_STR, "address", c->peer, AUDIT_STR, "protocol", proto_name(c->proto),
		    AUDIT_STR, "reason", reason, AUDIT_END);
}

/* Ends the attachment of c's session (the worker is gone or kicked). */
static void detach(struct shojid *d, struct conn *c, const char *why)
{
	struct session *s = c->session;
	c->session = NULL;
	if (!s || s->conn != c)
		return;
	s->conn = NULL;
	s->state = SESSION_DETACHED;
	s->since_ms = now_ms();
	audit_event(d->audit, "session_detach", AUDIT_STR, "session", s->id, AUDIT_STR, "user",
		    s->user, AUDIT_STR, "reason", why, AUDIT_END);
	log_info("session %s of %s detached: %s", s->id, s->user, why);
}

/* Gives c the user's session (reattach, take over, or a warm one). */
static struct session *attach(struct shojid *d, struct conn *c)
{
	struct session *s = session_find_user(&d->sessions, c->user);
	bool fresh = false;

	if (s && s->conn) {
		struct ctl_msg kick = { .type = CTL_KICK };
		snprintf(kick.u.kick.reason, sizeof(kick.u.kick.reason),
			 "signed in again from %s", c->peer);
		ctl_send(s->conn->ctl, &kick, -1);
		detach(d, s->conn, "taken over by a new login");
	}
	if (!s) {
		s = session_find_ready(&d->sessions);
		if (!s)
			return NULL;
		snprintf(s->user, sizeof(s->user), "%s", c->user);
		fresh = true;
	}
	s->conn = c;
	s->state = SESSION_ATTACHED;
	s->since_ms = now_ms();
	c->session = s;
	audit_event(d->audit, "session_attach", AUDIT_STR, "session", s->id, AUDIT_STR, "user",
		    s->user, AUDIT_STR, "address", c->peer, AUDIT_STR, "protocol",
		    proto_name(c->proto), AUDIT_BOOL, "new", (int)fresh, AUDIT_END);
	return s;
}

static void on_auth_result(struct shojid *d, const struct auth_result *r)
{
	struct conn *c = find_conn(d, r->cookie);
	if (!c)
		return; /* the worker went away meanwhile */
	c->authing = false;
	if (!r->ok) {
		audit_login(d, c, false, "wrong user name or password");
		snprintf(c->refusal, sizeof(c->refusal), "wrong user name or password");
		c->refuse_at = now_ms() + REFUSAL_DELAY_MS;
		return;
	}
	struct session *s = attach(d, c);
	if (!s) {
		audit_login(d, c, false, "no browser session available");
		send_refusal(c, "no browser session is available now; please try again shortly");
		return;
	}
	audit_login(d, c, true, "password");
	c->authed = true;
	struct ctl_msg m = { .type = CTL_AUTH_RESULT };
	m.u.result.ok = true;
	snprintf(m.u.result.session, sizeof(m.u.result.session), "%s", s->id);
	if (ctl_send(c->ctl, &m, s->link) < 0)
		log_warn("cannot hand session %s to worker %d: %s", s->id, (int)c->pid,
			 strerror(errno));
	keep_warm(d);
}

static void on_note(struct shojid *d, struct conn *c, const struct ctl_msg *m)
{
	static const char *const events[] = {
		[CTL_NOTE_HANDSHAKE_FAILED] = "handshake_failed",
		[CTL_NOTE_MESSAGE_REFUSED] = "message_refused",
		[CTL_NOTE_TLS] = "tls",
		[CTL_NOTE_RESIZE] = "resize",
		[CTL_NOTE_RDP_REQUEST] = "rdp_request",
	};
	audit_event(d->audit, events[m->u.note.code], AUDIT_STR, "address", c->peer, AUDIT_STR,
		    "protocol", proto_name(c->proto), AUDIT_STR, "user", c->user, AUDIT_STR,
		    "session", c->session ? c->session->id : "", AUDIT_STR, "detail",
		    m->u.note.text, AUDIT_END);
}

/* A message from a worker; a worker that breaks the protocol is killed. */
static void on_ctl(struct shojid *d, struct conn *c)
{
	uint8_t buf[CTL_MAX_MSG];
	struct ctl_msg m;
	int fd = -1;

	ssize_t n = pixlink_recv(c->ctl, buf, sizeof(buf), &fd);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (fd >= 0)
		close(fd); /* workers never send descriptors */
	bool ok = n > 0 && fd < 0 && ctl_parse(buf, (size_t)n, &m) == n;
	OPENSSL_cleanse(buf, sizeof(buf));
	if (n <= 0) {
		c->eof = true;
		return;
	}
	if (!ok || (m.type != CTL_AUTH && m.type != CTL_NOTE) ||
	    (m.type == CTL_AUTH && (c->authing || c->authed || m.u.auth.protocol != c->proto))) {
		log_warn("worker %d (%s) broke the control protocol; killing it", (int)c->pid,
			 c->peer);
		kill(c->pid, SIGKILL);
	} else if (m.type == CTL_NOTE) {
		on_note(d, c, &m);
	} else {
		c->authing = true;
		snprintf(c->user, sizeof(c->user), "%s", m.u.auth.user);
		auth_submit(d->auth, c->id, m.u.auth.user, m.u.auth.password);
	}
	if (ok)
		ctl_wipe(&m);
}

/*
 * A worker's last notes (a refused message, a failed handshake) may still
 * be queued when its exit is seen: audit them before it is forgotten. Only
 * notes; the worker is gone, so nothing else it sent matters.
 */
static void drain_notes(struct shojid *d, struct conn *c)
{
	uint8_t buf[CTL_MAX_MSG];
	struct ctl_msg m;

	for (int i = 0; i < 64; i++) {
		int fd = -1;
		ssize_t n = pixlink_recv(c->ctl, buf, sizeof(buf), &fd);
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			return;
		bool ok = ctl_parse(buf, (size_t)n, &m) == n;
		OPENSSL_cleanse(buf, sizeof(buf));
		if (ok && m.type == CTL_NOTE)
			on_note(d, c, &m);
		if (ok)
			ctl_wipe(&m);
	}
}

static void on_child_exit(struct shojid *d, pid_t pid, int status)
{
	for (struct conn *c = d->conns; c; c = c->next) {
		if (c->pid != pid)
			continue;
		drain_notes(d, c);
		detach(d, c, WIFSIGNALED(status) ? "worker crashed" : "viewer disconnected");
		log_info("worker %d (%s) ended", (int)pid, c->peer);
		remove_conn(d, c);
		return;
	}
	struct session *s = session_find_pid(&d->sessions, pid);
	if (!s)
		return;
	log_info("session %s (%s) ended with status 0x%x", s->id, session_state_name(s->state),
		 status);
	if (s->conn)
		s->conn->session = NULL;
	session_remove(&d->sessions, s);
	if (status != 0)
		d->next_spawn = now_ms() + RESPAWN_DELAY_MS;
	keep_warm(d);
}

static void on_signals(struct shojid *d)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(d->sig_fd, &si, sizeof(si)) == sizeof(si))
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			d->stopping = true;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		on_child_exit(d, pid, status);
}

static void send_due_refusals(struct shojid *d, int *timeout)
{
	uint64_t now = now_ms();
	for (struct conn *c = d->conns; c; c = c->next) {
		if (!c->refuse_at)
			continue;
		if (c->refuse_at <= now) {
			send_refusal(c, c->refusal);
			c->refuse_at = 0;
		} else if (*timeout < 0 || c->refuse_at - now < (uint64_t)*timeout) {
			*timeout = (int)(c->refuse_at - now);
		}
	}
	if (d->next_spawn > now && (*timeout < 0 || d->next_spawn - now < (uint64_t)*timeout))
		*timeout = (int)(d->next_spawn - now);
}

/* What each poll slot is for. */
struct slot {
	enum { SLOT_SIGNAL, SLOT_AUTH, SLOT_LISTENER, SLOT_CONN, SLOT_SESSION } kind;
	void *ptr;
};

#define MAX_SLOTS (2 + MAX_LISTENERS + MAX_CONNS + 1024)

static size_t build_poll(struct shojid *d, struct pollfd *p, struct slot *sl)
{
	size_t n = 0;

	p[n] = (struct pollfd){ .fd = d->sig_fd, .events = POLLIN };
	sl[n++] = (struct slot){ SLOT_SIGNAL, NULL };
	p[n] = (struct pollfd){ .fd = auth_fd(d->auth), .events = POLLIN };
	sl[n++] = (struct slot){ SLOT_AUTH, NULL };
	for (size_t i = 0; i < d->nlisteners && !d->stopping; i++) {
		p[n] = (struct pollfd){ .fd = d->listeners[i].fd, .events = POLLIN };
		sl[n++] = (struct slot){ SLOT_LISTENER, &d->listeners[i] };
	}
	for (struct conn *c = d->conns; c && n < MAX_SLOTS; c = c->next) {
		if (c->eof)
			continue;
		p[n] = (struct pollfd){ .fd = c->ctl, .events = POLLIN };
		sl[n++] = (struct slot){ SLOT_CONN, c };
	}
	for (struct session *s = d->sessions.head; s && n < MAX_SLOTS; s = s->next) {
		if (!s->probe)
			continue;
		p[n] = (struct pollfd){ .fd = pixlink_client_fd(s->probe), .events = POLLIN };
		sl[n++] = (struct slot){ SLOT_SESSION, s };
	}
	return n;
}

static void dispatch(struct shojid *d, struct pollfd *p, struct slot *sl, size_t n)
{
	struct auth_result r;

	for (size_t i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		switch (sl[i].kind) {
		case SLOT_SIGNAL:
			on_signals(d);
			return; /* conns and sessions may be gone: rebuild the poll set */
		case SLOT_AUTH:
			while (auth_take(d->auth, &r))
				on_auth_result(d, &r);
			return;
		case SLOT_LISTENER:
			on_accept(d, sl[i].ptr);
			break;
		case SLOT_CONN:
			on_ctl(d, sl[i].ptr);
			break;
		case SLOT_SESSION:
			session_probe(sl[i].ptr);
			break;
		}
	}
}

static void loop(struct shojid *d)
{
	static struct pollfd p[MAX_SLOTS];
	static struct slot sl[MAX_SLOTS];

	while (!d->stopping) {
		keep_warm(d);
		int timeout = -1;
		send_due_refusals(d, &timeout);
		size_t n = build_poll(d, p, sl);
		if (poll(p, n, timeout) < 0 && errno != EINTR)
			break;
		dispatch(d, p, sl, n);
	}
}

static int open_listeners(struct shojid *d)
{
	const struct { const struct shoji_strlist *list; enum ctl_protocol proto; } groups[] = {
		{ &d->cfg->vnc_listen, CTL_PROTO_VNC },
		{ &d->cfg->rdp_listen, CTL_PROTO_RDP },
	};
	char err[256];

	if (d->cfg->rdp_listen.n > 0 && d->cfg->rdp_nla) {
		log_error("[rdp] nla = true: this shojid does not offer NLA; set nla = false (RDP "
			  "logins then check the password after TLS) or turn RDP off with listen =");
		return -1;
	}

	for (size_t g = 0; g < ARRAY_SIZE(groups); g++) {
		for (size_t i = 0; i < groups[g].list->n; i++) {
			if (d->nlisteners == MAX_LISTENERS)
				break;
			const char *addr = groups[g].list->items[i];
			int fd = listen_open(addr, err, sizeof(err));
			if (fd < 0) {
				log_error("%s", err);
				return -1;
			}
			struct listener *l = &d->listeners[d->nlisteners++];
			l->fd = fd;
			l->proto = groups[g].proto;
			snprintf(l->addr, sizeof(l->addr), "%s", addr);
			log_info("listening for %s viewers on %s", proto_name(l->proto), addr);
		}
	}
	return 0;
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

/* Checks now what every worker will load, so a bad certificate stops start-up. */
static int check_tls(const struct shoji_config *cfg)
{
	char err[512];
	SSL_CTX *ctx = tls_server_create(cfg->tls_cert, cfg->tls_key, err, sizeof(err));
	if (!ctx) {
		log_error("%s", err);
		return -1;
	}
	SSL_CTX_free(ctx);
	return 0;
}

static int setup(struct shojid *d)
{
	const struct shoji_config *cfg = d->cfg;

	ssize_t n = readlink("/proc/self/exe", d->self, sizeof(d->self) - 1);
	if (n < 0)
		return -1;
	d->self[n] = '\0';
	if (mkdir_p(cfg->server_state_dir, 0711) < 0) {
		log_error("cannot create [server] state_dir %s: %s", cfg->server_state_dir,
			  strerror(errno));
		return -1;
	}
	d->audit = audit_open(cfg->audit_file);
	if (!d->audit) {
		log_error("cannot open [audit] file %s: %s; refusing to run unaudited",
			  cfg->audit_file, strerror(errno));
		return -1;
	}
	if (check_tls(cfg) < 0 || open_listeners(d) < 0)
		return -1;
	/* Before any thread starts, so that signals reach only the signalfd. */
	d->sig_fd = open_signals();
	d->auth = auth_create(cfg->auth_users_file);
	return d->auth && d->sig_fd >= 0 ? 0 : -1;
}

static void shutdown_all(struct shojid *d)
{
	for (size_t i = 0; i < d->nlisteners; i++)
		close(d->listeners[i].fd);
	for (struct conn *c = d->conns; c; c = c->next)
		kill(c->pid, SIGTERM);
	uint64_t end = now_ms() + 5000;
	while (d->conns && now_ms() < end) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0)
			on_child_exit(d, pid, status);
		else
			usleep(20000);
	}
	for (struct conn *c = d->conns; c; c = c->next)
		kill(c->pid, SIGKILL);
	while (d->conns) {
		waitpid(d->conns->pid, NULL, 0);
		remove_conn(d, d->conns);
	}
	session_stop_all(&d->sessions, 15000);
}

int shojid_run(const struct shoji_config *cfg)
{
	struct shojid d = { .cfg = cfg, .sig_fd = -1, .sessions = { .cfg = cfg } };
	int rc = 1;

	if (setup(&d) == 0) {
		log_info("shojid %s started", PACKAGE_VERSION);
		audit_event(d.audit, "daemon_start", AUDIT_STR, "version", PACKAGE_VERSION,
			    AUDIT_END);
		loop(&d);
		log_info("stopping: ending connections and sessions");
		shutdown_all(&d);
		audit_event(d.audit, "daemon_stop", AUDIT_END);
		rc = 0;
	}
	auth_destroy(d.auth);
	audit_close(d.audit);
	if (d.sig_fd >= 0)
		close(d.sig_fd);
	log_info("shojid stopped");
	return rc;
}
