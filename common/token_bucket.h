/*
 * A per-session bandwidth budget ([display] max_kbps) as a token bucket
 * over bytes sent: tokens accrue at the budget's rate up to a burst, each
 * frame is charged its bytes once sent, and while the bucket is in debt the
 * next frame waits (its changes keep coalescing with later ones: nothing
 * stale is queued). A frame may overdraw, so one larger than the burst
 * (a key frame, a full refresh) still goes, and the wait after it pays it
 * back; over any period the bytes sent stay within rate x period + burst
 * + the largest frame.
 *
 * Pure: the caller passes the time (milliseconds, never decreasing). An
 * embedded struct with no resources: no finish().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The burst: this much of the rate may go at once after a quiet spell. */
#define TOKEN_BUCKET_BURST_MS 200

struct token_bucket {
	uint64_t kbps; /* 0: no budget, always ready */
	int64_t bits;  /* tokens; negative while in debt */
	int64_t burst; /* most tokens kept, bits */
	uint64_t last; /* time of the last refill, ms */
};

/* A budget of kbps kilobits per second (0 = unlimited), full at now_ms. */
void token_bucket_init(struct token_bucket *b, unsigned kbps, uint64_t now_ms);

/* Charges bytes that went out at now_ms. */
void token_bucket_charge(struct token_bucket *b, uint64_t bytes, uint64_t now_ms);

/* Whether the next frame may go at now_ms (no debt). */
bool token_bucket_ready(struct token_bucket *b, uint64_t now_ms);

/* Milliseconds from now_ms until token_bucket_ready(); 0 when it is. */
uint64_t token_bucket_wait_ms(struct token_bucket *b, uint64_t now_ms);
