/*
 * The drdynvc whitelist (dvc_filter.c): what FreeRDP's client sends for
 * the graphics pipeline passes with its header's length; unknown
 * commands, truncated headers, invalid field sizes and oversized or
 * inconsistent announcements are refused with a reason.
 */
#include <check.h>
#include <string.h>

#include "dvc_filter.h"

Suite *suite_dvc_filter(void);

static ssize_t check(const uint8_t *b, size_t len)
{
	const char *why = NULL;
	ssize_t n = dvc_check(b, len, len, &why);
	ck_assert(n > 0 || (why && why[0]));
	return n;
}

START_TEST(client_pdus_pass)
{
	/* CAPS response v1; CREATE_RSP for channel 3, status 0; DATA on 3; CLOSE 3. */
	static const uint8_t caps[] = {0x50, 0x00, 0x01, 0x00};
	static const uint8_t create[] = {0x10, 0x03, 0, 0, 0, 0};
	static const uint8_t data[] = {0x30, 0x03, 0x11, 0x22, 0x33};
	static const uint8_t close_[] = {0x40, 0x03};
	/* DATA_FIRST, 2-byte channel id 0x0102, 2-byte length 6, 3 bytes of data. */
	static const uint8_t first[] = {0x25, 0x02, 0x01, 0x06, 0x00, 'a', 'b', 'c'};
	/* 4-byte id, 4-byte length. */
	static const uint8_t first4[] = {0x2a, 1, 0, 0, 0, 0x00, 0x10, 0, 0, 'x'};

	ck_assert_int_eq(check(caps, sizeof(caps)), 4);
	ck_assert_int_eq(check(create, sizeof(create)), 6);
	ck_assert_int_eq(check(data, sizeof(data)), 2);
	ck_assert_int_eq(check(close_, sizeof(close_)), 2);
	ck_assert_int_eq(check(first, sizeof(first)), 5);
	ck_assert_int_eq(check(first4, sizeof(first4)), 9);
	/* A long DATA_FIRST whose first chunk is all that is seen. */
	const char *why;
	ck_assert_int_eq(dvc_check(first4, sizeof(first4), 4096, &why), 9);
}
END_TEST

START_TEST(malformed_and_oversized_refused)
{
	static const struct {
		uint8_t b[12];
		size_t len;
	} bad[] = {
	    {{0xf0, 0x01, 0x02}, 3},                        /* unknown command */
	    {{0x00, 0x01}, 2},                              /* command 0 */
	    {{0x10}, 1},                                    /* truncated CREATE_RSP */
	    {{0x10, 0x03, 0, 0}, 4},                        /* status cut short */
	    {{0x33, 0x01}, 2},                              /* cbChId 3 */
	    {{0x30}, 1},                                    /* DATA without its id */
	    {{0x2c, 0x01, 0x10}, 3},                        /* DATA_FIRST, Sp 3 */
	    {{0x28, 0x01, 0xff, 0xff}, 4},                  /* length field cut short */
	    {{0x28, 0x01, 0xff, 0xff, 0xff, 0xff, 'x'}, 7}, /* 4 GB announced */
	    {{0x28, 0x01, 0x00, 0x00, 0x50, 0x00, 'x'}, 7}, /* 5 MiB > DVC_MAX_MESSAGE */
	    {{0x20, 0x01, 0x02, 'a', 'b', 'c', 'd'}, 7},    /* carries more than announced */
	    {{0x50, 0x00}, 2},                              /* truncated caps */
	};
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		ck_assert_msg(dvc_check(bad[i].b, bad[i].len, bad[i].len, &why) == -1,
		              "case %zu passed", i);
		ck_assert_ptr_nonnull(why);
	}
	ck_assert_int_eq(dvc_check((const uint8_t *)"", 0, 0, &why), -1);
	/* A chunk longer than the PDU it claims to belong to, or a huge PDU. */
	static const uint8_t data[] = {0x30, 0x03, 0x11};
	ck_assert_int_eq(dvc_check(data, sizeof(data), 2, &why), -1);
	ck_assert_int_eq(dvc_check(data, sizeof(data), (size_t)1 << 30, &why), -1);
}
END_TEST

Suite *suite_dvc_filter(void)
{
	Suite *s = suite_create("dvc_filter");
	TCase *tc = tcase_create("dvc_filter");

	tcase_add_test(tc, client_pdus_pass);
	tcase_add_test(tc, malformed_and_oversized_refused);
	suite_add_tcase(s, tc);
	return s;
}
