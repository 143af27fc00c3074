/*
 * The admin socket (admin_proto.h): shojictl's requests, answered from the
 * control loop. Handles untrusted input: a local user's request line,
 * parsed by admin_parse_request after SO_PEERCRED says the user is root
 * or in [server] admin_group.
 */
#include "autoconfig.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "admin_proto.h"
#include "audit.h"
#include "daemon_int.h"
#include "log.h"
#include "util.h"

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
	static const char *const on_second[] = {"takeover", "refuse"};

	say(a, "ok\nversion=%s\tuptime_s=%llu\tdrained=%s\tconnections=%zu\tsessions=%zu",
	    PACKAGE_VERSION, (unsigned long long)((now_ms() - d->started_ms) / 1000),
	    d->drained ? "true" : "false", d->nconns, session_total(&d->sessions));
	for (int st = 0; st < SESSION_NSTATES; st++)
		say(a, "\t%s=%zu", session_state_name((enum session_state)st),
		    session_count(&d->sessions, (enum session_state)st));
	say(a,
	    "\tmin_ready=%ld\tmax_sessions=%zu\tmax_per_user=%ld\tidle_timeout_s=%ld"
	    "\treconnect_grace_s=%ld\tmax_lifetime_s=%ld\ton_second_login=%s\n",
	    pool_min_ready(d), pool_max_sessions(d), cfg->pool_max_per_user, cfg->pool_idle_timeout,
	    cfg->pool_reconnect_grace, cfg->pool_max_lifetime,
	    on_second[cfg->pool_on_second_login ? 1 : 0]);
}

/* Output rates and the sandbox's CPU and memory; "" where not known (no cgroup to read). */
static void answer_usage(struct answer *a, const struct session *s)
{
	uint64_t kbps, fps, cpu, rss;

	session_output_rate(s, &kbps, &fps);
	say(a, "\tkbps_out=%llu.%llu\tfps=%llu.%llu", (unsigned long long)(kbps / 10),
	    (unsigned long long)(kbps % 10), (unsigned long long)(fps / 10),
	    (unsigned long long)(fps % 10));
	if (session_usage(s, &cpu, &rss))
		say(a, "\tcpu_percent=%llu.%llu\trss_mb=%llu\n", (unsigned long long)(cpu / 10),
		    (unsigned long long)(cpu % 10), (unsigned long long)(rss >> 20));
	else
		say(a, "\tcpu_percent=\trss_mb=\n");
}

static void answer_session(struct answer *a, const struct session *s)
{
	char user[80], peer[80], res[20], started[32];
	uint64_t now = now_ms();
	bool in_use = s->state == SESSION_ATTACHED || s->state == SESSION_DETACHED;

	say(a,
	    "id=%s\tuser=%s\tprotocol=%s\taddress=%s\tstate=%s\tstarted=%s\tage_s=%llu"
	    "\tidle_s=%llu\tresolution=%s\tuid=%u\tpid=%d",
	    s->id, clean(user, sizeof(user), s->user), s->protocol,
	    clean(peer, sizeof(peer), s->peer), session_state_name(s->state),
	    wall_time(started, sizeof(started), s->started_ms),
	    (unsigned long long)((now - s->created_ms) / 1000),
	    (unsigned long long)(in_use && s->activity_ms ? (now - s->activity_ms) / 1000 : 0),
	    clean(res, sizeof(res), s->resolution), s->uid, (int)s->pid);
	answer_usage(a, s);
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
		audit_event(d->audit, "admin_pool", AUDIT_STR, "set", r->args[i], AUDIT_INT,
		            "by_uid", (long long)ac->uid, AUDIT_END);
	}
	answer_status(d, a);
}

static void admin_answer(struct shojid *d, struct admin_client *ac, const struct admin_request *r,
                         struct answer *a)
{
	struct session *s;

	switch (r->command) {
	case ADMIN_STATUS:
		answer_status(d, a);
		break;
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
	case ADMIN_KILL_USER:
		admin_kill(d, ac, r, a);
		break;
	case ADMIN_DRAIN:
	case ADMIN_UNDRAIN:
		set_drained(d, r->command == ADMIN_DRAIN);
		answer_status(d, a);
		break;
	case ADMIN_POOL:
		admin_pool(d, ac, r, a);
		break;
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

void admin_on_read(struct shojid *d, struct admin_client *ac)
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

void admin_on_accept(struct shojid *d)
{
	struct ucred cr = {.uid = (uid_t)-1, .gid = (gid_t)-1};
	socklen_t crlen = sizeof(cr);
	int fd = accept4(d->admin_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 || !admin_allowed(d, &cr)) {
		static const char no[] =
		    "error permission denied: root or [server] admin_group only\n";
		send(fd, no, sizeof(no) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		audit_event(d->audit, "admin_refused", AUDIT_INT, "uid", (long long)cr.uid,
		            AUDIT_END);
		close(fd);
		return;
	}
	for (size_t i = 0; i < MAX_ADMIN; i++) {
		if (d->admin[i].fd >= 0)
			continue;
		d->admin[i] = (struct admin_client){
		    .fd = fd, .uid = cr.uid, .deadline = now_ms() + ADMIN_TIMEOUT_MS};
		return;
	}
	close(fd); /* busy: shojictl says it could not get an answer */
}

void admin_timeouts(struct shojid *d, int *timeout)
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
int admin_open(struct shojid *d)
{
	const struct shoji_config *cfg = d->cfg;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
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
		log_warn(
		    "[server] admin_group %s does not exist: the admin socket is for root only",
		    cfg->server_admin_group);
	if (chown(sa.sun_path, 0, gr ? gr->gr_gid : 0) < 0 ||
	    chmod(sa.sun_path, gr ? 0660 : 0600) < 0) {
		log_error("cannot set the owner of %s: %s", sa.sun_path, strerror(errno));
		return -1;
	}
	log_info("admin socket %s", sa.sun_path);
	return 0;
}

void admin_close_all(struct shojid *d)
{
	for (size_t i = 0; i < MAX_ADMIN; i++)
		if (d->admin[i].fd >= 0)
			close(d->admin[i].fd);
	if (d->admin_fd >= 0) {
		close(d->admin_fd);
		unlink(d->cfg->server_admin_socket);
	}
}
