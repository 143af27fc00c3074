/*
 * worker_activity, worker_stats and worker_bytes (see worker.h): the input
 * heartbeat, the output counters and the bytes per channel a worker sends over its control link. In the proxy library rather than
 * worker.c so that the front-end cores that call it link into unit tests on their own. No untrusted
 * input.
 */
#include "autoconfig.h"

#include <linux/tcp.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

static void bytes_lock(struct worker *w)
{
	while (__atomic_test_and_set(&w->bytes_lock, __ATOMIC_ACQUIRE))
		;
}

static void bytes_unlock(struct worker *w)
{
	__atomic_clear(&w->bytes_lock, __ATOMIC_RELEASE);
}

static struct ctl_channel_bytes *find_channel(struct worker *w, const char *name)
{
	bool have_other = false;

	if (!ctl_channel_name_ok(name))
		name = "other";
	for (size_t i = 0; i < w->nbytes; i++) {
		if (!strcmp(w->bytes[i].name, name))
			return &w->bytes[i];
		have_other |= !strcmp(w->bytes[i].name, "other");
	}
	/* The last free slot is kept for "other". */
	if (w->nbytes == CTL_MAX_CHANNELS || (w->nbytes == CTL_MAX_CHANNELS - 1 && !have_other &&
	                                      strcmp(name, "other") != 0))
		return find_channel(w, "other");
	struct ctl_channel_bytes *c = &w->bytes[w->nbytes++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->in = c->out = 0;
	return c;
}

void worker_bytes(struct worker *w, const char *channel, int64_t in, int64_t out)
{
	if (in == 0 && out == 0)
		return;
	bytes_lock(w);
	struct ctl_channel_bytes *c = find_channel(w, channel);
	/* Wraps below zero for a moment when a move lands before its bytes: read as 0. */
	c->in += (uint64_t)in;
	c->out += (uint64_t)out;
	w->bytes_changed = true;
	bytes_unlock(w);
}

static uint64_t not_below_zero(uint64_t v)
{
	return v > INT64_MAX ? 0 : v;
}

size_t worker_bytes_snapshot(struct worker *w, struct ctl_channel_bytes *out, size_t cap)
{
	bytes_lock(w);
	size_t n = MIN((size_t)w->nbytes, cap);
	for (size_t i = 0; i < n; i++) {
		out[i] = w->bytes[i];
		out[i].in = not_below_zero(out[i].in);
		out[i].out = not_below_zero(out[i].out);
	}
	w->bytes_changed = false;
	bytes_unlock(w);
	return n;
}

/* The channels' counters and the socket's TCP payload, to the control process. */
static void send_bytes(struct worker *w)
{
	struct ctl_msg m = {.type = CTL_BYTES};
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (w->client_fd >= 0 && getsockopt(w->client_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
		m.u.bytes.tcp_in = ti.tcpi_bytes_received;
		/*
		 * What went out once (retransmissions left out); acknowledged bytes
		 * would miss what a viewer that vanished never acknowledged. Kernels
		 * before 4.19 lack the fields: acknowledged bytes then.
		 */
		if (len >= offsetof(struct tcp_info, tcpi_bytes_retrans) + sizeof(ti.tcpi_bytes_retrans))
			m.u.bytes.tcp_out = ti.tcpi_bytes_sent - ti.tcpi_bytes_retrans;
		else
			m.u.bytes.tcp_out = ti.tcpi_bytes_acked;
	}
	m.u.bytes.count = (uint8_t)worker_bytes_snapshot(w, m.u.bytes.ch, CTL_MAX_CHANNELS);
	if (m.u.bytes.count)
		ctl_send(w->ctl_fd, &m, -1);
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
	if (force || __atomic_load_n(&w->bytes_changed, __ATOMIC_RELAXED))
		send_bytes(w);
}
