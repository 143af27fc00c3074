/*
 * worker_activity and worker_stats (see worker.h): the input heartbeat and
 * the output counters a worker sends over its control link. In the proxy library rather than
 * worker.c so that the front-end cores that call it link into unit tests on their own. No untrusted
 * input.
 */
#include "autoconfig.h"

#include "ctl.h"
#include "util.h"
#include "worker.h"

void worker_activity(struct worker *w)
{
	uint64_t now = now_ms(), last = __atomic_load_n(&w->activity_ms, __ATOMIC_RELAXED);

	if (w->ctl_fd < 0 || (last && now - last < CTL_ACTIVITY_INTERVAL_MS))
		return;
	/* One thread wins the exchange; the others see it was just sent. */
	if (!__atomic_compare_exchange_n(&w->activity_ms, &last, now, false, __ATOMIC_RELAXED,
	                                 __ATOMIC_RELAXED))
		return;
	struct ctl_msg m = {.type = CTL_ACTIVITY};
	ctl_send(w->ctl_fd, &m, -1);
}

void worker_stats_bytes(struct worker *w, uint64_t n)
{
	__atomic_fetch_add(&w->out_bytes, n, __ATOMIC_RELAXED);
}

void worker_stats_frame(struct worker *w, uint64_t encode_us)
{
	__atomic_fetch_add(&w->out_frames, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&w->out_encode_us, encode_us, __ATOMIC_RELAXED);
	__atomic_fetch_add(&w->out_encode[ctl_encode_bucket(encode_us)], 1, __ATOMIC_RELAXED);
}

void worker_stats_flush(struct worker *w, bool force)
{
	uint64_t now = now_ms();
	struct ctl_msg m = {.type = CTL_STATS};

	if (w->ctl_fd < 0 || (!force && now - w->stats_ms < CTL_STATS_INTERVAL_MS))
		return;
	w->stats_ms = now;
	m.u.stats.bytes = __atomic_exchange_n(&w->out_bytes, 0, __ATOMIC_RELAXED);
	m.u.stats.frames = __atomic_exchange_n(&w->out_frames, 0, __ATOMIC_RELAXED);
	m.u.stats.encode_us = __atomic_exchange_n(&w->out_encode_us, 0, __ATOMIC_RELAXED);
	for (size_t i = 0; i < CTL_ENCODE_BUCKETS; i++)
		m.u.stats.encode[i] = __atomic_exchange_n(&w->out_encode[i], 0, __ATOMIC_RELAXED);
	if (m.u.stats.bytes || m.u.stats.frames)
		ctl_send(w->ctl_fd, &m, -1);
}
