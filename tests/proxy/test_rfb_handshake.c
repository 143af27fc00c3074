/*
 * Tests of the RFB + VeNCrypt handshake machines: the server side byte for
 * byte against a viewer (successful X509Plain and Plain handshakes, every
 * refusal with the exact failure bytes), "need more" for every prefix of
 * every unit of viewer input and for every way of cutting the whole stream
 * into chunks, and the client side toward libvncserver against the bytes
 * libvncserver 0.9.14 sends.
 */
#include "autoconfig.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rfb_handshake.h"

Suite *suite_rfb_handshake(void);

static const struct rfb_hs_options opt_tls = {.tls_available = true};
static const struct rfb_hs_options opt_both = {.tls_available = true, .allow_plaintext = true};
static const struct rfb_hs_options opt_plain = {.allow_plaintext = true};
static const struct rfb_hs_options opt_none = {0};

#define V38 "RFB 003.008\n"

/* --- helpers --- */

static size_t drain(struct rfb_handshake *hs, uint8_t *out, size_t cap)
{
	size_t n = 0, k;

	while ((k = rfb_hs_output(hs, out + n, cap - n)) > 0)
		n += k;
	return n;
}

/* The server must have exactly these bytes to send, and nothing more. */
static void expect_out(struct rfb_handshake *hs, const void *bytes, size_t len)
{
	uint8_t out[RFB_HS_MAX_OUTPUT + 16];

	if (len > 0)
		ck_assert_int_eq(rfb_hs_state(hs), RFB_HS_SEND);
	size_t n = drain(hs, out, sizeof(out));
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(out, bytes, len);
	ck_assert_int_ne(rfb_hs_state(hs), RFB_HS_SEND);
}

/* u32 1, and in 3.8 the reason: a SecurityResult failure. */
static void expect_result_failure(struct rfb_handshake *hs, bool with_reason)
{
	uint8_t out[RFB_HS_MAX_OUTPUT];
	size_t n = drain(hs, out, sizeof(out));
	size_t rlen = strlen(hs->error);

	ck_assert_uint_gt(rlen, 0);
	ck_assert_uint_eq(n, with_reason ? 8 + rlen : 4);
	ck_assert_mem_eq(out, "\0\0\0\1", 4);
	if (with_reason) {
		ck_assert_uint_eq(out[4], 0);
		ck_assert_uint_eq(out[5], 0);
		ck_assert_uint_eq((size_t)out[6] << 8 | out[7], rlen);
		ck_assert_mem_eq(out + 8, hs->error, rlen);
	}
	ck_assert_int_eq(rfb_hs_state(hs), RFB_HS_FAILED);
}

/*
 * Feeds one unit of viewer input: every shorter prefix must be "need more"
 * and leave the machine as it was; the whole unit must be consumed.
 */
static void feed(struct rfb_handshake *hs, const void *bytes, size_t len)
{
	for (size_t k = 0; k < len; k++) {
		struct rfb_handshake copy = *hs;
		ck_assert_int_eq(rfb_hs_input(&copy, bytes, k), 0);
		ck_assert_int_eq(rfb_hs_state(&copy), rfb_hs_state(hs));
		ck_assert_str_eq(copy.error, "");
	}
	ck_assert_int_eq(rfb_hs_input(hs, bytes, len), (ssize_t)len);
	ck_assert_str_eq(hs->error, "");
}

/* Feeds a unit that must be refused once whole (prefixes need more). */
static void feed_refused(struct rfb_handshake *hs, const void *bytes, size_t len)
{
	for (size_t k = 0; k < len; k++) {
		struct rfb_handshake copy = *hs;
		ck_assert_int_eq(rfb_hs_input(&copy, bytes, k), 0);
	}
	ck_assert_int_eq(rfb_hs_input(hs, bytes, len), -1);
	ck_assert_str_ne(hs->error, "");
}

static void start(struct rfb_handshake *hs, const struct rfb_hs_options *opt, const char *version)
{
	rfb_hs_init(hs, opt);
	expect_out(hs, V38, 12);
	ck_assert_int_eq(rfb_hs_state(hs), RFB_HS_READ);
	feed(hs, version, 12);
}

/* Up to the subtype list, with the list the options call for. */
static void up_to_subtypes(struct rfb_handshake *hs, const struct rfb_hs_options *opt,
                           const char *version)
{
	start(hs, opt, version);
	expect_out(hs, "\1\x13", 2);
	feed(hs, "\x13", 1);
	expect_out(hs, "\0\2", 2);
	feed(hs, "\0\2", 2);
	if (opt->tls_available && opt->allow_plaintext)
		expect_out(hs, "\0\2\0\0\1\6\0\0\1\0", 10);
	else if (opt->tls_available)
		expect_out(hs, "\0\1\0\0\1\6", 6);
	else
		expect_out(hs, "\0\1\0\0\1\0", 6);
	ck_assert_int_eq(rfb_hs_state(hs), RFB_HS_READ);
}

static size_t creds(uint8_t *buf, const char *user, const char *password)
{
	size_t u = strlen(user), p = strlen(password);

	memcpy(buf, (uint8_t[]){0, 0, (uint8_t)(u >> 8), (uint8_t)u}, 4);
	memcpy(buf + 4, (uint8_t[]){0, 0, (uint8_t)(p >> 8), (uint8_t)p}, 4);
	memcpy(buf + 8, user, u);
	memcpy(buf + 8 + u, password, p);
	return 8 + u + p;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* --- successful handshakes --- */

START_TEST(test_x509plain_byte_for_byte)
{
	struct rfb_handshake hs;
	uint8_t buf[64];

	up_to_subtypes(&hs, &opt_tls, V38);
	feed(&hs, "\0\0\1\6", 4);
	ck_assert_uint_eq(hs.subtype, RFB_VENCRYPT_X509_PLAIN);
	expect_out(&hs, "\1", 1);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_START_TLS);
	ck_assert(!hs.tls);
	ck_assert_int_eq(rfb_hs_tls_done(&hs), 0);
	ck_assert(hs.tls);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_READ);

	size_t n = creds(buf, "alice", "secret");
	feed(&hs, buf, n);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_CREDENTIALS);
	ck_assert_str_eq(hs.user, "alice");
	ck_assert_str_eq(hs.password, "secret");
	rfb_hs_wipe_password(&hs);
	ck_assert(all_zero(hs.password, sizeof(hs.password)));

	ck_assert_int_eq(rfb_hs_result(&hs, true, NULL), 0);
	expect_out(&hs, "\0\0\0\0", 4);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_DONE);
	ck_assert_uint_eq(hs.client_major, 3);
	ck_assert_uint_eq(hs.client_minor, 8);
	ck_assert_uint_eq(hs.minor, 8);
	ck_assert_str_eq(hs.user, "alice");
	ck_assert_str_eq(hs.error, "");
	/* ClientInit is the caller's: not consumed. */
	ck_assert_int_eq(rfb_hs_input(&hs, (const uint8_t *)"\1", 1), 0);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_DONE);
	rfb_hs_finish(&hs);
	ck_assert(all_zero(&hs, sizeof(hs)));
}
END_TEST

START_TEST(test_plain_when_allowed)
{
	struct rfb_handshake hs;
	uint8_t buf[64];

	up_to_subtypes(&hs, &opt_both, V38);
	feed(&hs, "\0\0\1\0", 4);
	/* No accept byte for Plain: straight to the credentials. */
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_READ);
	ck_assert_uint_eq(hs.subtype, RFB_VENCRYPT_PLAIN);
	feed(&hs, buf, creds(buf, "bob", "hunter2"));
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_CREDENTIALS);
	ck_assert(!hs.tls);
	ck_assert_str_eq(hs.password, "hunter2");

	ck_assert_int_eq(rfb_hs_result(&hs, false, "bad password"), 0);
	ck_assert(all_zero(hs.password, sizeof(hs.password)));
	expect_out(&hs,
	           "\0\0\0\1\0\0\0\x0c"
	           "bad password",
	           20);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_FAILED);
	ck_assert_str_eq(hs.error, "bad password");
	ck_assert_int_eq(rfb_hs_input(&hs, (const uint8_t *)"x", 1), -1);
}
END_TEST

START_TEST(test_plain_only_without_tls)
{
	struct rfb_handshake hs;
	uint8_t buf[64];

	up_to_subtypes(&hs, &opt_plain, V38);
	feed(&hs, "\0\0\1\0", 4);
	feed(&hs, buf, creds(buf, "carol", "pw"));
	ck_assert_int_eq(rfb_hs_result(&hs, true, NULL), 0);
	expect_out(&hs, "\0\0\0\0", 4);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_DONE);
}
END_TEST

START_TEST(test_x509plain_also_offered_with_plain)
{
	struct rfb_handshake hs;

	up_to_subtypes(&hs, &opt_both, V38);
	feed(&hs, "\0\0\1\6", 4);
	expect_out(&hs, "\1", 1);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_START_TLS);
}
END_TEST

START_TEST(test_rfb_37)
{
	struct rfb_handshake hs;
	uint8_t buf[64];

	up_to_subtypes(&hs, &opt_tls, "RFB 003.007\n");
	ck_assert_uint_eq(hs.minor, 7);
	feed(&hs, "\0\0\1\6", 4);
	expect_out(&hs, "\1", 1);
	ck_assert_int_eq(rfb_hs_tls_done(&hs), 0);
	feed(&hs, buf, creds(buf, "dave", "x"));
	/* 3.7 has no reason string in SecurityResult. */
	ck_assert_int_eq(rfb_hs_result(&hs, false, "wrong"), 0);
	expect_out(&hs, "\0\0\0\1", 4);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_FAILED);
}
END_TEST

START_TEST(test_higher_minor_is_38)
{
	struct rfb_handshake hs;

	start(&hs, &opt_tls, "RFB 003.889\n");
	ck_assert_uint_eq(hs.client_minor, 889);
	ck_assert_uint_eq(hs.minor, 8);
	expect_out(&hs, "\1\x13", 2);
}
END_TEST

START_TEST(test_boundary_lengths)
{
	struct rfb_handshake hs;
	static uint8_t buf[RFB_HS_MAX_INPUT];
	char user[RFB_MAX_USER + 1], password[RFB_MAX_PASSWORD + 1];

	memset(user, 'u', RFB_MAX_USER);
	user[RFB_MAX_USER] = '\0';
	memset(password, 'p', RFB_MAX_PASSWORD);
	password[RFB_MAX_PASSWORD] = '\0';
	up_to_subtypes(&hs, &opt_tls, V38);
	feed(&hs, "\0\0\1\6", 4);
	expect_out(&hs, "\1", 1);
	ck_assert_int_eq(rfb_hs_tls_done(&hs), 0);
	size_t n = creds(buf, user, password);
	ck_assert_uint_eq(n, RFB_HS_MAX_INPUT);
	ck_assert_int_eq(rfb_hs_input(&hs, buf, n), (ssize_t)n);
	ck_assert_str_eq(hs.user, user);
	ck_assert_str_eq(hs.password, password);

	/* Empty user and password are the caller's to refuse. */
	up_to_subtypes(&hs, &opt_plain, V38);
	feed(&hs, "\0\0\1\0", 4);
	feed(&hs, "\0\0\0\0\0\0\0\0", 8);
	ck_assert_str_eq(hs.user, "");
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_CREDENTIALS);
}
END_TEST

/* The whole viewer stream, cut into chunks of every size, as a caller with
 * a buffer would feed it: the same bytes must come out. */
static size_t run_chunked(const uint8_t *in, size_t len, size_t chunk, uint8_t *out, size_t cap,
                          struct rfb_handshake *hs)
{
	size_t have = 0, off = 0, nout = 0;

	rfb_hs_init(hs, &opt_tls);
	for (;;) {
		nout += drain(hs, out + nout, cap - nout);
		enum rfb_hs_state st = rfb_hs_state(hs);
		if (st == RFB_HS_START_TLS) {
			ck_assert_int_eq(rfb_hs_tls_done(hs), 0);
			continue;
		}
		if (st == RFB_HS_CREDENTIALS) {
			ck_assert_int_eq(rfb_hs_result(hs, true, NULL), 0);
			continue;
		}
		if (st != RFB_HS_READ)
			break;
		ssize_t n = rfb_hs_input(hs, in + off, have - off);
		ck_assert_int_ge(n, 0);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		ck_assert_uint_lt(have, len); /* need more, and there must be more */
		have = have + chunk < len ? have + chunk : len;
	}
	ck_assert_uint_eq(off, len);
	return nout;
}

START_TEST(test_every_chunking)
{
	uint8_t in[128], first[256], out[256];
	size_t len = 0;
	struct rfb_handshake hs;

	memcpy(in, V38 "\x13\0\2\0\0\1\6", 19);
	len = 19 + creds(in + 19, "alice", "secret");
	size_t expected = run_chunked(in, len, len, first, sizeof(first), &hs);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_DONE);
	ck_assert_uint_eq(expected, 12 + 2 + 2 + 6 + 1 + 4);
	for (size_t chunk = 1; chunk < len; chunk++) {
		size_t n = run_chunked(in, len, chunk, out, sizeof(out), &hs);
		ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_DONE);
		ck_assert_uint_eq(n, expected);
		ck_assert_mem_eq(out, first, n);
	}
}
END_TEST

START_TEST(test_output_in_pieces_and_input_before_drain)
{
	struct rfb_handshake hs;
	uint8_t out[32];
	size_t n = 0;

	rfb_hs_init(&hs, &opt_tls);
	/* The viewer's version arrives before the greeting was sent. */
	ck_assert_int_eq(rfb_hs_input(&hs, (const uint8_t *)V38, 12), 12);
	while (rfb_hs_state(&hs) == RFB_HS_SEND) {
		ck_assert_uint_eq(rfb_hs_output(&hs, out + n, 1), 1);
		n++;
	}
	ck_assert_uint_eq(n, 14);
	ck_assert_mem_eq(out, V38 "\1\x13", 14);
	ck_assert_uint_eq(rfb_hs_output(&hs, out, sizeof(out)), 0);
}
END_TEST

/* --- refusals --- */

/* Where s first departs from "RFB ddd.ddd\n". */
static size_t first_bad_byte(const char *s)
{
	static const char pattern[] = "RFB 999.999\n";
	size_t i = 0;

	for (; s[i] && i < 12; i++) {
		bool ok = pattern[i] == '9' ? s[i] >= '0' && s[i] <= '9' : s[i] == pattern[i];
		if (!ok)
			break;
	}
	ck_assert_uint_lt(i, strlen(s));
	return i;
}

START_TEST(test_not_rfb)
{
	static const char *const bad[] = {"GET / HTTP/1.1\r\n", "RFB 003.00x\n",
	                                  "RFB 003.008\r",      "rfb 003.008\n",
	                                  "RFB 3.8\n\n\n\n\n",  "\x16\x03\x01"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rfb_handshake hs;
		rfb_hs_init(&hs, &opt_tls);
		expect_out(&hs, V38, 12);
		/* Refused at the first wrong byte, without waiting for 12. */
		size_t first_bad = first_bad_byte(bad[i]);
		struct rfb_handshake copy = hs;
		ck_assert_int_eq(rfb_hs_input(&copy, (const uint8_t *)bad[i], first_bad), 0);
		ck_assert_int_eq(rfb_hs_input(&hs, (const uint8_t *)bad[i], first_bad + 1), -1);
		ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_FAILED);
		ck_assert_ptr_nonnull(strstr(hs.error, "RFB protocol version"));
		/* Nothing is sent to a peer that does not speak RFB. */
		expect_out(&hs, "", 0);
	}
}
END_TEST

/* A version refusal in the 3.3 form: u32 0, u32 n, reason. */
static void check_v33_refusal(const char *version, const char *needle)
{
	struct rfb_handshake hs;
	uint8_t out[RFB_HS_MAX_OUTPUT];

	rfb_hs_init(&hs, &opt_tls);
	expect_out(&hs, V38, 12);
	feed_refused(&hs, version, 12);
	ck_assert_ptr_nonnull(strstr(hs.error, needle));
	size_t n = drain(&hs, out, sizeof(out)), r = strlen(hs.error);
	ck_assert_uint_eq(n, 8 + r);
	ck_assert_mem_eq(out, "\0\0\0\0", 4);
	ck_assert_uint_eq((size_t)out[6] << 8 | out[7], r);
	ck_assert_mem_eq(out + 8, hs.error, r);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_FAILED);
}

START_TEST(test_old_and_foreign_versions)
{
	check_v33_refusal("RFB 003.003\n", "RFB 3.3");
	check_v33_refusal("RFB 003.005\n", "RFB 3.5");
	check_v33_refusal("RFB 003.006\n", "RFB 3.6");
	check_v33_refusal("RFB 004.001\n", "RFB 4.1");
	check_v33_refusal("RFB 000.000\n", "RFB 0.0");
}
END_TEST

START_TEST(test_nothing_to_offer)
{
	struct rfb_handshake hs;
	uint8_t out[RFB_HS_MAX_OUTPUT];

	rfb_hs_init(&hs, &opt_none);
	expect_out(&hs, V38, 12);
	feed_refused(&hs, V38, 12);
	size_t n = drain(&hs, out, sizeof(out)), r = strlen(hs.error);
	ck_assert_uint_eq(n, 5 + r);
	ck_assert_mem_eq(out, "\0\0\0\0", 4);
	ck_assert_uint_eq(out[4], r);
	ck_assert_mem_eq(out + 5, hs.error, r);
	ck_assert_ptr_nonnull(strstr(hs.error, "TLS is not configured"));
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_FAILED);
}
END_TEST

START_TEST(test_wrong_security_type)
{
	struct rfb_handshake hs;

	start(&hs, &opt_tls, V38);
	expect_out(&hs, "\1\x13", 2);
	feed_refused(&hs, "\2", 1);
	ck_assert_str_eq(hs.error,
	                 "viewer chose security type 2 (VNC authentication); only VeNCrypt (19) "
	                 "is offered");
	expect_result_failure(&hs, true);

	start(&hs, &opt_tls, V38);
	expect_out(&hs, "\1\x13", 2);
	feed_refused(&hs, "\1", 1);
	ck_assert_ptr_nonnull(strstr(hs.error, "security type 1 (None"));
	expect_result_failure(&hs, true);

	start(&hs, &opt_tls, "RFB 003.007\n");
	expect_out(&hs, "\1\x13", 2);
	feed_refused(&hs, "\x10", 1);
	ck_assert_ptr_nonnull(strstr(hs.error, "security type 16 (Tight)"));
	expect_result_failure(&hs, false);
}
END_TEST

START_TEST(test_wrong_vencrypt_version)
{
	static const char *const versions[] = {"\0\1", "\0\0", "\1\0", "\0\3", "\xff\xff"};

	for (size_t i = 0; i < 5; i++) {
		struct rfb_handshake hs;
		start(&hs, &opt_tls, V38);
		expect_out(&hs, "\1\x13", 2);
		feed(&hs, "\x13", 1);
		expect_out(&hs, "\0\2", 2);
		feed_refused(&hs, versions[i], 2);
		ck_assert_ptr_nonnull(strstr(hs.error, "VeNCrypt"));
		expect_out(&hs, "\xff", 1);
		ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_FAILED);
	}
}
END_TEST

static void check_subtype_refused(const struct rfb_hs_options *opt, const char *subtype,
                                  const char *needle)
{
	struct rfb_handshake hs;

	up_to_subtypes(&hs, opt, V38);
	feed_refused(&hs, subtype, 4);
	ck_assert_msg(strstr(hs.error, needle), "\"%s\" lacks \"%s\"", hs.error, needle);
	expect_result_failure(&hs, true);
}

START_TEST(test_unoffered_subtypes)
{
	check_subtype_refused(&opt_tls, "\0\0\1\0", "plaintext passwords are not allowed");
	check_subtype_refused(&opt_plain, "\0\0\1\6", "no TLS certificate");
	check_subtype_refused(&opt_both, "\0\0\1\1", "subtype 257 (TLSNone), which is not offered");
	check_subtype_refused(&opt_both, "\0\0\1\4", "subtype 260 (X509None)");
	check_subtype_refused(&opt_both, "\0\0\0\x13", "subtype 19 (unknown)");
	check_subtype_refused(&opt_both, "\0\0\0\0", "none of the offered");
	check_subtype_refused(&opt_tls, "\xff\xff\xff\xff", "4294967295");
}
END_TEST

START_TEST(test_recorded_subtype_when_refused)
{
	struct rfb_handshake hs;

	up_to_subtypes(&hs, &opt_tls, V38);
	ck_assert_int_eq(rfb_hs_input(&hs, (const uint8_t *)"\0\0\1\0", 4), -1);
	ck_assert_uint_eq(hs.subtype, RFB_VENCRYPT_PLAIN);
	ck_assert_str_eq(rfb_vencrypt_subtype_name(hs.subtype), "Plain");
	ck_assert_str_eq(rfb_vencrypt_subtype_name(262), "X509Plain");
	ck_assert_str_eq(rfb_vencrypt_subtype_name(263), "unknown");
	ck_assert_str_eq(rfb_vencrypt_subtype_name(255), "unknown");
}
END_TEST

static void to_credentials(struct rfb_handshake *hs)
{
	up_to_subtypes(hs, &opt_tls, V38);
	feed(hs, "\0\0\1\6", 4);
	expect_out(hs, "\1", 1);
	ck_assert_int_eq(rfb_hs_tls_done(hs), 0);
}

START_TEST(test_oversized_credentials)
{
	struct rfb_handshake hs;

	/* Refused from the 8 length bytes, without waiting for the rest. */
	to_credentials(&hs);
	feed_refused(&hs, "\0\0\0\x41\0\0\0\1", 8);
	ck_assert_str_eq(hs.error, "user name of 65 bytes is longer than the 64 allowed");
	expect_result_failure(&hs, true);

	to_credentials(&hs);
	feed_refused(&hs, "\0\0\0\1\0\0\4\1", 8);
	ck_assert_str_eq(hs.error, "password of 1025 bytes is longer than the 1024 allowed");
	expect_result_failure(&hs, true);

	to_credentials(&hs);
	feed_refused(&hs, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	expect_result_failure(&hs, true);
}
END_TEST

START_TEST(test_nul_in_credentials)
{
	struct rfb_handshake hs;

	to_credentials(&hs);
	feed_refused(&hs, "\0\0\0\3\0\0\0\2a\0bpw", 13);
	ck_assert_str_eq(hs.error, "user name contains a NUL byte");
	expect_result_failure(&hs, true);

	to_credentials(&hs);
	feed_refused(&hs, "\0\0\0\1\0\0\0\3ap\0w", 12);
	ck_assert_str_eq(hs.error, "password contains a NUL byte");
	ck_assert(all_zero(hs.password, sizeof(hs.password)));
	expect_result_failure(&hs, true);
}
END_TEST

START_TEST(test_cleartext_before_tls)
{
	struct rfb_handshake hs;
	uint8_t in[64];

	/* The subtype and injected credentials in one read: the subtype is
	 * taken, the rest is refused rather than treated as sent over TLS. */
	up_to_subtypes(&hs, &opt_tls, V38);
	memcpy(in, "\0\0\1\6", 4);
	size_t n = 4 + creds(in + 4, "mallory", "pw");
	ck_assert_int_eq(rfb_hs_input(&hs, in, n), 4);
	ck_assert_int_eq(rfb_hs_input(&hs, in + 4, n - 4), -1);
	ck_assert_ptr_nonnull(strstr(hs.error, "in the clear"));
	ck_assert_str_eq(hs.user, "");
	/* The accept byte was queued before; nothing more is. */
	expect_out(&hs, "\1", 1);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_FAILED);
	ck_assert_int_eq(rfb_hs_tls_done(&hs), -1);
}
END_TEST

START_TEST(test_input_during_verdict)
{
	struct rfb_handshake hs;
	uint8_t buf[32];

	to_credentials(&hs);
	feed(&hs, buf, creds(buf, "alice", "secret"));
	ck_assert_int_eq(rfb_hs_input(&hs, (const uint8_t *)"", 0), 0);
	ck_assert_int_eq(rfb_hs_input(&hs, (const uint8_t *)"\1", 1), -1);
	ck_assert(all_zero(hs.password, sizeof(hs.password)));
	expect_result_failure(&hs, true);
	ck_assert_int_eq(rfb_hs_result(&hs, true, NULL), -1);
}
END_TEST

START_TEST(test_misuse)
{
	struct rfb_handshake hs;

	rfb_hs_init(&hs, &opt_tls);
	errno = 0;
	ck_assert_int_eq(rfb_hs_tls_done(&hs), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(rfb_hs_result(&hs, true, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);

	/* START_TLS is not done while the accept byte is still queued. */
	up_to_subtypes(&hs, &opt_tls, V38);
	feed(&hs, "\0\0\1\6", 4);
	ck_assert_int_eq(rfb_hs_state(&hs), RFB_HS_SEND);
	ck_assert_int_eq(rfb_hs_tls_done(&hs), -1);
}
END_TEST

START_TEST(test_long_reason_cut)
{
	struct rfb_handshake hs;
	uint8_t buf[32], out[RFB_HS_MAX_OUTPUT];
	char reason[400];

	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	to_credentials(&hs);
	feed(&hs, buf, creds(buf, "a", "b"));
	ck_assert_int_eq(rfb_hs_result(&hs, false, reason), 0);
	ck_assert_uint_eq(strlen(hs.error), RFB_MAX_REASON);
	size_t n = drain(&hs, out, sizeof(out));
	ck_assert_uint_eq(n, 8 + RFB_MAX_REASON);
	ck_assert_uint_eq(out[7], RFB_MAX_REASON);
}
END_TEST

/* --- the client side toward libvncserver --- */

static void inner_feed(struct rfb_inner *in, const void *bytes, size_t len)
{
	for (size_t k = 0; k < len; k++) {
		struct rfb_inner copy = *in;
		ck_assert_int_eq(rfb_inner_input(&copy, bytes, k), 0);
		ck_assert_int_eq(rfb_inner_state(&copy), rfb_inner_state(in));
	}
	ck_assert_int_eq(rfb_inner_input(in, bytes, len), (ssize_t)len);
}

static void inner_expect_out(struct rfb_inner *in, const void *bytes, size_t len)
{
	uint8_t out[64];
	size_t n = 0, k;

	ck_assert_int_eq(rfb_inner_state(in), RFB_HS_SEND);
	while ((k = rfb_inner_output(in, out + n, 5)) > 0)
		n += k;
	ck_assert_uint_eq(n, len);
	ck_assert_mem_eq(out, bytes, len);
}

static void inner_to_types(struct rfb_inner *in)
{
	rfb_inner_init(in);
	ck_assert_int_eq(rfb_inner_state(in), RFB_HS_READ);
	inner_feed(in, V38, 12);
	inner_expect_out(in, V38, 12);
	ck_assert_int_eq(rfb_inner_state(in), RFB_HS_READ);
}

START_TEST(test_inner_libvncserver)
{
	struct rfb_inner in;

	inner_to_types(&in);
	inner_feed(&in, "\1\1", 2);
	inner_expect_out(&in, "\1", 1);
	inner_feed(&in, "\0\0\0\0", 4);
	ck_assert_int_eq(rfb_inner_state(&in), RFB_HS_DONE);
	ck_assert_str_eq(in.error, "");
	/* ServerInit is the caller's. */
	ck_assert_int_eq(rfb_inner_input(&in, (const uint8_t *)"\5\0", 2), 0);

	/* None among other types. */
	inner_to_types(&in);
	inner_feed(&in, "\3\2\x10\1", 4);
	inner_expect_out(&in, "\1", 1);
}
END_TEST

START_TEST(test_inner_refusals)
{
	struct rfb_inner in;

	rfb_inner_init(&in);
	ck_assert_int_eq(rfb_inner_input(&in, (const uint8_t *)"RFB 003.003\n", 10), 0);
	ck_assert_int_eq(rfb_inner_input(&in, (const uint8_t *)"RFB 003.003\n", 11), -1);
	ck_assert_int_eq(rfb_inner_state(&in), RFB_HS_FAILED);
	ck_assert_ptr_nonnull(strstr(in.error, "3.8"));

	inner_to_types(&in);
	ck_assert_int_eq(rfb_inner_input(&in, (const uint8_t *)"\2\2\x10", 3), -1);
	ck_assert_str_eq(in.error, "libvncserver does not offer security type None");

	/* No types, with a reason; control bytes in it are not passed on. */
	inner_to_types(&in);
	const uint8_t refusal[] = "\0\0\0\0\7too\nman";
	for (size_t k = 0; k < sizeof(refusal) - 1; k++) {
		struct rfb_inner copy = in;
		ck_assert_int_eq(rfb_inner_input(&copy, refusal, k), 0);
	}
	ck_assert_int_eq(rfb_inner_input(&in, refusal, sizeof(refusal) - 1), -1);
	ck_assert_str_eq(in.error, "libvncserver refused the connection: too?man");

	inner_to_types(&in);
	ck_assert_int_eq(rfb_inner_input(&in, (const uint8_t *)"\0\0\0\1\0", 5), -1);
	ck_assert_ptr_nonnull(strstr(in.error, "a reason of 256 bytes"));

	/* The longest reason read whole fits RFB_INNER_MAX_INPUT. */
	uint8_t longest[RFB_INNER_MAX_INPUT];
	memset(longest, 'r', sizeof(longest));
	memcpy(longest, "\0\0\0\1\0\0\0\xff", 8);
	inner_to_types(&in);
	inner_feed(&in, "\1\1", 2);
	inner_expect_out(&in, "\1", 1);
	ck_assert_int_eq(rfb_inner_input(&in, longest, sizeof(longest) - 1), 0);
	ck_assert_int_eq(rfb_inner_input(&in, longest, sizeof(longest)), -1);
	ck_assert_uint_eq(strlen(in.error), RFB_MAX_REASON);
	ck_assert_ptr_nonnull(strstr(in.error, "libvncserver refused security type None: rrr"));

	inner_to_types(&in);
	inner_feed(&in, "\1\1", 2);
	inner_expect_out(&in, "\1", 1);
	ck_assert_int_eq(rfb_inner_input(&in, (const uint8_t *)"\0\0\0\1\0\0\0\2n", 9), 0);
	ck_assert_int_eq(rfb_inner_input(&in, (const uint8_t *)"\0\0\0\1\0\0\0\2no", 10), -1);
	ck_assert_str_eq(in.error, "libvncserver refused security type None: no");
	ck_assert_int_eq(rfb_inner_input(&in, (const uint8_t *)"x", 1), -1);

	inner_to_types(&in);
	inner_feed(&in, "\1\1", 2);
	inner_expect_out(&in, "\1", 1);
	ck_assert_int_eq(rfb_inner_input(&in, (const uint8_t *)"\0\0\0\2", 4), -1);
	ck_assert_str_eq(in.error, "libvncserver sent SecurityResult 2");
}
END_TEST

Suite *suite_rfb_handshake(void)
{
	Suite *s = suite_create("rfb_handshake");
	TCase *tc = tcase_create("server");

	tcase_add_test(tc, test_x509plain_byte_for_byte);
	tcase_add_test(tc, test_plain_when_allowed);
	tcase_add_test(tc, test_plain_only_without_tls);
	tcase_add_test(tc, test_x509plain_also_offered_with_plain);
	tcase_add_test(tc, test_rfb_37);
	tcase_add_test(tc, test_higher_minor_is_38);
	tcase_add_test(tc, test_boundary_lengths);
	tcase_add_test(tc, test_every_chunking);
	tcase_add_test(tc, test_output_in_pieces_and_input_before_drain);
	tcase_add_test(tc, test_not_rfb);
	tcase_add_test(tc, test_old_and_foreign_versions);
	tcase_add_test(tc, test_nothing_to_offer);
	tcase_add_test(tc, test_wrong_security_type);
	tcase_add_test(tc, test_wrong_vencrypt_version);
	tcase_add_test(tc, test_unoffered_subtypes);
	tcase_add_test(tc, test_recorded_subtype_when_refused);
	tcase_add_test(tc, test_oversized_credentials);
	tcase_add_test(tc, test_nul_in_credentials);
	tcase_add_test(tc, test_cleartext_before_tls);
	tcase_add_test(tc, test_input_during_verdict);
	tcase_add_test(tc, test_misuse);
	tcase_add_test(tc, test_long_reason_cut);
	suite_add_tcase(s, tc);

	tc = tcase_create("inner");
	tcase_add_test(tc, test_inner_libvncserver);
	tcase_add_test(tc, test_inner_refusals);
	suite_add_tcase(s, tc);
	return s;
}
