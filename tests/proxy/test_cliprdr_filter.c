/*
 * The cliprdr header check (cliprdr_filter.c): what FreeRDP's client
 * sends passes; a short header, a message type a client never sends or
 * that does not exist, and a dataLen beyond its PDU are refused; a Format
 * Data Response longer than CLIPRDR_MAX_PDU is skipped, anything else
 * that long refused.
 */
#include <check.h>
#include <string.h>

#include "cliprdr_filter.h"

Suite *suite_cliprdr_filter(void);

static uint8_t pdu[64];

/* A header of type, flags 0 and data_len into pdu. */
static const uint8_t *header(uint16_t type, uint32_t data_len)
{
	memset(pdu, 0, sizeof(pdu));
	pdu[0] = (uint8_t)type, pdu[1] = (uint8_t)(type >> 8);
	pdu[4] = (uint8_t)data_len, pdu[5] = (uint8_t)(data_len >> 8);
	pdu[6] = (uint8_t)(data_len >> 16), pdu[7] = (uint8_t)(data_len >> 24);
	return pdu;
}

static enum cliprdr_verdict check(const uint8_t *b, size_t len, size_t total, uint16_t *type)
{
	const char *why = NULL;
	enum cliprdr_verdict v = cliprdr_check(b, len, total, type, &why);
	ck_assert(v == CLIPRDR_PASS || (why && why[0]));
	return v;
}

START_TEST(client_pdus_pass)
{
	uint16_t type;

	/* Capabilities (one general set), Format List, its response, a request, a response. */
	ck_assert_int_eq(check(header(CLIPRDR_CLIP_CAPS, 16), 24, 24, &type), CLIPRDR_PASS);
	ck_assert_uint_eq(type, CLIPRDR_CLIP_CAPS);
	ck_assert_int_eq(check(header(CLIPRDR_FORMAT_LIST, 36), 44, 44, &type), CLIPRDR_PASS);
	ck_assert_int_eq(check(header(CLIPRDR_FORMAT_LIST_RESPONSE, 0), 8, 8, &type), CLIPRDR_PASS);
	ck_assert_int_eq(check(header(CLIPRDR_FORMAT_DATA_REQUEST, 4), 12, 12, &type),
	                 CLIPRDR_PASS);
	/* A long response whose first chunk is all that is seen. */
	ck_assert_int_eq(check(header(CLIPRDR_FORMAT_DATA_RESPONSE, 5000), 64, 5008, &type),
	                 CLIPRDR_PASS);
	/* Trailing padding after the message is allowed (FreeRDP skips it). */
	ck_assert_int_eq(check(header(CLIPRDR_FORMAT_LIST_RESPONSE, 0), 12, 12, &type),
	                 CLIPRDR_PASS);
}
END_TEST

START_TEST(malformed_is_refused)
{
	uint16_t type;

	ck_assert_int_eq(check(header(CLIPRDR_FORMAT_LIST, 0), 7, 7, &type), CLIPRDR_REFUSE);
	ck_assert_uint_eq(type, 0);
	ck_assert_int_eq(check(header(CLIPRDR_MONITOR_READY, 0), 8, 8, &type), CLIPRDR_REFUSE);
	ck_assert_int_eq(check(header(0, 0), 8, 8, &type), CLIPRDR_REFUSE);
	ck_assert_int_eq(check(header(12, 0), 8, 8, &type), CLIPRDR_REFUSE);
	ck_assert_int_eq(check(header(0xffff, 0), 8, 8, &type), CLIPRDR_REFUSE);
	/* dataLen beyond the PDU: FreeRDP would read the next messages into it. */
	ck_assert_int_eq(check(header(CLIPRDR_FORMAT_LIST, 37), 44, 44, &type), CLIPRDR_REFUSE);
	ck_assert_int_eq(check(header(CLIPRDR_FORMAT_DATA_RESPONSE, 0xfffffff8), 64, 64, &type),
	                 CLIPRDR_REFUSE);
	/* A chunk longer than the whole it claims to start. */
	ck_assert_int_eq(check(header(CLIPRDR_FORMAT_LIST, 0), 16, 8, &type), CLIPRDR_REFUSE);
}
END_TEST

START_TEST(too_long)
{
	uint16_t type;
	size_t big = CLIPRDR_MAX_PDU + 8;

	ck_assert_int_eq(
	    check(header(CLIPRDR_FORMAT_DATA_RESPONSE, CLIPRDR_MAX_PDU), 64, big, &type),
	    CLIPRDR_SKIP);
	ck_assert_uint_eq(type, CLIPRDR_FORMAT_DATA_RESPONSE);
	ck_assert_int_eq(check(header(CLIPRDR_FORMAT_LIST, CLIPRDR_MAX_PDU), 64, big, &type),
	                 CLIPRDR_REFUSE);
	ck_assert_int_eq(check(header(CLIPRDR_FORMAT_DATA_RESPONSE, CLIPRDR_MAX_PDU - 8), 64,
	                       CLIPRDR_MAX_PDU, &type),
	                 CLIPRDR_PASS);
}
END_TEST

Suite *suite_cliprdr_filter(void)
{
	Suite *s = suite_create("cliprdr_filter");
	TCase *tc = tcase_create("check");

	tcase_add_test(tc, client_pdus_pass);
	tcase_add_test(tc, malformed_is_refused);
	tcase_add_test(tc, too_long);
	suite_add_tcase(s, tc);
	return s;
}
