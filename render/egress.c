/*
 * The egress proxy's connections: receives the browser's connections from
 * the sandbox as passed descriptors, reads one request head from each,
 * decides with egress_policy, audits, and relays bytes to the destination
 * (or to the upstream proxy) until either side is done.
 *
 * Handles untrusted input: yes. The sandbox side may be a compromised
 * browser: the descriptors it passes are checked (exactly one connected
 * stream socket per packet), the request head goes through the pure
 * http_request_parse(), and every wait has a timeout. Bytes after the head,
 * and everything origin servers send, are relayed without being parsed.
 *
 * Threads: one detached thread per connection, counted under `lock`;
 * egress_proxy_run() wakes them all through the stop pipe at the end and
 * waits for the count to reach zero before freeing what they share.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit.h"
#include "egress.h"
#include "log.h"
#include "util.h"

#define HEAD_TIMEOUT_MS 10000
#define CONNECT_TIMEOUT_MS 10000
#define SEND_TIMEOUT_MS 30000
#define IDLE_TIMEOUT_MS (5 * 60 * 1000)
#define RELAY_BUF_SIZE 65536
#define AUDIT_SLOTS 1024
#define AUDIT_INTERVAL_MS 60000
#define BUSY_LOG_INTERVAL_MS 60000
#define DEFAULT_MAX_CONNECTIONS 64
#define THREAD_STACK_SIZE (512 * 1024)
#define MAX_PASSED_FDS 8 /* room to see, and close, extra descriptors in one packet */

/* One recently audited (method, host, port, allowed). */
struct audit_slot {
	bool used;
	bool allowed;
	uint16_t port;
	uint64_t at_ms;
	char method[16];
	char host[HTTP_MAX_HOST + 1];
};

struct egress_proxy {
	const struct egress_proxy_opts *opts;
	const char *session;
	bool chained;
	char up_host[HTTP_MAX_HOST + 1];
	char up_port[8];
	int max;
	int stop_rd, stop_wr; /* closing stop_wr tells every connection to end */

	pthread_mutex_t lock;
	pthread_cond_t idle;      /* signalled when `active` drops */
	int active;               /* lock */
	uint64_t busy_logged_ms;  /* lock */
	struct audit_slot *slots; /* lock */
};

struct egress_conn {
	struct egress_proxy *px;
	int client, server;
	struct http_request req;
	size_t have;
	uint8_t head[HTTP_MAX_REQUEST_HEAD];
};

enum reply { REPLY_400, REPLY_403, REPLY_502, REPLY_503_BUSY, REPLY_503_AUDIT };

static const struct {
	const char *status;
	const char *body;
} replies[] = {
    [REPLY_400] = {"400 Bad Request", "The request could not be understood.\n"},
    [REPLY_403] = {"403 Forbidden", "This destination is blocked by the isolation policy.\n"
                                    "この接続先は分離環境のポリシーにより遮断されています。\n"},
    [REPLY_502] = {"502 Bad Gateway", "The destination could not be reached.\n"
                                      "接続先に接続できませんでした。\n"},
    [REPLY_503_BUSY] = {"503 Service Unavailable", "Too many connections at once.\n"},
    [REPLY_503_AUDIT] = {"503 Service Unavailable",
                         "The audit log cannot be written, so browsing is stopped.\n"
                         "監査ログを書き込めないため、閲覧を停止しています。\n"},
};

static const char connect_ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

/*
 * Waits until fd has `events`, at most timeout_ms. False on timeout, on
 * error, or when the proxy is stopping.
 */
static bool wait_for(int fd, short events, int stop_fd, int timeout_ms)
{
	struct pollfd p[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now = now_ms();
		int n = poll(p, 2, now >= deadline ? 0 : (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = ETIMEDOUT;
		return n > 0 && p[1].revents == 0;
	}
}

/* send() all of buf to a socket, waiting at most SEND_TIMEOUT_MS at a time. */
static int send_all(int fd, int stop_fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || !wait_for(fd, POLLOUT, stop_fd, SEND_TIMEOUT_MS))
				return -1;
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int format_reply(char *buf, size_t cap, enum reply r)
{
	return snprintf(buf, cap,
	                "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	                "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	                replies[r].status, strlen(replies[r].body), replies[r].body);
}

static void send_reply(const struct egress_conn *c, enum reply r)
{
	char msg[512];
	int n = format_reply(msg, sizeof(msg), r);

	send_all(c->client, c->px->stop_rd, msg, (size_t)n);
}

/* --- reading and judging the request --- */

/* Returns head_len, -1 for a malformed request, 0 if the browser left or was too slow. */
static ssize_t read_head(struct egress_conn *c)
{
	uint64_t deadline = now_ms() + HEAD_TIMEOUT_MS;

	for (;;) {
		ssize_t r = http_request_parse(c->head, c->have, &c->req);
		if (r != 0)
			return r;
		uint64_t now = now_ms();
		if (now >= deadline ||
		    !wait_for(c->client, POLLIN, c->px->stop_rd, (int)(deadline - now)))
			return 0;
		ssize_t n =
		    recv(c->client, c->head + c->have, sizeof(c->head) - c->have, MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return 0;
		}
		c->have += (size_t)n;
	}
}

struct verdict {
	bool allowed;
	const char *reason;
	enum reply refusal;     /* when not allowed */
	struct addrinfo *addrs; /* checked addresses to connect to; NULL when chained */
};

static void set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

enum resolved { RESOLVE_FAILED, RESOLVE_OK, RESOLVE_ODD_LITERAL };

/*
 * Address literals first, so that they are never looked up as names. An
 * IPv4 literal in any form but dotted decimal (010.0.0.1, 0x7f.1,
 * 2130706433) is refused: the C library reads it one way, an upstream
 * proxy or a server may read it another, and browsers never send one.
 */
static enum resolved resolve(const char *host, struct addrinfo **out)
{
	struct addrinfo hints = {
	    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
	struct in_addr v4;

	if (getaddrinfo(host, NULL, &hints, out) == 0) {
		if ((*out)->ai_family == AF_INET && inet_pton(AF_INET, host, &v4) != 1) {
			freeaddrinfo(*out);
			*out = NULL;
			return RESOLVE_ODD_LITERAL;
		}
		return RESOLVE_OK;
	}
	hints.ai_flags = 0;
	return getaddrinfo(host, NULL, &hints, out) == 0 ? RESOLVE_OK : RESOLVE_FAILED;
}

/*
 * Every address the name resolves to must be allowed, so that a name
 * cannot pair a harmless address with a refused one; connections then go
 * only to these checked addresses.
 */
static void judge(const struct egress_conn *c, struct verdict *v)
{
	const struct egress_policy *policy = c->px->opts->policy;
	const struct http_request *req = &c->req;
	struct addrinfo *list = NULL;
	enum resolved r = resolve(req->host, &list);

	if (r == RESOLVE_ODD_LITERAL) {
		v->reason = "IPv4 address not in dotted-decimal form";
		v->refusal = REPLY_403;
		return;
	}
	if (r == RESOLVE_FAILED) {
		if (!c->px->chained) {
			v->reason = "name resolution failed";
			v->refusal = REPLY_502;
			return;
		}
		v->allowed = egress_policy_allows(policy, req->host, req->port, NULL, &v->reason);
		if (v->allowed)
			v->reason = "not resolvable here: left to the upstream proxy";
		v->refusal = REPLY_403;
		return;
	}
	for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
		set_port(ai->ai_addr, req->port);
		if (!egress_policy_allows(policy, req->host, req->port, ai->ai_addr, &v->reason)) {
			freeaddrinfo(list);
			v->refusal = REPLY_403;
			return;
		}
	}
	v->allowed = true;
	if (c->px->chained)
		freeaddrinfo(list);
	else
		v->addrs = list;
}

/* --- auditing --- */

enum { AUDIT_SKIP = -2, AUDIT_UNTRACKED = -1 };

/*
 * Whether this request should be audited: AUDIT_SKIP if the same one was
 * within AUDIT_INTERVAL_MS, else the slot now remembering it, or
 * AUDIT_UNTRACKED when the table is full (audited all the same).
 */
static int audit_reserve(struct egress_proxy *px, const struct http_request *req, bool allowed)
{
	uint64_t now = now_ms();
	int slot = AUDIT_UNTRACKED;

	pthread_mutex_lock(&px->lock);
	for (int i = 0; i < AUDIT_SLOTS; i++) {
		struct audit_slot *s = &px->slots[i];
		bool live = s->used && now - s->at_ms < AUDIT_INTERVAL_MS;
		if (live && s->allowed == allowed && s->port == req->port &&
		    strcmp(s->method, req->method) == 0 && strcmp(s->host, req->host) == 0) {
			slot = AUDIT_SKIP;
			break;
		}
		if (!live && slot == AUDIT_UNTRACKED)
			slot = i;
	}
	if (slot >= 0) {
		struct audit_slot *s = &px->slots[slot];
		*s = (struct audit_slot){
		    .used = true, .allowed = allowed, .port = req->port, .at_ms = now};
		memcpy(s->method, req->method, sizeof(s->method));
		memcpy(s->host, req->host, sizeof(s->host));
	}
	pthread_mutex_unlock(&px->lock);
	return slot;
}

static void audit_forget(struct egress_proxy *px, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&px->lock);
	px->slots[slot].used = false;
	pthread_mutex_unlock(&px->lock);
}

/* 0, or -1 when the audit line could not be written. */
static int audit_request(struct egress_conn *c, const struct verdict *v)
{
	struct egress_proxy *px = c->px;
	const struct http_request *req = &c->req;
	int slot = audit_reserve(px, req, v->allowed);

	if (slot == AUDIT_SKIP)
		return 0;
	bool v6 = strchr(req->host, ':') != NULL;
	log_info("egress %s: %s %s%s%s:%u %s (%s)", px->session, req->method, v6 ? "[" : "",
	         req->host, v6 ? "]" : "", (unsigned)req->port, v->allowed ? "allowed" : "refused",
	         v->reason);
	if (audit_event(px->opts->audit, "egress", AUDIT_STR, "session", px->session, AUDIT_STR,
	                "method", req->method, AUDIT_STR, "host", req->host, AUDIT_INT, "port",
	                (long long)req->port, AUDIT_BOOL, "allowed", (int)v->allowed, AUDIT_STR,
	                "reason", v->reason, AUDIT_END) < 0) {
		log_error("egress %s: cannot write the audit log (%s); request refused",
		          px->session, strerror(errno));
		audit_forget(px, slot);
		return -1;
	}
	return 0;
}

/* --- connecting and relaying --- */

static int connect_timeout(const struct sockaddr *sa, socklen_t len, int stop_fd)
{
	int err = 0;
	socklen_t errlen = sizeof(err);
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, sa, len) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto failed;
	if (!wait_for(fd, POLLOUT, stop_fd, CONNECT_TIMEOUT_MS))
		goto failed;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
		goto failed;
	if (err != 0) {
		errno = err;
		goto failed;
	}
	return fd;

failed:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

static int connect_any(const struct addrinfo *list, int stop_fd)
{
	for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
		int fd = connect_timeout(ai->ai_addr, ai->ai_addrlen, stop_fd);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

/* The upstream proxy is the administrator's choice: no policy check. */
static int connect_upstream(const struct egress_proxy *px)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *list;

	int rc = getaddrinfo(px->up_host, px->up_port, &hints, &list);
	if (rc != 0) {
		log_warn("egress %s: cannot resolve upstream proxy %s: %s", px->session,
		         px->up_host, gai_strerror(rc));
		errno = EHOSTUNREACH;
		return -1;
	}
	int fd = connect_any(list, px->stop_rd);
	freeaddrinfo(list);
	return fd;
}

/* What goes out before relaying: the head (as is, or for the origin) and early bytes. */
static int send_prelude(const struct egress_conn *c)
{
	const struct egress_proxy *px = c->px;
	uint8_t out[HTTP_MAX_REQUEST_HEAD + HTTP_ORIGIN_HEAD_EXTRA];
	size_t head_len = c->req.head_len;

	if (px->chained)
		return send_all(c->server, px->stop_rd, c->head, c->have);
	if (c->req.kind == HTTP_CONNECT) {
		if (send_all(c->client, px->stop_rd, connect_ok, sizeof(connect_ok) - 1) < 0)
			return -1;
	} else {
		ssize_t n = http_request_origin_head(c->head, &c->req, out, sizeof(out));
		if (n < 0 || send_all(c->server, px->stop_rd, out, (size_t)n) < 0)
			return -1;
	}
	return send_all(c->server, px->stop_rd, c->head + head_len, c->have - head_len);
}

/* One direction of the relay. */
struct relay_dir {
	int from, to;
	uint8_t *buf;
	size_t len, off;
	bool eof;     /* `from` has ended */
	bool shut;    /* and all of it went on: `to` is shut for writing */
	bool limited; /* only `limit` more bytes may pass (the checked request's body) */
	uint64_t limit;
};

static short dir_events_from(const struct relay_dir *d)
{
	return (!d->eof && d->len == 0) ? POLLIN : 0;
}

static short dir_events_to(const struct relay_dir *d)
{
	return d->off < d->len ? POLLOUT : 0;
}

/* Moves what it can: 1 if anything happened, 0 if nothing, -1 if a side broke. */
static int dir_step(struct relay_dir *d, short rev_from, short rev_to)
{
	int moved = 0;

	if (d->off < d->len && (rev_to & (POLLOUT | POLLERR | POLLHUP))) {
		ssize_t n =
		    send(d->to, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n > 0) {
			d->off += (size_t)n;
			if (d->off == d->len)
				d->off = d->len = 0;
			moved = 1;
		}
	}
	if (!d->eof && d->len == 0 && (rev_from & (POLLIN | POLLERR | POLLHUP))) {
		/* At the limit, one byte more tells an end from a request beyond it. */
		size_t want = d->limited ? (size_t)MIN(d->limit, RELAY_BUF_SIZE) : RELAY_BUF_SIZE;
		ssize_t n = recv(d->from, d->buf, want ? want : 1, MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n > 0 && want == 0)
			return -1;
		if (n >= 0) {
			d->len = (size_t)n;
			d->eof = n == 0;
			d->limit -= d->limited ? (uint64_t)n : 0;
			moved = 1;
		}
	}
	if (d->eof && d->len == 0 && !d->shut) {
		shutdown(d->to, SHUT_WR);
		d->shut = true;
		moved = 1;
	}
	return moved;
}

/*
 * Relays both ways until both directions ended (each end's shutdown is
 * passed on), a side breaks, nothing moves for IDLE_TIMEOUT_MS, or the
 * proxy stops. A wake-up that moves nothing means a side hung up in a way
 * that cannot be relayed, which ends the relay too (rather than spinning).
 *
 * For an http:// request only its body goes up: a browser that reuses the
 * connection for a next request (perhaps to another host, with that host's
 * cookies, because the origin answered keep-alive) finds it closed, and
 * retries on a new connection whose request is checked again.
 */
static void relay(const struct egress_conn *c, uint64_t body_left)
{
	uint8_t *bufs = xcalloc(2, RELAY_BUF_SIZE);
	struct relay_dir up = {.from = c->client,
	                       .to = c->server,
	                       .buf = bufs,
	                       .limited = c->req.kind == HTTP_ABSOLUTE,
	                       .limit = body_left};
	struct relay_dir down = {.from = c->server, .to = c->client, .buf = bufs + RELAY_BUF_SIZE};

	while (!(up.shut && down.shut)) {
		struct pollfd p[3] = {
		    {c->client, (short)(dir_events_from(&up) | dir_events_to(&down)), 0},
		    {c->server, (short)(dir_events_from(&down) | dir_events_to(&up)), 0},
		    {c->px->stop_rd, POLLIN, 0},
		};
		int n = poll(p, 3, IDLE_TIMEOUT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || p[2].revents)
			break;
		int a = dir_step(&up, p[0].revents, p[1].revents);
		int b = dir_step(&down, p[1].revents, p[0].revents);
		if (a < 0 || b < 0 || (a == 0 && b == 0))
			break;
	}
	free(bufs);
}

static void serve(struct egress_conn *c)
{
	struct egress_proxy *px = c->px;
	struct verdict v = {.allowed = false};
	ssize_t r = read_head(c);

	if (r == 0)
		return;
	if (r < 0) {
		log_warn("egress %s: malformed request refused", px->session);
		send_reply(c, REPLY_400);
		return;
	}
	if (c->req.kind == HTTP_ABSOLUTE && c->have - c->req.head_len > c->req.body_len) {
		log_warn("egress %s: pipelined requests refused", px->session);
		send_reply(c, REPLY_400);
		return;
	}
	judge(c, &v);
	if (audit_request(c, &v) < 0) {
		send_reply(c, REPLY_503_AUDIT);
		goto done;
	}
	if (!v.allowed) {
		send_reply(c, v.refusal);
		goto done;
	}
	c->server = px->chained ? connect_upstream(px) : connect_any(v.addrs, px->stop_rd);
	if (c->server < 0) {
		log_info("egress %s: cannot connect to %s%s:%u: %s", px->session,
		         px->chained ? "the upstream proxy for " : "", c->req.host,
		         (unsigned)c->req.port, strerror(errno));
		send_reply(c, REPLY_502);
		goto done;
	}
	/* For http://, the part of the body that did not come with the head. */
	uint64_t body_left =
	    c->req.kind == HTTP_ABSOLUTE ? c->req.body_len - (c->have - c->req.head_len) : 0;
	if (send_prelude(c) == 0)
		relay(c, body_left);
done:
	if (v.addrs)
		freeaddrinfo(v.addrs);
}

static void *conn_thread(void *arg)
{
	struct egress_conn *c = arg;
	struct egress_proxy *px = c->px;

	serve(c);
	close(c->client);
	if (c->server >= 0)
		close(c->server);
	free(c);
	pthread_mutex_lock(&px->lock);
	px->active--;
	pthread_cond_broadcast(&px->idle);
	pthread_mutex_unlock(&px->lock);
	return NULL;
}

/* --- receiving connections --- */

/* For refusals from the receiving loop, which must not wait on a browser. */
static void reply_now(int fd, enum reply r)
{
	char msg[512];
	int n = format_reply(msg, sizeof(msg), r);
	ssize_t w = send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
}

static void start_conn(struct egress_proxy *px, int fd)
{
	pthread_attr_t attr;
	pthread_t thread;
	struct egress_conn *c;
	bool full, log_busy = false;

	pthread_mutex_lock(&px->lock);
	full = px->active >= px->max;
	if (full && now_ms() - px->busy_logged_ms >= BUSY_LOG_INTERVAL_MS) {
		px->busy_logged_ms = now_ms();
		log_busy = true;
	}
	if (!full)
		px->active++;
	pthread_mutex_unlock(&px->lock);
	if (log_busy)
		log_warn("egress %s: more than %d connections at once; refusing", px->session,
		         px->max);
	if (full)
		goto refuse;

	c = xcalloc(1, sizeof(*c));
	c->px = px;
	c->client = fd;
	c->server = -1;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK_SIZE);
	int rc = pthread_create(&thread, &attr, conn_thread, c);
	pthread_attr_destroy(&attr);
	if (rc == 0)
		return;
	log_error("egress %s: cannot start a connection thread: %s", px->session, strerror(rc));
	free(c);
	pthread_mutex_lock(&px->lock);
	px->active--;
	pthread_mutex_unlock(&px->lock);
refuse:
	reply_now(fd, REPLY_503_BUSY);
	close(fd);
}

/* A browser connection: a connected stream socket, not a listener, file or pipe. */
static bool is_connection(int fd)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
		return false;
	len = sizeof(listening);
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && !listening;
}

/* Descriptors of every SCM_RIGHTS in msg; *other set if anything else came along. */
static size_t collect_fds(struct msghdr *msg, int *fds, size_t cap, bool *other)
{
	size_t n = 0;

	for (struct cmsghdr *h = CMSG_FIRSTHDR(msg); h; h = CMSG_NXTHDR(msg, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) {
			*other = true;
			continue;
		}
		size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && n < cap; i++)
			memcpy(&fds[n++], CMSG_DATA(h) + i * sizeof(int), sizeof(int));
	}
	return n;
}

/* 1 and a connection in *out, 0 at end of stream, -1 on error. Drops bad packets. */
static int receive_conn(const struct egress_proxy *px, int sock, int *out)
{
	for (;;) {
		uint8_t byte;
		struct iovec iov = {.iov_base = &byte, .iov_len = 1};
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)];
		} ctl;
		struct msghdr msg = {.msg_iov = &iov,
		                     .msg_iovlen = 1,
		                     .msg_control = ctl.buf,
		                     .msg_controllen = sizeof(ctl.buf)};
		int fds[MAX_PASSED_FDS];
		bool other = false;

		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		size_t nfds = collect_fds(&msg, fds, MAX_PASSED_FDS, &other);
		if (n == 0 && nfds == 0 && !other)
			return 0;
		if (nfds == 1 && !other && !(msg.msg_flags & MSG_CTRUNC) && is_connection(fds[0])) {
			*out = fds[0];
			return 1;
		}
		log_warn("egress %s: dropped a packet from the sandbox that did not carry exactly "
		         "one connection (%zu descriptors%s)",
		         px->session, nfds,
		         other || (msg.msg_flags & MSG_CTRUNC) ? ", and more" : "");
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
	}
}

/* --- the proxy --- */

/* "HOST:PORT" or "[V6]:PORT", checked with the request parser's own rules. */
static int parse_upstream(struct egress_proxy *px, const char *upstream)
{
	char line[HTTP_MAX_HOST + 64];
	struct http_request req;

	int n = snprintf(line, sizeof(line), "CONNECT %s HTTP/1.1\r\n\r\n", upstream);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    http_request_parse((const uint8_t *)line, (size_t)n, &req) != n)
		return -1;
	memcpy(px->up_host, req.host, sizeof(px->up_host));
	snprintf(px->up_port, sizeof(px->up_port), "%u", (unsigned)req.port);
	px->chained = true;
	return 0;
}

static struct egress_proxy *proxy_create(const struct egress_proxy_opts *opts)
{
	struct egress_proxy *px = xcalloc(1, sizeof(*px));
	int stop[2];

	px->opts = opts;
	px->session = opts->session_id ? opts->session_id : "-";
	px->max = opts->max_connections > 0 ? opts->max_connections : DEFAULT_MAX_CONNECTIONS;
	if (opts->upstream && opts->upstream[0] && parse_upstream(px, opts->upstream) < 0) {
		log_error("egress %s: upstream proxy '%s' is not HOST:PORT", px->session,
		          opts->upstream);
		goto failed;
	}
	if (pipe2(stop, O_CLOEXEC) < 0) {
		log_error("egress %s: pipe: %s", px->session, strerror(errno));
		goto failed;
	}
	px->stop_rd = stop[0];
	px->stop_wr = stop[1];
	pthread_mutex_init(&px->lock, NULL);
	pthread_cond_init(&px->idle, NULL);
	px->slots = xcalloc(AUDIT_SLOTS, sizeof(*px->slots));
	return px;

failed:
	free(px);
	return NULL;
}

/* Ends every connection and waits for their threads before freeing. */
static void proxy_destroy(struct egress_proxy *px)
{
	close(px->stop_wr);
	pthread_mutex_lock(&px->lock);
	while (px->active > 0)
		pthread_cond_wait(&px->idle, &px->lock);
	pthread_mutex_unlock(&px->lock);
	close(px->stop_rd);
	pthread_cond_destroy(&px->idle);
	pthread_mutex_destroy(&px->lock);
	free(px->slots);
	free(px);
}

int egress_proxy_run(int fd_sock, const struct egress_proxy_opts *opts)
{
	struct egress_proxy *px = proxy_create(opts);
	int rc, fd;

	if (!px)
		return -1;
	log_info("egress %s: proxy running (%s%s)", px->session,
	         px->chained ? "upstream " : "direct", px->chained ? opts->upstream : "");
	while ((rc = receive_conn(px, fd_sock, &fd)) > 0)
		start_conn(px, fd);
	if (rc < 0)
		log_error("egress %s: receiving connections: %s", px->session, strerror(errno));
	proxy_destroy(px);
	return rc < 0 ? -1 : 0;
}
