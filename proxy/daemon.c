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

#include "audit.h"
#include "auth.h"
#include "cgroup_limits.h"
#include "ctl.h"
#include "daemon.h"
#include "daemon_int.h"
#include "listen.h"
#include "log.h"
#include "login_limit.h"
#include "metrics.h"
#include "pixlink.h"
#include "pixlink_client.h"
#include "sessions.h"
#include "tls.h"
#include "util.h"

#define MAX_CONNS 256
#define USAGE_INTERVAL_MS 5000 /* sessions' CPU and memory are sampled this often */
#define REFUSAL_DELAY_MS 1000  /* a wrong password is answered after this */
#define RESPAWN_DELAY_MS 2000
#define SESSION_WAIT_MS 20000 /* a login waits this long for a cold session */

long pool_min_ready(const struct shojid *d)
{
	return d->drained ? 0 : d->min_ready >= 0 ? d->min_ready : d->cfg->pool_min_ready;
}

size_t pool_max_sessions(const struct shojid *d)
{
	long max = d->max_sessions >= 0 ? d->max_sessions : d->cfg->pool_max_sessions;
	uint64_t uids = (uint64_t)d->cfg->sandbox_uid_range.hi - d->cfg->sandbox_uid_range.lo + 1;
	return (uint64_t)max < uids ? (size_t)max : (size_t)uids;
}

const char *proto_name(enum ctl_protocol p)
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
	execl(d->self, "shojid", "--worker", proto_name(c->proto), "-c", d->cfg->source, "--peer",
	      c->peer, (char *)NULL);
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
	audit_limit_init(&c->repeats, (unsigned)d->cfg->audit_max_repeats);
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

static void drop_held_password(struct conn *c)
{
	if (!c->held_password)
		return;
	OPENSSL_cleanse(c->held_password, strlen(c->held_password));
	free(c->held_password);
	c->held_password = NULL;
	c->check_at = 0;
}

static void remove_conn(struct shojid *d, struct conn *c)
{
	for (struct conn **p = &d->conns; *p; p = &(*p)->next) {
		if (*p != c)
			continue;
		*p = c->next;
		close(c->ctl);
		drop_held_password(c);
		free(c->bytes);
		free(c);
		d->nconns--;
		return;
	}
}

static void send_refusal(struct conn *c, const char *reason, bool notice)
{
	struct ctl_msg m = {.type = CTL_AUTH_RESULT};
	m.u.result.notice = notice;
	snprintf(m.u.result.reason, sizeof(m.u.result.reason), "%s", reason);
	ctl_send(c->ctl, &m, -1);
}

static void audit_login(struct shojid *d, struct conn *c, bool ok, const char *reason)
{
	if (ok)
		d->counters.logins_accepted++;
	else
		d->counters.logins_refused++;
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
	struct ctl_msg kick = {.type = CTL_KICK};
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
static struct session *pick_session(struct shojid *d, struct conn *c, const char **why, bool *fresh)
{
	struct session *s = session_find_detached(&d->sessions, c->user);

	*why = NULL;
	if (s)
		return s;
	if (session_count_user(&d->sessions, c->user) >= (size_t)d->cfg->pool_max_per_user) {
		s = session_find_attached(&d->sessions, c->user);
		if (s && d->cfg->pool_on_second_login == SHOJI_ON_SECOND_LOGIN_REFUSE)
			*why =
			    "you are already signed in from another terminal; sign out there first";
		else if (s)
			take_over(d, s, c);
		else
			*why = "your previous session is still closing; please try again shortly";
		return s && !*why ? s : NULL;
	}
	if (d->drained) {
		*why = "this server is not starting new sessions (maintenance); please try again "
		       "later";
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
		*why = "all browser sessions are in use (server limit reached); please try again "
		       "later";
		return NULL;
	}
	if (!session_spawn(&d->sessions))
		*why = "no browser session can be started now; please try again shortly";
	return NULL;
}

static void refuse_login_as(struct shojid *d, struct conn *c, const char *why, bool notice);

/*
 * Audits that c gets session s. When the audit log cannot be written (its
 * disk full), no session is handed out: shojid does not run unaudited.
 */
static bool audit_attach(struct shojid *d, struct conn *c, struct session *s, bool fresh)
{
	const char *user = fresh ? c->user : s->user;

	if (audit_event(d->audit, "session_attach", AUDIT_STR, "session", s->id, AUDIT_STR, "user",
			user, AUDIT_STR, "address", c->peer, AUDIT_STR, "protocol",
			proto_name(c->proto), AUDIT_BOOL, "new", (int)fresh, AUDIT_END) < 0) {
		if (!d->audit_failed)
			log_error("cannot write the audit log %s (%s): refusing new sessions "
				  "until it can be written",
				  d->cfg->audit_file, strerror(errno));
		d->audit_failed = true;
		return false;
	}
	if (d->audit_failed)
		log_info("the audit log %s can be written again: sessions are handed out",
			 d->cfg->audit_file);
	d->audit_failed = false;
	return true;
}

/* Gives c session s; c's worker gets the pixel link. */
static void attach(struct shojid *d, struct conn *c, struct session *s, bool fresh)
{
	uint64_t now = now_ms();

	if (!audit_attach(d, c, s, fresh)) {
		/* In the login's failure message: a notice on screen would need no audit. */
		refuse_login_as(d, c,
				"the server cannot write its audit log, so it starts no "
				"session now; please try again later",
				false);
		return;
	}
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
	snprintf(c->session_id, sizeof(c->session_id), "%s", s->id);
	c->wait_until = 0;
	audit_login(d, c, true, "password");
	c->authed = true;
	struct ctl_msg m = {.type = CTL_AUTH_RESULT};
	m.u.result.ok = true;
	snprintf(m.u.result.session, sizeof(m.u.result.session), "%s", s->id);
	if (ctl_send(c->ctl, &m, s->link) < 0)
		log_warn("cannot hand session %s to worker %d: %s", s->id, (int)c->pid,
		         strerror(errno));
}

/*
 * A login with the right password that the pool cannot take (a limit, drain,
 * no session in time): the viewer draws the reason on screen (refusal_notice.h).
 */
/* notice: the viewer is shown why on screen; else in the protocol's failure message. */
static void refuse_login_as(struct shojid *d, struct conn *c, const char *why, bool notice)
{
	c->wait_until = 0;
	audit_login(d, c, false, why);
	log_info("login of %s from %s refused: %s", c->user, c->peer, why);
	send_refusal(c, why, notice);
}

static void refuse_login(struct shojid *d, struct conn *c, const char *why)
{
	refuse_login_as(d, c, why, true);
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

/* The address part of c's peer ("ip:port"), the key of the lockout. */
static const char *peer_address(const struct conn *c, char *out, size_t cap)
{
	const char *colon = strrchr(c->peer, ':');
	size_t n = colon ? (size_t)(colon - c->peer) : strlen(c->peer);
	snprintf(out, cap, "%.*s", (int)n, c->peer);
	return out;
}

static void record_result(struct shojid *d, struct conn *c, bool ok)
{
	char addr[CTL_MAX_ADDR + 1];

	if (!login_limit_record(d->limit, peer_address(c, addr, sizeof(addr)), c->user, ok,
				now_ms()))
		return;
	log_warn("address %s locked out for %ld s after %ld failed logins", addr,
		 d->cfg->auth_lockout_seconds, d->cfg->auth_lockout_failures);
	audit_event(d->audit, "address_lockout", AUDIT_STR, "address", addr, AUDIT_INT, "failures",
		    (long long)d->cfg->auth_lockout_failures, AUDIT_INT, "seconds",
		    (long long)d->cfg->auth_lockout_seconds, AUDIT_END);
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
	record_result(d, c, r->ok);
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
			refuse_login(d, oldest,
			             "no browser session became available in time; "
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

/*
 * Events a viewer can repeat at will, each limited per connection to
 * [audit] max_repeats lines a minute (audit_limit.h); what is left out is
 * summed up in audit_suppressed lines. Logins, refusals of a login, TLS,
 * handshakes, refused messages, channels and the connection's bytes are
 * never limited: each comes once or ends the connection.
 */
enum repeat_kind {
	REPEAT_RESIZE,
	REPEAT_CLIP_TO_BROWSER,
	REPEAT_CLIP_TO_BROWSER_REFUSED,
	REPEAT_CLIP_TO_TERMINAL,
	REPEAT_CLIP_TO_TERMINAL_REFUSED,
};

static const struct {
	const char *event, *detail;
} repeat_names[] = {
	[REPEAT_RESIZE] = {"resize", ""},
	[REPEAT_CLIP_TO_BROWSER] = {"clipboard", "to_browser allowed"},
	[REPEAT_CLIP_TO_BROWSER_REFUSED] = {"clipboard", "to_browser refused"},
	[REPEAT_CLIP_TO_TERMINAL] = {"clipboard", "to_terminal allowed"},
	[REPEAT_CLIP_TO_TERMINAL_REFUSED] = {"clipboard", "to_terminal refused"},
};

/* Writes the summaries due (all of them when the connection ends); lowers *timeout. */
static void audit_repeats(struct shojid *d, struct conn *c, bool all, int *timeout)
{
	struct audit_limit_summary sum;
	uint64_t now = now_ms();

	while (audit_limit_take(&c->repeats, now, all, &sum)) {
		audit_event(d->audit, "audit_suppressed", AUDIT_STR, "address", c->peer, AUDIT_STR,
		            "protocol", proto_name(c->proto), AUDIT_STR, "user", c->user, AUDIT_STR,
		            "session", c->session_id, AUDIT_STR, "kind",
		            repeat_names[sum.kind].event, AUDIT_STR, "detail",
		            repeat_names[sum.kind].detail, AUDIT_INT, "suppressed",
		            (long long)sum.suppressed, AUDIT_INT, "bytes", (long long)sum.bytes,
		            AUDIT_INT, "seconds", (long long)((sum.last_ms - sum.first_ms) / 1000),
		            AUDIT_END);
		log_info("%s: %llu %s audit events left out ([audit] max_repeats)", c->peer,
		         (unsigned long long)sum.suppressed, repeat_names[sum.kind].event);
	}
	uint64_t due = audit_limit_next_due(&c->repeats);
	if (timeout && due) {
		uint64_t wait = due > now ? due - now : 0;
		if (*timeout < 0 || wait < (uint64_t)*timeout)
			*timeout = (int)MIN(wait, (uint64_t)INT32_MAX);
	}
}

static void audit_repeats_due(struct shojid *d, int *timeout)
{
	for (struct conn *c = d->conns; c; c = c->next)
		audit_repeats(d, c, false, timeout);
}

/* Whether an event of kind may be written; summaries that fell due go first. */
static bool admit_repeat(struct shojid *d, struct conn *c, enum repeat_kind kind, uint64_t bytes)
{
	audit_repeats(d, c, false, NULL);
	return audit_limit_admit(&c->repeats, kind, bytes, now_ms());
}

/*
 * A clipboard transfer the worker saw: direction and sizes, never the
 * text (the worker never sends it here). An unreadable note is audited as
 * it came, so nothing is lost.
 */
static bool audit_clipboard(struct shojid *d, struct conn *c, const char *text)
{
	char dir[16], verdict[16];
	unsigned offered, bytes;
	int end = 0;

	if (sscanf(text, "%15s %u %u %15s%n", dir, &offered, &bytes, verdict, &end) != 4 ||
	    text[end] != '\0' || (strcmp(dir, "to_browser") != 0 && strcmp(dir, "to_terminal") != 0) ||
	    (strcmp(verdict, "allowed") != 0 && strcmp(verdict, "refused") != 0))
		return false;
	bool allowed = strcmp(verdict, "allowed") == 0;
	enum repeat_kind kind = strcmp(dir, "to_browser") == 0
	                            ? (allowed ? REPEAT_CLIP_TO_BROWSER : REPEAT_CLIP_TO_BROWSER_REFUSED)
	                            : (allowed ? REPEAT_CLIP_TO_TERMINAL : REPEAT_CLIP_TO_TERMINAL_REFUSED);
	if (!admit_repeat(d, c, kind, offered))
		return true;
	audit_event(d->audit, "clipboard", AUDIT_STR, "session", c->session ? c->session->id : "",
	            AUDIT_STR, "user", c->user, AUDIT_STR, "protocol", proto_name(c->proto),
	            AUDIT_STR, "direction", dir, AUDIT_INT, "offered", (long long)offered, AUDIT_INT,
	            "bytes", (long long)bytes, AUDIT_BOOL, "allowed", allowed, AUDIT_END);
	return true;
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
		[CTL_NOTE_CLIPBOARD] = "clipboard",
	};
	if (m->u.note.code == CTL_NOTE_CLIPBOARD && audit_clipboard(d, c, m->u.note.text))
		return;
	if (m->u.note.code == CTL_NOTE_RESIZE && !admit_repeat(d, c, REPEAT_RESIZE, 0))
		return;
	audit_event(d->audit, events[m->u.note.code], AUDIT_STR, "address", c->peer, AUDIT_STR,
	            "protocol", proto_name(c->proto), AUDIT_STR, "user", c->user, AUDIT_STR,
	            "session", c->session ? c->session->id : "", AUDIT_STR, "detail",
	            m->u.note.text, AUDIT_END);
}

/* The worker's byte counters so far: kept for the connection's last audit line. */
static void on_bytes(struct conn *c, const struct ctl_msg *m)
{
	if (!c->bytes)
		c->bytes = xcalloc(1, sizeof(*c->bytes));
	*c->bytes = *m;
}

/*
 * The connection's end: its application bytes per channel (before TLS)
 * as the worker last counted them, and the TCP payload of its socket.
 */
static void audit_bytes(struct shojid *d, struct conn *c)
{
	struct audit_counter ch[CTL_MAX_CHANNELS];
	uint64_t in = 0, out = 0;

	if (!c->bytes)
		return;
	const struct ctl_msg *m = c->bytes;
	for (size_t i = 0; i < m->u.bytes.count; i++) {
		ch[i] = (struct audit_counter){m->u.bytes.ch[i].name, m->u.bytes.ch[i].in,
		                               m->u.bytes.ch[i].out};
		in += ch[i].in, out += ch[i].out;
	}
	audit_event(d->audit, "connection_bytes", AUDIT_STR, "address", c->peer, AUDIT_STR,
	            "protocol", proto_name(c->proto), AUDIT_STR, "user", c->user, AUDIT_STR,
	            "session", c->session_id, AUDIT_INT, "in", (long long)in, AUDIT_INT, "out",
	            (long long)out, AUDIT_INT, "tcp_in", (long long)m->u.bytes.tcp_in, AUDIT_INT,
	            "tcp_out", (long long)m->u.bytes.tcp_out, AUDIT_COUNTERS, "channels",
	            (const struct audit_counter *)ch, (size_t)m->u.bytes.count, AUDIT_END);
}

/*
 * Ends session s for why: its viewer (if any) is told and disconnected,
 * its supervisor stops everything in it and wipes its files.
 */
void end_session(struct shojid *d, struct session *s, const char *why)
{
	if (s->state == SESSION_ENDING)
		return;
	if (s->conn) {
		struct ctl_msg kick = {.type = CTL_KICK};
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
static uint64_t session_deadline(const struct shojid *d, const struct session *s, const char **why)
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

/* Output a worker reports: the metrics' counters and its session's rates. */
static void on_stats(struct shojid *d, struct conn *c, const struct ctl_msg *m)
{
	struct shojid_counters *k = &d->counters;

	k->bytes_out[c->proto] += m->u.stats.bytes;
	k->frames[c->proto] += m->u.stats.frames;
	k->encode_us += m->u.stats.encode_us;
	for (size_t i = 0; i < CTL_ENCODE_BUCKETS; i++)
		k->encode[i] += m->u.stats.encode[i];
	if (c->session && c->session->conn == c)
		session_add_output(c->session, m->u.stats.bytes, m->u.stats.frames);
}

/*
 * A worker asks for a password check: refused unchecked when the address
 * is locked out, held while the user backs off, else checked now.
 */
static void begin_auth(struct shojid *d, struct conn *c, const struct ctl_msg *m)
{
	char addr[CTL_MAX_ADDR + 1];
	uint64_t until, now = now_ms();

	c->authing = true;
	snprintf(c->user, sizeof(c->user), "%s", m->u.auth.user);
	switch (login_limit_verdict(d->limit, peer_address(c, addr, sizeof(addr)), c->user, now,
				    &until)) {
	case LOGIN_LOCKED:
		c->authing = false;
		audit_login(d, c, false, "address locked out");
		snprintf(c->refusal, sizeof(c->refusal),
			 "too many failed logins from this address; try again in %llu minutes",
			 (unsigned long long)((until - now) / 60000 + 1));
		c->refuse_at = now + REFUSAL_DELAY_MS;
		break;
	case LOGIN_WAIT:
		c->held_password = xstrdup(m->u.auth.password);
		c->check_at = until;
		audit_event(d->audit, "login_backoff", AUDIT_STR, "user", c->user, AUDIT_STR,
			    "address", c->peer, AUDIT_INT, "wait_ms", (long long)(until - now),
			    AUDIT_END);
		break;
	case LOGIN_CHECK:
		auth_submit(d->auth, c->id, m->u.auth.user, m->u.auth.password);
		break;
	}
}

/* Held checks whose backoff is over go to the checker. */
static void check_held(struct shojid *d, int *timeout)
{
	uint64_t now = now_ms();

	for (struct conn *c = d->conns; c; c = c->next) {
		if (!c->check_at)
			continue;
		if (c->check_at <= now) {
			auth_submit(d->auth, c->id, c->user, c->held_password);
			drop_held_password(c);
		} else if (*timeout < 0 || c->check_at - now < (uint64_t)*timeout) {
			*timeout = (int)(c->check_at - now);
		}
	}
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
	if (ok && m.type == CTL_STATS) {
		on_stats(d, c, &m);
		return;
	}
	if (ok && m.type == CTL_BYTES) {
		on_bytes(c, &m);
		return;
	}
	bool nt_req = ok && m.type == CTL_NT_HASH_REQ;
	if (!ok || (m.type != CTL_AUTH && m.type != CTL_NOTE && !nt_req) ||
	    (m.type == CTL_AUTH && (c->authing || c->authed || m.u.auth.protocol != c->proto)) ||
	    (nt_req && (c->proto != CTL_PROTO_RDP || c->nt_asked || c->authing || c->authed))) {
		log_warn("worker %d (%s) broke the control protocol; killing it", (int)c->pid,
		         c->peer);
		c->killed = "worker killed: it broke the control protocol";
		kill(c->pid, SIGKILL);
	} else if (m.type == CTL_NOTE) {
		on_resize_note(c, &m);
		on_note(d, c, &m);
	} else if (nt_req) {
		c->nt_asked = true;
		snprintf(c->user, sizeof(c->user), "%s", m.u.nt_req.user);
		char addr[CTL_MAX_ADDR + 1];
		uint64_t until;
		if (login_limit_verdict(d->limit, peer_address(c, addr, sizeof(addr)), c->user,
					now_ms(), &until) == LOGIN_LOCKED) {
			audit_login(d, c, false, "address locked out");
			ctl_send(c->ctl, &(struct ctl_msg){ .type = CTL_NT_HASH }, -1);
		} else if (d->cfg->rdp_nla) {
			auth_submit_nt_hash(d->auth, c->id, m.u.nt_req.user);
		} else {
			send_nt_hash(d, c, NULL);
		}
	} else {
		c->auth_seen = true;
		begin_auth(d, c, &m);
	}
	if (ok)
		ctl_wipe(&m);
}

/*
 * A worker's last notes (a refused message, a failed handshake) and byte
 * counts may still be queued when its exit is seen: audit them before it
 * is forgotten. Only those; the worker is gone, so nothing else it sent
 * matters.
 */
static void drain_notes(struct shojid *d, struct conn *c)
{
	uint8_t buf[CTL_MAX_MSG];
	struct ctl_msg m;

	/* Up to a full socket buffer: its last byte counts come after any flood of notes. */
	for (int i = 0; i < 1024; i++) {
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
		if (ok && m.type == CTL_STATS)
			on_stats(d, c, &m);
		if (ok && m.type == CTL_BYTES)
			on_bytes(c, &m);
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
		/*
		 * NLA checks the password inside the worker (NTLM): a connection
		 * that got an NT hash and never came to a login failed it, and
		 * counts towards the address's lockout like a wrong password.
		 */
		if (c->nt_given && !c->auth_seen) {
			record_result(d, c, false);
			audit_login(d, c, false, "NLA logon failed: wrong password, or the client left");
		}
		audit_repeats(d, c, true, NULL);
		audit_bytes(d, c);
		/* A worker shojid signalled did not crash; its status says nothing. */
		detach(d, c,
		       c->killed            ? c->killed
		       : WIFSIGNALED(status) ? "worker crashed"
		                             : "viewer disconnected");
		log_info("worker %d (%s) ended", (int)pid, c->peer);
		remove_conn(d, c);
		return;
	}
	struct session *s = session_find_pid(&d->sessions, pid);
	if (!s)
		return;
	log_info("session %s (%s) ended with status 0x%x", s->id, session_state_name(s->state),
	         status);
	if (s->state != SESSION_ENDING || status != 0)
		d->counters.render_crashes++;
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
			d->reload = d->reopen_audit = true;
		else if (si.ssi_signo == SIGUSR1)
			d->reopen_audit = true;
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
			send_refusal(c, c->refusal, false);
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
		         cfg->pool_max_sessions, (unsigned long long)uids,
		         (unsigned long long)uids);
}

/* What a reload cannot change without a restart: said in the log, old value kept in effect. */
static void warn_restart_keys(const struct shoji_config *old, const struct shoji_config *cfg)
{
	const struct {
		const char *key;
		const char *a, *b;
	} paths[] = {
	    {"[server] state_dir", old->server_state_dir, cfg->server_state_dir},
	    {"[server] admin_socket", old->server_admin_socket, cfg->server_admin_socket},
	    {"[auth] users_file", old->auth_users_file, cfg->auth_users_file},
	    {"[audit] file", old->audit_file, cfg->audit_file},
	};
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (strcmp(paths[i].a, paths[i].b))
			log_warn("reload: %s changed; it takes effect at the next restart",
			         paths[i].key);
	bool listen_same =
	    old->vnc_listen.n == cfg->vnc_listen.n && old->rdp_listen.n == cfg->rdp_listen.n;
	for (size_t i = 0; listen_same && i < cfg->vnc_listen.n; i++)
		listen_same = !strcmp(old->vnc_listen.items[i], cfg->vnc_listen.items[i]);
	for (size_t i = 0; listen_same && i < cfg->rdp_listen.n; i++)
		listen_same = !strcmp(old->rdp_listen.items[i], cfg->rdp_listen.items[i]);
	listen_same = listen_same && old->metrics_listen.n == cfg->metrics_listen.n;
	for (size_t i = 0; listen_same && i < cfg->metrics_listen.n; i++)
		listen_same = !strcmp(old->metrics_listen.items[i], cfg->metrics_listen.items[i]);
	if (!listen_same)
		log_warn("reload: listen addresses changed; they take effect at the next restart");
}

static const struct login_limit_params *limit_params(const struct shoji_config *cfg,
						     struct login_limit_params *p)
{
	*p = (struct login_limit_params){ .lockout_failures = cfg->auth_lockout_failures,
					  .lockout_window = cfg->auth_lockout_window,
					  .lockout_seconds = cfg->auth_lockout_seconds,
					  .backoff_max_seconds = cfg->auth_backoff_max_seconds };
	return p;
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
		audit_event(d->audit, "config_reload", AUDIT_BOOL, "ok", 0, AUDIT_STR, "reason",
		            err, AUDIT_END);
		return;
	}
	warn_restart_keys(d->cfg, cfg);
	warn_pool_bounds(cfg);
	config_destroy(d->reloaded);
	d->reloaded = cfg;
	d->cfg = d->sessions.cfg = cfg;
	d->min_ready = d->max_sessions = -1;
	struct login_limit_params lp;
	login_limit_set_params(d->limit, limit_params(cfg, &lp));
	log_info("reloaded %s", cfg->source);
	audit_event(d->audit, "config_reload", AUDIT_BOOL, "ok", 1, AUDIT_STR, "reason", "",
	            AUDIT_END);
}

void set_drained(struct shojid *d, bool on)
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

/* What each poll slot is for. */
struct slot {
	enum {
		SLOT_SIGNAL,
		SLOT_AUTH,
		SLOT_LISTENER,
		SLOT_CONN,
		SLOT_SESSION,
		SLOT_ADMIN,
		SLOT_ADMIN_CLIENT,
		SLOT_METRICS
	} kind;
	void *ptr;
};

#define MAX_SLOTS (3 + MAX_ADMIN + MAX_LISTENERS + MAX_CONNS + 8 + MAX_METRICS_CLIENTS + 1024)

static size_t build_poll(struct shojid *d, struct pollfd *p, struct slot *sl)
{
	size_t n = 0;

	p[n] = (struct pollfd){.fd = d->sig_fd, .events = POLLIN};
	sl[n++] = (struct slot){SLOT_SIGNAL, NULL};
	p[n] = (struct pollfd){.fd = auth_fd(d->auth), .events = POLLIN};
	sl[n++] = (struct slot){SLOT_AUTH, NULL};
	for (size_t i = 0; i < d->nlisteners && !d->stopping; i++) {
		p[n] = (struct pollfd){.fd = d->listeners[i].fd, .events = POLLIN};
		sl[n++] = (struct slot){SLOT_LISTENER, &d->listeners[i]};
	}
	p[n] = (struct pollfd){.fd = d->admin_fd, .events = POLLIN};
	sl[n++] = (struct slot){SLOT_ADMIN, NULL};
	for (size_t i = 0; i < MAX_ADMIN; i++) {
		if (d->admin[i].fd < 0)
			continue;
		p[n] = (struct pollfd){.fd = d->admin[i].fd, .events = POLLIN};
		sl[n++] = (struct slot){SLOT_ADMIN_CLIENT, &d->admin[i]};
	}
	int mfd[8 + MAX_METRICS_CLIENTS];
	void *mptr[8 + MAX_METRICS_CLIENTS];
	size_t nm = metrics_fds(d->metrics, mfd, mptr, ARRAY_SIZE(mfd));
	for (size_t i = 0; i < nm; i++) {
		p[n] = (struct pollfd){.fd = mfd[i], .events = POLLIN};
		sl[n++] = (struct slot){SLOT_METRICS, mptr[i]};
	}
	for (struct conn *c = d->conns; c && n < MAX_SLOTS; c = c->next) {
		if (c->eof)
			continue;
		p[n] = (struct pollfd){.fd = c->ctl, .events = POLLIN};
		sl[n++] = (struct slot){SLOT_CONN, c};
	}
	for (struct session *s = d->sessions.head; s && n < MAX_SLOTS; s = s->next) {
		if (!s->probe)
			continue;
		p[n] = (struct pollfd){.fd = pixlink_client_fd(s->probe), .events = POLLIN};
		sl[n++] = (struct slot){SLOT_SESSION, s};
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
			admin_on_accept(d);
			break;
		case SLOT_ADMIN_CLIENT:
			admin_on_read(d, sl[i].ptr);
			break;
		case SLOT_METRICS:
			metrics_on_ready(d, sl[i].ptr);
			break;
		}
	}
}

/*
 * SIGUSR1 (logrotate's postrotate) or SIGHUP: [audit] file is opened again,
 * so events go to the new file once the old one was renamed.
 */
static void reopen_audit(struct shojid *d)
{
	d->reopen_audit = false;
	if (audit_reopen(d->audit, d->audit_path) < 0) {
		log_error("cannot reopen [audit] file %s: %s; still writing to the old one",
		          d->audit_path, strerror(errno));
		return;
	}
	log_info("reopened [audit] file %s", d->audit_path);
	/*
	 * Each session's supervisor writes its own events (egress) to the same
	 * file. A warming one may not block the signal yet (it would die of it);
	 * it opened the file moments ago, so it writes to the new one anyway,
	 * or, opened just before the rename, until its session ends.
	 */
	for (struct session *s = d->sessions.head; s; s = s->next)
		if (s->state != SESSION_ENDING && s->state != SESSION_WARMING)
			kill(s->pid, SIGUSR1);
	audit_event(d->audit, "audit_reopen", AUDIT_STR, "file", d->audit_path, AUDIT_END);
}

/* Every USAGE_INTERVAL_MS: each session's CPU time and memory from its cgroup. */
static void sample_usage(struct shojid *d, int *timeout)
{
	uint64_t now = now_ms();

	if (!d->limits)
		return;
	if (now >= d->next_usage_ms) {
		for (struct session *s = d->sessions.head; s; s = s->next)
			session_sample_usage(s, d->limits);
		d->next_usage_ms = now + USAGE_INTERVAL_MS;
	}
	uint64_t left = d->next_usage_ms - now;
	if (*timeout < 0 || left < (uint64_t)*timeout)
		*timeout = (int)left;
}

static void loop(struct shojid *d)
{
	static struct pollfd p[MAX_SLOTS];
	static struct slot sl[MAX_SLOTS];

	while (!d->stopping) {
		if (d->reopen_audit)
			reopen_audit(d);
		if (d->reload)
			reload(d);
		keep_warm(d);
		int timeout = -1;
		sample_usage(d, &timeout);
		send_due_refusals(d, &timeout);
		check_held(d, &timeout);
		enforce_timeouts(d, &timeout);
		audit_repeats_due(d, &timeout);
		admin_timeouts(d, &timeout);
		metrics_timeouts(d->metrics, &timeout);
		serve_waiting(d, &timeout);
		size_t n = build_poll(d, p, sl);
		if (poll(p, n, timeout) < 0 && errno != EINTR)
			break;
		dispatch(d, p, sl, n);
	}
}

static int open_listeners(struct shojid *d)
{
	const struct {
		const struct shoji_strlist *list;
		enum ctl_protocol proto;
	} groups[] = {
	    {&d->cfg->vnc_listen, CTL_PROTO_VNC},
	    {&d->cfg->rdp_listen, CTL_PROTO_RDP},
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
	sigaddset(&set, SIGUSR1);
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
	snprintf(d->audit_path, sizeof(d->audit_path), "%s", cfg->audit_file);
	if (check_tls(cfg) < 0 || open_listeners(d) < 0 || admin_open(d) < 0)
		return -1;
	int failed;
	d->metrics = metrics_open(d, &failed);
	if (failed)
		return -1;
	/* Read-only: each session's supervisor makes and moves; we only read usage. */
	d->limits = limits_open_readonly(
	    cfg->sandbox_cgroup_root[0] ? cfg->sandbox_cgroup_root : NULL, NULL, LIMITS_NONE);
	if (!d->limits)
		log_warn("no cgroup hierarchy to read sessions' CPU and memory from: %s",
		         strerror(errno));
	warn_pool_bounds(cfg);
	/* Before any thread starts, so that signals reach only the signalfd. */
	d->sig_fd = open_signals();
	d->auth = auth_create(cfg->auth_users_file);
	struct login_limit_params lp;
	d->limit = login_limit_create(limit_params(cfg, &lp));
	return d->auth && d->limit && d->sig_fd >= 0 ? 0 : -1;
}

static void shutdown_all(struct shojid *d)
{
	for (size_t i = 0; i < d->nlisteners; i++)
		close(d->listeners[i].fd);
	for (struct conn *c = d->conns; c; c = c->next) {
		c->killed = "shojid stopping";
		kill(c->pid, SIGTERM);
	}
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
		/* Killed: what it had counted and what was left out of the log still go in. */
		drain_notes(d, d->conns);
		audit_repeats(d, d->conns, true, NULL);
		audit_bytes(d, d->conns);
		remove_conn(d, d->conns);
	}
	session_stop_all(&d->sessions, 15000);
}

int shojid_run(const struct shoji_config *cfg)
{
	struct shojid d = {.cfg = cfg,
	                   .sig_fd = -1,
	                   .admin_fd = -1,
	                   .sessions = {.cfg = cfg},
	                   .min_ready = -1,
	                   .max_sessions = -1,
	                   .started_ms = now_ms()};
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
	admin_close_all(&d);
	metrics_destroy(d.metrics);
	limits_close(d.limits);
	auth_destroy(d.auth);
	audit_close(d.audit);
	config_destroy(d.reloaded);
	if (d.sig_fd >= 0)
		close(d.sig_fd);
	log_info("shojid stopped");
	return rc;
}
