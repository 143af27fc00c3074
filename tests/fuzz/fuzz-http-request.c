/*
 * libFuzzer target for the egress proxy's request parser: any bytes given
 * to http_request_parse() must give -1, 0 or a head length within the
 * input, never a crash or undefined behaviour. An accepted head must hold
 * what the proxy relies on (a valid host, a port, a path inside the request
 * line), a prefix of it must be "need more", and http_request_origin_head()
 * must fit the room the header promises.
 *
 * Handles untrusted input: it is nothing but untrusted input.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant failed: %s\n", #cond);                          \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_host(const struct http_request *req)
{
	size_t n = strnlen(req->host, sizeof(req->host));

	CHECK(n > 0 && n <= HTTP_MAX_HOST);
	for (size_t i = 0; i < n; i++) {
		char c = req->host[i];
		CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == ':');
	}
}

static void check_request(const uint8_t *data, ssize_t r, const struct http_request *req)
{
	size_t head_len = (size_t)r;

	CHECK(req->head_len == head_len && head_len <= HTTP_MAX_REQUEST_HEAD);
	CHECK(req->line_len > 0 && req->line_len <= head_len);
	CHECK(req->port != 0);
	size_t m = strnlen(req->method, sizeof(req->method));
	CHECK(m > 0 && m < sizeof(req->method));
	CHECK(memcmp(data, req->method, m) == 0 && data[m] == ' ');
	CHECK((req->kind == HTTP_CONNECT) == (strcmp(req->method, "CONNECT") == 0));
	check_host(req);
	if (req->kind == HTTP_ABSOLUTE) {
		CHECK(req->path_off <= req->line_len);
		CHECK(req->path_len <= req->line_len - req->path_off);
		CHECK(req->path_len == 0 || data[req->path_off] == '/');
	}
}

static void check_origin_head(const uint8_t *data, const struct http_request *req)
{
	size_t cap = req->head_len + HTTP_ORIGIN_HEAD_EXTRA;
	uint8_t *out = malloc(cap);
	ssize_t n = http_request_origin_head(data, req, out, cap);

	if (req->kind == HTTP_CONNECT) {
		CHECK(n == -1);
	} else {
		CHECK(n > 4 && (size_t)n <= cap);
		CHECK(memcmp(out + n - 4, "\r\n\r\n", 4) == 0);
		for (ssize_t i = 0; i < n; i++)
			CHECK(out[i] != '\r' || (i + 1 < n && out[i + 1] == '\n'));
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req, again;
	ssize_t r = http_request_parse(data, size, &req);

	CHECK(r >= -1 && (r <= 0 || (size_t)r <= size));
	if (r > 0) {
		check_request(data, r, &req);
		check_origin_head(data, &req);
		/* The head alone is the same request; one byte less is "need more". */
		CHECK(http_request_parse(data, (size_t)r, &again) == r);
		CHECK(memcmp(&again, &req, sizeof(req)) == 0);
		CHECK(http_request_parse(data, (size_t)r - 1, &again) == 0);
	}
	if (r >= 0) {
		/* A refusal can only come from bytes that are there: no prefix is refused. */
		size_t half = size / 2;
		ssize_t h = http_request_parse(data, half, &again);
		CHECK(h == ((r > 0 && half >= (size_t)r) ? r : 0));
	}
	return 0;
}
