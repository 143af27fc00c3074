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
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <grp.h>
#include <pwd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin_proto.h"
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
#define MAX_ADMIN 8
#define ADMIN_TIMEOUT_MS 5000
#define ADMIN_MAX_ANSWER (64 * 1024)
#define MAX_CONNS 256
#define REFUSAL_DELAY_MS 1000 /* a wrong password is answered after this */
#define RESPAWN_DELAY_MS 2000
#define SESSION_WAIT_MS 20000 /* a login waits this long for a cold session */

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
	bool nt_asked; /* an NT hash was asked for (RDP NLA): once per connection */
	bool nt_given; /* and handed over */
	bool auth_seen; /* the worker sent credentials (after NLA: it succeeded) */
	bool eof; /* the worker closed its end: wait for its exit */
	uint64_t refuse_at; /* send the deferred refusal then; 0 = none */
	char refusal[CTL_MAX_TEXT + 1];
	uint64_t wait_until; /* logged in, waiting for a session to warm; 0 = not */
	struct session *session;
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
	uint64_t started_ms;
	struct shoji_config *reloaded; /* the config since the last good SIGHUP; ours */
	bool drained;                  /* no new sessions; attached ones go on */
	long min_ready, max_sessions;  /* `shojictl pool set`; -1 = from the config */
	bool reload;                   /* SIGHUP seen */
	int admin_fd;
	struct admin_client admin[MAX_ADMIN];
};

static long pool_min_ready(const struct shojid *d)
{
	return d->drained ? 0 : d->min_ready >= 0 ? d->min_ready : d->cfg->pool_min_ready;
}

/* [pool] max_sessions, never more than [sandbox] uid_range holds. */
static size_t pool_max_sessions(const struct shojid *d)
{
	long max = d->max_sessions >= 0 ? d->max_sessions : d->cfg->pool_max_sessions;
	uint64_t uids = (uint64_t)d->cfg->sandbox_uid_range.hi - d->cfg->sandbox_uid_range.lo + 1;
	return (uint64_t)max < uids ? (size_t)max : (size_t)uids;
}

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

/* Keeps [pool] min_ready sessions warm (or warming), within max_sessions. */
static void keep_warm(struct shojid *d)
{
	if (d->stopping || now_ms() < d->next_spawn)
		return;
	size_t warm = session_count(&d->sessions, SESSION_READY) +
		      session_count(&d->sessions, SESSION_WARMING);
	size_t total = session_total(&d->sessions);
	while (warm < (size_t)pool_min_ready(d) && total < pool_max_sessions(d)) {
		if (!session_spawn(&d->sessions)) {
			log_warn("cannot start a session: %s", strerror(errno));
			d->next_spawn = now_ms() + RESPAWN_DELAY_MS;
			return;
		}
		warm++;
		total++;
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

static void take_over(struct shojid *d, struct session *s, struct conn *c)
{
	struct ctl_msg kick = { .type = CTL_KICK };
	snprintf(kick.u.kick.reason, sizeof(kick.u.kick.reason), "signed in again from %s",
		 c->peer);
	ctl_send(s->conn->ctl, &kick, -1);
	detach(d, s->conn, "taken over by a new login");
}

static size_t count_waiting(struct shojid *d)
{
	size_t n = 0;
	for (struct conn *c = d->conns; c; c = c->next)
		n += c->wait_until != 0;
	return n;
}

/*
 * Which session c's user gets (DESIGN.md §5): their detached one, else,
 * at [pool] max_per_user, their attached one (taken over, or refused by
 * on_second_login = refuse), else a warm one. NULL with *why set refuses
 * the login; NULL with *why NULL means wait: a session is warming for it.
 */
static struct session *pick_session(struct shojid *d, struct conn *c, const char **why,
				    bool *fresh)
{
	struct session *s = session_find_detached(&d->sessions, c->user);

	*why = NULL;
	if (s)
		return s;
	if (session_count_user(&d->sessions, c->user) >= (size_t)d->cfg->pool_max_per_user) {
		s = session_find_attached(&d->sessions, c->user);
		if (s && d->cfg->pool_on_second_login == SHOJI_ON_SECOND_LOGIN_REFUSE)
			*why = "you are already signed in from another terminal; sign out there first";
		else if (s)
			take_over(d, s, c);
		else
			*why = "your previous session is still closing; please try again shortly";
		return s && !*why ? s : NULL;
	}
	if (d->drained) {
		*why = "this server is not starting new sessions (maintenance); please try again later";
		return NULL;
	}
	s = session_find_ready(&d->sessions);
	if (s) {
		*fresh = true;
		return s;
	}
	size_t warming = session_count(&d->sessions, SESSION_WARMING);
	if (warming > count_waiting(d))
		return NULL; /* one is on its way */
	if (session_total(&d->sessions) >= pool_max_sessions(d)) {
		*why = "all browser sessions are in use (server limit reached); please try again later";
		return NULL;
	}
	if (!session_spawn(&d->sessions))
		*why = "no browser session can be started now; please try again shortly";
	return NULL;
}

/* Gives c session s; c's worker gets the pixel link. */
static void attach(struct shojid *d, struct conn *c, struct session *s, bool fresh)
{
	uint64_t now = now_ms();

	if (fresh) {
		snprintf(s->user, sizeof(s->user), "%s", c->user);
		s->started_ms = now;
	}
	s->conn = c;
	s->state = SESSION_ATTACHED;
	s->since_ms = s->activity_ms = now;
	snprintf(s->protocol, sizeof(s->protocol), "%s", proto_name(c->proto));
	snprintf(s->peer, sizeof(s->peer), "%s", c->peer);
	c->session = s;
	c->wait_until = 0;
	audit_event(d->audit, "session_attach", AUDIT_STR, "session", s->id, AUDIT_STR, "user",
		    s->user, AUDIT_STR, "address", c->peer, AUDIT_STR, "protocol",
		    proto_name(c->proto), AUDIT_BOOL, "new", (int)fresh, AUDIT_END);
	audit_login(d, c, true, "password");
	c->authed = true;
	struct ctl_msg m = { .type = CTL_AUTH_RESULT };
	m.u.result.ok = true;
	snprintf(m.u.result.session, sizeof(m.u.result.session), "%s", s->id);
	if (ctl_send(c->ctl, &m, s->link) < 0)
		log_warn("cannot hand session %s to worker %d: %s", s->id, (int)c->pid,
			 strerror(errno));
}

static void refuse_login(struct shojid *d, struct conn *c, const char *why)
{
	c->wait_until = 0;
	audit_login(d, c, false, why);
	log_info("login of %s from %s refused: %s", c->user, c->peer, why);
	send_refusal(c, why);
}

/* A checked login (or one waiting for a session): attach, refuse, or wait. */
static void place_login(struct shojid *d, struct conn *c)
{
	const char *why;
	bool fresh = false;
	struct session *s = pick_session(d, c, &why, &fresh);

	if (s)
		attach(d, c, s, fresh);
	else if (why)
		refuse_login(d, c, why);
	else if (!c->wait_until)
		c->wait_until = now_ms() + SESSION_WAIT_MS;
	keep_warm(d);
}

/*
 * Answers a worker's NT hash request (RDP NLA) with hash, or with a
 * refusal (audited) when NULL: no such user, no NT hash stored, NLA off.
 */
static void send_nt_hash(struct shojid *d, struct conn *c, const uint8_t *hash)
{
	struct ctl_msg m = { .type = CTL_NT_HASH };

	if (hash) {
		c->nt_given = true;
		m.u.nt.ok = true;
		memcpy(m.u.nt.hash, hash, sizeof(m.u.nt.hash));
		log_info("NT hash of %s handed to worker %d for NLA", c->user, (int)c->pid);
	} else {
		audit_login(d, c, false, d->cfg->rdp_nla ? "NLA: no such user, or no NT hash "
							   "stored for it (shojictl user passwd --nt-hash)"
							 : "NLA is off ([rdp] nla)");
	}
	ctl_send(c->ctl, &m, -1);
	ctl_wipe(&m);
}

static void on_auth_result(struct shojid *d, const struct auth_result *r)
{
	struct conn *c = find_conn(d, r->cookie);
	if (!c)
		return; /* the worker went away meanwhile */
	if (r->nt) {
		send_nt_hash(d, c, r->ok ? r->nt_hash : NULL);
		return;
	}
	c->authing = false;
	if (!r->ok) {
		audit_login(d, c, false, "wrong user name or password");
		snprintf(c->refusal, sizeof(c->refusal), "wrong user name or password");
		c->refuse_at = now_ms() + REFUSAL_DELAY_MS;
		return;
	}
	place_login(d, c);
}

/* Logins waiting for a session: placed in arrival order, or refused when late. */
static void serve_waiting(struct shojid *d, int *timeout)
{
	uint64_t now = now_ms();
	struct conn *oldest;

	do {
		oldest = NULL;
		for (struct conn *c = d->conns; c; c = c->next)
			if (c->wait_until && (!oldest || c->wait_until < oldest->wait_until))
				oldest = c;
		if (!oldest)
			return;
		if (oldest->wait_until <= now) {
			refuse_login(d, oldest, "no browser session became available in time; "
						"please try again");
			continue;
		}
		/* Drained: place_login refuses it now rather than at its deadline. */
		if (!d->drained && !session_find_ready(&d->sessions) &&
		    !session_find_detached(&d->sessions, oldest->user))
			break;
		place_login(d, oldest);
	} while (!oldest->wait_until);
	if (oldest && (*timeout < 0 || oldest->wait_until - now < (uint64_t)*timeout))
		*timeout = (int)(oldest->wait_until - now);
}

static void on_note(struct shojid *d, struct conn *c, const struct ctl_msg *m)
{
	static const char *const events[] = {
		[CTL_NOTE_HANDSHAKE_FAILED] = "handshake_failed",
		[CTL_NOTE_MESSAGE_REFUSED] = "message_refused",
		[CTL_NOTE_TLS] = "tls",
		[CTL_NOTE_RESIZE] = "resize",
		[CTL_NOTE_RDP_REQUEST] = "rdp_request",
		[CTL_NOTE_RDP_CHANNELS] = "rdp_channels",
	};
	audit_event(d->audit, events[m->u.note.code], AUDIT_STR, "address", c->peer, AUDIT_STR,
		    "protocol", proto_name(c->proto), AUDIT_STR, "user", c->user, AUDIT_STR,
		    "session", c->session ? c->session->id : "", AUDIT_STR, "detail",
		    m->u.note.text, AUDIT_END);
}

/*
 * Ends session s for why: its viewer (if any) is told and disconnected,
 * its supervisor stops everything in it and wipes its files.
 */
static void end_session(struct shojid *d, struct session *s, const char *why)
{
	if (s->state == SESSION_ENDING)
		return;
	if (s->conn) {
		struct ctl_msg kick = { .type = CTL_KICK };
		snprintf(kick.u.kick.reason, sizeof(kick.u.kick.reason), "%s", why);
		ctl_send(s->conn->ctl, &kick, -1);
		detach(d, s->conn, why);
	}
	audit_event(d->audit, "session_close", AUDIT_STR, "session", s->id, AUDIT_STR, "user",
		    s->user, AUDIT_STR, "reason", why, AUDIT_END);
	log_info("ending session %s (%s): %s", s->id, s->user[0] ? s->user : "no user", why);
	session_end(s);
}

/* The moment s is due to end for one of [pool]'s timeouts, and why; 0 = none. */
static uint64_t session_deadline(const struct shojid *d, const struct session *s,
				 const char **why)
{
	const struct shoji_config *cfg = d->cfg;
	uint64_t due = 0;

	if (s->state == SESSION_ATTACHED && cfg->pool_idle_timeout > 0) {
		due = s->activity_ms + (uint64_t)cfg->pool_idle_timeout * 1000;
		*why = "no input for [pool] idle_timeout";
	}
	if (s->state == SESSION_DETACHED) {
		due = s->since_ms + (uint64_t)cfg->pool_reconnect_grace * 1000;
		*why = "not reattached within [pool] reconnect_grace";
	}
	if (s->started_ms && cfg->pool_max_lifetime > 0 && s->state != SESSION_ENDING) {
		uint64_t end = s->started_ms + (uint64_t)cfg->pool_max_lifetime * 1000;
		if (!due || end < due) {
			due = end;
			*why = "[pool] max_lifetime reached";
		}
	}
	return due;
}

/* Ends the sessions whose time is up; lowers *timeout to the next deadline. */
static void enforce_timeouts(struct shojid *d, int *timeout)
{
	uint64_t now = now_ms();
	const char *why = NULL;

	for (struct session *s = d->sessions.head; s; s = s->next) {
		uint64_t due = session_deadline(d, s, &why);
		if (!due)
			continue;
		if (due <= now)
			end_session(d, s, why);
		else if (*timeout < 0 || due - now < (uint64_t)*timeout)
			*timeout = due - now > INT32_MAX ? INT32_MAX : (int)(due - now);
	}
}

static void on_resize_note(struct conn *c, const struct ctl_msg *m)
{
	if (c->session && m->u.note.code == CTL_NOTE_RESIZE)
		snprintf(c->session->resolution, sizeof(c->session->resolution), "%.15s",
			 m->u.note.text);
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
	if (ok && m.type == CTL_ACTIVITY) {
		if (c->session && c->session->conn == c)
			c->session->activity_ms = now_ms();
		return;
	}
	bool nt_req = ok && m.type == CTL_NT_HASH_REQ;
	if (!ok || (m.type != CTL_AUTH && m.type != CTL_NOTE && !nt_req) ||
	    (m.type == CTL_AUTH && (c->authing || c->authed || m.u.auth.protocol != c->proto)) ||
	    (nt_req && (c->proto != CTL_PROTO_RDP || c->nt_asked || c->authing || c->authed))) {
		log_warn("worker %d (%s) broke the control protocol; killing it", (int)c->pid,
			 c->peer);
		kill(c->pid, SIGKILL);
	} else if (m.type == CTL_NOTE) {
		on_resize_note(c, &m);
		on_note(d, c, &m);
	} else if (nt_req) {
		c->nt_asked = true;
		snprintf(c->user, sizeof(c->user), "%s", m.u.nt_req.user);
		if (d->cfg->rdp_nla)
			auth_submit_nt_hash(d->auth, c->id, m.u.nt_req.user);
		else
			send_nt_hash(d, c, NULL);
	} else {
		c->authing = true;
		c->auth_seen = true;
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
		c->auth_seen |= ok && m.type == CTL_AUTH;
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
		/* NTLM failed in the worker, which never got as far as the password. */
		if (c->nt_given && !c->auth_seen)
			audit_login(d, c, false, "NLA logon failed: wrong password, or the client left");
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
		else if (si.ssi_signo == SIGHUP)
			d->reload = true;
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

/* [pool] max_sessions beyond [sandbox] uid_range: the range is the limit. */
static void warn_pool_bounds(const struct shoji_config *cfg)
{
	uint64_t uids = (uint64_t)cfg->sandbox_uid_range.hi - cfg->sandbox_uid_range.lo + 1;
	if ((uint64_t)cfg->pool_max_sessions > uids)
		log_warn("[pool] max_sessions = %ld but [sandbox] uid_range holds %llu uids: at "
			 "most %llu sessions",
			 cfg->pool_max_sessions, (unsigned long long)uids, (unsigned long long)uids);
}

/* What a reload cannot change without a restart: said in the log, old value kept in effect. */
static void warn_restart_keys(const struct shoji_config *old, const struct shoji_config *cfg)
{
	const struct { const char *key; const char *a, *b; } paths[] = {
		{ "[server] state_dir", old->server_state_dir, cfg->server_state_dir },
		{ "[server] admin_socket", old->server_admin_socket, cfg->server_admin_socket },
		{ "[auth] users_file", old->auth_users_file, cfg->auth_users_file },
		{ "[audit] file", old->audit_file, cfg->audit_file },
	};
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (strcmp(paths[i].a, paths[i].b))
			log_warn("reload: %s changed; it takes effect at the next restart",
				 paths[i].key);
	bool listen_same = old->vnc_listen.n == cfg->vnc_listen.n &&
			   old->rdp_listen.n == cfg->rdp_listen.n;
	for (size_t i = 0; listen_same && i < cfg->vnc_listen.n; i++)
		listen_same = !strcmp(old->vnc_listen.items[i], cfg->vnc_listen.items[i]);
	for (size_t i = 0; listen_same && i < cfg->rdp_listen.n; i++)
		listen_same = !strcmp(old->rdp_listen.items[i], cfg->rdp_listen.items[i]);
	if (!listen_same)
		log_warn("reload: listen addresses changed; they take effect at the next restart");
}

/*
 * SIGHUP: reads the config file again and checks it and its certificate
 * the way start-up does. A good one replaces the old (new workers and
 * sessions are exec'd with the file, so they load it and the certificate
 * themselves); a bad one is refused and the old one stays. Sessions go on.
 */
static void reload(struct shojid *d)
{
	char err[512];

	d->reload = false;
	struct shoji_config *cfg = config_load(d->cfg->source, err, sizeof(err));
	if (cfg && config_validate(cfg, err, sizeof(err)) < 0) {
		config_destroy(cfg);
		cfg = NULL;
	}
	if (cfg && check_tls(cfg) < 0) {
		snprintf(err, sizeof(err), "the [tls] certificate or key does not load");
		config_destroy(cfg);
		cfg = NULL;
	}
	if (!cfg) {
		log_error("reload refused, keeping the running config: %s", err);
		audit_event(d->audit, "config_reload", AUDIT_BOOL, "ok", 0, AUDIT_STR, "reason", err,
			    AUDIT_END);
		return;
	}
	warn_restart_keys(d->cfg, cfg);
	warn_pool_bounds(cfg);
	config_destroy(d->reloaded);
	d->reloaded = cfg;
	d->cfg = d->sessions.cfg = cfg;
	d->min_ready = d->max_sessions = -1;
	log_info("reloaded %s", cfg->source);
	audit_event(d->audit, "config_reload", AUDIT_BOOL, "ok", 1, AUDIT_STR, "reason", "",
		    AUDIT_END);
}

/* Stops (or resumes) new sessions; attached and detached ones go on. */
static void set_drained(struct shojid *d, bool on)
{
	if (d->drained == on)
		return;
	d->drained = on;
	audit_event(d->audit, on ? "drain" : "undrain", AUDIT_END);
	log_info("%s", on ? "drained: no new sessions" : "undrained: new sessions allowed");
	if (!on)
		return;
	for (struct session *s = d->sessions.head; s; s = s->next)
		if (s->state == SESSION_READY || s->state == SESSION_WARMING)
			end_session(d, s, "drained");
}

/* ---- the admin socket (admin_proto.h) ---- */

struct answer {
	char buf[ADMIN_MAX_ANSWER];
	size_t len;
	bool overflow;
};

static void __attribute__((format(printf, 2, 3))) say(struct answer *a, const char *fmt, ...)
{
	va_list ap;

	if (a->overflow)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(a->buf + a->len, sizeof(a->buf) - a->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(a->buf) - a->len)
		a->overflow = true;
	else
		a->len += (size_t)n;
}

/* A field value: tabs and line ends, never expected, become spaces. */
static const char *clean(char *out, size_t cap, const char *in)
{
	snprintf(out, cap, "%s", in);
	for (char *p = out; *p; p++)
		if (*p == '\t' || *p == '\n' || *p == '\r')
			*p = ' ';
	return out;
}

/* A monotonic moment as RFC 3339 UTC wall-clock time; "" for 0. */
static const char *wall_time(char *out, size_t cap, uint64_t mono_ms)
{
	out[0] = '\0';
	if (!mono_ms)
		return out;
	time_t t = time(NULL) - (time_t)((now_ms() - mono_ms) / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

static void answer_status(struct shojid *d, struct answer *a)
{
	const struct shoji_config *cfg = d->cfg;
	static const char *const on_second[] = { "takeover", "refuse" };

	say(a, "ok\nversion=%s\tuptime_s=%llu\tdrained=%s\tconnections=%zu\tsessions=%zu",
	    PACKAGE_VERSION, (unsigned long long)((now_ms() - d->started_ms) / 1000),
	    d->drained ? "true" : "false", d->nconns, session_total(&d->sessions));
	for (int st = 0; st < SESSION_NSTATES; st++)
		say(a, "\t%s=%zu", session_state_name((enum session_state)st),
		    session_count(&d->sessions, (enum session_state)st));
	say(a, "\tmin_ready=%ld\tmax_sessions=%zu\tmax_per_user=%ld\tidle_timeout_s=%ld"
	       "\treconnect_grace_s=%ld\tmax_lifetime_s=%ld\ton_second_login=%s\n",
	    pool_min_ready(d), pool_max_sessions(d), cfg->pool_max_per_user,
	    cfg->pool_idle_timeout, cfg->pool_reconnect_grace, cfg->pool_max_lifetime,
	    on_second[cfg->pool_on_second_login ? 1 : 0]);
}

static void answer_session(struct answer *a, const struct session *s)
{
	char user[80], peer[80], res[20], started[32];
	uint64_t now = now_ms();
	bool in_use = s->state == SESSION_ATTACHED || s->state == SESSION_DETACHED;

	say(a, "id=%s\tuser=%s\tprotocol=%s\taddress=%s\tstate=%s\tstarted=%s\tage_s=%llu"
	       "\tidle_s=%llu\tresolution=%s\tuid=%u\tpid=%d\n",
	    s->id, clean(user, sizeof(user), s->user), s->protocol, clean(peer, sizeof(peer), s->peer),
	    session_state_name(s->state), wall_time(started, sizeof(started), s->started_ms),
	    (unsigned long long)((now - s->created_ms) / 1000),
	    (unsigned long long)(in_use && s->activity_ms ? (now - s->activity_ms) / 1000 : 0),
	    clean(res, sizeof(res), s->resolution), s->uid, (int)s->pid);
}

static void admin_kill(struct shojid *d, struct admin_client *ac, const struct admin_request *r,
		       struct answer *a)
{
	char why[ADMIN_MAX_REASON + 40];
	size_t n = 0;

	snprintf(why, sizeof(why), "ended by an administrator: %s", r->reason);
	for (struct session *s = d->sessions.head; s; s = s->next) {
		bool match = r->command == ADMIN_KILL ? !strcmp(s->id, r->args[0])
						      : !strcmp(s->user, r->args[0]);
		if (!match || s->state == SESSION_ENDING)
			continue;
		audit_event(d->audit, "admin_kill", AUDIT_STR, "session", s->id, AUDIT_STR, "user",
			    s->user, AUDIT_INT, "by_uid", (long long)ac->uid, AUDIT_STR, "reason",
			    r->reason, AUDIT_END);
		end_session(d, s, why);
		n++;
	}
	if (n == 0)
		say(a, "error no such %s: %s\n", r->command == ADMIN_KILL ? "session" : "user",
		    r->args[0]);
	else
		say(a, "ok\nended=%zu\n", n);
}

static void admin_pool(struct shojid *d, struct admin_client *ac, const struct admin_request *r,
		       struct answer *a)
{
	for (size_t i = 0; i < r->nargs; i++) {
		long v;
		int k = admin_parse_pool_arg(r->args[i], &v);
		if (k == 0)
			d->min_ready = v;
		else if (k == 1 && v >= 1)
			d->max_sessions = v;
		else {
			say(a, "error bad value: %s\n", r->args[i]);
			return;
		}
		audit_event(d->audit, "admin_pool", AUDIT_STR, "set", r->args[i], AUDIT_INT, "by_uid",
			    (long long)ac->uid, AUDIT_END);
	}
	answer_status(d, a);
}

static void admin_answer(struct shojid *d, struct admin_client *ac, const struct admin_request *r,
			 struct answer *a)
{
	struct session *s;

	switch (r->command) {
	case ADMIN_STATUS: answer_status(d, a); break;
	case ADMIN_SESSIONS:
		say(a, "ok\n");
		for (s = d->sessions.head; s; s = s->next)
			answer_session(a, s);
		break;
	case ADMIN_SHOW:
		s = session_find_id(&d->sessions, r->args[0]);
		if (s) {
			say(a, "ok\n");
			answer_session(a, s);
		} else {
			say(a, "error no such session: %s\n", r->args[0]);
		}
		break;
	case ADMIN_KILL:
	case ADMIN_KILL_USER: admin_kill(d, ac, r, a); break;
	case ADMIN_DRAIN:
	case ADMIN_UNDRAIN:
		set_drained(d, r->command == ADMIN_DRAIN);
		answer_status(d, a);
		break;
	case ADMIN_POOL: admin_pool(d, ac, r, a); break;
	}
}

static void admin_close(struct admin_client *ac)
{
	close(ac->fd);
	ac->fd = -1;
}

/* Sends what fits at once (answers are small; a client that does not read loses it). */
static void admin_send(struct admin_client *ac, const char *buf, size_t len)
{
	send(ac->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	admin_close(ac);
}

static void on_admin_read(struct shojid *d, struct admin_client *ac)
{
	static struct answer a;
	struct admin_request r;

	ssize_t n = recv(ac->fd, ac->buf + ac->len, sizeof(ac->buf) - ac->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		admin_close(ac);
		return;
	}
	ac->len += (size_t)n;
	ssize_t used = admin_parse_request(ac->buf, ac->len, &r);
	if (used == 0)
		return;
	if (used < 0) {
		static const char bad[] = "error malformed request\n";
		admin_send(ac, bad, sizeof(bad) - 1);
		return;
	}
	a.len = 0;
	a.overflow = false;
	admin_answer(d, ac, &r, &a);
	if (a.overflow)
		log_warn("admin answer to %s truncated", admin_command_name(r.command));
	admin_send(ac, a.buf, a.len);
}

/*
 * Root, the socket's group as primary group, or a member of it. The group
 * is looked up per connection so that a change to /etc/group counts at once.
 */
static bool admin_allowed(const struct shojid *d, const struct ucred *cr)
{
	if (cr->uid == 0)
		return true;
	struct group *gr = getgrnam(d->cfg->server_admin_group);
	if (!gr)
		return false;
	if (cr->gid == gr->gr_gid)
		return true;
	struct passwd *pw = getpwuid(cr->uid);
	for (char **m = gr->gr_mem; pw && *m; m++)
		if (!strcmp(*m, pw->pw_name))
			return true;
	return false;
}

static void on_admin_accept(struct shojid *d)
{
	struct ucred cr = { .uid = (uid_t)-1, .gid = (gid_t)-1 };
	socklen_t crlen = sizeof(cr);
	int fd = accept4(d->admin_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 || !admin_allowed(d, &cr)) {
		static const char no[] = "error permission denied: root or [server] admin_group only\n";
		send(fd, no, sizeof(no) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		audit_event(d->audit, "admin_refused", AUDIT_INT, "uid", (long long)cr.uid,
			    AUDIT_END);
		close(fd);
		return;
	}
	for (size_t i = 0; i < MAX_ADMIN; i++) {
		if (d->admin[i].fd >= 0)
			continue;
		d->admin[i] = (struct admin_client){ .fd = fd, .uid = cr.uid,
						     .deadline = now_ms() + ADMIN_TIMEOUT_MS };
		return;
	}
	close(fd); /* busy: shojictl says it could not get an answer */
}

static void admin_timeouts(struct shojid *d, int *timeout)
{
	uint64_t now = now_ms();
	for (size_t i = 0; i < MAX_ADMIN; i++) {
		struct admin_client *ac = &d->admin[i];
		if (ac->fd < 0)
			continue;
		if (ac->deadline <= now)
			admin_close(ac);
		else if (*timeout < 0 || ac->deadline - now < (uint64_t)*timeout)
			*timeout = (int)(ac->deadline - now);
	}
}

/* [server] admin_socket: 0660 root:admin_group, or 0600 if that group does not exist. */
static int open_admin(struct shojid *d)
{
	const struct shoji_config *cfg = d->cfg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(sa.sun_path)];

	for (size_t i = 0; i < MAX_ADMIN; i++)
		d->admin[i].fd = -1;
	if (strlen(cfg->server_admin_socket) >= sizeof(sa.sun_path)) {
		log_error("[server] admin_socket %s: path too long", cfg->server_admin_socket);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg->server_admin_socket);
	snprintf(dir, sizeof(dir), "%s", cfg->server_admin_socket);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir_p(dir, 0755);
	}
	unlink(sa.sun_path);
	d->admin_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->admin_fd < 0 || bind(d->admin_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(d->admin_fd, 16) < 0) {
		log_error("cannot open [server] admin_socket %s: %s", sa.sun_path, strerror(errno));
		return -1;
	}
	struct group *gr = getgrnam(cfg->server_admin_group);
	if (!gr)
		log_warn("[server] admin_group %s does not exist: the admin socket is for root only",
			 cfg->server_admin_group);
	if (chown(sa.sun_path, 0, gr ? gr->gr_gid : 0) < 0 ||
	    chmod(sa.sun_path, gr ? 0660 : 0600) < 0) {
		log_error("cannot set the owner of %s: %s", sa.sun_path, strerror(errno));
		return -1;
	}
	log_info("admin socket %s", sa.sun_path);
	return 0;
}

/* What each poll slot is for. */
struct slot {
	enum {
		SLOT_SIGNAL,
		SLOT_AUTH,
		SLOT_LISTENER,
		SLOT_CONN,
		SLOT_SESSION,
		SLOT_ADMIN,
		SLOT_ADMIN_CLIENT
	} kind;
	void *ptr;
};

#define MAX_SLOTS (3 + MAX_ADMIN + MAX_LISTENERS + MAX_CONNS + 1024)

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
	p[n] = (struct pollfd){ .fd = d->admin_fd, .events = POLLIN };
	sl[n++] = (struct slot){ SLOT_ADMIN, NULL };
	for (size_t i = 0; i < MAX_ADMIN; i++) {
		if (d->admin[i].fd < 0)
			continue;
		p[n] = (struct pollfd){ .fd = d->admin[i].fd, .events = POLLIN };
		sl[n++] = (struct slot){ SLOT_ADMIN_CLIENT, &d->admin[i] };
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
			while (auth_take(d->auth, &r)) {
				on_auth_result(d, &r);
				OPENSSL_cleanse(&r, sizeof(r));
			}
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
		case SLOT_ADMIN:
			on_admin_accept(d);
			break;
		case SLOT_ADMIN_CLIENT:
			on_admin_read(d, sl[i].ptr);
			break;
		}
	}
}

static void loop(struct shojid *d)
{
	static struct pollfd p[MAX_SLOTS];
	static struct slot sl[MAX_SLOTS];

	while (!d->stopping) {
		if (d->reload)
			reload(d);
		keep_warm(d);
		int timeout = -1;
		send_due_refusals(d, &timeout);
		enforce_timeouts(d, &timeout);
		admin_timeouts(d, &timeout);
		serve_waiting(d, &timeout);
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
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
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
	if (check_tls(cfg) < 0 || open_listeners(d) < 0 || open_admin(d) < 0)
		return -1;
	warn_pool_bounds(cfg);
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
	struct shojid d = { .cfg = cfg, .sig_fd = -1, .admin_fd = -1, .sessions = { .cfg = cfg },
			    .min_ready = -1, .max_sessions = -1, .started_ms = now_ms() };
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
	for (size_t i = 0; i < MAX_ADMIN; i++)
		if (d.admin[i].fd >= 0)
			close(d.admin[i].fd);
	if (d.admin_fd >= 0) {
		close(d.admin_fd);
		unlink(cfg->server_admin_socket);
	}
	auth_destroy(d.auth);
	audit_close(d.audit);
	config_destroy(d.reloaded);
	if (d.sig_fd >= 0)
		close(d.sig_fd);
	log_info("shojid stopped");
	return rc;
}
