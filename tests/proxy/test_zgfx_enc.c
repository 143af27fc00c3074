/*
 * Tests of the ZGFX compressor against FreeRDP's own decompressor (what
 * xfreerdp and every FreeRDP-based client run): each PDU, compressed by
 * one encoder and decompressed by one decoder that keeps its history
 * across PDUs as a client does, must come back byte for byte, through
 * segment and window boundaries, and text-like data must shrink.
 */
#include "autoconfig.h"

#include <check.h>
#include <freerdp/codec/zgfx.h>
#include <stdlib.h>
#include <string.h>

#include "zgfx_enc.h"

Suite *suite_zgfx_enc(void);

struct pair {
	struct zgfx_enc *enc;
	ZGFX_CONTEXT *dec;
	size_t raw, packed;
};

static void pair_init(struct pair *p)
{
	p->enc = zgfx_enc_create();
	p->dec = zgfx_context_new(FALSE);
	ck_assert(p->enc && p->dec);
	p->raw = p->packed = 0;
}

static void pair_finish(struct pair *p)
{
	zgfx_enc_destroy(p->enc);
	zgfx_context_free(p->dec);
}

/* Compresses in, decompresses it with FreeRDP, and checks it came back. */
static void round_trip(struct pair *p, const uint8_t *in, size_t len)
{
	uint8_t *out = malloc(zgfx_enc_bound(len));
	ck_assert_ptr_nonnull(out);
	size_t n = zgfx_enc_pdu(p->enc, in, len, out);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_le(n, zgfx_enc_bound(len));
	BYTE *back = NULL;
	UINT32 back_len = 0;
	int rc = zgfx_decompress(p->dec, out, (UINT32)n, &back, &back_len, 0);
	ck_assert_msg(rc >= 0, "FreeRDP could not decompress %zu bytes (from %zu)", n, len);
	ck_assert_uint_eq(back_len, len);
	if (len)
		ck_assert_msg(memcmp(back, in, len) == 0, "a PDU of %zu bytes came back different",
		              len);
	free(back);
	free(out);
	p->raw += len;
	p->packed += n;
}

/* Planar-like rows of a text line: runs of background with glyph bytes. */
static void text_like(uint8_t *buf, size_t len, unsigned seed)
{
	static const char words[] = "the city office opens at nine; 市役所は九時に開きます ";
	for (size_t i = 0; i < len; i++) {
		unsigned r = (unsigned)(i / 97 + seed);
		buf[i] = (i % 13) < 5 ? 0xFF : (uint8_t)words[(i + r) % (sizeof(words) - 1)];
	}
}

static uint32_t rng = 12345;
static uint8_t next_random(void)
{
	rng = rng * 1103515245u + 12345u;
	return (uint8_t)(rng >> 16);
}

START_TEST(small_and_empty_pdus_round_trip)
{
	struct pair p;
	pair_init(&p);
	static const uint8_t bytes[] = {0x00, 0x01, 0x02, 0x66, 0x80, 0xFF, 0x41};
	for (size_t len = 0; len <= sizeof(bytes); len++)
		round_trip(&p, bytes, len);
	pair_finish(&p);
}
END_TEST

START_TEST(every_byte_value_round_trips)
{
	/* All 256 values (the special literal codes among them), twice over. */
	struct pair p;
	pair_init(&p);
	uint8_t all[512];
	for (int i = 0; i < 512; i++)
		all[i] = (uint8_t)(i * 7);
	round_trip(&p, all, sizeof(all));
	round_trip(&p, all, sizeof(all));
	pair_finish(&p);
}
END_TEST

START_TEST(runs_and_overlapping_copies_round_trip)
{
	struct pair p;
	pair_init(&p);
	uint8_t buf[20000];
	memset(buf, 0, sizeof(buf)); /* one long copy at distance 1 */
	round_trip(&p, buf, sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = "abc"[i % 3]; /* distance 3 */
	round_trip(&p, buf, sizeof(buf));
	ck_assert_uint_lt(p.packed, p.raw / 100);
	pair_finish(&p);
}
END_TEST

START_TEST(random_bytes_go_plain_and_cost_little)
{
	struct pair p;
	pair_init(&p);
	uint8_t buf[4096];
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = next_random();
		round_trip(&p, buf, sizeof(buf));
	}
	/* A descriptor and a header a PDU: never more than that. */
	ck_assert_uint_le(p.packed, p.raw + 20 * 2);
	pair_finish(&p);
}
END_TEST

START_TEST(text_like_pdus_shrink)
{
	struct pair p;
	pair_init(&p);
	uint8_t buf[3000];
	for (unsigned i = 0; i < 200; i++) {
		text_like(buf, sizeof(buf), i % 17);
		round_trip(&p, buf, sizeof(buf));
	}
	ck_assert_msg(p.packed * 4 < p.raw, "%zu bytes became %zu", p.raw, p.packed);
	pair_finish(&p);
}
END_TEST

START_TEST(multipart_pdus_round_trip)
{
	/* Above 65535 bytes a PDU goes in several segments sharing the history. */
	struct pair p;
	pair_init(&p);
	size_t len = 3 * ZGFX_SEGMENT_MAX + 1234;
	uint8_t *buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	text_like(buf, len, 3);
	for (size_t i = 0; i < len; i += 5000)
		buf[i] = next_random();
	round_trip(&p, buf, len);
	for (size_t i = 0; i < len; i++)
		buf[i] = next_random();
	round_trip(&p, buf, len);
	round_trip(&p, buf, ZGFX_SEGMENT_MAX);
	round_trip(&p, buf, ZGFX_SEGMENT_MAX + 1);
	free(buf);
	pair_finish(&p);
}
END_TEST

START_TEST(far_matches_and_a_sliding_history_round_trip)
{
	/*
	 * More than twice the window in total, so the history slides; a block
	 * sent once comes back after about 1.9 MB (a long match far back) and
	 * again after more than the window (no longer reachable: literals).
	 */
	struct pair p;
	pair_init(&p);
	enum { BLOCK = 40000 };
	uint8_t *marked = malloc(BLOCK), *noise = malloc(BLOCK);
	ck_assert(marked && noise);
	for (size_t i = 0; i < BLOCK; i++)
		marked[i] = next_random();
	round_trip(&p, marked, BLOCK);
	size_t sent = BLOCK;
	while (sent < 1900000) {
		for (size_t i = 0; i < BLOCK; i++)
			noise[i] = next_random();
		round_trip(&p, noise, BLOCK);
		sent += BLOCK;
	}
	size_t before = p.packed;
	round_trip(&p, marked, BLOCK);
	ck_assert_msg(p.packed - before < BLOCK / 50, "a block seen 1.9 MB ago cost %zu bytes",
	              p.packed - before);
	while (sent < 5 * ZGFX_WINDOW / 2) {
		for (size_t i = 0; i < BLOCK; i++)
			noise[i] = next_random();
		round_trip(&p, noise, BLOCK);
		sent += BLOCK;
	}
	round_trip(&p, marked, BLOCK);
	free(marked);
	free(noise);
	pair_finish(&p);
}
END_TEST

START_TEST(reset_matches_a_new_client_history)
{
	/* A reopened channel: the client starts with an empty history. */
	struct pair p;
	pair_init(&p);
	uint8_t buf[5000];
	text_like(buf, sizeof(buf), 1);
	round_trip(&p, buf, sizeof(buf));
	zgfx_enc_reset(p.enc);
	zgfx_context_free(p.dec);
	p.dec = zgfx_context_new(FALSE);
	round_trip(&p, buf, sizeof(buf)); /* would refer to the old history without the reset */
	round_trip(&p, buf, sizeof(buf));
	pair_finish(&p);
}
END_TEST

Suite *suite_zgfx_enc(void)
{
	Suite *s = suite_create("zgfx_enc");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, small_and_empty_pdus_round_trip);
	tcase_add_test(tc, every_byte_value_round_trips);
	tcase_add_test(tc, runs_and_overlapping_copies_round_trip);
	tcase_add_test(tc, random_bytes_go_plain_and_cost_little);
	tcase_add_test(tc, text_like_pdus_shrink);
	tcase_add_test(tc, multipart_pdus_round_trip);
	tcase_add_test(tc, far_matches_and_a_sliding_history_round_trip);
	tcase_add_test(tc, reset_matches_a_new_client_history);
	suite_add_tcase(s, tc);
	return s;
}
