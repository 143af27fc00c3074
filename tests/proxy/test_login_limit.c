/*
 * The password-guessing limits (login_limit.c), with time passed in: the
 * address lockout and its window, the per-user backoff and its cap, that
 * one user's failures never lock out another user or the address of a
 * colleague by themselves, and that the tables stay bounded.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "login_limit.h"

Suite *suite_login_limit(void);

static const struct login_limit_params params = {
    .lockout_failures = 5,
    .lockout_window = 60,
    .lockout_seconds = 30,
    .backoff_max_seconds = 8,
};

static enum login_verdict verdict(struct login_limit *l, const char *addr, const char *user,
                                  uint64_t now, uint64_t *until)
{
	uint64_t u;
	return login_limit_verdict(l, addr, user, now, until ? until : &u);
}

START_TEST(backoff_doubles_to_its_cap)
{
	ck_assert_uint_eq(login_limit_backoff_ms(0, 8), 0);
	ck_assert_uint_eq(login_limit_backoff_ms(1, 8), 1000);
	ck_assert_uint_eq(login_limit_backoff_ms(2, 8), 2000);
	ck_assert_uint_eq(login_limit_backoff_ms(3, 8), 4000);
	ck_assert_uint_eq(login_limit_backoff_ms(4, 8), 8000);
	ck_assert_uint_eq(login_limit_backoff_ms(5, 8), 8000);
	ck_assert_uint_eq(login_limit_backoff_ms(64, 8), 8000);
	ck_assert_uint_eq(login_limit_backoff_ms(1000000, 20), 20000);
	ck_assert_uint_eq(login_limit_backoff_ms(3, 0), 0);
}
END_TEST

START_TEST(address_locked_after_failures_then_freed)
{
	struct login_limit *l = login_limit_create(&params);
	uint64_t until, t = 1000000;
	char user[24];

	/* Different user names, so no backoff gets in the way. */
	for (int i = 0; i < 4; i++) {
		snprintf(user, sizeof(user), "guess%d", i);
		ck_assert_int_eq(verdict(l, "192.0.2.7", user, t, NULL), LOGIN_CHECK);
		ck_assert(!login_limit_record(l, "192.0.2.7", user, false, t));
		t += 100;
	}
	ck_assert(login_limit_record(l, "192.0.2.7", "guess4", false, t));
	/* Locked for everyone from there, even a user with no failures. */
	ck_assert_int_eq(verdict(l, "192.0.2.7", "tanaka", t + 1, &until), LOGIN_LOCKED);
	ck_assert_uint_eq(until, t + 30000);
	/* Another address is not. */
	ck_assert_int_eq(verdict(l, "192.0.2.8", "tanaka", t + 1, NULL), LOGIN_CHECK);
	/* Failures while locked are not counted again, nor announced again. */
	ck_assert(!login_limit_record(l, "192.0.2.7", "guess5", false, t + 2));
	ck_assert_int_eq(verdict(l, "192.0.2.7", "tanaka", t + 29999, NULL), LOGIN_LOCKED);
	ck_assert_int_eq(verdict(l, "192.0.2.7", "tanaka", t + 30000, NULL), LOGIN_CHECK);
	login_limit_destroy(l);
}
END_TEST

START_TEST(failures_outside_the_window_do_not_add_up)
{
	struct login_limit *l = login_limit_create(&params);
	uint64_t t = 5000;
	char user[24];

	for (int i = 0; i < 20; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		/* Four failures per minute-long window, never five. */
		ck_assert(!login_limit_record(l, "198.51.100.1", user, false, t));
		t += 15001;
	}
	ck_assert_int_eq(verdict(l, "198.51.100.1", "x", t, NULL), LOGIN_CHECK);
	login_limit_destroy(l);
}
END_TEST

START_TEST(user_backs_off_but_is_never_locked)
{
	struct login_limit *l = login_limit_create(&params);
	uint64_t until, t = 0;

	/* Failures for one user from many addresses (no address reaches five). */
	for (int i = 0; i < 10; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "203.0.113.%d", i);
		t += 20000;
		ck_assert_int_eq(verdict(l, addr, "suzuki", t, NULL), LOGIN_CHECK);
		ck_assert(!login_limit_record(l, addr, "suzuki", false, t));
		ck_assert_int_eq(verdict(l, addr, "suzuki", t + 1, &until), LOGIN_WAIT);
		ck_assert_uint_eq(until, t + login_limit_backoff_ms(i + 1, 8));
	}
	/* The owner, from a clean address, waits at most the cap, then is checked. */
	ck_assert_int_eq(verdict(l, "10.0.0.5", "suzuki", t + 1, &until), LOGIN_WAIT);
	ck_assert_uint_le(until - t, 8000);
	ck_assert_int_eq(verdict(l, "10.0.0.5", "suzuki", t + 8000, NULL), LOGIN_CHECK);
	/* A colleague from the same addresses is not slowed. */
	ck_assert_int_eq(verdict(l, "203.0.113.3", "sato", t + 1, NULL), LOGIN_CHECK);
	/* A success resets the backoff. */
	ck_assert(!login_limit_record(l, "10.0.0.5", "suzuki", true, t + 8000));
	ck_assert_int_eq(verdict(l, "10.0.0.5", "suzuki", t + 8001, NULL), LOGIN_CHECK);
	ck_assert(!login_limit_record(l, "10.0.0.5", "suzuki", false, t + 9000));
	ck_assert_int_eq(verdict(l, "10.0.0.5", "suzuki", t + 9001, &until), LOGIN_WAIT);
	ck_assert_uint_eq(until, t + 10000);
	login_limit_destroy(l);
}
END_TEST

START_TEST(switched_off)
{
	struct login_limit_params off = {.lockout_failures = 0,
	                                 .lockout_window = 60,
	                                 .lockout_seconds = 60,
	                                 .backoff_max_seconds = 0};
	struct login_limit *l = login_limit_create(&off);

	for (int i = 0; i < 100; i++)
		ck_assert(!login_limit_record(l, "192.0.2.1", "x", false, (uint64_t)i));
	ck_assert_int_eq(verdict(l, "192.0.2.1", "x", 100, NULL), LOGIN_CHECK);
	/* A reload that turns it on counts from then on. */
	login_limit_set_params(l, &params);
	for (int i = 0; i < 4; i++)
		ck_assert(!login_limit_record(l, "192.0.2.1", "y", false, 200 + (uint64_t)i));
	ck_assert(login_limit_record(l, "192.0.2.1", "z", false, 300));
	login_limit_destroy(l);
}
END_TEST

START_TEST(tables_stay_bounded_and_keep_locks)
{
	struct login_limit *l = login_limit_create(&params);
	char addr[32], user[80];
	uint64_t t = 1000;

	/* Lock one address, then flood both tables with new names. */
	for (int i = 0; i < 5; i++)
		login_limit_record(l, "192.0.2.99", "a", false, t);
	for (int i = 0; i < 3 * LOGIN_LIMIT_MAX_ENTRIES; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		snprintf(user, sizeof(user), "flood-%d", i);
		login_limit_record(l, addr, user, false, t + 1 + (uint64_t)i);
	}
	/* The lock outlives the flood: entries whose lock is over go first. */
	ck_assert_int_eq(verdict(l, "192.0.2.99", "a", t + 20000, NULL), LOGIN_LOCKED);
	/* Names longer than the key are cut, not overrun. */
	memset(user, 'k', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	login_limit_record(l, "192.0.2.1", user, false, t + 30000);
	ck_assert_int_eq(verdict(l, "192.0.2.2", user, t + 30001, NULL), LOGIN_WAIT);
	login_limit_destroy(l);
}
END_TEST

Suite *suite_login_limit(void)
{
	Suite *s = suite_create("login_limit");
	TCase *tc = tcase_create("login_limit");

	tcase_add_test(tc, backoff_doubles_to_its_cap);
	tcase_add_test(tc, address_locked_after_failures_then_freed);
	tcase_add_test(tc, failures_outside_the_window_do_not_add_up);
	tcase_add_test(tc, user_backs_off_but_is_never_locked);
	tcase_add_test(tc, switched_off);
	tcase_add_test(tc, tables_stay_bounded_and_keep_locks);
	suite_add_tcase(s, tc);
	return s;
}
