/*
 * Tests of http_request_parse() (the request head the browser sends the
 * egress proxy, untrusted) and http_request_origin_head().
 */
#include "autoconfig.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "egress.h"

Suite *suite_http_request(void);

static ssize_t parse_str(const char *s, struct http_request *req)
{
	return http_request_parse((const uint8_t *)s, strlen(s), req);
}

static void assert_refused(const char *s)
{
	struct http_request req;
	ck_assert_msg(parse_str(s, &req) == -1, "accepted: %s", s);
}

START_TEST(connect_name)
{
	const char *s = "CONNECT Www.Example.JP:443 HTTP/1.1\r\nHost: www.example.jp:443\r\n"
	                "User-Agent: test\r\n\r\n";
	struct http_request req;

	ck_assert_int_eq(parse_str(s, &req), (ssize_t)strlen(s));
	ck_assert_int_eq(req.kind, HTTP_CONNECT);
	ck_assert_str_eq(req.method, "CONNECT");
	ck_assert_str_eq(req.host, "www.example.jp");
	ck_assert_uint_eq(req.port, 443);
	ck_assert_uint_eq(req.head_len, strlen(s));
	ck_assert_uint_eq(req.line_len, strlen("CONNECT Www.Example.JP:443 HTTP/1.1\r\n"));
}
END_TEST

START_TEST(connect_addresses)
{
	struct http_request req;

	ck_assert_int_gt(parse_str("CONNECT 203.0.113.7:8443 HTTP/1.0\r\n\r\n", &req), 0);
	ck_assert_str_eq(req.host, "203.0.113.7");
	ck_assert_uint_eq(req.port, 8443);
	ck_assert_int_gt(parse_str("CONNECT [2001:DB8::1]:443 HTTP/1.1\r\n\r\n", &req), 0);
	ck_assert_str_eq(req.host, "2001:db8::1");
	ck_assert_uint_eq(req.port, 443);
	ck_assert_int_gt(parse_str("CONNECT [::ffff:10.0.0.1]:1 HTTP/1.1\r\n\r\n", &req), 0);
	ck_assert_str_eq(req.host, "::ffff:10.0.0.1");
	ck_assert_uint_eq(req.port, 1);
	ck_assert_int_gt(parse_str("CONNECT a.jp:65535 HTTP/1.1\n\n", &req), 0);
	ck_assert_uint_eq(req.port, 65535);
}
END_TEST

START_TEST(connect_bad_ports)
{
	assert_refused("CONNECT example.jp HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT example.jp: HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT example.jp:0 HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT example.jp:65536 HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT example.jp:100000 HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT example.jp:-1 HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT example.jp:44a HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT example.jp:443:443 HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT [::1] HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT [::1]x:443 HTTP/1.1\r\n\r\n");
}
END_TEST

START_TEST(connect_bad_hosts)
{
	assert_refused("CONNECT :443 HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT user@example.jp:443 HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT exa_mple.jp:443 HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT []:443 HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT [not:v6:zz]:443 HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT [fe80::1%eth0]:443 HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT [::1:443 HTTP/1.1\r\n\r\n");
	assert_refused("CONNECT http://example.jp:443 HTTP/1.1\r\n\r\n");

	char line[600], host[300];
	struct http_request req;
	memset(host, 'a', 255);
	host[255] = '\0';
	snprintf(line, sizeof(line), "CONNECT %s:443 HTTP/1.1\r\n\r\n", host);
	ck_assert_int_gt(parse_str(line, &req), 0);
	ck_assert_uint_eq(strlen(req.host), 255);
	memset(host, 'a', 256);
	host[256] = '\0';
	snprintf(line, sizeof(line), "CONNECT %s:443 HTTP/1.1\r\n\r\n", host);
	assert_refused(line);
}
END_TEST

START_TEST(absolute_get)
{
	const char *s = "GET http://Example.JP/a/b?c=d HTTP/1.1\r\nHost: example.jp\r\n\r\n";
	struct http_request req;

	ck_assert_int_eq(parse_str(s, &req), (ssize_t)strlen(s));
	ck_assert_int_eq(req.kind, HTTP_ABSOLUTE);
	ck_assert_str_eq(req.method, "GET");
	ck_assert_str_eq(req.host, "example.jp");
	ck_assert_uint_eq(req.port, 80);
	ck_assert_uint_eq(req.path_len, strlen("/a/b?c=d"));
	ck_assert_int_eq(memcmp(s + req.path_off, "/a/b?c=d", req.path_len), 0);
	ck_assert_uint_eq(req.path_off + req.path_len + strlen(" HTTP/1.1\r\n"), req.line_len);
}
END_TEST

START_TEST(absolute_port_and_no_path)
{
	struct http_request req;
	const char *s = "HEAD HTTP://example.jp:8080 HTTP/1.0\n\n";

	ck_assert_int_eq(parse_str(s, &req), (ssize_t)strlen(s));
	ck_assert_str_eq(req.method, "HEAD");
	ck_assert_uint_eq(req.port, 8080);
	ck_assert_uint_eq(req.path_len, 0);
	ck_assert_uint_eq(req.path_off, strlen("HEAD HTTP://example.jp:8080"));

	s = "GET http://[2001:db8::5]:81/x HTTP/1.1\r\n\r\n";
	ck_assert_int_gt(parse_str(s, &req), 0);
	ck_assert_str_eq(req.host, "2001:db8::5");
	ck_assert_uint_eq(req.port, 81);
	ck_assert_int_eq(memcmp(s + req.path_off, "/x", 2), 0);
	ck_assert_uint_eq(req.path_len, 2);

	assert_refused("GET http://example.jp:0/ HTTP/1.1\r\n\r\n");
	assert_refused("GET http://example.jp:/ HTTP/1.1\r\n\r\n");
	assert_refused("GET http:///x HTTP/1.1\r\n\r\n");
	assert_refused("GET http://example.jp?q=1 HTTP/1.1\r\n\r\n");
	assert_refused("GET http://user:pw@example.jp/ HTTP/1.1\r\n\r\n");
}
END_TEST

START_TEST(absolute_post_with_body)
{
	const char *head = "POST http://example.jp/form HTTP/1.1\r\nContent-Length: 7\r\n"
	                   "Content-Type: application/x-www-form-urlencoded\r\n\r\n";
	char s[512];
	struct http_request req;

	snprintf(s, sizeof(s), "%sa=1&b=2", head);
	ck_assert_int_eq(parse_str(s, &req), (ssize_t)strlen(head));
	ck_assert_str_eq(req.method, "POST");
	ck_assert_int_eq(req.kind, HTTP_ABSOLUTE);
	/* The body is not the head's business: control bytes in it are fine. */
	snprintf(s, sizeof(s), "%s\x01\x02", head);
	ck_assert_int_eq(parse_str(s, &req), (ssize_t)strlen(head));
}
END_TEST

START_TEST(not_for_a_proxy)
{
	assert_refused("GET / HTTP/1.1\r\nHost: example.jp\r\n\r\n");
	assert_refused("GET https://example.jp/ HTTP/1.1\r\n\r\n");
	assert_refused("GET ftp://example.jp/ HTTP/1.1\r\n\r\n");
	assert_refused("GET * HTTP/1.1\r\n\r\n");
	assert_refused("OPTIONS * HTTP/1.1\r\n\r\n");
}
END_TEST

START_TEST(bad_request_lines)
{
	assert_refused("\r\nGET http://a.jp/ HTTP/1.1\r\n\r\n");
	assert_refused("get http://a.jp/ HTTP/1.1\r\n\r\n");
	assert_refused("GET  http://a.jp/ HTTP/1.1\r\n\r\n");
	assert_refused("GET http://a.jp/  HTTP/1.1\r\n\r\n");
	assert_refused("GET http://a.jp/ HTTP/1.1 \r\n\r\n");
	assert_refused("GET http://a.jp/ HTTP/2.0\r\n\r\n");
	assert_refused("GET http://a.jp/ HTTP/1.\r\n\r\n");
	assert_refused("GET http://a.jp/ http/1.1\r\n\r\n");
	assert_refused("GET http://a.jp/\r\n\r\n");
	assert_refused("GET\r\n\r\n");
	assert_refused("ABCDEFGHIJKLMNOP http://a.jp/ HTTP/1.1\r\n\r\n");
	assert_refused("GET http://a.jp/\xe3\x81\x82 HTTP/1.1\r\n\r\n");
	assert_refused("hello world\r\n\r\n");

	struct http_request req;
	ck_assert_int_gt(parse_str("ABCDEFGHIJKLMNO http://a.jp/ HTTP/1.1\r\n\r\n", &req), 0);
	ck_assert_str_eq(req.method, "ABCDEFGHIJKLMNO");
}
END_TEST

START_TEST(bad_headers)
{
	assert_refused("GET http://a.jp/ HTTP/1.1\r\nNoColon\r\n\r\n");
	assert_refused("GET http://a.jp/ HTTP/1.1\r\n: empty name\r\n\r\n");
	assert_refused("GET http://a.jp/ HTTP/1.1\r\nBad Name: x\r\n\r\n");
	assert_refused("GET http://a.jp/ HTTP/1.1\r\nHost : a.jp\r\n\r\n");
	assert_refused("GET http://a.jp/ HTTP/1.1\r\nA: b\r\n folded\r\n\r\n");

	struct http_request req;
	const char *ok = "GET http://a.jp/ HTTP/1.1\r\nX-Tab:\tv\r\nX-Utf8: \xe6\x97\xa5\r\n\r\n";
	ck_assert_int_eq(parse_str(ok, &req), (ssize_t)strlen(ok));
}
END_TEST

START_TEST(control_bytes)
{
	/* '@' marks where the byte goes. */
	static const char *const heads[] = {
	    "GET http://a.jp/ HTTP/1.1\r\nX: a@b\r\n\r\n",
	    "GET http://a@.jp/ HTTP/1.1\r\n\r\n",
	    "CONNECT a.jp:443 HTTP/1.1@\r\n\r\n",
	};
	struct http_request req;

	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
		for (int c = 0; c <= 0x7f; c++) {
			if (c >= 0x20 && c < 0x7f)
				continue;
			if (c == '\t' && h == 0)
				continue; /* HT is allowed in a header value */
			if (c == '\n' && h == 2)
				continue; /* a line break there makes two valid lines */
			char s[128];
			size_t n = strlen(heads[h]);
			memcpy(s, heads[h], n);
			*(char *)memchr(s, '@', n) = (char)c;
			ck_assert_msg(http_request_parse((const uint8_t *)s, n, &req) == -1,
			              "head %zu accepted byte 0x%02x", h, c);
		}
	}
	/* A bare CR, and binary garbage, are refused before any line end. */
	assert_refused("GET http://a.jp/ HTTP/1.1\rX");
	ck_assert_int_eq(http_request_parse((const uint8_t *)"\x16\x03\x01\x02", 4, &req), -1);
	ck_assert_int_eq(http_request_parse((const uint8_t *)"GET", 3, &req), 0);
	ck_assert_int_eq(http_request_parse((const uint8_t *)"GEt", 3, &req), -1);
}
END_TEST

START_TEST(every_prefix_is_incomplete)
{
	static const char *const heads[] = {
	    ("CONNECT www.example.jp:443 HTTP/1.1\r\nHost: www.example.jp:443\r\n"
	     "Proxy-Connection: keep-alive\r\nUser-Agent: Mozilla/5.0\r\n\r\n"),
	    "GET http://example.jp/path?q=1 HTTP/1.1\nHost: example.jp\nAccept: */*\n\n",
	    "POST http://[2001:db8::1]:8080/ HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
	};
	struct http_request req;

	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++) {
		size_t len = strlen(heads[h]);
		for (size_t i = 0; i < len; i++)
			ck_assert_msg(http_request_parse((const uint8_t *)heads[h], i, &req) == 0,
			              "head %zu, prefix %zu", h, i);
		ck_assert_int_eq(http_request_parse((const uint8_t *)heads[h], len, &req),
		                 (ssize_t)len);
	}
}
END_TEST

START_TEST(oversized_head)
{
	static uint8_t buf[HTTP_MAX_REQUEST_HEAD + 64];
	const char *line = "GET http://a.jp/ HTTP/1.1\r\n";
	struct http_request req;
	size_t n = strlen(line);

	memcpy(buf, line, n);
	while (n + 12 < sizeof(buf)) {
		memcpy(buf + n, "X-Pad: aaa\r\n", 12);
		n += 12;
	}
	/* No end within the limit: refused as soon as the limit is reached. */
	ck_assert_int_eq(http_request_parse(buf, HTTP_MAX_REQUEST_HEAD - 1, &req), 0);
	ck_assert_int_eq(http_request_parse(buf, HTTP_MAX_REQUEST_HEAD, &req), -1);
	ck_assert_int_eq(http_request_parse(buf, n, &req), -1);

	/* A head of exactly the limit is fine, one byte more is not. */
	size_t fill = HTTP_MAX_REQUEST_HEAD - strlen(line) - 2;
	memcpy(buf, line, strlen(line));
	memcpy(buf + strlen(line), "X:", 2);
	memset(buf + strlen(line) + 2, 'a', fill - 2 - 2);
	memcpy(buf + strlen(line) + fill - 2, "\r\n\r\n", 4);
	ck_assert_int_eq(http_request_parse(buf, HTTP_MAX_REQUEST_HEAD, &req),
	                 HTTP_MAX_REQUEST_HEAD);
	memcpy(buf + strlen(line), "XY:", 3);
	memset(buf + strlen(line) + 3, 'a', fill - 3 - 2 + 1);
	memcpy(buf + strlen(line) + fill - 1, "\r\n\r\n", 4);
	ck_assert_int_eq(http_request_parse(buf, HTTP_MAX_REQUEST_HEAD + 1, &req), -1);
}
END_TEST

START_TEST(body_framing)
{
	struct http_request req;

	ck_assert_int_gt(parse_str("GET http://a.jp/ HTTP/1.1\r\n\r\n", &req), 0);
	ck_assert(!req.has_body_len);
	ck_assert_uint_eq(req.body_len, 0);
	ck_assert_int_gt(
	    parse_str("POST http://a.jp/ HTTP/1.1\r\ncontent-length:  42 \r\n\r\n", &req), 0);
	ck_assert(req.has_body_len);
	ck_assert_uint_eq(req.body_len, 42);
	ck_assert_int_gt(
	    parse_str("POST http://a.jp/ HTTP/1.1\r\nContent-Length: 999999999999999999\r\n\r\n",
	              &req),
	    0);
	ck_assert_uint_eq(req.body_len, 999999999999999999ull);
	assert_refused("POST http://a.jp/ HTTP/1.1\r\nContent-Length: 1000000000000000000\r\n\r\n");
	assert_refused(
	    "POST http://a.jp/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n");
	assert_refused("POST http://a.jp/ HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n");
	assert_refused("POST http://a.jp/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n");
	assert_refused("POST http://a.jp/ HTTP/1.1\r\nContent-Length: +1\r\n\r\n");
	assert_refused("POST http://a.jp/ HTTP/1.1\r\nContent-Length:\r\n\r\n");
	assert_refused("POST http://a.jp/ HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n");
	assert_refused("POST http://a.jp/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	assert_refused("POST http://a.jp/ HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n");
	/* On CONNECT these say nothing about what follows, and are left alone. */
	ck_assert_int_gt(
	    parse_str("CONNECT a.jp:443 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &req), 0);
	/* A refusal needs the whole line: its prefixes still ask for more. */
	const char *dup =
	    "POST http://a.jp/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n";
	ck_assert_int_eq(http_request_parse((const uint8_t *)dup, strlen(dup) - 1, &req), 0);
	ck_assert_int_eq(http_request_parse((const uint8_t *)dup, strlen(dup), &req), -1);
}
END_TEST

static ssize_t origin_head(const char *s, char *out, size_t cap)
{
	struct http_request req;
	ssize_t n = parse_str(s, &req);

	ck_assert_int_gt(n, 0);
	ssize_t m = http_request_origin_head((const uint8_t *)s, &req, (uint8_t *)out, cap - 1);
	if (m >= 0)
		out[m] = '\0';
	return m;
}

START_TEST(origin_head_rewrite)
{
	char out[1024];
	const char *s = "GET http://Example.jp:8080/a?b HTTP/1.1\r\nHost: evil.example\r\n"
	                "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\n"
	                "Connection: keep-alive\r\nKeep-Alive: 300\r\nAccept: */*\r\n"
	                "connection-extra: kept\r\n\r\n";

	ck_assert_int_gt(origin_head(s, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "GET /a?b HTTP/1.1\r\nHost: example.jp:8080\r\nAccept: */*\r\n"
	                      "connection-extra: kept\r\nConnection: close\r\n\r\n");

	ck_assert_int_gt(
	    origin_head("POST http://[2001:db8::1] HTTP/1.0\nX: 1\n\n", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "POST / HTTP/1.1\r\nHost: [2001:db8::1]\r\nX: 1\r\n"
	                      "Connection: close\r\n\r\n");

	/* Too small a buffer is refused, never overrun. */
	ck_assert_int_eq(origin_head(s, out, 40), -1);

	struct http_request req;
	s = "CONNECT a.jp:443 HTTP/1.1\r\n\r\n";
	ck_assert_int_gt(parse_str(s, &req), 0);
	ck_assert_int_eq(
	    http_request_origin_head((const uint8_t *)s, &req, (uint8_t *)out, sizeof(out)), -1);
}
END_TEST

Suite *suite_http_request(void)
{
	Suite *s = suite_create("http_request");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, connect_name);
	tcase_add_test(tc, connect_addresses);
	tcase_add_test(tc, connect_bad_ports);
	tcase_add_test(tc, connect_bad_hosts);
	tcase_add_test(tc, absolute_get);
	tcase_add_test(tc, absolute_port_and_no_path);
	tcase_add_test(tc, absolute_post_with_body);
	tcase_add_test(tc, not_for_a_proxy);
	tcase_add_test(tc, bad_request_lines);
	tcase_add_test(tc, bad_headers);
	tcase_add_test(tc, control_bytes);
	tcase_add_test(tc, every_prefix_is_incomplete);
	tcase_add_test(tc, oversized_head);
	tcase_add_test(tc, body_framing);
	suite_add_tcase(s, tc);

	tc = tcase_create("origin_head");
	tcase_add_test(tc, origin_head_rewrite);
	suite_add_tcase(s, tc);
	return s;
}
