/* Tests of the [metrics] listener's request parser: what it takes and what it refuses. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "http_get.h"

Suite *suite_http_get(void);

static struct http_get req;

static ssize_t parse(const char *s)
{
	return http_get_parse(s, strlen(s), &req);
}

START_TEST(takes_a_scrape)
{
	const char *s = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9464\r\n"
	                "User-Agent: Prometheus/2.42.0\r\nAccept: text/plain;version=0.0.4\r\n\r\n";
	ck_assert_int_eq(parse(s), (ssize_t)strlen(s));
	ck_assert_str_eq(req.method, "GET");
	ck_assert_str_eq(req.path, "/metrics");
	ck_assert_int_eq(req.minor, 1);
	/* Bare LF, HTTP/1.0, a query, and bytes after the head. */
	ck_assert_int_eq(parse("GET /metrics?x=1 HTTP/1.0\n\nrest"), 27);
	ck_assert_str_eq(req.path, "/metrics");
	ck_assert_int_eq(req.minor, 0);
	ck_assert_int_eq(parse("POST /other HTTP/1.1\r\n\r\n"), 24);
	ck_assert_str_eq(req.method, "POST");
	ck_assert_str_eq(req.path, "/other");
}
END_TEST

START_TEST(waits_for_the_head)
{
	const char *s = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	for (size_t i = 0; i < strlen(s); i++)
		ck_assert_int_eq(http_get_parse(s, i, &req), 0);
}
END_TEST

START_TEST(refuses_malformed)
{
	static const char *const bad[] = {
	    "get /metrics HTTP/1.1\r\n\r\n",                 /* method not upper case */
	    "GET metrics HTTP/1.1\r\n\r\n",                  /* target without '/' */
	    "GET /metrics HTTP/2.0\r\n\r\n",                 /* version */
	    "GET /metrics HTTP/1.1 x\r\n\r\n",               /* trailing junk */
	    "GET  /metrics HTTP/1.1\r\n\r\n",                /* two spaces */
	    "GET /met\x01rics HTTP/1.1\r\n\r\n",             /* control byte in target */
	    "GET /metrics HTTP/1.1\r\nHost\r\n\r\n",         /* header without ':' */
	    "GET /metrics HTTP/1.1\r\n: empty-name\r\n\r\n", /* empty name */
	    "GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n",  /* space in name */
	    "GET /metrics HTTP/1.1\r\nX: a\x7f\r\n\r\n",     /* DEL in value */
	    "\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i]) == -1, "took %s", bad[i]);
}
END_TEST

START_TEST(bounds)
{
	static char big[HTTP_GET_MAX_REQUEST + 64];
	char path[HTTP_GET_MAX_PATH + 32];

	/* A head that never ends within the maximum. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	ck_assert_int_eq(http_get_parse(big, HTTP_GET_MAX_REQUEST - 1, &req), 0);
	ck_assert_int_eq(http_get_parse(big, sizeof(big), &req), -1);
	/* A path one byte too long, and just long enough. */
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	snprintf(big, sizeof(big), "GET %.*s HTTP/1.1\r\n\r\n", HTTP_GET_MAX_PATH + 1, path);
	ck_assert_int_eq(parse(big), -1);
	snprintf(big, sizeof(big), "GET %.*s HTTP/1.1\r\n\r\n", HTTP_GET_MAX_PATH, path);
	ck_assert_int_gt(parse(big), 0);
	/* Too many headers. */
	size_t n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\n");
	for (int i = 0; i <= HTTP_GET_MAX_HEADERS; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X: %d\r\n", i);
	snprintf(big + n, sizeof(big) - n, "\r\n");
	ck_assert_int_eq(parse(big), -1);
}
END_TEST

Suite *suite_http_get(void)
{
	Suite *s = suite_create("http_get");
	TCase *tc = tcase_create("http_get");
	tcase_add_test(tc, takes_a_scrape);
	tcase_add_test(tc, waits_for_the_head);
	tcase_add_test(tc, refuses_malformed);
	tcase_add_test(tc, bounds);
	suite_add_tcase(s, tc);
	return s;
}
