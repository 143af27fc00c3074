/*
 * libFuzzer target: fbdiff on pictures and rectangles a hostile render
 * could make. The input gives the geometry, a picture, and a new picture
 * that is the old one shifted by some rows with some pixels changed (so
 * scrolls are found as well as refused). Whatever is found, the old
 * picture must end up equal to the new one inside the rectangle and
 * untouched outside it, and every move must stay inside the rectangle.
 * The old picture keeps its row hashes, and is taken to the new picture
 * and back, so the second search works from hashes the first one left;
 * every hash it keeps must be that of its row as it is.
 *
 * Then the RDP bitmap cache over the same pictures: each picture's bands
 * are kept as if painted after a scroll of the rectangle, and looked for
 * in the other, in a cache of two slots. A band may be drawn only from a
 * slot the client holds, inside the rectangle, and only where the picture
 * holds exactly its pixels; a slot is evicted only when in use and stored
 * only when empty; the cache stays within its bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fbdiff.h"
#include "gfx_cache.h"

#define MAX_W 160
#define MAX_H 512 /* tall enough for the scroll search to sample rows */
#define SLOTS 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t rgb(const uint8_t *p, size_t i)
{
	return (uint32_t)p[i * 4] | (uint32_t)p[i * 4 + 1] << 8 | (uint32_t)p[i * 4 + 2] << 16;
}

static int inside(const struct rect *a, const struct rect *r)
{
	struct rect i = rect_intersect(a, r);
	return rect_area(&i) == rect_area(a);
}

static void check(const uint8_t *orig, const uint8_t *prev, const uint8_t *cur, int w, int h,
                  const struct rect *r)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			size_t i = (size_t)y * (size_t)w + (size_t)x;
			int in = x >= r->x && x < r->x + r->w && y >= r->y && y < r->y + r->h;
			if (in && rgb(prev, i) != rgb(cur, i))
				__builtin_trap();
			if (!in && memcmp(prev + i * 4, orig + i * 4, 4) != 0)
				__builtin_trap();
		}
}

/* Every hash the picture keeps is that of its row's columns as they are now. */
static void check_rows(const struct fbdiff_image *img)
{
	const struct fbdiff_rows *rows = img->rows;

	for (int32_t y = 0; y < rows->n && y < img->height; y++) {
		const struct fbdiff_row *row = &rows->row[y];
		if (!row->known)
			continue;
		if (row->x < 0 || row->w <= 0 || row->x + row->w > img->width)
			__builtin_trap();
		const uint8_t *p = img->pixels + (size_t)y * img->stride + (size_t)row->x * 4;
		if (XXH3_64bits_withSeed(p, (size_t)row->w * 4, rows->seed) != row->hash)
			__builtin_trap();
	}
}

/* The client's cache: kept[slot] is the rectangle a slot was stored from, w = 0 when empty. */
static void apply_ops(const struct gfx_cache_op *ops, size_t n, const struct rect *r,
                      struct rect *kept)
{
	for (size_t i = 0; i < n; i++) {
		struct rect *k = &kept[ops[i].slot];
		if (ops[i].slot < 1 || ops[i].slot > SLOTS)
			__builtin_trap();
		if (ops[i].kind == GFX_CACHE_EVICT) {
			if (k->w == 0)
				__builtin_trap(); /* evicts an empty slot */
			k->w = 0;
			continue;
		}
		if (k->w != 0 || !inside(&ops[i].r, r))
			__builtin_trap(); /* stores into a slot in use, or from outside */
		*k = ops[i].r;
	}
}

/* A band drawn at d from kept rectangle k shows exactly what `now` has at d. */
static void check_hits(const struct gfx_cache_hit *hits, size_t n, const struct rect *r,
                       const struct rect *kept, const uint8_t *then, const uint8_t *now, int w)
{
	for (size_t i = 0; i < n; i++) {
		const struct rect *d = &hits[i].r, *k = &kept[hits[i].slot];
		if (hits[i].slot < 1 || hits[i].slot > SLOTS || k->w == 0 || !inside(d, r) ||
		    d->w != k->w || d->h != k->h || d->x != k->x)
			__builtin_trap();
		for (int y = 0; y < d->h; y++)
			for (int x = 0; x < d->w; x++)
				if (rgb(now, (size_t)(d->y + y) * (size_t)w + (size_t)(d->x + x)) !=
				    rgb(then, (size_t)(k->y + y) * (size_t)w + (size_t)(k->x + x)))
					__builtin_trap();
	}
}

/*
 * Bands of one picture kept, looked for in the other, and the other way
 * round, in a cache of SLOTS slots (so bands are evicted).
 */
static void check_cache(const uint8_t *orig, const uint8_t *cur, int w, int h, const struct rect *r,
                        size_t max_bytes)
{
	const uint8_t *pics[2] = {orig, cur};
	struct rect bounds = {0, 0, w, h};
	struct gfx_cache_op ops[64];
	struct gfx_cache_hit hits[64];
	struct gfx_cache_stats st;
	struct gfx_cache *c = gfx_cache_new(max_bytes, SLOTS);

	struct rect held[SLOTS + 1] = {{0, 0, 0, 0}}; /* what the client holds */
	const uint8_t *from[SLOTS + 1] = {NULL};      /* and from which picture */

	if (!c)
		return;
	for (int round = 0; round < 4; round++) {
		const uint8_t *then = pics[round % 2], *now = pics[(round + 1) % 2];
		struct fbdiff_image ti = {(uint8_t *)then, (size_t)w * 4, w, h, NULL};
		struct fbdiff_image ni = {(uint8_t *)now, (size_t)w * 4, w, h, NULL};
		struct region todo;
		region_init(&todo);
		region_add(&todo, r, &bounds, 0);
		size_t n = gfx_cache_add(c, &ti, r, &todo, ops, 64);
		apply_ops(ops, n, r, held);
		for (size_t i = 0; i < n; i++)
			if (ops[i].kind == GFX_CACHE_STORE)
				from[ops[i].slot] = then;
		n = gfx_cache_find(c, &ni, r, &todo, hits, 64);
		for (size_t i = 0; i < n; i++) {
			uint16_t s = hits[i].slot;
			if (s < 1 || s > SLOTS || !from[s])
				__builtin_trap();
			check_hits(&hits[i], 1, r, held, from[s], now, w);
		}
	}
	gfx_cache_stats(c, &st);
	if (st.bytes > st.max_bytes)
		__builtin_trap();
	gfx_cache_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	int w = 1 + data[0] % MAX_W, h = 1 + data[1] * 2 % MAX_H, shift = (int8_t)data[6];
	struct rect r = {data[2] % w, data[3] * 2 % h, 0, 0};
	r.w = 1 + data[4] % (w - r.x);
	r.h = 1 + data[5] * 2 % (h - r.y);
	const uint8_t *src = data + 8;
	size_t n = size - 8, px = (size_t)w * (size_t)h * 4;
	uint8_t *orig = malloc(px), *prev = malloc(px), *cur = malloc(px);

	for (size_t i = 0; i < px; i++)
		orig[i] = n ? src[(i / 4 / 7) % n] ^ (uint8_t)(i % 4 == 3 ? i : 0) : 0;
	for (int y = 0; y < h; y++) {
		int from = y - shift;
		from = from < 0 ? 0 : from >= h ? h - 1 : from;
		memcpy(cur + (size_t)y * (size_t)w * 4, orig + (size_t)from * (size_t)w * 4,
		       (size_t)w * 4);
	}
	for (size_t i = 0; n > 1 && i + 1 < n && i < 64; i += 2)
		cur[(src[i] * 131u + src[i + 1]) % px] ^= 0x5a;
	memcpy(prev, orig, px);

	struct fbdiff_rows rows;
	if (fbdiff_rows_init(&rows, h, 1) < 0)
		__builtin_trap();
	struct fbdiff_image pi = {prev, (size_t)w * 4, w, h, &rows};
	/* Round 0 takes prev from orig to cur, round 1 back to orig. */
	for (int round = 0; round < 2; round++) {
		const uint8_t *want = round == 0 ? cur : orig;
		struct fbdiff_image ci = {(uint8_t *)want, (size_t)w * 4, w, h, NULL};
		struct fbdiff_move m;
		struct region changed;
		bool moved = fbdiff_find_scroll(&pi, &ci, &r, &m);
		if (moved) {
			struct rect d = fbdiff_move_dest(&m);
			if (m.dy == 0 || m.src.h < FBDIFF_SCROLL_MIN_ROWS || !inside(&m.src, &r) ||
			    !inside(&d, &r))
				__builtin_trap();
			fbdiff_apply_move(&pi, &m);
		}
		region_init(&changed);
		fbdiff_update_moved(&pi, &ci, &r, moved ? &m : NULL, &changed,
		                    (int64_t)data[7] * 64);
		for (size_t i = 0; i < changed.n; i++)
			if (!inside(&changed.r[i], &r))
				__builtin_trap();
		check(orig, prev, want, w, h, &r);
		check_rows(&pi);
	}
	fbdiff_rows_free(&rows);
	check_cache(orig, cur, w, h, &r, ((size_t)data[7] + 1) * 4096);
	free(orig);
	free(prev);
	free(cur);
	return 0;
}
