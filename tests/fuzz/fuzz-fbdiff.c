/*
 * libFuzzer target: fbdiff on pictures and rectangles a hostile render
 * could make. The input gives the geometry, a picture, and a new picture
 * that is the old one shifted by some rows with some pixels changed (so
 * scrolls are found as well as refused). Whatever is found, the old
 * picture must end up equal to the new one inside the rectangle and
 * untouched outside it, and every move must stay inside the rectangle.
 *
 * Then the RDP bitmap cache over the same pictures: the old picture's
 * bands are kept as if painted after a scroll of the rectangle, and
 * looked for in the new picture. A band may be drawn only inside the
 * rectangle and only where the new picture holds exactly its pixels, and
 * the cache stays within its bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fbdiff.h"
#include "gfx_cache.h"

#define MAX_W 160
#define MAX_H 96
#define SLOTS 8

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

static void check_cache(const uint8_t *orig, const uint8_t *cur, int w, int h, const struct rect *r,
                        size_t max_bytes)
{
	struct fbdiff_image oi = {(uint8_t *)orig, (size_t)w * 4, w, h};
	struct fbdiff_image ci = {(uint8_t *)cur, (size_t)w * 4, w, h};
	struct rect bounds = {0, 0, w, h}, kept[SLOTS + 1] = {{0, 0, 0, 0}};
	struct gfx_cache_op ops[64];
	struct gfx_cache_hit hits[64];
	struct gfx_cache_stats st;
	struct region todo;
	struct gfx_cache *c = gfx_cache_new(max_bytes, SLOTS);

	if (!c)
		return;
	region_init(&todo);
	region_add(&todo, r, &bounds, 0);
	size_t n = gfx_cache_add(c, &oi, r, &todo, ops, 64);
	for (size_t i = 0; i < n; i++) {
		if (ops[i].slot < 1 || ops[i].slot > SLOTS)
			__builtin_trap();
		if (ops[i].kind == GFX_CACHE_STORE) {
			if (!inside(&ops[i].r, r))
				__builtin_trap();
			kept[ops[i].slot] = ops[i].r;
		}
	}
	n = gfx_cache_find(c, &ci, r, &todo, hits, 64);
	for (size_t i = 0; i < n; i++) {
		const struct rect *d = &hits[i].r, *k = &kept[hits[i].slot];
		if (!inside(d, r) || d->w != k->w || d->h != k->h || d->x != k->x)
			__builtin_trap();
		for (int y = 0; y < d->h; y++)
			for (int x = 0; x < d->w; x++)
				if (rgb(cur, (size_t)(d->y + y) * (size_t)w + (size_t)(d->x + x)) !=
				    rgb(orig, (size_t)(k->y + y) * (size_t)w + (size_t)(k->x + x)))
					__builtin_trap();
	}
	gfx_cache_stats(c, &st);
	if (st.bytes > st.max_bytes)
		__builtin_trap();
	gfx_cache_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	int w = 1 + data[0] % MAX_W, h = 1 + data[1] % MAX_H, shift = (int8_t)data[6];
	struct rect r = {data[2] % w, data[3] % h, 0, 0};
	r.w = 1 + data[4] % (w - r.x);
	r.h = 1 + data[5] % (h - r.y);
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

	struct fbdiff_image pi = {prev, (size_t)w * 4, w, h};
	struct fbdiff_image ci = {cur, (size_t)w * 4, w, h};
	struct fbdiff_move m;
	struct region changed;
	if (fbdiff_find_scroll(&pi, &ci, &r, &m)) {
		struct rect d = fbdiff_move_dest(&m);
		if (m.dy == 0 || m.src.h < FBDIFF_SCROLL_MIN_ROWS || !inside(&m.src, &r) ||
		    !inside(&d, &r))
			__builtin_trap();
		fbdiff_apply_move(&pi, &m);
	}
	region_init(&changed);
	fbdiff_update(&pi, &ci, &r, &changed, (int64_t)data[7] * 64);
	for (size_t i = 0; i < changed.n; i++)
		if (!inside(&changed.r[i], &r))
			__builtin_trap();
	check(orig, prev, cur, w, h, &r);
	check_cache(orig, cur, w, h, &r, ((size_t)data[7] + 1) * 1024);
	free(orig);
	free(prev);
	free(cur);
	return 0;
}
