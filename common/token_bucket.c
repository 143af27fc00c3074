/*
 * Token bucket for the per-session bandwidth budget (see token_bucket.h).
 * Pure; no input from outside. kbit/s are bits per millisecond, so the
 * arithmetic is exact in whole bits.
 */
#include "token_bucket.h"

void token_bucket_init(struct token_bucket *b, unsigned kbps, uint64_t now_ms)
{
	b->kbps = kbps;
	b->burst = (int64_t)kbps * TOKEN_BUCKET_BURST_MS;
	b->bits = b->burst;
	b->last = now_ms;
}

static void refill(struct token_bucket *b, uint64_t now)
{
	if (now <= b->last)
		return;
	uint64_t dt = now - b->last;
	b->last = now;
	/* Capped before multiplying: a long quiet spell only fills the bucket. */
	uint64_t need = (uint64_t)(b->burst - b->bits);
	if (dt >= need / b->kbps + 1)
		b->bits = b->burst;
	else
		b->bits += (int64_t)(dt * b->kbps);
}

void token_bucket_charge(struct token_bucket *b, uint64_t bytes, uint64_t now_ms)
{
	if (!b->kbps)
		return;
	refill(b, now_ms);
	/* Bounded so that the debt fits: 2^40 bytes is far beyond any frame. */
	if (bytes > (1ull << 40))
		bytes = 1ull << 40;
	b->bits -= (int64_t)(bytes * 8);
}

bool token_bucket_ready(struct token_bucket *b, uint64_t now_ms)
{
	return token_bucket_wait_ms(b, now_ms) == 0;
}

uint64_t token_bucket_wait_ms(struct token_bucket *b, uint64_t now_ms)
{
	if (!b->kbps)
		return 0;
	refill(b, now_ms);
	if (b->bits >= 0)
		return 0;
	return ((uint64_t)-b->bits + b->kbps - 1) / b->kbps;
}
