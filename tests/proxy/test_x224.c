/*
 * Tests of the X.224 Connection Request parser: requests captured from
 * xfreerdp 2.11.7 and built like mstsc's, every prefix, and malformed
 * bytes a hostile client could send.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "x224.h"

Suite *suite_x224(void);

/* xfreerdp /u:alice /p:x (TLS and NLA offered). */
static const uint8_t xfreerdp_default[] = {
    0x03, 0x00, 0x00, 0x2b, 0x26, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 'C',  'o',  'o', 'k',
    'i',  'e',  ':',  ' ',  'm',  's',  't',  's',  'h',  'a',  's',  'h',  '=',  'a', 'l',
    'i',  'c',  'e',  '\r', '\n', 0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00,
};

/* xfreerdp /sec:rdp: a cookie and no negotiation request at all. */
static const uint8_t xfreerdp_rdp[] = {
    0x03, 0x00, 0x00, 0x23, 0x1e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 'C',
    'o',  'o',  'k',  'i',  'e',  ':',  ' ',  'm',  's',  't',  's',  'h',
    'a',  's',  'h',  '=',  'a',  'l',  'i',  'c',  'e',  '\r', '\n',
};

/* A routing token (xfreerdp /load-balance-info:tsv://x) instead of a cookie. */
static const uint8_t routing_token[] = {
	0x03, 0x00, 0x00, 0x1c, 0x17, 0xe0, 0x00, 0x00, 0x12, 0x34, 0x00, 't',  's',  'v',
	':',  '/',  '/',  'x',  '\r', '\n', 0x01, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00,
};

/* Builds a request: optional cookie, optional negotiation request, optional correlation. */
static size_t build(uint8_t *buf, const char *cookie, bool neg, uint8_t flags, uint32_t protocols,
                    bool correlation)
{
	size_t n = 11;

	if (cookie)
		n += (size_t)sprintf((char *)buf + n, "Cookie: mstshash=%s\r\n", cookie);
	if (neg) {
		buf[n] = 0x01;
		buf[n + 1] = flags;
		put_le16(buf + n + 2, 8);
		put_le32(buf + n + 4, protocols);
		n += 8;
	}
	if (correlation) {
		memset(buf + n, 0, 36);
		buf[n] = 0x06;
		put_le16(buf + n + 2, 36);
		for (int i = 0; i < 16; i++)
			buf[n + 4 + i] = (uint8_t)(0x10 + i);
		n += 36;
	}
	buf[0] = 3;
	buf[1] = 0;
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	buf[4] = (uint8_t)(n - 5);
	buf[5] = 0xe0;
	memset(buf + 6, 0, 5);
	return n;
}

START_TEST(xfreerdp_requests)
{
	struct x224_cr cr;
	char text[128];

	ck_assert_int_eq(x224_parse_cr(xfreerdp_default, sizeof(xfreerdp_default), &cr),
	                 (ssize_t)sizeof(xfreerdp_default));
	ck_assert(cr.has_cookie);
	ck_assert_str_eq(cr.cookie, "alice");
	ck_assert(cr.has_neg_req);
	ck_assert(!cr.has_routing_token);
	ck_assert_uint_eq(cr.protocols, X224_PROTOCOL_SSL | X224_PROTOCOL_HYBRID);
	x224_describe(&cr, text, sizeof(text));
	ck_assert_str_eq(text, "cookie=alice protocols=ssl,hybrid");
	for (size_t k = 0; k < sizeof(xfreerdp_default); k++)
		ck_assert_int_eq(x224_parse_cr(xfreerdp_default, k, &cr), 0);

	ck_assert_int_eq(x224_parse_cr(xfreerdp_rdp, sizeof(xfreerdp_rdp), &cr),
	                 (ssize_t)sizeof(xfreerdp_rdp));
	ck_assert(cr.has_cookie);
	ck_assert(!cr.has_neg_req);
	ck_assert_uint_eq(cr.protocols, X224_PROTOCOL_RDP);
	x224_describe(&cr, text, sizeof(text));
	ck_assert_str_eq(text, "cookie=alice protocols=rdp (no negotiation request)");

	ck_assert_int_eq(x224_parse_cr(routing_token, sizeof(routing_token), &cr),
	                 (ssize_t)sizeof(routing_token));
	ck_assert(!cr.has_cookie);
	ck_assert(cr.has_routing_token);
	ck_assert_uint_eq(cr.routing_token_len, 7);
	ck_assert_uint_eq(cr.src_ref, 0x1234);
	ck_assert_uint_eq(cr.protocols, X224_PROTOCOL_SSL);
	x224_describe(&cr, text, sizeof(text));
	ck_assert_str_eq(text, "routing_token=7 bytes protocols=ssl");
}
END_TEST

START_TEST(mstsc_like_requests)
{
	uint8_t buf[X224_MAX_CR + 16];
	struct x224_cr cr;
	char text[160];

	/* mstsc: TLS, CredSSP and CredSSP with early user authorisation, correlation info. */
	size_t n = build(buf, "tanaka", true, X224_CORRELATION_INFO_PRESENT, 0x0b, true);
	ck_assert_int_eq(x224_parse_cr(buf, n, &cr), (ssize_t)n);
	ck_assert(cr.has_correlation);
	ck_assert_uint_eq(cr.correlation_id[15], 0x1f);
	x224_describe(&cr, text, sizeof(text));
	ck_assert_str_eq(text, "cookie=tanaka protocols=ssl,hybrid,hybrid_ex");

	/* Negotiation with standard RDP security only; bits nobody knows yet; flags. */
	n = build(buf, NULL, true, 0, X224_PROTOCOL_RDP, false);
	ck_assert_int_eq(x224_parse_cr(buf, n, &cr), (ssize_t)n);
	ck_assert(cr.has_neg_req && !cr.has_cookie);
	x224_describe(&cr, text, sizeof(text));
	ck_assert_str_eq(text, "protocols=rdp");
	n = build(buf, "", true, X224_RESTRICTED_ADMIN_MODE_REQUIRED, 0x114, false);
	ck_assert_int_eq(x224_parse_cr(buf, n, &cr), (ssize_t)n);
	ck_assert(cr.has_cookie);
	ck_assert_str_eq(cr.cookie, "");
	x224_describe(&cr, text, sizeof(text));
	ck_assert_str_eq(text, "cookie= protocols=rdstls,rdsaad,0x100 restricted_admin");

	/* Nothing after the fixed part: a bare request is still well formed. */
	n = build(buf, NULL, false, 0, 0, false);
	ck_assert_uint_eq(n, 11);
	ck_assert_int_eq(x224_parse_cr(buf, n, &cr), 11);
	ck_assert(!cr.has_neg_req && !cr.has_cookie && !cr.has_routing_token);

	/* The longest cookie kept, and bytes after the request are left alone. */
	char id[X224_MAX_COOKIE + 2];
	memset(id, 'k', X224_MAX_COOKIE);
	id[X224_MAX_COOKIE] = '\0';
	n = build(buf, id, true, 0, 1, false);
	ck_assert_int_eq(x224_parse_cr(buf, n + 5, &cr), (ssize_t)n);
	ck_assert_uint_eq(strlen(cr.cookie), X224_MAX_COOKIE);

	/* A description never overruns its buffer. */
	ck_assert_uint_eq(x224_describe(&cr, text, 10), 9);
	ck_assert_uint_eq(strlen(text), 9);
	ck_assert_uint_eq(x224_describe(&cr, text, 1), 0);
	ck_assert_str_eq(text, "");
}
END_TEST

static ssize_t parse_modified(const uint8_t *src, size_t len, size_t at, uint8_t value)
{
	uint8_t buf[X224_MAX_CR + 16];
	struct x224_cr cr;

	memcpy(buf, src, len);
	buf[at] = value;
	return x224_parse_cr(buf, len, &cr);
}

START_TEST(refuses_malformed)
{
	const uint8_t *d = xfreerdp_default;
	size_t n = sizeof(xfreerdp_default);
	uint8_t buf[X224_MAX_CR + 64];
	struct x224_cr cr;

	ck_assert_int_eq(parse_modified(d, n, 0, 0x16), -1); /* a TLS ClientHello straight away */
	ck_assert_int_eq(x224_parse_cr((const uint8_t *)"\x16", 1, &cr), -1);
	ck_assert_int_eq(parse_modified(d, n, 1, 1), -1);     /* TPKT reserved byte */
	ck_assert_int_eq(parse_modified(d, n, 4, 0x25), -1);  /* LI one short */
	ck_assert_int_eq(parse_modified(d, n, 4, 0x27), -1);  /* LI one long */
	ck_assert_int_eq(parse_modified(d, n, 5, 0xd0), -1);  /* a Connection Confirm */
	ck_assert_int_eq(parse_modified(d, n, 5, 0xf0), -1);  /* a data TPDU */
	ck_assert_int_eq(parse_modified(d, n, 6, 1), -1);     /* DST-REF not zero */
	ck_assert_int_eq(parse_modified(d, n, 10, 0x20), -1); /* class 2 */
	ck_assert_int_eq(parse_modified(d, n, 30, 0x07), -1); /* control char in the cookie */
	ck_assert_int_eq(parse_modified(d, n, 30, 0x80), -1); /* non-ASCII in the cookie */
	ck_assert_int_eq(parse_modified(d, n, 34, 'x'), -1);  /* no CR LF: cookie runs on */
	ck_assert_int_eq(parse_modified(d, n, 35, 0x02), -1); /* neg response, not request */
	ck_assert_int_eq(parse_modified(d, n, 37, 0x09), -1); /* neg length 9 */
	ck_assert_int_eq(parse_modified(d, n, 36, 0x08), -1); /* correlation flag, none follows */

	/* TPKT length below the fixed part, and above what LI can describe. */
	memcpy(buf, d, n);
	buf[3] = 10;
	ck_assert_int_eq(x224_parse_cr(buf, n, &cr), -1);
	buf[2] = 0x01;
	buf[3] = 0x04;
	ck_assert_int_eq(x224_parse_cr(buf, 4, &cr), -1);

	/* A cookie one byte too long. */
	char id[X224_MAX_COOKIE + 2];
	memset(id, 'k', X224_MAX_COOKIE + 1);
	id[X224_MAX_COOKIE + 1] = '\0';
	size_t len = build(buf, id, false, 0, 0, false);
	ck_assert_int_eq(x224_parse_cr(buf, len, &cr), -1);

	/* A routing token without CR LF; bytes left after the negotiation request. */
	len = build(buf, NULL, false, 0, 0, false);
	memcpy(buf + len, "tsv://x", 7);
	buf[3] = (uint8_t)(len + 7);
	buf[4] = (uint8_t)(len + 7 - 5);
	ck_assert_int_eq(x224_parse_cr(buf, len + 7, &cr), -1);
	len = build(buf, "a", true, 0, 1, false);
	buf[len] = 0;
	buf[3] = (uint8_t)(len + 1);
	buf[4] = (uint8_t)(len + 1 - 5);
	ck_assert_int_eq(x224_parse_cr(buf, len + 1, &cr), -1);

	/* Correlation info of the wrong type or length. */
	len = build(buf, "a", true, X224_CORRELATION_INFO_PRESENT, 1, true);
	ck_assert_int_eq(x224_parse_cr(buf, len, &cr), (ssize_t)len);
	buf[len - 36] = 0x05;
	ck_assert_int_eq(x224_parse_cr(buf, len, &cr), -1);
	buf[len - 36] = 0x06;
	buf[len - 34] = 35;
	ck_assert_int_eq(x224_parse_cr(buf, len, &cr), -1);
}
END_TEST

START_TEST(negotiation_failure)
{
	static const uint8_t want[] = {0x03, 0x00, 0x00, 0x13, 0x0e, 0xd0, 0x00, 0x00, 0x00, 0x00,
	                               0x00, 0x03, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00};
	uint8_t buf[32];
	struct x224_cr cr;

	ck_assert_uint_eq(x224_encode_neg_failure(buf, sizeof(buf), X224_SSL_REQUIRED_BY_SERVER),
	                  X224_NEG_FAILURE_LEN);
	ck_assert_mem_eq(buf, want, sizeof(want));
	ck_assert_uint_eq(
	    x224_encode_neg_failure(buf, X224_NEG_FAILURE_LEN - 1, X224_SSL_REQUIRED_BY_SERVER), 0);
	/* A confirm is not a request. */
	x224_encode_neg_failure(buf, sizeof(buf), X224_HYBRID_REQUIRED_BY_SERVER);
	ck_assert_uint_eq(get_le32(buf + 15), 5);
	ck_assert_int_eq(x224_parse_cr(buf, X224_NEG_FAILURE_LEN, &cr), -1);
}
END_TEST

Suite *suite_x224(void)
{
	Suite *s = suite_create("x224");
	TCase *tc = tcase_create("x224");
	tcase_add_test(tc, xfreerdp_requests);
	tcase_add_test(tc, mstsc_like_requests);
	tcase_add_test(tc, refuses_malformed);
	tcase_add_test(tc, negotiation_failure);
	suite_add_tcase(s, tc);
	return s;
}
