/*
 * Password-guessing limits (see login_limit.h): two bounded tables, one of
 * addresses and one of user names, searched linearly (a login is rare
 * next to the cost of its scrypt check). Pure: no clock, no I/O.
 * Handles untrusted input: addresses and user names, used only as keys.
 */
#include <stdlib.h>
#include <string.h>

#include "login_limit.h"

struct entry {
	bool used;
	char key[LOGIN_LIMIT_MAX_KEY + 1];
	long failures;
	uint64_t first_ms; /* addresses: start of the counting window */
	uint64_t until_ms; /* addresses: locked until; users: not checked before */
	uint64_t seen_ms;
};

struct table {
	struct entry *e;
	size_t n;
};

struct login_limit {
	struct login_limit_params p;
	struct table addrs, users;
};

struct login_limit *login_limit_create(const struct login_limit_params *p)
{
	struct login_limit *l = calloc(1, sizeof(*l));
	if (!l)
		goto fail_struct;
	l->addrs.e = calloc(LOGIN_LIMIT_MAX_ENTRIES, sizeof(*l->addrs.e));
	if (!l->addrs.e)
		goto fail_addrs;
	l->users.e = calloc(LOGIN_LIMIT_MAX_ENTRIES, sizeof(*l->users.e));
	if (!l->users.e)
		goto fail_users;
	l->addrs.n = l->users.n = LOGIN_LIMIT_MAX_ENTRIES;
	l->p = *p;
	return l;

fail_users:
	free(l->addrs.e);
fail_addrs:
	free(l);
fail_struct:
	return NULL;
}

void login_limit_destroy(struct login_limit *l)
{
	if (!l)
		return;
	free(l->addrs.e);
	free(l->users.e);
	free(l);
}

void login_limit_set_params(struct login_limit *l, const struct login_limit_params *p)
{
	l->p = *p;
}

static bool key_eq(const struct entry *e, const char *key)
{
	return e->used && strncmp(e->key, key, LOGIN_LIMIT_MAX_KEY) == 0;
}

static struct entry *find(struct table *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (key_eq(&t->e[i], key))
			return &t->e[i];
	return NULL;
}

/*
 * The entry for key, made if need be: a free slot, else the least recently
 * seen one whose lock or wait is over, else the least recently seen.
 */
static struct entry *find_or_add(struct table *t, const char *key, uint64_t now)
{
	struct entry *e = find(t, key), *victim = &t->e[0];
	if (e)
		return e;
	for (size_t i = 1; i < t->n && victim->used; i++) {
		struct entry *c = &t->e[i];
		if (!c->used) {
			victim = c;
			continue;
		}
		bool c_over = c->until_ms <= now, v_over = victim->until_ms <= now;
		if ((c_over && !v_over) || (c_over == v_over && c->seen_ms < victim->seen_ms))
			victim = c;
	}
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	strncpy(victim->key, key, LOGIN_LIMIT_MAX_KEY);
	return victim;
}

uint64_t login_limit_backoff_ms(long failures, long backoff_max_seconds)
{
	uint64_t max = backoff_max_seconds > 0 ? (uint64_t)backoff_max_seconds * 1000 : 0;
	uint64_t ms = LOGIN_LIMIT_BACKOFF_BASE_MS;

	if (failures <= 0 || max == 0)
		return 0;
	for (long i = 1; i < failures && ms < max; i++)
		ms *= 2;
	return ms < max ? ms : max;
}

enum login_verdict login_limit_verdict(struct login_limit *l, const char *addr, const char *user,
                                       uint64_t now, uint64_t *until)
{
	struct entry *a = find(&l->addrs, addr), *u = find(&l->users, user);

	*until = 0;
	if (a && a->until_ms > now) {
		*until = a->until_ms;
		return LOGIN_LOCKED;
	}
	if (u && u->until_ms > now) {
		*until = u->until_ms;
		return LOGIN_WAIT;
	}
	return LOGIN_CHECK;
}

/* One more failure from a; true when it has just locked a out. */
static bool count_address(const struct login_limit_params *p, struct entry *a, uint64_t now)
{
	uint64_t window = (uint64_t)p->lockout_window * 1000;

	a->seen_ms = now;
	if (p->lockout_failures <= 0 || a->until_ms > now)
		return false;
	if (a->failures == 0 || now - a->first_ms >= window) {
		a->failures = 0;
		a->first_ms = now;
	}
	if (++a->failures < p->lockout_failures)
		return false;
	a->failures = 0;
	a->until_ms = now + (uint64_t)p->lockout_seconds * 1000;
	return true;
}

bool login_limit_record(struct login_limit *l, const char *addr, const char *user, bool ok,
                        uint64_t now)
{
	struct entry *u = find_or_add(&l->users, user, now);

	u->seen_ms = now;
	if (ok) {
		u->failures = 0;
		u->until_ms = 0;
		return false;
	}
	if (u->failures < 64)
		u->failures++;
	u->until_ms = now + login_limit_backoff_ms(u->failures, l->p.backoff_max_seconds);
	return count_address(&l->p, find_or_add(&l->addrs, addr, now), now);
}
