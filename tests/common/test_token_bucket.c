/*
 * The bandwidth budget's token bucket, with injected time: a full bucket
 * lets a burst through, a frame may overdraw and the wait pays it back at
 * the budget's rate, a quiet spell fills it only up to the burst, and
 * over a long run of frames as fast as it allows the bytes stay within
 * rate x time + burst + one frame. 0 means no budget.
 */
#include <check.h>

#include "token_bucket.h"

START_TEST(unlimited_is_always_ready)
{
	struct token_bucket b;

	token_bucket_init(&b, 0, 1000);
	token_bucket_charge(&b, 1u << 30, 1000);
	ck_assert(token_bucket_ready(&b, 1000));
	ck_assert_uint_eq(token_bucket_wait_ms(&b, 1000), 0);
}
END_TEST

START_TEST(debt_is_paid_back_at_the_rate)
{
	struct token_bucket b;

	/* 800 kbit/s: 100 bytes a millisecond; the burst is 200 ms of it. */
	token_bucket_init(&b, 800, 5000);
	ck_assert(token_bucket_ready(&b, 5000));
	token_bucket_charge(&b, 20000, 5000); /* exactly the burst */
	ck_assert(token_bucket_ready(&b, 5000));
	token_bucket_charge(&b, 30000, 5000); /* a key frame: 300 ms in debt */
	ck_assert(!token_bucket_ready(&b, 5000));
	ck_assert_uint_eq(token_bucket_wait_ms(&b, 5000), 300);
	ck_assert_uint_eq(token_bucket_wait_ms(&b, 5100), 200);
	ck_assert(!token_bucket_ready(&b, 5299));
	ck_assert(token_bucket_ready(&b, 5300));
	/* A quiet minute fills it to the burst, not beyond. */
	token_bucket_charge(&b, 0, 65300);
	token_bucket_charge(&b, 20001, 65300);
	ck_assert(!token_bucket_ready(&b, 65300));
	ck_assert_uint_eq(token_bucket_wait_ms(&b, 65300), 1);
	/* Time never goes back: an earlier stamp changes nothing. */
	ck_assert_uint_eq(token_bucket_wait_ms(&b, 60000), 1);
}
END_TEST

START_TEST(long_run_stays_within_the_budget)
{
	struct token_bucket b;
	uint64_t t = 0, sent = 0;
	const uint64_t frame = 7000, kbps = 300, seconds = 20;

	token_bucket_init(&b, kbps, 0);
	while (t < seconds * 1000) {
		if (token_bucket_ready(&b, t)) {
			token_bucket_charge(&b, frame, t);
			sent += frame;
		}
		t += 5; /* the sender looks every 5 ms */
	}
	uint64_t budget = kbps * 1000 / 8 * seconds;
	uint64_t burst = kbps * TOKEN_BUCKET_BURST_MS / 8;
	ck_assert_uint_le(sent, budget + burst + frame);
	ck_assert_uint_ge(sent, budget * 9 / 10); /* and it is used */
}
END_TEST

START_TEST(huge_charges_do_not_wrap)
{
	struct token_bucket b;

	token_bucket_init(&b, 100, 0);
	token_bucket_charge(&b, UINT64_MAX, 0);
	ck_assert(!token_bucket_ready(&b, 0));
	ck_assert_uint_gt(token_bucket_wait_ms(&b, 0), 1000000);
	ck_assert(!token_bucket_ready(&b, 1000000));
}
END_TEST

Suite *suite_token_bucket(void);

Suite *suite_token_bucket(void)
{
	Suite *s = suite_create("token_bucket");
	TCase *tc = tcase_create("token_bucket");

	tcase_add_test(tc, unlimited_is_always_ready);
	tcase_add_test(tc, debt_is_paid_back_at_the_rate);
	tcase_add_test(tc, long_run_stays_within_the_budget);
	tcase_add_test(tc, huge_charges_do_not_wrap);
	suite_add_tcase(s, tc);
	return s;
}
