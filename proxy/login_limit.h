/*
 * Limits on password guessing, as pure bookkeeping: the control process
 * asks before each password check and reports each result; time is passed
 * in, so nothing here reads a clock or does I/O.
 *
 * Two rules, so that nobody can lock a colleague out:
 *  - per address: [auth] lockout_failures failed logins from one address
 *    within lockout_window seconds lock that address out for lockout_seconds (no
 *    password from it is checked meanwhile);
 *  - per user: each consecutive failure doubles the wait before that
 *    user's next password is checked (1 s, 2 s, 4 s ... up to
 *    backoff_max_seconds); a success resets it. The account is never
 *    locked: its owner's login is only checked later.
 *
 * Handles untrusted input: user names and addresses from the network
 * (compared as strings, truncated to their maximum). Memory is bounded:
 * at most LOGIN_LIMIT_MAX_ENTRIES addresses and as many users are
 * remembered, the least recently seen forgotten first.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define LOGIN_LIMIT_MAX_ENTRIES 4096
#define LOGIN_LIMIT_MAX_KEY 64
#define LOGIN_LIMIT_BACKOFF_BASE_MS 1000

struct login_limit;

struct login_limit_params {
	long lockout_failures;    /* 0 = no lockout by address */
	long lockout_window;      /* seconds failures from one address are counted over */
	long lockout_seconds;     /* how long a lockout lasts */
	long backoff_max_seconds; /* 0 = no per-user backoff */
};

enum login_verdict {
	LOGIN_CHECK,  /* check the password now */
	LOGIN_WAIT,   /* the user is backing off: check it at *until */
	LOGIN_LOCKED, /* the address is locked out until *until: refuse unchecked */
};

struct login_limit *login_limit_create(const struct login_limit_params *p);
void login_limit_destroy(struct login_limit *l);

/** New parameters (a reload); what was counted is kept. */
void login_limit_set_params(struct login_limit *l, const struct login_limit_params *p);

/**
 * Whether a password of user from addr (an IP address, no port) may be
 * checked at now (milliseconds, monotonic); *until as the verdict says.
 */
enum login_verdict login_limit_verdict(struct login_limit *l, const char *addr, const char *user,
                                       uint64_t now, uint64_t *until);

/**
 * Records a checked password's result. True when this failure has just
 * locked addr out (once per lockout: the caller audits it).
 */
bool login_limit_record(struct login_limit *l, const char *addr, const char *user, bool ok,
                        uint64_t now);

/** The wait after n consecutive failures of one user, in ms (pure, for tests). */
uint64_t login_limit_backoff_ms(long failures, long backoff_max_seconds);
