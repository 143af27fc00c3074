/* Tests of the control-link codec: round trips and hostile worker bytes. */
#include <check.h>
#include <string.h>

#include "ctl.h"
#include "util.h"
#include "worker.h"

Suite *suite_ctl(void);

static uint8_t buf[CTL_MAX_MSG];

static struct ctl_msg auth_msg(void)
{
	struct ctl_msg m = {.type = CTL_AUTH};
	m.u.auth.protocol = CTL_PROTO_VNC;
	strcpy(m.u.auth.user, "tanaka");
	strcpy(m.u.auth.password, "pässwörd with spaces");
	strcpy(m.u.auth.addr, "192.0.2.7:51000");
	return m;
}

START_TEST(round_trips)
{
	struct ctl_msg in[4] = {auth_msg()}, out;
	in[1].type = CTL_NOTE;
	in[1].u.note.code = CTL_NOTE_MESSAGE_REFUSED;
	strcpy(in[1].u.note.text, "client message 7 (file transfer) is not allowed");
	in[2].type = CTL_AUTH_RESULT;
	in[2].u.result.ok = true;
	strcpy(in[2].u.result.session, "0123456789abcdef");
	in[3].type = CTL_KICK;
	strcpy(in[3].u.kick.reason, "signed in again from 192.0.2.8:4000");
	for (int i = 0; i < 4; i++) {
		size_t n = ctl_encode(&in[i], buf, sizeof(buf));
		ck_assert_uint_gt(n, 8);
		ck_assert_int_eq(ctl_parse(buf, n, &out), (ssize_t)n);
		ck_assert_int_eq(out.type, in[i].type);
		for (size_t k = 0; k < n; k++) /* every prefix: need more */
			ck_assert_int_eq(ctl_parse(buf, k, &out), 0);
	}
	ck_assert_int_eq(ctl_parse(buf, ctl_encode(&in[0], buf, sizeof(buf)), &out) > 0, 1);
	ck_assert_str_eq(out.u.auth.user, "tanaka");
	ck_assert_str_eq(out.u.auth.password, "pässwörd with spaces");
	ck_assert_str_eq(out.u.auth.addr, "192.0.2.7:51000");
	ctl_wipe(&out);
	ck_assert_int_eq(out.u.auth.password[0], 0);
}
END_TEST

START_TEST(refuses_malformed)
{
	struct ctl_msg m = auth_msg(), out;
	size_t n = ctl_encode(&m, buf, sizeof(buf));

	buf[2] = 1; /* flags */
	ck_assert_int_eq(ctl_parse(buf, n, &out), -1);
	buf[2] = 0;
	buf[8] = 9; /* unknown protocol */
	ck_assert_int_eq(ctl_parse(buf, n, &out), -1);
	buf[8] = CTL_PROTO_VNC;
	buf[9] = (uint8_t)(buf[9] + 1); /* user length no longer adds up */
	ck_assert_int_eq(ctl_parse(buf, n, &out), -1);
	buf[9] = (uint8_t)(buf[9] - 1);
	buf[13] = '\n'; /* a control character in the user name */
	ck_assert_int_eq(ctl_parse(buf, n, &out), -1);
	put_le16(buf, 99); /* unknown type */
	ck_assert_int_eq(ctl_parse(buf, n, &out), -1);
	put_le16(buf, CTL_AUTH);
	put_le32(buf + 4, CTL_MAX_MSG); /* longer than any message */
	ck_assert_int_eq(ctl_parse(buf, 8, &out), -1);

	struct ctl_msg note = {.type = CTL_NOTE};
	note.u.note.code = CTL_NOTE_MAX + 1;
	ck_assert_uint_eq(ctl_encode(&note, buf, sizeof(buf)), 0);
	memset(m.u.auth.user, 'a', CTL_MAX_USER);
	m.u.auth.user[CTL_MAX_USER] = 'a'; /* one over, no NUL in the field: encode refuses */
	m.u.auth.user[CTL_MAX_USER] = '\0';
	ck_assert_uint_gt(ctl_encode(&m, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(ctl_encode(&m, buf, 16), 0);
}
END_TEST

START_TEST(activity_is_empty)
{
	struct ctl_msg m = {.type = CTL_ACTIVITY}, out;
	size_t n = ctl_encode(&m, buf, sizeof(buf));

	ck_assert_uint_eq(n, 8);
	ck_assert_int_eq(ctl_parse(buf, n, &out), 8);
	ck_assert_int_eq(out.type, CTL_ACTIVITY);
	put_le32(buf + 4, 1); /* a payload it must not have */
	buf[8] = 0;
	ck_assert_int_eq(ctl_parse(buf, 9, &out), -1);
}
END_TEST

START_TEST(nt_hash_messages)
{
	struct ctl_msg req = { .type = CTL_NT_HASH_REQ }, ans = { .type = CTL_NT_HASH }, out;

	strcpy(req.u.nt_req.user, "tanaka");
	size_t n = ctl_encode(&req, buf, sizeof(buf));
	ck_assert_uint_eq(n, 8 + 1 + 6);
	ck_assert_int_eq(ctl_parse(buf, n, &out), (ssize_t)n);
	ck_assert_str_eq(out.u.nt_req.user, "tanaka");
	buf[8] = 7; /* the length no longer adds up */
	ck_assert_int_eq(ctl_parse(buf, n, &out), -1);
	req.u.nt_req.user[0] = '\0'; /* no user name: nothing to ask for */
	ck_assert_uint_eq(ctl_encode(&req, buf, sizeof(buf)), 0);

	ans.u.nt.ok = true;
	for (int i = 0; i < CTL_NT_HASH_LEN; i++)
		ans.u.nt.hash[i] = (uint8_t)(0xa0 + i);
	n = ctl_encode(&ans, buf, sizeof(buf));
	ck_assert_uint_eq(n, 8 + 1 + CTL_NT_HASH_LEN);
	ck_assert_int_eq(ctl_parse(buf, n, &out), (ssize_t)n);
	ck_assert(out.u.nt.ok);
	ck_assert_mem_eq(out.u.nt.hash, ans.u.nt.hash, CTL_NT_HASH_LEN);
	ctl_wipe(&out);
	ck_assert_int_eq(out.u.nt.hash[3], 0);
	buf[8] = 2; /* ok is a boolean */
	ck_assert_int_eq(ctl_parse(buf, n, &out), -1);
	buf[8] = 0;
	put_le32(buf + 4, CTL_NT_HASH_LEN); /* a byte short */
	ck_assert_int_eq(ctl_parse(buf, n - 1, &out), -1);
}
END_TEST

START_TEST(stats_and_notice)
{
	struct ctl_msg m = {.type = CTL_STATS}, out;

	m.u.stats.bytes = 5000000000ull; /* past 32 bits */
	m.u.stats.frames = 42;
	m.u.stats.encode_us = 123456;
	for (size_t i = 0; i < CTL_ENCODE_BUCKETS; i++)
		m.u.stats.encode[i] = (uint32_t)i * 3;
	size_t n = ctl_encode(&m, buf, sizeof(buf));
	ck_assert_uint_eq(n, 8 + 20 + 4 * CTL_ENCODE_BUCKETS);
	ck_assert_int_eq(ctl_parse(buf, n, &out), (ssize_t)n);
	ck_assert(out.u.stats.bytes == 5000000000ull);
	ck_assert_uint_eq(out.u.stats.frames, 42);
	ck_assert(out.u.stats.encode_us == 123456);
	ck_assert_uint_eq(out.u.stats.encode[CTL_ENCODE_BUCKETS - 1], 3 * (CTL_ENCODE_BUCKETS - 1));
	put_le32(buf + 4, (uint32_t)(n - 8 - 1)); /* one short */
	ck_assert_int_eq(ctl_parse(buf, n - 1, &out), -1);

	ck_assert_uint_eq(ctl_encode_bucket(0), 0);
	ck_assert_uint_eq(ctl_encode_bucket(1000), 0);
	ck_assert_uint_eq(ctl_encode_bucket(1001), 1);
	ck_assert_uint_eq(ctl_encode_bucket(10000000), CTL_ENCODE_BUCKETS - 1);

	struct ctl_msg r = {.type = CTL_AUTH_RESULT};
	r.u.result.notice = true;
	strcpy(r.u.result.reason, "all browser sessions are in use");
	n = ctl_encode(&r, buf, sizeof(buf));
	ck_assert_int_eq(ctl_parse(buf, n, &out), (ssize_t)n);
	ck_assert(out.u.result.notice && !out.u.result.ok);
	buf[8] = 3; /* ok and notice at once */
	ck_assert_int_eq(ctl_parse(buf, n, &out), -1);
	r.u.result.ok = true; /* a notice is a refusal: encode refuses both */
	ck_assert_uint_eq(ctl_encode(&r, buf, sizeof(buf)), 0);
}
END_TEST

/* Byte counters per channel: round trip, and the names and counts a worker may not send. */
START_TEST(bytes_per_channel)
{
	struct ctl_msg m = {.type = CTL_BYTES}, out;

	m.u.bytes.tcp_in = 1234, m.u.bytes.tcp_out = 6000000000ull;
	m.u.bytes.count = 2;
	strcpy(m.u.bytes.ch[0].name, "framebuffer");
	m.u.bytes.ch[0].out = 5900000000ull;
	strcpy(m.u.bytes.ch[1].name, "drdynvc/rdpgfx");
	m.u.bytes.ch[1].in = 77, m.u.bytes.ch[1].out = 88;
	size_t n = ctl_encode(&m, buf, sizeof(buf));
	ck_assert_uint_eq(n, 8 + 17 + (1 + 11 + 16) + (1 + 14 + 16));
	ck_assert_int_eq(ctl_parse(buf, n, &out), (ssize_t)n);
	ck_assert(out.u.bytes.tcp_out == 6000000000ull && out.u.bytes.tcp_in == 1234);
	ck_assert_uint_eq(out.u.bytes.count, 2);
	ck_assert_str_eq(out.u.bytes.ch[1].name, "drdynvc/rdpgfx");
	ck_assert(out.u.bytes.ch[0].out == 5900000000ull && out.u.bytes.ch[1].in == 77);

	/* A name outside [a-z0-9_./-] (here "Frame..."): refused. */
	buf[8 + 17 + 1] = 'F';
	ck_assert_int_eq(ctl_parse(buf, n, &out), -1);
	/* The same name twice: refused (the audit line would be ambiguous). */
	strcpy(m.u.bytes.ch[1].name, "framebuffer");
	ck_assert_uint_eq(ctl_encode(&m, buf, sizeof(buf)), 0);
	/* More channels than CTL_MAX_CHANNELS: refused. */
	m.u.bytes.count = CTL_MAX_CHANNELS + 1;
	ck_assert_uint_eq(ctl_encode(&m, buf, sizeof(buf)), 0);
	/* A count the payload does not hold: refused. */
	m.u.bytes.count = 1;
	n = ctl_encode(&m, buf, sizeof(buf));
	ck_assert_uint_gt(n, 0);
	buf[8 + 16] = 2;
	ck_assert_int_eq(ctl_parse(buf, n, &out), -1);
	ck_assert(!ctl_channel_name_ok("") && !ctl_channel_name_ok("a b") &&
	          !ctl_channel_name_ok("abcdefghijklmnopqrstuvwxy") && ctl_channel_name_ok("cut_text"));
}
END_TEST

/* The worker's counters: sums by name, moves between channels, "other" when full or misnamed. */
START_TEST(worker_counts_bytes)
{
	static struct worker w = {.ctl_fd = -1, .client_fd = -1};
	struct ctl_channel_bytes c[CTL_MAX_CHANNELS];
	char name[16];

	worker_bytes(&w, "framebuffer", 3, 100);
	worker_bytes(&w, "cut_text", 0, 8);
	worker_bytes(&w, "framebuffer", 0, -8); /* the cut text was counted as framebuffer */
	worker_bytes(&w, "Bad Name", 5, 0);
	ck_assert_uint_eq(worker_bytes_snapshot(&w, c, CTL_MAX_CHANNELS), 3);
	ck_assert_str_eq(c[0].name, "framebuffer");
	ck_assert(c[0].in == 3 && c[0].out == 92);
	ck_assert(c[1].out == 8 && !strcmp(c[2].name, "other") && c[2].in == 5);
	worker_bytes(&w, "late", 0, -1); /* a move that lands before its bytes reads 0 */
	for (int i = 0; i < CTL_MAX_CHANNELS; i++) {
		snprintf(name, sizeof(name), "ch%d", i);
		worker_bytes(&w, name, 1, 0);
	}
	size_t n = worker_bytes_snapshot(&w, c, CTL_MAX_CHANNELS);
	ck_assert_uint_eq(n, CTL_MAX_CHANNELS);
	ck_assert(c[3].out == 0 && !strcmp(c[3].name, "late"));
	ck_assert_str_eq(c[2].name, "other");
	ck_assert(c[2].in == 5 + 4); /* ch12..ch15 found the table full */
	ck_assert_str_eq(c[15].name, "ch11");
}
END_TEST

Suite *suite_ctl(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("ctl");
	tcase_add_test(tc, round_trips);
	tcase_add_test(tc, refuses_malformed);
	tcase_add_test(tc, activity_is_empty);
	tcase_add_test(tc, nt_hash_messages);
	tcase_add_test(tc, stats_and_notice);
	tcase_add_test(tc, bytes_per_channel);
	tcase_add_test(tc, worker_counts_bytes);
	suite_add_tcase(s, tc);
	return s;
}
