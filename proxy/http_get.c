/*
 * HTTP request-head parser for the [metrics] listener (see http_get.h).
 * Handles untrusted input; pure.
 */
#include "autoconfig.h"

#include <string.h>

#include "http_get.h"

/* The next line: its length without CRLF or LF, and *next past it; -1 if none yet. */
static ssize_t line_at(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return -1;
	*next = nl + 1;
	return nl > p && nl[-1] == '\r' ? nl - 1 - p : nl - p;
}

static bool parse_request_line(const char *p, size_t n, struct http_get *req)
{
	size_t i = 0, m = 0, t = 0;

	while (i < n && p[i] >= 'A' && p[i] <= 'Z' && m < HTTP_GET_MAX_METHOD)
		req->method[m++] = p[i++];
	req->method[m] = '\0';
	if (m == 0 || i >= n || p[i++] != ' ' || i >= n || p[i] != '/')
		return false;
	bool query = false;
	for (; i < n && p[i] != ' '; i++) {
		if (p[i] <= 0x20 || p[i] >= 0x7f)
			return false;
		query = query || p[i] == '?' || p[i] == '#';
		if (query)
			continue;
		if (t == HTTP_GET_MAX_PATH)
			return false;
		req->path[t++] = p[i];
	}
	req->path[t] = '\0';
	if (n - i != 9 || memcmp(p + i, " HTTP/1.", 8) || (p[i + 8] != '0' && p[i + 8] != '1'))
		return false;
	req->minor = p[i + 8] - '0';
	return true;
}

static bool header_ok(const char *p, size_t n)
{
	const char *colon = memchr(p, ':', n);
	if (!colon || colon == p)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
		if (p + i < colon && (c <= 0x20 || c >= 0x7f))
			return false; /* a header name is a token */
	}
	return true;
}

ssize_t http_get_parse(const char *buf, size_t len, struct http_get *req)
{
	const char *end = buf + (len < HTTP_GET_MAX_REQUEST ? len : HTTP_GET_MAX_REQUEST);
	const char *p = buf, *next;
	ssize_t n;

	memset(req, 0, sizeof(*req));
	if ((n = line_at(p, end, &next)) < 0)
		return len >= HTTP_GET_MAX_REQUEST ? -1 : 0;
	if (!parse_request_line(p, (size_t)n, req))
		return -1;
	for (int headers = 0;; headers++) {
		p = next;
		if ((n = line_at(p, end, &next)) < 0)
			return len >= HTTP_GET_MAX_REQUEST ? -1 : 0;
		if (n == 0)
			return next - buf;
		if (headers == HTTP_GET_MAX_HEADERS || !header_ok(p, (size_t)n))
			return -1;
	}
}
