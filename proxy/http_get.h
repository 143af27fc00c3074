/*
 * The request line and headers of an HTTP/1.x request, as the [metrics]
 * listener reads them: enough to answer GET /metrics and to refuse
 * everything else. No body is ever read (a request with one is answered
 * and the connection closed).
 *
 * Handles untrusted input (whatever connects to [metrics] listen, which
 * is loopback only): http_get_parse is pure, bounded by
 * HTTP_GET_MAX_REQUEST, and has a fuzz target (tests/fuzz/fuzz-http-get.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HTTP_GET_MAX_REQUEST 4096 /* request line and headers, bytes */
#define HTTP_GET_MAX_METHOD 16
#define HTTP_GET_MAX_PATH 256
#define HTTP_GET_MAX_HEADERS 64

struct http_get {
	char method[HTTP_GET_MAX_METHOD + 1];
	char path[HTTP_GET_MAX_PATH + 1]; /* the target without its query ("/metrics") */
	int minor;                        /* HTTP/1.minor: 0 or 1 */
};

/**
 * Parses "METHOD SP TARGET SP HTTP/1.x CRLF", header lines "Name: value
 * CRLF" and the empty line that ends them (a bare LF is accepted for
 * CRLF). Returns the bytes consumed, 0 if the empty line has not come yet
 * and len < HTTP_GET_MAX_REQUEST, -1 if malformed: a method not of A-Z,
 * a target not starting with '/' or holding a byte outside printable
 * ASCII, another version, a header without ':' or with a control byte,
 * more than HTTP_GET_MAX_HEADERS headers, anything longer than its
 * maximum. Pure.
 */
ssize_t http_get_parse(const char *buf, size_t len, struct http_get *req);
