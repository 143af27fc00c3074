/*
 * The egress proxy: the browser's only way out of its sandbox.
 *
 * Inside the sandbox, shoji-render listens on the sandbox's own 127.0.0.1
 * and passes every accepted connection (SCM_RIGHTS over a socketpair) out to
 * the session supervisor, which runs this proxy in the host's network
 * namespace. The proxy reads one HTTP request, either
 *   CONNECT host:port HTTP/1.1                (https://)
 *   GET http://host[:port]/path HTTP/1.1      (absolute form, http://)
 * decides with egress_policy whether the destination may be reached,
 * audits the visit, and then either connects directly (relaying bytes both
 * ways) or chains to [browser] upstream_proxy.
 *
 * Refused by default: loopback, private (RFC 1918), CGNAT, link-local,
 * multicast, unspecified, broadcast and IPv6 ULA/link-local addresses, the
 * host's own addresses, and whatever [egress] deny lists. [egress] allow
 * makes exceptions (CIDR, HOST, or HOST:PORT). A name is checked against
 * every address it resolves to, and the proxy connects only to an address
 * it checked, so DNS rebinding cannot slip past. With an upstream proxy, a
 * name that does not resolve here is left to the upstream (only HOST
 * entries can refuse it); address literals are always checked.
 *
 * One checked request per connection: for http:// only that request's
 * body goes on, and a browser that reuses the connection for a next
 * request finds it closed (and retries on a new, newly checked one).
 *
 * Handles untrusted input: yes, the request bytes from the browser.
 * http_request_parse() is pure and has a fuzz target.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config.h"

#define HTTP_MAX_REQUEST_HEAD 16384
#define HTTP_MAX_HOST 255

enum http_method { HTTP_CONNECT, HTTP_ABSOLUTE }; /* ABSOLUTE: any method with an http:// target */

/*
 * What http_request_parse() accepts:
 *   CONNECT host:port HTTP/1.x       port 1..65535, required
 *   CONNECT [v6]:port HTTP/1.x
 *   METHOD http://host[:port][/path] HTTP/1.x     port 80 by default
 * METHOD is 1..15 capitals; host is letters, digits, '-' and '.' (at most
 * HTTP_MAX_HOST) or a bracketed IPv6 literal, stored lowercased. Refused:
 * origin form ("/path"), https:// and other schemes, userinfo, a query
 * without a path ("http://h?q"), obs-fold, header names that are not
 * tokens, NUL, CR not before LF and every other control byte but HT, a
 * Content-Length that is not one decimal number below 10^18 or comes
 * twice, and Transfer-Encoding on anything but CONNECT (the proxy must know
 * where the one request it checked ends). Lines end in CRLF or a bare LF.
 */
struct http_request {
	enum http_method kind;
	char method[16];              /* "CONNECT", "GET", "POST", ... */
	char host[HTTP_MAX_HOST + 1]; /* lowercased; without brackets for IPv6 literals */
	uint16_t port;
	size_t head_len; /* bytes of the request line and headers, with the blank line */
	size_t line_len; /* bytes of the request line, with its CRLF */
	size_t path_off; /* ABSOLUTE: offset of the origin-form path ("/...") in the request line */
	size_t path_len; /* ABSOLUTE: 0 when the target has no path, which means "/" */
	bool has_body_len; /* a Content-Length header was there */
	uint64_t body_len; /* its value: bytes of body after the head (0 when absent) */
};

/**
 * Parses the request line and finds the end of the head. Returns head_len
 * (>0) when the head is complete, 0 if more bytes are needed, -1 if the
 * request is malformed, not for a proxy (origin-form), not http:// or
 * CONNECT, or longer than HTTP_MAX_REQUEST_HEAD (even while incomplete).
 * Bytes after the head (a body, or an early TLS record) are not looked at.
 * A malformed request line is refused as soon as its line end arrives, and
 * a control byte or a non-capital method as soon as it arrives. Pure.
 */
ssize_t http_request_parse(const uint8_t *buf, size_t len, struct http_request *req);

/* Room beyond head_len that http_request_origin_head() may need. */
#define HTTP_ORIGIN_HEAD_EXTRA 512

/**
 * The head to send an origin server for an ABSOLUTE request that `buf`
 * (the bytes http_request_parse() accepted into `req`) holds: the request
 * line in origin form "METHOD /path HTTP/1.1", "Host:" from the target
 * (RFC 9112 3.2.2: a proxy replaces the browser's), then the browser's
 * headers in order except Connection, Keep-Alive, Proxy-Connection,
 * Proxy-Authorization and Host, then "Connection: close" and the blank
 * line. Line ends become CRLF. Returns its length, or -1 if `cap` is too
 * small (cap >= head_len + HTTP_ORIGIN_HEAD_EXTRA always suffices) or req
 * is not ABSOLUTE. Pure.
 */
ssize_t http_request_origin_head(const uint8_t *buf, const struct http_request *req, uint8_t *out,
                                 size_t cap);

struct egress_policy;

/**
 * Builds a policy from [egress] allow and deny. Each entry is one of
 *   CIDR         10.0.0.0/8, fd00::/8, or one address (10.1.2.3, fd00::1)
 *   HOST         exact name, case-insensitive ("portal.example.jp"), or
 *                "*.example.jp": that domain and every name below it
 *   HOST:PORT    also ADDR:PORT and [V6]:PORT; matches that port only
 * A CIDR may not have bits set after its prefix. On a bad entry returns
 * NULL and explains in err ("[egress] allow: entry 3 '10.0.0.0/33': prefix
 * length must be 0..32"). The host's own addresses are read here
 * (getifaddrs) and refused from then on.
 */
struct egress_policy *egress_policy_create(const struct shoji_strlist *allow,
                                           const struct shoji_strlist *deny, char *err,
                                           size_t errlen);
void egress_policy_destroy(struct egress_policy *p);

/**
 * Decides whether (host, port) at address `sa` may be reached. host is the
 * name the browser asked for (may be an address literal; one trailing dot
 * is ignored). Order: a matching allow entry allows; else a matching deny
 * entry, the default refusal set or the host's own addresses refuse; else
 * allowed. IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) IPv6
 * addresses are judged as the IPv4 address they carry. `sa` may be NULL
 * when no address is known (a name left for the upstream proxy to
 * resolve): then only HOST entries can match. *reason is always set to a
 * static or policy-owned string saying why ("loopback address", "denied by
 * [egress] deny entry 10.20.0.0/16", "allowed by [egress] allow entry
 * 127.0.0.1", "not in a refused range"). Pure apart from the host-address
 * list captured at create time.
 */
bool egress_policy_allows(const struct egress_policy *p, const char *host, uint16_t port,
                          const struct sockaddr *sa, const char **reason);

struct audit_log;

struct egress_proxy_opts {
	const char *session_id;
	const struct egress_policy *policy;
	const char *upstream; /* "HOST:PORT" or "[V6]:PORT", or NULL/"" */
	struct audit_log *audit;
	int max_connections; /* concurrent; further ones get 503; <= 0 means 64 */
};

/**
 * Runs the proxy until `fd_sock` (the SOCK_SEQPACKET socketpair end over
 * which the sandbox passes accepted connections, one descriptor per packet
 * by SCM_RIGHTS, payload ignored) reaches end of stream. Packets carrying
 * anything but exactly one connected stream socket are dropped (their
 * descriptors closed) and logged. Each connection is served on its own
 * thread; at the end every connection still open is closed and its thread
 * waited for, so opts (and what it points to) need only outlive this call.
 *
 * Each request is audited ("egress" event) at most once per 60 s for the
 * same (method, host, port, allowed). When the audit line cannot be written
 * the request is refused (503): browsing does not go on unaudited.
 *
 * Returns 0 at a clean end, -1 on error (bad upstream, or fd_sock failing).
 */
int egress_proxy_run(int fd_sock, const struct egress_proxy_opts *opts);
