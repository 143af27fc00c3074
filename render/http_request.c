/*
 * The request head a browser sends to its forward proxy, and the head the
 * proxy sends on to an origin server for a plain http:// request.
 *
 * Handles untrusted input: yes, every byte comes from the sandboxed browser,
 * which may be under a hostile page's control. Both functions are pure over
 * (buf, len): no I/O, no allocation. The grammar accepted is deliberately
 * narrower than RFC 9112 allows (single spaces, no obs-fold, no userinfo,
 * no control bytes), because a browser never needs more and every oddity
 * passed on is a chance to desynchronise the origin or an upstream proxy.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "egress.h"
#include "util.h"

#define HTTP_MAX_METHOD 15
#define HTTP_MAX_V6_LITERAL 45            /* INET6_ADDRSTRLEN - 1 */
#define HTTP_MAX_CONTENT_LENGTH_DIGITS 18 /* below 10^18: no overflow */

static bool is_upper(uint8_t c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_host_char(uint8_t c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.';
}

static bool is_hex_char(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 9110 tchar: what a header field name may hold. */
static bool is_tchar(uint8_t c)
{
	return is_alpha(c) || is_digit(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static uint8_t to_lower(uint8_t c)
{
	return is_upper(c) ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* ":PORT" with 1..5 digits and a value 1..65535; 0 or -1. */
static int parse_port(const uint8_t *p, size_t n, uint16_t *port)
{
	unsigned long v = 0;

	if (n < 2 || n > 6 || p[0] != ':')
		return -1;
	for (size_t i = 1; i < n; i++) {
		if (!is_digit(p[i]))
			return -1;
		v = v * 10 + (unsigned long)(p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* "[v6]" at the start of a; returns the bytes it takes, or -1. */
static ssize_t parse_v6_literal(const uint8_t *a, size_t n, struct http_request *req)
{
	struct in6_addr tmp;
	size_t i = 1;

	while (i < n && a[i] != ']') {
		if (i > HTTP_MAX_V6_LITERAL || !(is_hex_char(a[i]) || a[i] == ':' || a[i] == '.'))
			return -1;
		req->host[i - 1] = (char)to_lower(a[i]);
		i++;
	}
	if (i == n || i == 1)
		return -1;
	req->host[i - 1] = '\0';
	if (inet_pton(AF_INET6, req->host, &tmp) != 1)
		return -1;
	return (ssize_t)(i + 1);
}

/*
 * host[:port] or [v6][:port] filling req->host and req->port. A missing
 * port takes default_port, or is an error when default_port is 0.
 */
static int parse_authority(const uint8_t *a, size_t n, uint16_t default_port,
                           struct http_request *req)
{
	size_t i = 0;

	if (n == 0)
		return -1;
	if (a[0] == '[') {
		ssize_t used = parse_v6_literal(a, n, req);
		if (used < 0)
			return -1;
		i = (size_t)used;
	} else {
		while (i < n && a[i] != ':') {
			if (i >= HTTP_MAX_HOST || !is_host_char(a[i]))
				return -1;
			req->host[i] = (char)to_lower(a[i]);
			i++;
		}
		if (i == 0)
			return -1;
		req->host[i] = '\0';
	}
	if (i == n) {
		req->port = default_port;
		return default_port ? 0 : -1;
	}
	return parse_port(a + i, n - i, &req->port);
}

/* "http://authority[/path]" (scheme case-insensitive); the path is recorded in req. */
static int parse_absolute_target(const uint8_t *t, size_t n, size_t t_off, struct http_request *req)
{
	static const char scheme[] = "http://";
	size_t skip = sizeof(scheme) - 1;
	size_t auth_len = 0;

	if (n < skip || strncasecmp((const char *)t, scheme, skip) != 0)
		return -1;
	while (skip + auth_len < n && t[skip + auth_len] != '/')
		auth_len++;
	if (parse_authority(t + skip, auth_len, 80, req) < 0)
		return -1;
	req->path_off = t_off + skip + auth_len;
	req->path_len = n - skip - auth_len;
	return 0;
}

/* METHOD SP TARGET SP HTTP/1.d, without its line end. */
static int parse_request_line(const uint8_t *l, size_t n, struct http_request *req)
{
	size_t m = 0, t_off, t_len = 0;

	while (m < n && is_upper(l[m]))
		m++;
	if (m == 0 || m > HTTP_MAX_METHOD || m == n || l[m] != ' ')
		return -1;
	memcpy(req->method, l, m);
	req->method[m] = '\0';
	t_off = m + 1;
	while (t_off + t_len < n && l[t_off + t_len] > 0x20 && l[t_off + t_len] < 0x7f)
		t_len++;
	if (t_len == 0 || t_off + t_len == n || l[t_off + t_len] != ' ')
		return -1;
	const uint8_t *v = l + t_off + t_len + 1;
	if ((size_t)(l + n - v) != 8 || memcmp(v, "HTTP/1.", 7) != 0 || !is_digit(v[7]))
		return -1;
	if (strcmp(req->method, "CONNECT") == 0) {
		req->kind = HTTP_CONNECT;
		return parse_authority(l + t_off, t_len, 0, req);
	}
	req->kind = HTTP_ABSOLUTE;
	return parse_absolute_target(l + t_off, t_len, t_off, req);
}

/* Content-Length: one decimal number, with optional blanks around it. */
static int parse_content_length(const uint8_t *v, size_t n, struct http_request *req)
{
	uint64_t value = 0;
	size_t i = 0, digits = 0;

	if (req->has_body_len)
		return -1; /* two of them: which one would the origin believe? */
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	for (; i < n && is_digit(v[i]); i++, digits++) {
		if (digits == HTTP_MAX_CONTENT_LENGTH_DIGITS)
			return -1;
		value = value * 10 + (uint64_t)(v[i] - '0');
	}
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (digits == 0 || i != n)
		return -1;
	req->has_body_len = true;
	req->body_len = value;
	return 0;
}

static bool name_is(const uint8_t *l, size_t name_len, const char *name)
{
	return name_len == strlen(name) && strncasecmp((const char *)l, name, name_len) == 0;
}

/*
 * NAME ":" value, without its line end (bytes were checked by the caller).
 * The body's framing is read here so that the proxy forwards exactly one
 * request: chunked bodies are refused (browsers do not send them in HTTP/1.1).
 */
static int parse_header_line(const uint8_t *l, size_t n, struct http_request *req)
{
	size_t i = 0;

	while (i < n && is_tchar(l[i]))
		i++;
	if (i == 0 || i == n || l[i] != ':')
		return -1;
	if (name_is(l, i, "Content-Length"))
		return parse_content_length(l + i + 1, n - i - 1, req);
	if (name_is(l, i, "Transfer-Encoding") && req->kind == HTTP_ABSOLUTE)
		return -1;
	return 0;
}

/*
 * A byte of the head: no NUL or other control byte except HT, and CR only
 * before LF. At the end of what has arrived, a CR may still get its LF.
 */
static bool head_byte_ok(const uint8_t *buf, size_t i, size_t avail)
{
	uint8_t c = buf[i];

	if (c == '\r')
		return i + 1 == avail || buf[i + 1] == '\n';
	return c == '\t' || c == '\n' || (c >= 0x20 && c != 0x7f);
}

/* Rejects garbage before its first line end arrives: the method must be capitals. */
static bool method_prefix_ok(const uint8_t *buf, size_t avail)
{
	for (size_t i = 0; i < avail && buf[i] != ' '; i++)
		if (i >= HTTP_MAX_METHOD || !is_upper(buf[i]))
			return false;
	return true;
}

ssize_t http_request_parse(const uint8_t *buf, size_t len, struct http_request *req)
{
	size_t avail = MIN(len, (size_t)HTTP_MAX_REQUEST_HEAD);
	size_t line_start = 0;

	memset(req, 0, sizeof(*req));
	if (!method_prefix_ok(buf, avail))
		return -1;
	for (size_t i = 0; i < avail; i++) {
		if (!head_byte_ok(buf, i, avail))
			return -1;
		if (buf[i] != '\n')
			continue;
		size_t end = (i > line_start && buf[i - 1] == '\r') ? i - 1 : i;
		if (line_start == 0) {
			if (parse_request_line(buf, end, req) < 0)
				return -1;
			req->line_len = i + 1;
		} else if (end == line_start) {
			req->head_len = i + 1;
			return (ssize_t)req->head_len;
		} else if (parse_header_line(buf + line_start, end - line_start, req) < 0) {
			return -1;
		}
		line_start = i + 1;
	}
	return len >= HTTP_MAX_REQUEST_HEAD ? -1 : 0;
}

struct head_out {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
};

static void out_put(struct head_out *o, const void *p, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void out_str(struct head_out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

/* Headers for the proxy hop only, or replaced by the proxy (Host). */
static bool header_dropped(const uint8_t *l, size_t n)
{
	static const char *const names[] = {"Connection", "Keep-Alive", "Proxy-Connection",
	                                    "Proxy-Authorization", "Host"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		size_t k = strlen(names[i]);
		if (n > k && l[k] == ':' && strncasecmp((const char *)l, names[i], k) == 0)
			return true;
	}
	return false;
}

static void out_host_header(struct head_out *o, const struct http_request *req)
{
	char port[8];
	bool v6 = strchr(req->host, ':') != NULL;

	out_str(o, v6 ? "Host: [" : "Host: ");
	out_str(o, req->host);
	out_str(o, v6 ? "]" : "");
	if (req->port != 80) {
		snprintf(port, sizeof(port), ":%u", (unsigned)req->port);
		out_str(o, port);
	}
	out_str(o, "\r\n");
}

ssize_t http_request_origin_head(const uint8_t *buf, const struct http_request *req, uint8_t *out,
                                 size_t cap)
{
	struct head_out o = {.buf = out, .cap = cap};

	if (req->kind != HTTP_ABSOLUTE || req->line_len == 0 || req->head_len < req->line_len)
		return -1;
	out_str(&o, req->method);
	out_str(&o, " ");
	if (req->path_len > 0)
		out_put(&o, buf + req->path_off, req->path_len);
	else
		out_str(&o, "/");
	out_str(&o, " HTTP/1.1\r\n");
	out_host_header(&o, req);
	for (size_t start = req->line_len, i = start; i < req->head_len; i++) {
		if (buf[i] != '\n')
			continue;
		size_t end = (i > start && buf[i - 1] == '\r') ? i - 1 : i;
		if (end > start && !header_dropped(buf + start, end - start)) {
			out_put(&o, buf + start, end - start);
			out_str(&o, "\r\n");
		}
		start = i + 1;
	}
	out_str(&o, "Connection: close\r\n\r\n");
	return o.overflow ? -1 : (ssize_t)o.len;
}
