/* Tests of the audit flood limit, with the time passed in (no clock). */
#include <check.h>

#include "audit_limit.h"

Suite *suite_audit_limit(void);

#define T0 1000000ull
#define MIN AUDIT_LIMIT_WINDOW_MS

START_TEST(writes_up_to_max_then_counts)
{
	struct audit_limit l;
	struct audit_limit_summary s;
	int written = 0;

	audit_limit_init(&l, 5);
	for (int i = 0; i < 1000; i++)
		written += audit_limit_admit(&l, 0, 10, T0 + (uint64_t)i);
	ck_assert_int_eq(written, 5);
	/* Within the window nothing is due yet; the summary waits for its end. */
	ck_assert(!audit_limit_take(&l, T0 + 999, false, &s));
	ck_assert(audit_limit_next_due(&l) == T0 + MIN);
	ck_assert(audit_limit_take(&l, T0 + MIN, false, &s));
	ck_assert_uint_eq(s.kind, 0);
	ck_assert(s.suppressed == 995 && s.bytes == 9950);
	ck_assert(s.first_ms == T0 + 5 && s.last_ms == T0 + MIN);
	ck_assert(!audit_limit_take(&l, T0 + MIN, false, &s));
	ck_assert(audit_limit_next_due(&l) == 0);
	/* A new window opens with the next event: 5 more lines. */
	written = 0;
	for (int i = 0; i < 10; i++)
		written += audit_limit_admit(&l, 0, 1, T0 + MIN + 1);
	ck_assert_int_eq(written, 5);
}
END_TEST

START_TEST(kinds_are_apart)
{
	struct audit_limit l;
	struct audit_limit_summary s;

	audit_limit_init(&l, 2);
	ck_assert(audit_limit_admit(&l, 1, 0, T0) && audit_limit_admit(&l, 1, 0, T0));
	ck_assert(!audit_limit_admit(&l, 1, 0, T0));
	/* Another kind (e.g. refused transfers) has a budget of its own. */
	ck_assert(audit_limit_admit(&l, 2, 0, T0) && audit_limit_admit(&l, 2, 0, T0));
	ck_assert(!audit_limit_admit(&l, 2, 7, T0 + 1));
	/* Out of range: never limited. */
	for (int i = 0; i < 10; i++)
		ck_assert(audit_limit_admit(&l, AUDIT_LIMIT_MAX_KINDS, 0, T0));
	/* At the connection's end every kind with events left out is summed up at once. */
	ck_assert(audit_limit_take(&l, T0 + 10, true, &s));
	ck_assert(s.kind == 1 && s.suppressed == 1);
	ck_assert(audit_limit_take(&l, T0 + 10, true, &s));
	ck_assert(s.kind == 2 && s.suppressed == 1 && s.bytes == 7);
	ck_assert(!audit_limit_take(&l, T0 + 10, true, &s));
}
END_TEST

/* A slow, steady stream within the limit is never cut; nothing is due. */
START_TEST(steady_stream_passes)
{
	struct audit_limit l;
	struct audit_limit_summary s;

	audit_limit_init(&l, 3);
	for (uint64_t t = 0; t < 10 * MIN; t += MIN / 3 + 1)
		ck_assert(audit_limit_admit(&l, 0, 1, T0 + t));
	ck_assert(!audit_limit_take(&l, T0 + 20 * MIN, true, &s));
}
END_TEST

Suite *suite_audit_limit(void)
{
	Suite *s = suite_create("audit_limit");
	TCase *tc = tcase_create("audit_limit");
	tcase_add_test(tc, writes_up_to_max_then_counts);
	tcase_add_test(tc, kinds_are_apart);
	tcase_add_test(tc, steady_stream_passes);
	suite_add_tcase(s, tc);
	return s;
}
