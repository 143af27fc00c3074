/*
 * Tests of the egress policy (default refusals, allow and deny entries,
 * entry errors) and, end to end, of the egress proxy itself: a real
 * egress_proxy_run() thread fed connections over a SOCK_SEQPACKET pair the
 * way the sandbox passes them, a small HTTP origin server and a fake
 * upstream proxy on 127.0.0.1, and the audit file it writes.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "audit.h"
#include "egress.h"

Suite *suite_egress_policy(void);

/* --- policy --- */

static struct egress_policy *policy_from(const char *const *allow, size_t n_allow,
                                         const char *const *deny, size_t n_deny)
{
	struct shoji_strlist a = {n_allow, (char **)allow};
	struct shoji_strlist d = {n_deny, (char **)deny};
	char err[256] = "";
	struct egress_policy *p = egress_policy_create(&a, &d, err, sizeof(err));

	ck_assert_msg(p != NULL, "policy refused: %s", err);
	return p;
}

static bool allows_at(const struct egress_policy *p, const char *host, uint16_t port,
                      const char *addr, const char **reason)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
	} else {
		ck_assert_int_eq(
		    inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
		ss.ss_family = AF_INET6;
	}
	return egress_policy_allows(p, host, port, (struct sockaddr *)&ss, reason);
}

static void assert_refused_as(const struct egress_policy *p, const char *addr, const char *want)
{
	const char *reason = NULL;

	ck_assert_msg(!allows_at(p, addr, 443, addr, &reason), "%s allowed", addr);
	ck_assert_msg(reason && strcmp(reason, want) == 0, "%s: reason '%s', want '%s'", addr,
	              reason ? reason : "(null)", want);
}

static void assert_allowed(const struct egress_policy *p, const char *host, uint16_t port,
                           const char *addr)
{
	const char *reason = NULL;

	ck_assert_msg(allows_at(p, host, port, addr, &reason), "%s:%u at %s refused: %s", host,
	              (unsigned)port, addr, reason ? reason : "(null)");
	ck_assert_ptr_nonnull(reason);
}

START_TEST(default_refusals)
{
	struct egress_policy *p = policy_from(NULL, 0, NULL, 0);
	static const struct {
		const char *addr, *reason;
	} cases[] = {
	    {"0.0.0.0", "unspecified address"},
	    {"0.255.1.2", "unspecified address"},
	    {"10.0.0.1", "private address"},
	    {"10.255.255.255", "private address"},
	    {"100.64.0.1", "shared (CGNAT) address"},
	    {"100.127.255.254", "shared (CGNAT) address"},
	    {"127.0.0.1", "loopback address"},
	    {"127.8.9.10", "loopback address"},
	    {"169.254.169.254", "link-local address"},
	    {"172.16.0.1", "private address"},
	    {"172.31.255.255", "private address"},
	    {"192.0.0.8", "IETF protocol assignment address"},
	    {"192.168.1.1", "private address"},
	    {"198.18.0.1", "benchmarking address"},
	    {"198.19.255.255", "benchmarking address"},
	    {"224.0.0.1", "multicast address"},
	    {"239.255.255.250", "multicast address"},
	    {"240.0.0.1", "reserved address"},
	    {"255.255.255.254", "reserved address"},
	    {"255.255.255.255", "broadcast address"},
	    {"::", "unspecified address"},
	    {"::1", "loopback address"},
	    {"fc00::1", "private address"},
	    {"fd12:3456::1", "private address"},
	    {"fe80::1", "link-local address"},
	    {"febf::1", "link-local address"},
	    {"ff02::1", "multicast address"},
	    {"::ffff:127.0.0.1", "loopback address"},
	    {"::ffff:10.1.2.3", "private address"},
	    {"::ffff:169.254.169.254", "link-local address"},
	    {"64:ff9b::192.168.0.1", "private address"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_refused_as(p, cases[i].addr, cases[i].reason);
	/* Just outside the ranges. */
	assert_allowed(p, "a.example", 443, "100.63.255.255");
	assert_allowed(p, "a.example", 443, "100.128.0.0");
	assert_allowed(p, "a.example", 443, "172.15.255.255");
	assert_allowed(p, "a.example", 443, "172.32.0.0");
	assert_allowed(p, "a.example", 443, "192.0.1.0");
	assert_allowed(p, "a.example", 443, "198.17.255.255");
	assert_allowed(p, "a.example", 443, "198.20.0.0");
	assert_allowed(p, "a.example", 443, "223.255.255.255");
	assert_allowed(p, "a.example", 80, "203.0.113.10");
	assert_allowed(p, "a.example", 8443, "2001:db8::10");
	assert_allowed(p, "a.example", 443, "::ffff:203.0.113.10");
	assert_allowed(p, "a.example", 443, "64:ff9b::203.0.113.10");
	assert_allowed(p, "a.example", 443, "fe00::1");
	egress_policy_destroy(p);
}
END_TEST

START_TEST(host_own_addresses)
{
	struct egress_policy *p = policy_from(NULL, 0, NULL, 0);
	struct ifaddrs *list;
	int checked = 0;

	ck_assert_int_eq(getifaddrs(&list), 0);
	for (struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
		const char *reason = NULL;
		if (!ifa->ifa_addr ||
		    (ifa->ifa_addr->sa_family != AF_INET && ifa->ifa_addr->sa_family != AF_INET6))
			continue;
		ck_assert(!egress_policy_allows(p, "h", 443, ifa->ifa_addr, &reason));
		ck_assert_ptr_nonnull(reason);
		checked++;
	}
	freeifaddrs(list);
	ck_assert_int_gt(checked, 0);
	egress_policy_destroy(p);
}
END_TEST

START_TEST(not_an_ip_address)
{
	struct egress_policy *p = policy_from(NULL, 0, NULL, 0);
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	const char *reason = NULL;

	ck_assert(!egress_policy_allows(p, "h", 443, (struct sockaddr *)&un, &reason));
	ck_assert_str_eq(reason, "not an IP address");
	egress_policy_destroy(p);
}
END_TEST

START_TEST(allow_beats_defaults)
{
	static const char *const allow[] = {
	    "127.0.0.1",    "10.20.0.0/16",  "Intranet.City.Example", "portal.city.example:8080",
	    "*.lg.example", "[fd00::5]:443", "fd00:1::/32",           "::ffff:192.168.7.0/120"};
	struct egress_policy *p = policy_from(allow, sizeof(allow) / sizeof(allow[0]), NULL, 0);
	const char *reason = NULL;

	ck_assert(allows_at(p, "127.0.0.1", 80, "127.0.0.1", &reason));
	ck_assert_str_eq(reason, "allowed by [egress] allow entry 127.0.0.1");
	assert_allowed(p, "h", 80, "::ffff:127.0.0.1");
	assert_refused_as(p, "127.0.0.2", "loopback address");
	assert_allowed(p, "h", 443, "10.20.255.1");
	assert_refused_as(p, "10.21.0.1", "private address");
	assert_allowed(p, "intranet.city.example", 443, "192.168.3.3");
	assert_allowed(p, "INTRANET.city.example.", 443, "192.168.3.3");
	assert_allowed(p, "portal.city.example", 8080, "10.9.9.9");
	ck_assert(!allows_at(p, "portal.city.example", 443, "10.9.9.9", &reason));
	ck_assert_str_eq(reason, "private address");
	assert_allowed(p, "lg.example", 443, "10.1.1.1");
	assert_allowed(p, "www.lg.example", 443, "10.1.1.1");
	assert_allowed(p, "a.b.lg.example", 443, "10.1.1.1");
	ck_assert(!allows_at(p, "evil-lg.example", 443, "10.1.1.1", &reason));
	ck_assert(!allows_at(p, "lg.example.evil", 443, "10.1.1.1", &reason));
	assert_allowed(p, "h", 443, "fd00::5");
	ck_assert(!allows_at(p, "h", 80, "fd00::5", &reason));
	assert_allowed(p, "h", 80, "fd00:1:2::3");
	assert_allowed(p, "h", 80, "192.168.7.9");
	assert_refused_as(p, "192.168.8.9", "private address");
	egress_policy_destroy(p);
}
END_TEST

START_TEST(deny_entries)
{
	static const char *const allow[] = {"203.0.113.7"};
	static const char *const deny[] = {"203.0.113.0/24", "bad.example", "*.worse.example",
	                                   "198.51.100.5:25", "2001:db8:bad::/48"};
	struct egress_policy *p = policy_from(allow, 1, deny, sizeof(deny) / sizeof(deny[0]));
	const char *reason = NULL;

	ck_assert(!allows_at(p, "h", 443, "203.0.113.9", &reason));
	ck_assert_str_eq(reason, "denied by [egress] deny entry 203.0.113.0/24");
	assert_allowed(p, "h", 443, "203.0.113.7"); /* allow beats deny */
	ck_assert(!allows_at(p, "Bad.Example", 443, "198.51.100.1", &reason));
	ck_assert_str_eq(reason, "denied by [egress] deny entry bad.example");
	ck_assert(!allows_at(p, "bad.example.", 443, "198.51.100.1", &reason));
	ck_assert(!allows_at(p, "x.worse.example", 443, "198.51.100.1", &reason));
	ck_assert_str_eq(reason, "denied by [egress] deny entry *.worse.example");
	assert_allowed(p, "notbad.example", 443, "198.51.100.1");
	ck_assert(!allows_at(p, "h", 25, "198.51.100.5", &reason));
	ck_assert_str_eq(reason, "denied by [egress] deny entry 198.51.100.5:25");
	assert_allowed(p, "h", 587, "198.51.100.5");
	ck_assert(!allows_at(p, "h", 443, "2001:db8:bad:1::1", &reason));
	assert_allowed(p, "h", 443, "2001:db8:bae::1");

	/* Without an address (left to the upstream proxy) only names can match. */
	ck_assert(!egress_policy_allows(p, "bad.example", 443, NULL, &reason));
	ck_assert_str_eq(reason, "denied by [egress] deny entry bad.example");
	ck_assert(egress_policy_allows(p, "fine.example", 443, NULL, &reason));
	ck_assert_str_eq(reason, "not in a refused range");
	egress_policy_destroy(p);
}
END_TEST

static void assert_entry_error(const char *list, const char *entry, const char *want)
{
	const char *items[] = {"ok.example", "10.0.0.0/8", entry};
	struct shoji_strlist l = {3, (char **)items};
	struct shoji_strlist empty = {0, NULL};
	char err[256] = "";
	bool allow = strcmp(list, "allow") == 0;

	struct egress_policy *p =
	    egress_policy_create(allow ? &l : &empty, allow ? &empty : &l, err, sizeof(err));
	ck_assert_msg(p == NULL, "entry '%s' accepted", entry);
	ck_assert_str_eq(err, want);
}

START_TEST(bad_entries)
{
	assert_entry_error("allow", "10.0.0.0/33",
	                   "[egress] allow: entry 3 '10.0.0.0/33': prefix length must be 0..32");
	assert_entry_error("deny", "fd00::/129",
	                   "[egress] deny: entry 3 'fd00::/129': prefix length must be 0..128");
	assert_entry_error("deny", "10.0.0.0/",
	                   "[egress] deny: entry 3 '10.0.0.0/': prefix length must be 0..32");
	assert_entry_error("deny", "10.0.0.0/8:443",
	                   "[egress] deny: entry 3 '10.0.0.0/8:443': prefix length must be 0..32");
	assert_entry_error("allow", "10.0.0.1/8",
	                   "[egress] allow: entry 3 '10.0.0.1/8': bits are set after the prefix "
	                   "(did you mean 10.0.0.0/8?)");
	assert_entry_error("allow", "300.1.1.1/8",
	                   "[egress] allow: entry 3 '300.1.1.1/8': '300.1.1.1' is not an IPv4 or "
	                   "IPv6 address");
	assert_entry_error("allow", "example.jp:0",
	                   "[egress] allow: entry 3 'example.jp:0': port must be 1..65535");
	assert_entry_error("allow", "example.jp:65536",
	                   "[egress] allow: entry 3 'example.jp:65536': port must be 1..65535");
	assert_entry_error(
	    "allow", "example.jp:", "[egress] allow: entry 3 'example.jp:': port must be 1..65535");
	assert_entry_error("deny", "exa mple.jp",
	                   "[egress] deny: entry 3 'exa mple.jp': a host name holds only letters, "
	                   "digits, '-' and '.' (or starts with \"*.\")");
	assert_entry_error("deny", "*",
	                   "[egress] deny: entry 3 '*': a host name holds only letters, digits, "
	                   "'-' and '.' (or starts with \"*.\")");
	assert_entry_error("deny", "*.",
	                   "[egress] deny: entry 3 '*.': not a CIDR, HOST or HOST:PORT");
	assert_entry_error("deny", "", "[egress] deny: entry 3 '': not a CIDR, HOST or HOST:PORT");
	assert_entry_error("allow", "[fd00::1]",
	                   "[egress] allow: entry 3 '[fd00::1]': an IPv6 address with a port is "
	                   "[ADDR]:PORT");
	assert_entry_error("allow", "[10.0.0.1]:80",
	                   "[egress] allow: entry 3 '[10.0.0.1]:80': '10.0.0.1' is not an IPv6 "
	                   "address");

	/* A short error buffer truncates, never overruns. */
	const char *items[] = {"10.0.0.0/33"};
	struct shoji_strlist l = {1, (char **)items};
	char err[16];
	memset(err, 'x', sizeof(err));
	ck_assert_ptr_null(egress_policy_create(&l, NULL, err, 10));
	ck_assert_uint_eq(strlen(err), 9);
	ck_assert_int_eq(err[10], 'x');
}
END_TEST

/* --- the proxy, end to end --- */

#define IO_TIMEOUT_MS 5000

static int listen_local(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static bool wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, timeout_ms) == 1;
}

/* Reads until `want` bytes, end of stream, or the timeout; NUL-terminates. */
static size_t read_some(int fd, char *buf, size_t cap, size_t want)
{
	size_t have = 0;

	while (have < want && have < cap - 1 && wait_readable(fd, IO_TIMEOUT_MS)) {
		ssize_t n = recv(fd, buf + have, cap - 1 - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	buf[have] = '\0';
	return have;
}

static size_t read_to_end(int fd, char *buf, size_t cap)
{
	return read_some(fd, buf, cap, cap);
}

/* The peer closed (or shut down writing) without sending anything more. */
static void assert_eof(int fd)
{
	char byte;

	ck_assert(wait_readable(fd, IO_TIMEOUT_MS));
	ck_assert_int_eq(recv(fd, &byte, 1, 0), 0);
}

/* The peer closed, in whatever way: an end of stream or a reset. */
static void assert_closed(int fd)
{
	char byte;

	ck_assert(wait_readable(fd, IO_TIMEOUT_MS));
	ssize_t n = recv(fd, &byte, 1, 0);
	ck_assert_msg(n == 0 || (n < 0 && errno == ECONNRESET), "recv: %zd", n);
}

static void send_str(int fd, const char *s)
{
	ck_assert_int_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/*
 * A one-connection-at-a-time server on 127.0.0.1: reads a head (and a
 * Content-Length body), remembers them, answers `reply` and closes. Plays
 * the origin server, or (with a CONNECT-style reply) an upstream proxy.
 */
struct test_server {
	int lfd, stop[2];
	uint16_t port;
	pthread_t thread;
	const char *reply;
	bool linger; /* after answering, read on until the proxy closes */
	pthread_mutex_t lock;
	int accepted;
	char head[4096];
	char body[256];
	char after[256]; /* what came after the request, when lingering */
};

static void server_handle(struct test_server *s, int fd)
{
	char buf[4096];
	size_t have = 0;
	char *end = NULL;

	while (!end && have < sizeof(buf) - 1 && wait_readable(fd, IO_TIMEOUT_MS)) {
		ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	size_t head_len = end ? (size_t)(end + 4 - buf) : have;
	const char *cl = strcasestr(buf, "\r\nContent-Length: ");
	size_t body_len = cl && cl < buf + head_len ? strtoul(cl + 18, NULL, 10) : 0;
	if (body_len >= sizeof(s->body))
		body_len = sizeof(s->body) - 1;
	if (body_len > have - head_len)
		have += read_some(fd, buf + have, sizeof(buf) - have, body_len - (have - head_len));
	pthread_mutex_lock(&s->lock);
	s->accepted++;
	snprintf(s->head, sizeof(s->head), "%.*s", (int)head_len, buf);
	snprintf(s->body, sizeof(s->body), "%.*s", (int)body_len, buf + head_len);
	pthread_mutex_unlock(&s->lock);
	send(fd, s->reply, strlen(s->reply), MSG_NOSIGNAL);
	if (s->linger) {
		char after[256];
		read_to_end(fd, after, sizeof(after));
		pthread_mutex_lock(&s->lock);
		snprintf(s->after, sizeof(s->after), "%s", after);
		pthread_mutex_unlock(&s->lock);
	}
	close(fd);
}

static void *server_thread(void *arg)
{
	struct test_server *s = arg;

	for (;;) {
		struct pollfd p[2] = {{s->lfd, POLLIN, 0}, {s->stop[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0 || p[1].revents)
			break;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			server_handle(s, fd);
	}
	return NULL;
}

static void server_start(struct test_server *s, const char *reply, bool linger)
{
	memset(s, 0, sizeof(*s));
	s->reply = reply;
	s->linger = linger;
	s->lfd = listen_local(&s->port);
	ck_assert_int_eq(pipe2(s->stop, O_CLOEXEC), 0);
	pthread_mutex_init(&s->lock, NULL);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, server_thread, s), 0);
}

static void server_stop(struct test_server *s)
{
	close(s->stop[1]);
	pthread_join(s->thread, NULL);
	close(s->stop[0]);
	close(s->lfd);
	pthread_mutex_destroy(&s->lock);
}

static int server_accepted(struct test_server *s)
{
	pthread_mutex_lock(&s->lock);
	int n = s->accepted;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static const char origin_reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n"
                                   "Connection: close\r\n\r\nhello origin";

struct test_proxy {
	int sp[2]; /* [0] plays the sandbox, [1] goes to the proxy */
	pthread_t thread;
	int rc;
	struct egress_policy *policy;
	struct egress_proxy_opts opts;
};

static void *proxy_thread(void *arg)
{
	struct test_proxy *t = arg;
	t->rc = egress_proxy_run(t->sp[1], &t->opts);
	return NULL;
}

static void proxy_start(struct test_proxy *t, const char *const *allow, size_t n_allow,
                        const char *upstream, struct audit_log *audit)
{
	memset(t, 0, sizeof(*t));
	t->policy = policy_from(allow, n_allow, NULL, 0);
	t->opts = (struct egress_proxy_opts){.session_id = "test-session",
	                                     .policy = t->policy,
	                                     .upstream = upstream,
	                                     .audit = audit,
	                                     .max_connections = 8};
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, t->sp), 0);
	ck_assert_int_eq(pthread_create(&t->thread, NULL, proxy_thread, t), 0);
}

static void proxy_stop(struct test_proxy *t)
{
	close(t->sp[0]);
	pthread_join(t->thread, NULL);
	close(t->sp[1]);
	ck_assert_int_eq(t->rc, 0);
	egress_policy_destroy(t->policy);
}

/* Sends fds in one packet, with a payload byte, as the sandbox does. */
static void pass_fds(struct test_proxy *t, const int *fds, size_t n)
{
	char byte = 'c';
	struct iovec iov = {&byte, 1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (n > 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(h), fds, sizeof(int) * n);
	}
	ck_assert_int_eq(sendmsg(t->sp[0], &msg, 0), 1);
}

/*
 * The browser's end of a new connection through the sandbox: a TCP pair on
 * 127.0.0.1 whose accepted end is passed to the proxy.
 */
static int browser_connect(struct test_proxy *t)
{
	uint16_t port;
	int lfd = listen_local(&port);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	                        .sin_port = htons(port)};
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(s, 0);
	close(lfd);
	pass_fds(t, &s, 1);
	close(s);
	return c;
}

/* One request through the proxy; the whole answer (until the proxy closes) into buf. */
static void browse(struct test_proxy *t, const char *request, char *buf, size_t cap)
{
	int c = browser_connect(t);
	send_str(c, request);
	read_to_end(c, buf, cap);
	close(c);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

START_TEST(proxy_absolute_get)
{
	static const char *const allow[] = {"127.0.0.1"};
	struct test_server origin;
	struct test_proxy t;
	char req[512], buf[4096], want[512];
	int fds_before = count_fds();

	server_start(&origin, origin_reply, false);
	proxy_start(&t, allow, 1, NULL, NULL);
	snprintf(req, sizeof(req),
	         "GET http://127.0.0.1:%u/hello?x=1 HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
	         "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\n"
	         "User-Agent: test\r\n\r\n",
	         origin.port, origin.port);
	browse(&t, req, buf, sizeof(buf));
	ck_assert_str_eq(buf, origin_reply);
	snprintf(want, sizeof(want),
	         "GET /hello?x=1 HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: test\r\n"
	         "Connection: close\r\n\r\n",
	         origin.port);
	ck_assert_str_eq(origin.head, want);

	/* A body, sent with the head in one write, goes along. */
	snprintf(req, sizeof(req),
	         "POST http://127.0.0.1:%u/form HTTP/1.1\r\nContent-Length: 7\r\n\r\na=1&b=2",
	         origin.port);
	browse(&t, req, buf, sizeof(buf));
	ck_assert_str_eq(buf, origin_reply);
	ck_assert_str_eq(origin.body, "a=1&b=2");
	ck_assert_int_eq(server_accepted(&origin), 2);

	proxy_stop(&t);
	server_stop(&origin);
	ck_assert_int_eq(count_fds(), fds_before);
}
END_TEST

static const char keep_alive_reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                       "Connection: keep-alive\r\n\r\nok";

START_TEST(proxy_one_request_per_connection)
{
	static const char *const allow[] = {"127.0.0.1"};
	struct test_server origin;
	struct test_proxy t;
	char req[512], buf[4096];

	/* An origin that answers keep-alive and holds the connection open. */
	server_start(&origin, keep_alive_reply, true);
	proxy_start(&t, allow, 1, NULL, NULL);
	int c = browser_connect(&t);
	snprintf(req, sizeof(req),
	         "POST http://127.0.0.1:%u/form HTTP/1.1\r\nContent-Length: 7\r\n\r\n",
	         origin.port);
	send_str(c, req);
	usleep(50000);
	send_str(c, "a=1&b=2"); /* the body, later: it goes along */
	read_some(c, buf, sizeof(buf), strlen(keep_alive_reply));
	ck_assert_str_eq(buf, keep_alive_reply);
	/* The browser reuses the connection for another host: that must not reach this origin. */
	send_str(c, "GET http://other.example/ HTTP/1.1\r\nCookie: secret=1\r\n\r\n");
	assert_closed(c);
	close(c);
	proxy_stop(&t);
	server_stop(&origin);
	ck_assert_str_eq(origin.body, "a=1&b=2");
	ck_assert_str_eq(origin.after, "");

	/* Pipelined requests are refused before anything is sent. */
	server_start(&origin, origin_reply, false);
	proxy_start(&t, allow, 1, NULL, NULL);
	snprintf(
	    req, sizeof(req),
	    "GET http://127.0.0.1:%u/a HTTP/1.1\r\n\r\nGET http://127.0.0.1:%u/b HTTP/1.1\r\n\r\n",
	    origin.port, origin.port);
	browse(&t, req, buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
	proxy_stop(&t);
	ck_assert_int_eq(server_accepted(&origin), 0);
	server_stop(&origin);
}
END_TEST

START_TEST(proxy_connect_tunnel)
{
	static const char *const allow[] = {"127.0.0.1"};
	static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	struct test_server origin;
	struct test_proxy t;
	char req[256], buf[4096];

	server_start(&origin, origin_reply, false);
	proxy_start(&t, allow, 1, NULL, NULL);

	int c = browser_connect(&t);
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%u HTTP/1.1\r\nHost: x\r\n\r\n", origin.port);
	send_str(c, req);
	read_some(c, buf, sizeof(buf), strlen(established));
	ck_assert_str_eq(buf, established);
	send_str(c, "GET /tunnelled HTTP/1.1\r\nHost: o\r\n\r\n");
	read_to_end(c, buf, sizeof(buf));
	ck_assert_str_eq(buf, origin_reply);
	ck_assert_str_eq(origin.head, "GET /tunnelled HTTP/1.1\r\nHost: o\r\n\r\n");
	close(c);

	/* Bytes sent right behind the CONNECT head are not lost. */
	c = browser_connect(&t);
	snprintf(req, sizeof(req),
	         "CONNECT 127.0.0.1:%u HTTP/1.1\r\n\r\nGET /early HTTP/1.1\r\n\r\n", origin.port);
	send_str(c, req);
	read_to_end(c, buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, established, strlen(established)), 0);
	ck_assert_str_eq(buf + strlen(established), origin_reply);
	ck_assert_str_eq(origin.head, "GET /early HTTP/1.1\r\n\r\n");
	close(c);

	proxy_stop(&t);
	server_stop(&origin);
}
END_TEST

START_TEST(proxy_stops_open_tunnels)
{
	static const char *const allow[] = {"127.0.0.1"};
	static const char established[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	uint16_t port;
	int lfd = listen_local(&port);
	struct test_proxy t;
	char req[256], buf[256];

	proxy_start(&t, allow, 1, NULL, NULL);
	int c = browser_connect(&t);
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%u HTTP/1.1\r\n\r\n", port);
	send_str(c, req);
	read_some(c, buf, sizeof(buf), strlen(established));
	ck_assert_str_eq(buf, established);
	int o = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(o, 0);
	send_str(c, "ping");
	read_some(o, buf, sizeof(buf), 4);
	ck_assert_str_eq(buf, "ping");
	send_str(o, "pong");
	read_some(c, buf, sizeof(buf), 4);
	ck_assert_str_eq(buf, "pong");

	/* The browser half-closes: the origin sees the end, and can still answer. */
	shutdown(c, SHUT_WR);
	assert_eof(o);
	send_str(o, "late");
	read_some(c, buf, sizeof(buf), 4);
	ck_assert_str_eq(buf, "late");

	/* The sandbox goes away with the tunnel still open: both ends are closed. */
	proxy_stop(&t);
	assert_eof(c);
	assert_eof(o);
	close(c);
	close(o);
	close(lfd);
}
END_TEST

START_TEST(proxy_refuses_by_default)
{
	struct test_server origin;
	struct test_proxy t;
	char req[256], buf[4096];

	server_start(&origin, origin_reply, false);
	proxy_start(&t, NULL, 0, NULL, NULL);
	snprintf(req, sizeof(req), "GET http://127.0.0.1:%u/ HTTP/1.1\r\n\r\n", origin.port);
	browse(&t, req, buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24), 0);
	ck_assert_ptr_nonnull(strstr(buf, "blocked by the isolation policy"));
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%u HTTP/1.1\r\n\r\n", origin.port);
	browse(&t, req, buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24), 0);
	snprintf(req, sizeof(req), "CONNECT [::ffff:127.0.0.1]:%u HTTP/1.1\r\n\r\n", origin.port);
	browse(&t, req, buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24), 0);
	snprintf(req, sizeof(req), "GET http://localhost:%u/ HTTP/1.1\r\n\r\n", origin.port);
	browse(&t, req, buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24), 0);
	proxy_stop(&t);

	/* Odd IPv4 forms are refused even where dotted decimal is allowed. */
	static const char *const allow[] = {"127.0.0.1"};
	proxy_start(&t, allow, 1, NULL, NULL);
	snprintf(req, sizeof(req), "CONNECT 0x7f.1:%u HTTP/1.1\r\n\r\n", origin.port);
	browse(&t, req, buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24), 0);
	snprintf(req, sizeof(req), "GET http://2130706433:%u/ HTTP/1.1\r\n\r\n", origin.port);
	browse(&t, req, buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24), 0);
	snprintf(req, sizeof(req), "GET http://0127.0.0.1:%u/ HTTP/1.1\r\n\r\n", origin.port);
	browse(&t, req, buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24), 0);
	proxy_stop(&t);
	ck_assert_int_eq(server_accepted(&origin), 0);
	server_stop(&origin);
}
END_TEST

START_TEST(proxy_bad_requests)
{
	struct test_proxy t;
	char buf[4096];

	proxy_start(&t, NULL, 0, NULL, NULL);
	browse(&t, "hello world\r\n\r\n", buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
	browse(&t, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
	browse(&t, "\x16\x03\x01", buf, sizeof(buf)); /* a TLS record */
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
	browse(&t, "CONNECT 192.0.2.1:0 HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
	proxy_stop(&t);
}
END_TEST

START_TEST(proxy_refuses_bad_packets)
{
	struct test_proxy t;
	char buf[4096];
	int pipefd[2], lfd;
	uint16_t port;

	proxy_start(&t, NULL, 0, NULL, NULL);
	/* No descriptor at all. */
	pass_fds(&t, NULL, 0);
	/* A pipe is not a connection: the proxy closes its copy. */
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	pass_fds(&t, &pipefd[0], 1);
	close(pipefd[0]);
	struct pollfd p = {pipefd[1], 0, 0};
	ck_assert_int_eq(poll(&p, 1, IO_TIMEOUT_MS), 1);
	ck_assert(p.revents & POLLERR);
	close(pipefd[1]);
	/* Neither is a listening socket, nor two descriptors at once. */
	lfd = listen_local(&port);
	pass_fds(&t, &lfd, 1);
	int two[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, two), 0);
	int both[2] = {two[1], two[1]};
	pass_fds(&t, both, 2);
	close(two[1]);
	/* Dropped, not served: the other end sees the socket closed, with no answer. */
	assert_eof(two[0]);
	close(two[0]);
	close(lfd);
	/* And the proxy goes on serving. */
	browse(&t, "hello\r\n", buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26), 0);
	proxy_stop(&t);
}
END_TEST

START_TEST(proxy_connection_limit)
{
	struct test_proxy t;
	char buf[4096];

	proxy_start(&t, NULL, 0, NULL, NULL);
	int held[8];
	for (int i = 0; i < 8; i++) {
		held[i] = browser_connect(&t);
		send_str(held[i], "CONN"); /* an unfinished head keeps the slot */
	}
	int extra = browser_connect(&t);
	read_to_end(extra, buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 503 Service Unavailable\r\n", 34), 0);
	close(extra);
	/* A slot freed is a slot usable again. */
	close(held[0]);
	for (int tries = 0;; tries++) {
		int c = browser_connect(&t);
		send_str(c, "x\r\n");
		read_to_end(c, buf, sizeof(buf));
		close(c);
		if (strncmp(buf, "HTTP/1.1 400", 12) == 0)
			break;
		ck_assert_int_lt(tries, 50);
		usleep(20000);
	}
	for (int i = 1; i < 8; i++)
		close(held[i]);
	proxy_stop(&t);
}
END_TEST

static int count_lines_with(const char *text, const char *a, const char *b, const char *c)
{
	int n = 0;

	for (const char *line = text; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char one[1024];
		snprintf(one, sizeof(one), "%.*s", (int)len, line);
		if (strstr(one, a) && strstr(one, b) && strstr(one, c))
			n++;
		line += len + (end ? 1 : 0);
	}
	return n;
}

START_TEST(proxy_audits)
{
	static const char *const allow[] = {"127.0.0.1"};
	char dir[] = "/tmp/shoji-egress-XXXXXX";
	char path[64], req[256], buf[4096], want[128];
	struct test_server origin;
	struct test_proxy t;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	struct audit_log *audit = audit_open(path);
	ck_assert_ptr_nonnull(audit);
	server_start(&origin, origin_reply, false);
	proxy_start(&t, allow, 1, NULL, audit);
	snprintf(req, sizeof(req), "GET http://127.0.0.1:%u/a HTTP/1.1\r\n\r\n", origin.port);
	browse(&t, req, buf, sizeof(buf));
	browse(&t, req, buf, sizeof(buf)); /* the same again: not audited again */
	snprintf(req, sizeof(req), "CONNECT 127.0.0.2:%u HTTP/1.1\r\n\r\n", origin.port);
	browse(&t, req, buf, sizeof(buf));
	proxy_stop(&t);
	server_stop(&origin);
	audit_close(audit);

	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	rmdir(dir);
	ck_assert_int_eq(count_lines_with(buf, "\"event\":\"egress\"", "", ""), 2);
	ck_assert_int_eq(count_lines_with(buf, "\"session\":\"test-session\"", "", ""), 2);
	snprintf(want, sizeof(want), "\"method\":\"GET\",\"host\":\"127.0.0.1\",\"port\":%u,",
	         origin.port);
	ck_assert_int_eq(
	    count_lines_with(buf, want, "\"allowed\":true",
	                     "\"reason\":\"allowed by [egress] allow entry 127.0.0.1\""),
	    1);
	snprintf(want, sizeof(want), "\"method\":\"CONNECT\",\"host\":\"127.0.0.2\",\"port\":%u,",
	         origin.port);
	ck_assert_int_eq(
	    count_lines_with(buf, want, "\"allowed\":false", "\"reason\":\"loopback address\""), 1);
}
END_TEST

START_TEST(proxy_chains_upstream)
{
	static const char upstream_reply[] = "HTTP/1.1 200 Connection established\r\n\r\nfrom "
	                                     "upstream";
	struct test_server up;
	struct test_proxy t;
	char upstream[32], buf[4096];

	server_start(&up, upstream_reply, false);
	snprintf(upstream, sizeof(upstream), "127.0.0.1:%u", up.port);
	proxy_start(&t, NULL, 0, upstream, NULL);

	/* A public address: the head goes to the upstream proxy unchanged. */
	const char *req = "CONNECT 198.51.100.7:443 HTTP/1.1\r\nHost: 198.51.100.7:443\r\n"
	                  "Proxy-Authorization: Basic eDp5\r\n\r\n";
	browse(&t, req, buf, sizeof(buf));
	ck_assert_str_eq(buf, upstream_reply);
	ck_assert_str_eq(up.head, req);
	req = "GET http://[2001:db8::7]/x HTTP/1.1\r\nProxy-Connection: keep-alive\r\n\r\n";
	browse(&t, req, buf, sizeof(buf));
	ck_assert_str_eq(up.head, req);
	ck_assert_int_eq(server_accepted(&up), 2);

	/* Refused destinations never reach the upstream proxy: literals, and names that resolve. */
	browse(&t, "CONNECT 10.1.2.3:443 HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24), 0);
	browse(&t, "CONNECT localhost:443 HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 403 Forbidden\r\n", 24), 0);
	ck_assert_int_eq(server_accepted(&up), 2);
	proxy_stop(&t);
	server_stop(&up);
}
END_TEST

START_TEST(proxy_bad_upstream)
{
	struct egress_policy *p = policy_from(NULL, 0, NULL, 0);
	struct egress_proxy_opts opts = {.session_id = "s", .policy = p, .upstream = "no-port"};
	int sp[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	ck_assert_int_eq(egress_proxy_run(sp[1], &opts), -1);
	close(sp[0]);
	close(sp[1]);
	egress_policy_destroy(p);
}
END_TEST

START_TEST(proxy_unreachable)
{
	static const char *const allow[] = {"127.0.0.1"};
	uint16_t port;
	int lfd = listen_local(&port);
	struct test_proxy t;
	char req[256], buf[4096];

	close(lfd); /* nothing listens there now */
	proxy_start(&t, allow, 1, NULL, NULL);
	snprintf(req, sizeof(req), "CONNECT 127.0.0.1:%u HTTP/1.1\r\n\r\n", port);
	browse(&t, req, buf, sizeof(buf));
	ck_assert_int_eq(strncmp(buf, "HTTP/1.1 502 Bad Gateway\r\n", 26), 0);
	proxy_stop(&t);
}
END_TEST

Suite *suite_egress_policy(void)
{
	Suite *s = suite_create("egress_policy");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, default_refusals);
	tcase_add_test(tc, host_own_addresses);
	tcase_add_test(tc, not_an_ip_address);
	tcase_add_test(tc, allow_beats_defaults);
	tcase_add_test(tc, deny_entries);
	tcase_add_test(tc, bad_entries);
	suite_add_tcase(s, tc);

	tc = tcase_create("proxy");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, proxy_absolute_get);
	tcase_add_test(tc, proxy_one_request_per_connection);
	tcase_add_test(tc, proxy_connect_tunnel);
	tcase_add_test(tc, proxy_stops_open_tunnels);
	tcase_add_test(tc, proxy_refuses_by_default);
	tcase_add_test(tc, proxy_bad_requests);
	tcase_add_test(tc, proxy_refuses_bad_packets);
	tcase_add_test(tc, proxy_connection_limit);
	tcase_add_test(tc, proxy_audits);
	tcase_add_test(tc, proxy_chains_upstream);
	tcase_add_test(tc, proxy_bad_upstream);
	tcase_add_test(tc, proxy_unreachable);
	suite_add_tcase(s, tc);
	return s;
}
