/*
 * The client's bitmap cache for scrolled text (see gfx_cache.h). Untrusted
 * input: the pixels, which come from the browser; the rectangles come from
 * the caller, already inside the image.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "gfx_cache.h"
#include "util.h"

#define RGB_MASK 0x00ffffffu
/* A band larger than this share of the cache is not kept. */
#define MAX_SHARE 16
/*
 * Entries looked at for one row's hash, and bands checked row by row in
 * one call: bounds on the work a page of many alike rows can cause.
 */
#define MAX_CHAIN 32
#define MAX_CHECKS 256

struct entry {
	uint16_t slot;               /* 1-based; 0: free */
	int32_t x, w, h;             /* its columns and height */
	int32_t span_x, span_w;      /* the scrolled columns it was seen in */
	int32_t anchor;              /* its first row not of one colour across the span */
	uint64_t anchor_hash;        /* that row across the span */
	uint64_t rows[GFX_CACHE_BAND]; /* each row over its own columns */
	uint64_t used;               /* when last stored or drawn */
	int32_t next;                /* the next entry in its bucket; -1: none */
};

struct gfx_cache {
	size_t max_bytes, bytes;
	uint16_t max_slots;
	struct entry *e; /* e[slot - 1] */
	int32_t *bucket; /* heads, -1: empty */
	int32_t *free;   /* entries not in use, nfree of them */
	int32_t nfree;
	uint32_t mask;
	uint64_t key, tick;
	struct gfx_cache_stats stats;
};

struct gfx_cache *gfx_cache_new(size_t max_bytes, uint16_t max_slots)
{
	struct gfx_cache *c = calloc(1, sizeof(*c));
	uint32_t n = 1;

	if (!c || max_slots == 0 || max_bytes == 0)
		goto fail;
	while (n < 2u * max_slots)
		n <<= 1;
	c->max_bytes = max_bytes;
	c->max_slots = max_slots;
	c->mask = n - 1;
	c->e = calloc(max_slots, sizeof(*c->e));
	c->bucket = malloc(n * sizeof(*c->bucket));
	c->free = malloc(max_slots * sizeof(*c->free));
	if (!c->e || !c->bucket || !c->free ||
	    RAND_bytes((unsigned char *)&c->key, sizeof(c->key)) != 1)
		goto fail;
	memset(c->bucket, 0xff, n * sizeof(*c->bucket));
	for (int32_t k = 0; k < max_slots; k++)
		c->free[k] = max_slots - 1 - k; /* slot 1 first */
	c->nfree = max_slots;
	c->stats.max_bytes = max_bytes;
	return c;
fail:
	gfx_cache_free(c);
	return NULL;
}

void gfx_cache_free(struct gfx_cache *c)
{
	if (!c)
		return;
	free(c->e);
	free(c->bucket);
	free(c->free);
	free(c);
}

void gfx_cache_stats(const struct gfx_cache *c, struct gfx_cache_stats *out)
{
	*out = c->stats;
	out->bytes = c->bytes;
}

static const uint8_t *at(const struct fbdiff_image *img, int32_t x, int32_t y)
{
	return img->pixels + (size_t)y * img->stride + (size_t)x * 4;
}

static uint32_t px(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v & RGB_MASK;
}

static bool one_colour(const uint8_t *p, int32_t n)
{
	uint32_t first = px(p);

	for (int32_t i = 1; i < n; i++)
		if (px(p + (size_t)i * 4) != first)
			return false;
	return true;
}

static uint32_t bucket_of(const struct gfx_cache *c, uint64_t h, const struct rect *span)
{
	h ^= (uint64_t)span->x * 0x9e3779b97f4a7c15ull ^ (uint64_t)span->w * 0xc2b2ae3d27d4eb4full;
	return (uint32_t)(h ^ (h >> 29)) & c->mask;
}

static uint64_t span_hash(const struct gfx_cache *c, const struct fbdiff_image *img,
                          const struct rect *span, int32_t y)
{
	return fbdiff_row_hash(at(img, span->x, y), span->w, c->key);
}

/* Whether img shows e's rows with its top at y. */
static bool shows(const struct gfx_cache *c, const struct fbdiff_image *img,
                  const struct entry *e, int32_t y)
{
	if (y < 0 || y + e->h > img->height)
		return false;
	for (int32_t i = 0; i < e->h; i++)
		if (fbdiff_row_hash(at(img, e->x, y + i), e->w, c->key) != e->rows[i])
			return false;
	return true;
}

/* todo without r. */
static void subtract(struct region *todo, const struct rect *r, const struct rect *bounds)
{
	struct region before = *todo;

	region_init(todo);
	for (size_t i = 0; i < before.n; i++) {
		const struct rect *a = &before.r[i];
		struct rect in = rect_intersect(a, r);
		if (rect_empty(&in)) {
			region_add(todo, a, bounds, 0);
			continue;
		}
		struct rect parts[4] = {
		    {a->x, a->y, a->w, in.y - a->y},                         /* above */
		    {a->x, in.y + in.h, a->w, a->y + a->h - (in.y + in.h)},  /* below */
		    {a->x, in.y, in.x - a->x, in.h},                         /* left */
		    {in.x + in.w, in.y, a->x + a->w - (in.x + in.w), in.h},  /* right */
		};
		for (int k = 0; k < 4; k++)
			if (!rect_empty(&parts[k]))
				region_add(todo, &parts[k], bounds, 0);
	}
}

size_t gfx_cache_find(struct gfx_cache *c, const struct fbdiff_image *img, const struct rect *span,
                      struct region *todo, struct gfx_cache_hit *hits, size_t max)
{
	struct rect bounds = {0, 0, img->width, img->height};
	struct rect area = rect_intersect(span, &bounds);
	size_t n = 0;

	if (rect_empty(&area) || c->bytes == 0)
		return 0;
	/*
	 * Rows where the anchor of a band meeting something to do can be: a
	 * band is GFX_CACHE_BAND rows at most, its anchor one of them.
	 */
	int32_t y0 = INT32_MAX, y1 = -1, checks = 0;
	for (size_t i = 0; i < todo->n; i++) {
		struct rect in = rect_intersect(&todo->r[i], &area);
		if (rect_empty(&in))
			continue;
		y0 = MIN(y0, in.y - (GFX_CACHE_BAND - 1));
		y1 = MAX(y1, in.y + in.h + GFX_CACHE_BAND - 1);
	}
	y0 = MAX(y0, area.y);
	y1 = MIN(y1, area.y + area.h);
	for (int32_t y = y0; y < y1 && n < max && todo->n > 0 && checks < MAX_CHECKS; y++) {
		uint64_t h = span_hash(c, img, &area, y);
		int32_t seen = 0;
		for (int32_t k = c->bucket[bucket_of(c, h, &area)];
		     k >= 0 && n < max && seen++ < MAX_CHAIN && checks < MAX_CHECKS;
		     k = c->e[k].next) {
			struct entry *e = &c->e[k];
			if (e->anchor_hash != h || e->span_x != area.x || e->span_w != area.w)
				continue;
			struct rect r = {e->x, y - e->anchor, e->w, e->h};
			struct rect in = rect_intersect(&r, &area);
			if (rect_area(&in) != rect_area(&r) || !region_meets(todo, &r))
				continue;
			checks++;
			c->stats.checked++;
			if (!shows(c, img, e, r.y))
				continue;
			e->used = ++c->tick;
			hits[n++] = (struct gfx_cache_hit){e->slot, r};
			int64_t before = region_area(todo);
			subtract(todo, &r, &bounds);
			c->stats.hits++;
			c->stats.hit_pixels += (uint64_t)MAX(0, before - region_area(todo));
		}
	}
	return n;
}

static void unlink_entry(struct gfx_cache *c, int32_t k)
{
	struct entry *e = &c->e[k];
	struct rect span = {e->span_x, 0, e->span_w, 0};
	int32_t *p = &c->bucket[bucket_of(c, e->anchor_hash, &span)];

	while (*p >= 0 && *p != k)
		p = &c->e[*p].next;
	if (*p == k)
		*p = e->next;
	c->bytes -= (size_t)e->w * (size_t)e->h * 4;
	e->slot = 0;
	c->free[c->nfree++] = k;
}

/* A free entry for `bytes` more, evicting the least recently used; -1 if it cannot be. */
static int32_t make_room(struct gfx_cache *c, size_t bytes, struct gfx_cache_op *ops, size_t *n,
                         size_t max)
{
	for (;;) {
		if (c->nfree > 0 && c->bytes + bytes <= c->max_bytes)
			return c->free[--c->nfree];
		int32_t lru = -1;
		for (int32_t k = 0; k < c->max_slots; k++)
			if (c->e[k].slot != 0 && (lru < 0 || c->e[k].used < c->e[lru].used))
				lru = k;
		if (lru < 0 || *n >= max)
			return -1;
		ops[(*n)++] =
		    (struct gfx_cache_op){GFX_CACHE_EVICT, c->e[lru].slot, {0, 0, 0, 0}, 0};
		unlink_entry(c, lru);
	}
}

/* The entry that already holds this band, or -1. */
static int32_t kept(const struct gfx_cache *c, const struct entry *b, uint32_t bucket)
{
	int32_t seen = 0;

	for (int32_t k = c->bucket[bucket]; k >= 0 && seen++ < MAX_CHAIN; k = c->e[k].next) {
		const struct entry *e = &c->e[k];
		if (e->anchor_hash == b->anchor_hash && e->span_x == b->span_x &&
		    e->span_w == b->span_w && e->x == b->x && e->w == b->w && e->h == b->h &&
		    e->anchor == b->anchor &&
		    memcmp(e->rows, b->rows, sizeof(e->rows[0]) * (size_t)b->h) == 0)
			return k;
	}
	return -1;
}

/* Keeps the band of img at r (inside span); false when ops is full. */
static bool add_band(struct gfx_cache *c, const struct fbdiff_image *img, const struct rect *span,
                     const struct rect *r, struct gfx_cache_op *ops, size_t *n, size_t max)
{
	struct entry b = {.x = r->x, .w = r->w, .h = r->h, .span_x = span->x, .span_w = span->w,
	                  .anchor = -1};
	size_t bytes = (size_t)r->w * (size_t)r->h * 4;

	if (bytes > c->max_bytes / MAX_SHARE)
		return true;
	/*
	 * The anchor: the first row not of one colour that differs from the
	 * rows above and below it. Blank rows between lines of text are alike
	 * (one colour, or a border or gutter down the page); a row of a line of
	 * text rarely is.
	 */
	uint64_t h[GFX_CACHE_BAND + 2];
	int32_t top = span->y, end = span->y + span->h;
	for (int32_t i = -1; i <= r->h; i++) {
		int32_t y = r->y + i;
		h[i + 1] = y >= top && y < end ? span_hash(c, img, span, y) : (uint64_t)i;
	}
	for (int32_t i = 0; i < r->h && b.anchor < 0; i++)
		if (h[i + 1] != h[i] && h[i + 1] != h[i + 2] &&
		    !one_colour(at(img, span->x, r->y + i), span->w))
			b.anchor = i;
	if (b.anchor < 0)
		return true; /* blank, or alike rows: cheap to paint, and found everywhere */
	b.anchor_hash = h[b.anchor + 1];
	for (int32_t i = 0; i < r->h; i++)
		b.rows[i] = fbdiff_row_hash(at(img, r->x, r->y + i), r->w, c->key);
	uint32_t bucket = bucket_of(c, b.anchor_hash, span);
	int32_t k = kept(c, &b, bucket);
	if (k >= 0) {
		c->e[k].used = ++c->tick;
		return true;
	}
	if (*n + 2 > max)
		return false;
	k = make_room(c, bytes, ops, n, max - 1);
	if (k < 0)
		return false;
	b.slot = (uint16_t)(k + 1);
	b.used = ++c->tick;
	b.next = c->bucket[bucket];
	c->e[k] = b;
	c->bucket[bucket] = k;
	c->bytes += bytes;
	c->stats.stored++;
	uint64_t key = b.anchor_hash;
	for (int32_t i = 0; i < b.h; i++)
		key = (key ^ b.rows[i]) * 0x9e3779b97f4a7c15ull;
	ops[(*n)++] = (struct gfx_cache_op){GFX_CACHE_STORE, b.slot, *r, key};
	return true;
}

size_t gfx_cache_add(struct gfx_cache *c, const struct fbdiff_image *img, const struct rect *span,
                     const struct region *painted, struct gfx_cache_op *ops, size_t max)
{
	struct rect bounds = {0, 0, img->width, img->height};
	struct rect area = rect_intersect(span, &bounds);
	size_t n = 0;

	for (size_t i = 0; i < painted->n; i++) {
		struct rect p = rect_intersect(&painted->r[i], &area);
		for (int32_t y = p.y; !rect_empty(&p) && y + GFX_CACHE_MIN_ROWS <= p.y + p.h;
		     y += GFX_CACHE_BAND) {
			struct rect band = {p.x, y, p.w, MIN(GFX_CACHE_BAND, p.y + p.h - y)};
			if (!add_band(c, img, &area, &band, ops, &n, max))
				return n;
		}
	}
	return n;
}
