/*
 * The audit flood limit (see audit_limit.h): fixed windows per kind, opened
 * by the first event after the previous one ended.
 */
#include "autoconfig.h"

#include "audit_limit.h"

void audit_limit_init(struct audit_limit *l, unsigned max)
{
	*l = (struct audit_limit){.max = max ? max : 1};
}

static bool window_over(const struct audit_limit_kind *k, uint64_t now_ms)
{
	return k->start_ms && now_ms - k->start_ms >= AUDIT_LIMIT_WINDOW_MS;
}

bool audit_limit_admit(struct audit_limit *l, unsigned kind, uint64_t bytes, uint64_t now_ms)
{
	if (kind >= AUDIT_LIMIT_MAX_KINDS)
		return true;
	struct audit_limit_kind *k = &l->k[kind];
	if (!k->start_ms || window_over(k, now_ms)) {
		/* A summary not yet taken stays counted; the new window starts clean. */
		k->start_ms = now_ms ? now_ms : 1;
		k->lines = 0;
	}
	if (k->lines < l->max) {
		k->lines++;
		return true;
	}
	if (k->suppressed++ == 0)
		k->first_ms = now_ms;
	k->bytes += bytes;
	return false;
}

bool audit_limit_take(struct audit_limit *l, uint64_t now_ms, bool all,
                      struct audit_limit_summary *out)
{
	for (unsigned i = 0; i < AUDIT_LIMIT_MAX_KINDS; i++) {
		struct audit_limit_kind *k = &l->k[i];
		if (k->suppressed == 0 || (!all && !window_over(k, now_ms)))
			continue;
		*out = (struct audit_limit_summary){
		    .kind = i,
		    .suppressed = k->suppressed,
		    .bytes = k->bytes,
		    .first_ms = k->first_ms,
		    .last_ms = now_ms,
		};
		k->suppressed = k->bytes = 0;
		return true;
	}
	return false;
}

uint64_t audit_limit_next_due(const struct audit_limit *l)
{
	uint64_t due = 0;

	for (unsigned i = 0; i < AUDIT_LIMIT_MAX_KINDS; i++) {
		const struct audit_limit_kind *k = &l->k[i];
		uint64_t end = k->start_ms + AUDIT_LIMIT_WINDOW_MS;
		if (k->suppressed && (!due || end < due))
			due = end;
	}
	return due;
}
