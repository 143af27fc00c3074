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
 * it checked, so DNS rebinding cannot slip past.
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

struct http_request {
	enum http_method kind;
	char method[16];             /* "CONNECT", "GET", "POST", ... */
	char host[HTTP_MAX_HOST + 1]; /* without brackets for IPv6 literals */
	uint16_t port;
	size_t head_len;  /* bytes of the request line and headers, with the blank line */
	size_t line_len;  /* bytes of the request line, with its CRLF */
	size_t path_off;  /* ABSOLUTE: offset of the origin-form path ("/...") in the request line */
	size_t path_len;
};

/**
 * Parses the request line and finds the end of the head. Returns head_len
 * (>0) when the head is complete, 0 if more bytes are needed, -1 if the
 * request is malformed, not for a proxy (origin-form), not http:// or
 * CONNECT, or longer than HTTP_MAX_REQUEST_HEAD. Pure.
 */
ssize_t http_request_parse(const uint8_t *buf, size_t len, struct http_request *req);

struct egress_policy;

/**
 * Builds a policy from [egress] allow and deny. On a bad entry returns NULL
 * and explains in err (which entry, what is allowed).
 */
struct egress_policy *egress_policy_create(const struct shoji_strlist *allow,
					   const struct shoji_strlist *deny, char *err,
					   size_t errlen);
void egress_policy_destroy(struct egress_policy *p);

/**
 * Decides whether (host, port) at address `sa` may be reached. host is the
 * name the browser asked for (may be an address literal). On refusal,
 * *reason says why ("private address", "denied by [egress] deny", ...).
 * Pure apart from the host-address list captured at create time.
 */
bool egress_policy_allows(const struct egress_policy *p, const char *host, uint16_t port,
			  const struct sockaddr *sa, const char **reason);

struct audit_log;

struct egress_proxy_opts {
	const char *session_id;
	const struct egress_policy *policy;
	const char *upstream; /* "HOST:PORT" or NULL/"" */
	struct audit_log *audit;
	int max_connections; /* concurrent; further ones are refused */
};

/**
 * Runs the proxy until `fd_sock` (the socketpair end over which the
 * sandbox passes accepted connections) reaches end of stream. Each
 * connection is served on its own thread. Returns 0 at a clean end, -1 on
 * error.
 */
int egress_proxy_run(int fd_sock, const struct egress_proxy_opts *opts);
