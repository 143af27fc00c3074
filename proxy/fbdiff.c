/*
 * Tile comparison and scroll detection (see fbdiff.h). Handles untrusted
 * input: pixels from render, compared and copied within rectangles the
 * caller has checked; all offsets are computed in size_t from non-negative
 * coordinates inside the images.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fbdiff.h"
#include "util.h"

#define RGB_MASK 0x00ffffffu
#define RGB_MASK2 0x00ffffff00ffffffull

static uint8_t *pixel_at(const struct fbdiff_image *img, int32_t x, int32_t y)
{
	return img->pixels + (size_t)y * img->stride + (size_t)x * 4;
}

static bool same_pixel(const uint8_t *a, const uint8_t *b, uint32_t mask)
{
	uint32_t pa, pb;

	memcpy(&pa, a, 4);
	memcpy(&pb, b, 4);
	return ((pa ^ pb) & mask) == 0;
}

/*
 * Columns of one row of n pixels whose bytes under mask differ: [*l, *r).
 * False when none do (with RGB_MASK: when only the ignored X bytes differ).
 */
static bool span_under(const uint8_t *a, const uint8_t *b, int32_t n, uint32_t mask, int32_t *l,
                       int32_t *r)
{
	int32_t i = 0, j = n;

	while (i < n && same_pixel(a + (size_t)i * 4, b + (size_t)i * 4, mask))
		i++;
	if (i == n)
		return false;
	while (j > i && same_pixel(a + (size_t)(j - 1) * 4, b + (size_t)(j - 1) * 4, mask))
		j--;
	*l = i;
	*r = j;
	return true;
}

/* Changed colours: [*l, *r) (see span_under). */
static bool changed_span(const uint8_t *a, const uint8_t *b, int32_t n, int32_t *l, int32_t *r)
{
	return span_under(a, b, n, RGB_MASK, l, r);
}

/* Whether row's columns meet [x, x + w). */
static bool row_meets(const struct fbdiff_row *row, int32_t x, int32_t w)
{
	return row->x < x + w && x < row->x + row->w;
}

/* Drops the hash of row y if it covers any of columns [x, x + w). */
static void forget_row(struct fbdiff_rows *rows, int32_t y, int32_t x, int32_t w)
{
	if (rows && y >= 0 && y < rows->n && row_meets(&rows->row[y], x, w))
		rows->row[y].known = false;
}

/*
 * Compares and copies one tile, but for rows of `same` (not compared); the
 * box of its changed pixels (empty if none).
 */
static struct rect diff_tile(struct fbdiff_image *prev, const struct fbdiff_image *cur,
                             const struct rect *t, const struct rect *same)
{
	int32_t x0 = t->w, x1 = 0, y0 = -1, y1 = -1;
	size_t len = (size_t)t->w * 4;
	int32_t skip0 = 0, skip1 = 0;

	if (same && t->x >= same->x && t->x + t->w <= same->x + same->w) {
		skip0 = same->y;
		skip1 = same->y + same->h;
	}
	for (int32_t y = t->y; y < t->y + t->h; y++) {
		if (y >= skip0 && y < skip1)
			continue;
		uint8_t *d = pixel_at(prev, t->x, y);
		const uint8_t *s = pixel_at(cur, t->x, y);
		int32_t l, r;
		if (memcmp(d, s, len) == 0)
			continue;
		if (changed_span(d, s, t->w, &l, &r)) {
			if (y0 < 0)
				y0 = y;
			y1 = y + 1;
			x0 = MIN(x0, l);
			x1 = MAX(x1, r);
		}
		/* Any byte changed, X bytes too: the row hashes cover them. */
		if (span_under(d, s, t->w, UINT32_MAX, &l, &r))
			forget_row(prev->rows, y, t->x + l, r - l);
		memcpy(d, s, len);
	}
	if (y0 < 0)
		return (struct rect){0, 0, 0, 0};
	return (struct rect){t->x + x0, y0, x1 - x0, y1 - y0};
}

int fbdiff_rows_init(struct fbdiff_rows *rows, int32_t height, uint64_t seed)
{
	*rows = (struct fbdiff_rows){.seed = seed};
	rows->row = calloc((size_t)MAX(height, 1), sizeof(*rows->row));
	if (!rows->row)
		return -1;
	rows->n = height;
	return 0;
}

int fbdiff_rows_resize(struct fbdiff_rows *rows, int32_t height)
{
	uint64_t seed = rows->seed;

	fbdiff_rows_free(rows);
	return fbdiff_rows_init(rows, height, seed);
}

void fbdiff_rows_free(struct fbdiff_rows *rows)
{
	free(rows->row);
	*rows = (struct fbdiff_rows){0};
}

void fbdiff_rows_forget(struct fbdiff_rows *rows, const struct rect *r)
{
	if (!rows || rect_empty(r))
		return;
	for (int32_t y = r->y; y < r->y + r->h; y++)
		forget_row(rows, y, r->x, r->w);
}

size_t fbdiff_update(struct fbdiff_image *prev, const struct fbdiff_image *cur,
                     const struct rect *r, struct region *changed, int64_t slack)
{
	return fbdiff_update_moved(prev, cur, r, NULL, changed, slack);
}

size_t fbdiff_update_moved(struct fbdiff_image *prev, const struct fbdiff_image *cur,
                           const struct rect *r, const struct fbdiff_move *m,
                           struct region *changed, int64_t slack)
{
	struct rect same = m ? fbdiff_move_dest(m) : (struct rect){0, 0, 0, 0};
	struct rect bounds = {0, 0, cur->width, cur->height};
	size_t n = 0;

	if (rect_empty(r))
		return 0;
	int32_t ty0 = r->y / FBDIFF_TILE * FBDIFF_TILE, tx0 = r->x / FBDIFF_TILE * FBDIFF_TILE;
	for (int32_t ty = ty0; ty < r->y + r->h; ty += FBDIFF_TILE) {
		for (int32_t tx = tx0; tx < r->x + r->w; tx += FBDIFF_TILE) {
			struct rect t = {tx, ty, FBDIFF_TILE, FBDIFF_TILE};
			t = rect_intersect(&t, r);
			struct rect box = diff_tile(prev, cur, &t, m ? &same : NULL);
			if (rect_empty(&box))
				continue;
			region_add(changed, &box, &bounds, slack);
			n++;
		}
	}
	return n;
}

/* ---- scroll detection ---- */

/*
 * A hash of n pixels' colours (X bytes ignored). Four lanes of two pixels
 * each, mixed at the end: a single chain of multiplies waited on itself,
 * and every row of a scrolled page is hashed twice a frame.
 */
uint64_t fbdiff_row_hash(const uint8_t *p, int32_t n, uint64_t key)
{
	uint64_t h[4] = {0x9e3779b97f4a7c15ull ^ key, 0xbf58476d1ce4e5b9ull ^ key,
	                 0x94d049bb133111ebull ^ key, 0x2545f4914f6cdd1dull ^ key};
	int32_t i = 0;

	for (; i + 8 <= n; i += 8) {
		for (int k = 0; k < 4; k++) {
			uint64_t v;
			memcpy(&v, p + (size_t)(i + 2 * k) * 4, 8);
			h[k] = (h[k] ^ (v & RGB_MASK2)) * 0xff51afd7ed558ccdull;
			h[k] ^= h[k] >> 29;
		}
	}
	uint64_t t = h[0];
	for (int k = 1; k < 4; k++) {
		t = (t ^ h[k]) * 0xc4ceb9fe1a85ec53ull;
		t ^= t >> 29;
	}
	for (; i < n; i++) {
		uint32_t v;
		memcpy(&v, p + (size_t)i * 4, 4);
		t = (t ^ (v & RGB_MASK)) * 0xc4ceb9fe1a85ec53ull;
		t ^= t >> 29;
	}
	return t ^ (t >> 32);
}

/*
 * The hash scroll search matches rows by, at every capture: the fastest
 * well-kept hash there is (XXH3). The X bytes count here; a row that
 * differs in them alone is only not found.
 */
static uint64_t scroll_hash(const uint8_t *p, int32_t n, uint64_t seed)
{
	return XXH3_64bits_withSeed(p, (size_t)n * 4, seed);
}

static bool rows_equal(const uint8_t *a, const uint8_t *b, int32_t n)
{
	if (memcmp(a, b, (size_t)n * 4) == 0)
		return true;
	int32_t l, r;
	return !changed_span(a, b, n, &l, &r);
}

struct scroll_scan {
	const struct fbdiff_image *prev, *cur;
	struct rect band;  /* the columns compared, r's rows */
	int32_t step;      /* cur's rows sampled: i and i - 1 for i = 1, 1 + step, ... */
	uint64_t *hp, *hc; /* row hashes of prev, and of cur's sampled rows */
	int32_t *slot;     /* open hash table of prev rows (see slot_row), 0 free */
	uint32_t mask;
	int32_t *votes; /* per dy + h - 1 */
};

static uint32_t slot_of(const struct scroll_scan *s, uint64_t h)
{
	return (uint32_t)(h ^ (h >> 17)) & s->mask;
}

/* The prev row a slot holds (slots hold index + 1, negated when two rows share a hash). */
static int32_t slot_row(const struct scroll_scan *s, uint32_t k)
{
	return (s->slot[k] < 0 ? -s->slot[k] : s->slot[k]) - 1;
}

static void index_prev_rows(struct scroll_scan *s)
{
	for (int32_t i = 0; i < s->band.h; i++) {
		uint32_t k = slot_of(s, s->hp[i]);
		while (s->slot[k] != 0 && s->hp[slot_row(s, k)] != s->hp[i])
			k = (k + 1) & s->mask;
		if (s->slot[k] == 0)
			s->slot[k] = i + 1;
		else if (s->slot[k] > 0)
			s->slot[k] = -s->slot[k]; /* the same row twice says nothing about dy */
	}
}

/* The prev row with hash h if exactly one has it, else -1. */
static int32_t find_prev_row(const struct scroll_scan *s, uint64_t h)
{
	uint32_t k = slot_of(s, h);

	while (s->slot[k] != 0 && s->hp[slot_row(s, k)] != h)
		k = (k + 1) & s->mask;
	return s->slot[k] > 0 ? s->slot[k] - 1 : -1;
}

/* The dy most changed, distinctive rows agree on; 0 if none. */
static int32_t vote_dy(struct scroll_scan *s)
{
	int32_t h = s->band.h, best = 0, best_votes = 0;

	for (int32_t i = 1; i < h; i += s->step) {
		if (s->hc[i] == s->hp[i] || s->hc[i] == s->hc[i - 1])
			continue; /* unchanged, or part of a run of equal rows */
		int32_t j = find_prev_row(s, s->hc[i]);
		if (j < 0 || j == i)
			continue;
		int32_t v = ++s->votes[i - j + h - 1];
		if (v > best_votes) {
			best_votes = v;
			best = i - j;
		}
	}
	return best_votes >= 2 ? best : 0;
}

/* The longest run of rows of cur equal to prev's rows dy above; its first row in *start. */
static int32_t longest_run(const struct scroll_scan *s, int32_t dy, int32_t *start)
{
	int32_t best = 0, run = 0, from = MAX(0, dy), to = s->band.h + MIN(0, dy);

	for (int32_t i = from; i < to; i++) {
		bool eq = rows_equal(pixel_at(s->cur, s->band.x, s->band.y + i),
		                     pixel_at(s->prev, s->band.x, s->band.y + i - dy), s->band.w);
		run = eq ? run + 1 : 0;
		if (run > best) {
			best = run;
			*start = i - run + 1;
		}
	}
	return best;
}

/*
 * Hashes the band's rows of prev, but those prev keeps, and keeps them;
 * and cur's sampled rows: a pair of rows in every `step` (h / 64, 1 to 8).
 * A scroll moves hundreds of rows alike; a few dozen votes find it.
 */
static void hash_rows(struct scroll_scan *s)
{
	struct fbdiff_rows *rows = s->prev->rows;
	uint64_t seed = rows ? rows->seed : 0;

	s->step = MAX(1, MIN(8, s->band.h / 64));
	for (int32_t i = 0; i < s->band.h; i++) {
		int32_t y = s->band.y + i;
		struct fbdiff_row *row = rows && y < rows->n ? &rows->row[y] : NULL;
		if (row && row->known && row->x == s->band.x && row->w == s->band.w) {
			s->hp[i] = row->hash;
			rows->reused++;
		} else {
			s->hp[i] = scroll_hash(pixel_at(s->prev, s->band.x, y), s->band.w, seed);
			if (row)
				*row = (struct fbdiff_row){s->band.x, s->band.w, s->hp[i], true};
		}
		if (i % s->step <= 1)
			s->hc[i] = scroll_hash(pixel_at(s->cur, s->band.x, y), s->band.w, seed);
	}
}

static bool scan(struct scroll_scan *s, struct fbdiff_move *m)
{
	index_prev_rows(s);
	int32_t dy = vote_dy(s), start = 0;
	if (dy == 0)
		return false;
	int32_t n = longest_run(s, dy, &start);
	if (n < FBDIFF_SCROLL_MIN_ROWS)
		return false;
	m->src = (struct rect){s->band.x, s->band.y + start - dy, s->band.w, n};
	m->dy = dy;
	return true;
}

/* Widens a move found without the edge columns to all of r's if they moved too. */
static void widen(const struct fbdiff_image *prev, const struct fbdiff_image *cur,
                  const struct rect *r, struct fbdiff_move *m)
{
	int32_t x = m->src.x + m->src.w, n = r->x + r->w - x;

	if (n <= 0)
		return;
	for (int32_t i = 0; i < m->src.h; i++)
		if (!rows_equal(pixel_at(cur, x, m->src.y + m->dy + i),
		                pixel_at(prev, x, m->src.y + i), n))
			return;
	m->src.w += n;
}

bool fbdiff_find_scroll(const struct fbdiff_image *prev, const struct fbdiff_image *cur,
                        const struct rect *r, struct fbdiff_move *m)
{
	struct scroll_scan s = {.prev = prev, .cur = cur, .band = *r};
	bool found = false;
	uint32_t slots = 1;

	if (r->w >= 4 * FBDIFF_SCROLL_EDGE)
		s.band.w -= FBDIFF_SCROLL_EDGE;
	if (s.band.w < FBDIFF_SCROLL_MIN_WIDTH || s.band.h < 2 * FBDIFF_SCROLL_MIN_ROWS ||
	    s.band.h > 65536)
		return false;
	while (slots < 2 * (uint32_t)s.band.h)
		slots <<= 1;
	s.mask = slots - 1;
	s.hp = malloc(sizeof(*s.hp) * (size_t)s.band.h);
	s.hc = malloc(sizeof(*s.hc) * (size_t)s.band.h);
	s.slot = calloc(slots, sizeof(*s.slot));
	s.votes = calloc(2 * (size_t)s.band.h, sizeof(*s.votes));
	if (s.hp && s.hc && s.slot && s.votes) {
		hash_rows(&s);
		found = scan(&s, m);
	}
	free(s.hp);
	free(s.hc);
	free(s.slot);
	free(s.votes);
	if (found)
		widen(prev, cur, r, m);
	return found;
}

struct rect fbdiff_move_dest(const struct fbdiff_move *m)
{
	return (struct rect){m->src.x, m->src.y + m->dy, m->src.w, m->src.h};
}

/* Row y of an image that m moves into gets the hash of the row it moves there. */
static void move_row(struct fbdiff_rows *rows, const struct fbdiff_move *m, int32_t y)
{
	int32_t from = y - m->dy;

	if (y < 0 || y >= rows->n || !row_meets(&rows->row[y], m->src.x, m->src.w))
		return; /* its hash covers other columns, which stay */
	if (from < 0 || from >= rows->n) {
		rows->row[y].known = false;
		return;
	}
	const struct fbdiff_row *src = &rows->row[from];
	if (src->known && src->x >= m->src.x && src->x + src->w <= m->src.x + m->src.w)
		rows->row[y] = *src;
	else
		rows->row[y].known = false;
}

void fbdiff_apply_move(struct fbdiff_image *img, const struct fbdiff_move *m)
{
	size_t len = (size_t)m->src.w * 4;
	struct rect d = fbdiff_move_dest(m);

	/* In the order of the rows' copies below: a source is read before it is written. */
	if (img->rows && m->dy > 0)
		for (int32_t y = d.y + d.h - 1; y >= d.y; y--)
			move_row(img->rows, m, y);
	else if (img->rows)
		for (int32_t y = d.y; y < d.y + d.h; y++)
			move_row(img->rows, m, y);
	if (m->dy > 0) {
		for (int32_t i = m->src.h - 1; i >= 0; i--)
			memmove(pixel_at(img, m->src.x, m->src.y + m->dy + i),
			        pixel_at(img, m->src.x, m->src.y + i), len);
	} else if (m->dy < 0) {
		for (int32_t i = 0; i < m->src.h; i++)
			memmove(pixel_at(img, m->src.x, m->src.y + m->dy + i),
			        pixel_at(img, m->src.x, m->src.y + i), len);
	}
}
