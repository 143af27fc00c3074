/*
 * ZGFX (RDP 8.0 bulk) compressor: greedy LZ77 with one step of lazy
 * matching over hash chains, written in the bit layout of MS-RDPEGFX
 * 3.1.9.1 (prefix codes read most significant bit first; the segment's
 * last byte says how many bits of the byte before it are padding).
 *
 * The history is a linear buffer holding at least the last ZGFX_WINDOW
 * bytes; it slides down when full. Hash chains remember positions as the
 * low 32 bits of a byte count since creation, so a stale or wrapped entry
 * can at worst point at the wrong bytes: every match is compared byte for
 * byte before it is used, and only inside the bytes the client holds.
 */
#include "autoconfig.h"

#include "zgfx_enc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define HASH_BITS 16
/*
 * Candidates tried per position. Over the graphics PDUs of a scroll and a
 * reading run (4.5 MB), 48 gave 530.9 KB in 0.225 s, 16 gave 539.8 KB
 * (+1.7%) in 0.091 s, 8 gave 553.2 KB (+4.2%) in 0.053 s. Below 16, a
 * block seen megabytes ago (text scrolled back into view) is no longer
 * found behind the chains of what came since (test_zgfx_enc).
 */
#define CHAIN_MAX 16
#define LAZY_BELOW 64 /* a match this long is taken without looking one byte on */
#define BUF_SIZE (2 * ZGFX_WINDOW)
#define WINDOW_MASK (ZGFX_WINDOW - 1)

#define SEGMENT_COMPRESSED 0x20 /* PACKET_COMPRESSED */
#define SEGMENT_RDP8 0x04       /* PACKET_COMPR_TYPE_RDP8 */
#define DESCRIPTOR_SINGLE 0xE0
#define DESCRIPTOR_MULTIPART 0xE1

struct zgfx_enc {
	uint8_t *buf;    /* history, then the segment being compressed */
	uint64_t base;   /* position of buf[0] */
	uint64_t end;    /* position after the last byte in buf */
	uint64_t hashed; /* positions below this are in the chains */
	uint32_t *head;  /* newest position with a hash */
	uint32_t *prev;  /* older position with the same hash, by position */
};

/* The distance codes of MS-RDPEGFX's token table, nearest first. */
static const struct {
	uint8_t prefix_bits;
	uint16_t prefix;
	uint8_t value_bits;
	uint32_t base;
} distance_codes[] = {
    {5, 0x11, 5, 0},       {5, 0x12, 7, 32},       {5, 0x13, 9, 160},      {5, 0x14, 10, 672},
    {5, 0x15, 12, 1696},   {6, 0x2C, 14, 5792},    {6, 0x2D, 15, 22176},   {7, 0x5C, 18, 54944},
    {7, 0x5D, 20, 317088}, {8, 0xBC, 20, 1365664}, {8, 0xBD, 21, 2414240},
};

/* Literals with a code of their own, shorter than the generic 0 + 8 bits. */
static const struct {
	uint8_t byte;
	uint8_t bits;
	uint8_t code;
} literal_codes[] = {
    {0x00, 5, 0x18}, {0x01, 5, 0x19}, {0x02, 6, 0x34}, {0x03, 6, 0x35}, {0xFF, 6, 0x36},
    {0x04, 7, 0x6E}, {0x05, 7, 0x6F}, {0x06, 7, 0x70}, {0x07, 7, 0x71}, {0x08, 7, 0x72},
    {0x09, 7, 0x73}, {0x0A, 7, 0x74}, {0x0B, 7, 0x75}, {0x3A, 7, 0x76}, {0x3B, 7, 0x77},
    {0x3C, 7, 0x78}, {0x3D, 7, 0x79}, {0x3E, 7, 0x7A}, {0x3F, 7, 0x7B}, {0x40, 7, 0x7C},
    {0x80, 7, 0x7D}, {0x0C, 8, 0xFC}, {0x38, 8, 0xFD}, {0x39, 8, 0xFE}, {0x66, 8, 0xFF},
};

static uint8_t lit_bits[256];
static uint16_t lit_code[256];

static void literal_table(void)
{
	if (lit_bits[0])
		return;
	for (int b = 0; b < 256; b++) {
		lit_bits[b] = 9;
		lit_code[b] = (uint16_t)b; /* 0 then the byte */
	}
	for (size_t i = 0; i < sizeof(literal_codes) / sizeof(literal_codes[0]); i++) {
		lit_bits[literal_codes[i].byte] = literal_codes[i].bits;
		lit_code[literal_codes[i].byte] = literal_codes[i].code;
	}
}

struct bits {
	uint8_t *out;
	size_t n, cap; /* bytes written, and where to give up */
	uint64_t acc;
	unsigned pending; /* bits in acc not yet written */
	bool full;
};

static void put(struct bits *b, uint32_t value, unsigned count)
{
	b->acc = (b->acc << count) | (value & ((1ull << count) - 1));
	b->pending += count;
	while (b->pending >= 8) {
		b->pending -= 8;
		if (b->n >= b->cap) {
			b->full = true;
			return;
		}
		b->out[b->n++] = (uint8_t)(b->acc >> b->pending);
	}
	b->acc &= (1ull << b->pending) - 1;
}

static unsigned floor_log2(uint32_t v)
{
	return 31u - (unsigned)__builtin_clz(v);
}

static unsigned length_bits(uint32_t len)
{
	return len == 3 ? 1 : 2 * floor_log2(len);
}

static void put_length(struct bits *b, uint32_t len)
{
	if (len == 3) {
		put(b, 0, 1);
		return;
	}
	/* 1, then k - 2 ones and a 0, then len - 2^k in k bits */
	unsigned k = floor_log2(len);
	put(b, 1, 1);
	for (unsigned i = 2; i < k; i++)
		put(b, 1, 1);
	put(b, 0, 1);
	put(b, len - (1u << k), k);
}

static size_t distance_code(uint32_t d)
{
	size_t i = 0;
	while (i + 1 < sizeof(distance_codes) / sizeof(distance_codes[0]) &&
	       d >= distance_codes[i + 1].base)
		i++;
	return i;
}

static unsigned match_bits(uint32_t d, uint32_t len)
{
	size_t c = distance_code(d);
	return distance_codes[c].prefix_bits + distance_codes[c].value_bits + length_bits(len);
}

static void put_match(struct bits *b, uint32_t d, uint32_t len)
{
	size_t c = distance_code(d);
	put(b, distance_codes[c].prefix, distance_codes[c].prefix_bits);
	put(b, d - distance_codes[c].base, distance_codes[c].value_bits);
	put_length(b, len);
}

static uint32_t hash3(const uint8_t *p)
{
	uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	return (v * 2654435761u) >> (32 - HASH_BITS);
}

/* Enters every position below limit whose three bytes are in the buffer. */
static void hash_upto(struct zgfx_enc *z, uint64_t limit)
{
	if (limit + 2 > z->end)
		limit = z->end >= 2 ? z->end - 2 : 0;
	for (; z->hashed < limit; z->hashed++) {
		uint32_t h = hash3(z->buf + (z->hashed - z->base));
		z->prev[z->hashed & WINDOW_MASK] = z->head[h];
		z->head[h] = (uint32_t)z->hashed;
	}
}

/* The longest earlier copy of the bytes at cur, up to limit; 0 if none of 3. */
static uint32_t longest(const struct zgfx_enc *z, uint64_t cur, uint64_t limit, uint32_t *dist)
{
	if (limit - cur < 3)
		return 0;
	uint32_t max = (uint32_t)(limit - cur);
	uint64_t reach = cur - z->base < ZGFX_WINDOW ? cur - z->base : ZGFX_WINDOW;
	const uint8_t *p = z->buf + (cur - z->base);
	uint32_t cand = z->head[hash3(p)];
	uint32_t best = 0, last = 0;
	for (int tries = 0; tries < CHAIN_MAX; tries++) {
		uint32_t d = (uint32_t)cur - cand;
		if (d <= last || d > reach)
			break; /* not older than the last one: the chain went stale */
		const uint8_t *q = p - d;
		if (q[best < max ? best : 0] == p[best < max ? best : 0]) {
			uint32_t n = 0;
			while (n < max && q[n] == p[n])
				n++;
			if (n > best) {
				best = n;
				*dist = d;
				if (n == max)
					break;
			}
		}
		last = d;
		cand = z->prev[cand & WINDOW_MASK];
	}
	return best >= 3 ? best : 0;
}

static bool worth(uint32_t d, uint32_t len, const uint8_t *p)
{
	unsigned literal = 0;
	for (uint32_t i = 0; i < len && literal < 64; i++)
		literal += lit_bits[p[i]];
	return match_bits(d, len) < literal;
}

/* Appends len bytes to the history, sliding it down first when full. */
static void append(struct zgfx_enc *z, const uint8_t *in, size_t len)
{
	if (z->end - z->base + len > BUF_SIZE) {
		uint64_t keep = z->end - z->base < ZGFX_WINDOW ? z->end - z->base : ZGFX_WINDOW;
		memmove(z->buf, z->buf + (z->end - z->base - keep), keep);
		z->base = z->end - keep;
	}
	memcpy(z->buf + (z->end - z->base), in, len);
	z->end += len;
}

/* The tokens for the bytes from start to end (already appended); false if they outgrew b. */
static bool tokens(struct zgfx_enc *z, uint64_t start, uint64_t end, struct bits *b)
{
	uint64_t cur = start;
	while (cur < end && !b->full) {
		const uint8_t *p = z->buf + (cur - z->base);
		uint32_t d = 0, d2 = 0;
		hash_upto(z, cur);
		uint32_t len = longest(z, cur, end, &d);
		if (len && !worth(d, len, p))
			len = 0;
		if (len && len < LAZY_BELOW && cur + 1 < end) {
			hash_upto(z, cur + 1);
			uint32_t len2 = longest(z, cur + 1, end, &d2);
			if (len2 > len + 1 && worth(d2, len2, p + 1))
				len = 0; /* a literal now, the longer match next */
		}
		if (len) {
			put_match(b, d, len);
			cur += len;
		} else {
			put(b, lit_code[*p], lit_bits[*p]);
			cur++;
		}
	}
	hash_upto(z, end);
	return !b->full;
}

size_t zgfx_enc_segment(struct zgfx_enc *z, const uint8_t *in, size_t len, uint8_t *out)
{
	if (len > ZGFX_SEGMENT_MAX)
		return 0;
	uint64_t start = z->end;
	append(z, in, len);
	/* Compressed only when smaller than plain: header, body, padding count. */
	struct bits b = {.out = out + 1, .cap = len > 1 ? len - 1 : 0};
	if (tokens(z, start, z->end, &b)) {
		unsigned pad = (8 - b.pending) % 8;
		if (pad)
			put(&b, 0, pad);
		if (!b.full && b.n < b.cap) {
			out[0] = SEGMENT_RDP8 | SEGMENT_COMPRESSED;
			out[1 + b.n] = (uint8_t)pad;
			return b.n + 2;
		}
	}
	if (len == 0) { /* a plain segment must carry a byte; an empty bit stream */
		out[0] = SEGMENT_RDP8 | SEGMENT_COMPRESSED;
		out[1] = 0;
		return 2;
	}
	out[0] = SEGMENT_RDP8;
	memcpy(out + 1, in, len);
	return len + 1;
}

static void put_le(uint8_t *p, uint32_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

size_t zgfx_enc_bound(size_t len)
{
	size_t segments = len ? (len + ZGFX_SEGMENT_MAX - 1) / ZGFX_SEGMENT_MAX : 1;
	return 7 + segments * 4 + len + segments * 2;
}

size_t zgfx_enc_pdu(struct zgfx_enc *z, const uint8_t *in, size_t len, uint8_t *out)
{
	if (len <= ZGFX_SEGMENT_MAX) {
		out[0] = DESCRIPTOR_SINGLE;
		size_t n = zgfx_enc_segment(z, in, len, out + 1);
		return n ? n + 1 : 0;
	}
	if (len > UINT32_MAX || len / ZGFX_SEGMENT_MAX >= UINT16_MAX)
		return 0;
	size_t count = (len + ZGFX_SEGMENT_MAX - 1) / ZGFX_SEGMENT_MAX;
	out[0] = DESCRIPTOR_MULTIPART;
	put_le(out + 1, (uint32_t)count, 2);
	put_le(out + 3, (uint32_t)len, 4);
	size_t o = 7;
	for (size_t at = 0; at < len; at += ZGFX_SEGMENT_MAX) {
		size_t part = len - at < ZGFX_SEGMENT_MAX ? len - at : ZGFX_SEGMENT_MAX;
		size_t n = zgfx_enc_segment(z, in + at, part, out + o + 4);
		if (!n)
			return 0;
		put_le(out + o, (uint32_t)n, 4);
		o += 4 + n;
	}
	return o;
}

void zgfx_enc_reset(struct zgfx_enc *z)
{
	/* An empty buffer: no candidate is within reach, so the chains need no clearing. */
	z->base = z->end;
	z->hashed = z->end;
}

struct zgfx_enc *zgfx_enc_create(void)
{
	literal_table();
	struct zgfx_enc *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	z->buf = malloc(BUF_SIZE);
	z->head = calloc((size_t)1 << HASH_BITS, sizeof(*z->head));
	z->prev = calloc(ZGFX_WINDOW, sizeof(*z->prev));
	if (!z->buf || !z->head || !z->prev) {
		zgfx_enc_destroy(z);
		return NULL;
	}
	return z;
}

void zgfx_enc_destroy(struct zgfx_enc *z)
{
	if (!z)
		return;
	free(z->buf);
	free(z->head);
	free(z->prev);
	free(z);
}
