/*
 * Tests of gfx_cache: a long synthetic article scrolled under a fixed
 * banner. The test plays the client: it keeps a copy of every band the
 * cache tells it to store, draws the bands of each hit into its own
 * picture, and checks that picture against the server's, pixel for pixel.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "gfx_cache.h"
#include "util.h"

Suite *suite_gfx_cache(void);

#define W 320
#define H 240
#define BANNER 20
#define VIEW (H - BANNER) /* rows of the article on the screen */
#define PAGE_ROWS 4000
#define SLOTS 64

static bool gutter; /* a grey line down the text, through the gaps too (a code view) */

/* The text of article row y at column x: every line differs, gaps between lines. */
static uint32_t article(int y, int x)
{
	if (gutter && x == 44)
		return 0x808080;
	uint32_t h = (uint32_t)(y / 24) * 2654435761u ^ (uint32_t)(x / 5) * 40503u ^
	             (uint32_t)(y % 24) * 0x9e3779b1u;
	if (y % 24 >= 18 || x < 40 || x >= W - 40)
		return 0xffffff; /* the gap between lines, and the margins */
	return (h >> 8) & 0xffffff;
}

static uint32_t changed_row = UINT32_MAX; /* an article row drawn otherwise, for one test */

struct pic {
	struct fbdiff_image img;
	uint8_t *mem;
};

static void pic_init(struct pic *p)
{
	p->mem = calloc((size_t)W * H, 4);
	ck_assert_ptr_nonnull(p->mem);
	p->img = (struct fbdiff_image){p->mem, (size_t)W * 4, W, H, NULL};
}

static uint32_t get(const struct pic *p, int x, int y)
{
	uint32_t v;
	memcpy(&v, p->mem + ((size_t)y * W + (size_t)x) * 4, 4);
	return v & 0xffffff;
}

/* The screen with the article scrolled down by top rows. */
static void view(struct pic *p, int top)
{
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			uint32_t c = y < BANNER ? 0xa000a0 : article(y - BANNER + top, x);
			if ((uint32_t)(y - BANNER + top) == changed_row && y >= BANNER && x == 100)
				c = 0x123456;
			/* The X byte is not colour: it must not matter. */
			c |= (uint32_t)(y & 1) << 24;
			memcpy(p->mem + ((size_t)y * W + (size_t)x) * 4, &c, 4);
		}
}

/* The client: its picture and its cache's bands. */
struct client {
	struct pic screen;
	uint8_t *slot[SLOTS + 1];
	struct rect size[SLOTS + 1];
	size_t stores, evicts;
};

static void client_init(struct client *cl)
{
	memset(cl, 0, sizeof(*cl));
	pic_init(&cl->screen);
}

static void client_free(struct client *cl)
{
	for (int i = 0; i <= SLOTS; i++)
		free(cl->slot[i]);
	free(cl->screen.mem);
}

static void apply_ops(struct client *cl, const struct gfx_cache_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint16_t s = ops[i].slot;
		ck_assert_uint_ge(s, 1);
		ck_assert_uint_le(s, SLOTS);
		if (ops[i].kind == GFX_CACHE_EVICT) {
			ck_assert_ptr_nonnull(cl->slot[s]);
			free(cl->slot[s]);
			cl->slot[s] = NULL;
			cl->evicts++;
			continue;
		}
		ck_assert_ptr_null(cl->slot[s]); /* a slot in use is evicted first */
		const struct rect *r = &ops[i].r;
		cl->slot[s] = malloc((size_t)r->w * r->h * 4);
		cl->size[s] = *r;
		for (int y = 0; y < r->h; y++)
			memcpy(cl->slot[s] + (size_t)y * r->w * 4,
			       cl->screen.mem + ((size_t)(r->y + y) * W + (size_t)r->x) * 4,
			       (size_t)r->w * 4);
		cl->stores++;
	}
}

static void apply_hits(struct client *cl, const struct gfx_cache_hit *hits, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint16_t s = hits[i].slot;
		ck_assert_ptr_nonnull(cl->slot[s]);
		ck_assert_int_eq(hits[i].r.w, cl->size[s].w);
		ck_assert_int_eq(hits[i].r.h, cl->size[s].h);
		ck_assert_int_eq(hits[i].r.x, cl->size[s].x); /* scrolls are vertical */
		for (int y = 0; y < hits[i].r.h; y++)
			memcpy(cl->screen.mem + ((size_t)(hits[i].r.y + y) * W + (size_t)hits[i].r.x) * 4,
			       cl->slot[s] + (size_t)y * hits[i].r.w * 4, (size_t)hits[i].r.w * 4);
	}
}

/* Rows y0..y1 of the server's picture painted on the client's, as planar tiles would. */
static void paint(struct client *cl, const struct pic *server, const struct region *todo)
{
	for (size_t i = 0; i < todo->n; i++) {
		const struct rect *r = &todo->r[i];
		for (int y = r->y; y < r->y + r->h; y++)
			memcpy(cl->screen.mem + ((size_t)y * W + (size_t)r->x) * 4,
			       server->mem + ((size_t)y * W + (size_t)r->x) * 4, (size_t)r->w * 4);
	}
}

static bool same(const struct pic *a, const struct pic *b)
{
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			if (get(a, x, y) != get(b, x, y))
				return false;
	return true;
}

struct run {
	struct gfx_cache *cache;
	struct client cl;
	struct pic server;
	int top;
	int64_t painted, from_cache; /* pixels */
};

/*
 * Scrolls to `top` the way the RDP front-end sends it: the client moves
 * what stays on screen, bands it has are drawn from its cache, the rest
 * of the exposed rows is painted, and the painted bands are kept.
 */
static void scroll_to(struct run *r, int top)
{
	struct rect span = {0, BANNER, W, VIEW};
	int dy = r->top - top; /* rows the picture moves down */
	int keep = VIEW - abs(dy);
	struct region todo;
	struct gfx_cache_hit hits[64];
	struct gfx_cache_op ops[256];
	struct rect bounds = {0, 0, W, H};

	ck_assert_int_gt(keep, 0);
	/* The client moves the rows that stay. */
	if (dy < 0)
		memmove(r->cl.screen.mem + (size_t)BANNER * W * 4,
		        r->cl.screen.mem + (size_t)(BANNER - dy) * W * 4, (size_t)keep * W * 4);
	else
		memmove(r->cl.screen.mem + (size_t)(BANNER + dy) * W * 4,
		        r->cl.screen.mem + (size_t)BANNER * W * 4, (size_t)keep * W * 4);
	r->top = top;
	view(&r->server, top);
	struct rect exposed = dy < 0 ? (struct rect){40, BANNER + keep, W - 80, -dy}
	                             : (struct rect){40, BANNER, W - 80, dy};
	region_init(&todo);
	region_add(&todo, &exposed, &bounds, 0);
	int64_t before = region_area(&todo);
	size_t n = gfx_cache_find(r->cache, &r->server.img, &span, &todo, hits, ARRAY_SIZE(hits));
	apply_hits(&r->cl, hits, n);
	r->from_cache += before - region_area(&todo);
	r->painted += region_area(&todo);
	paint(&r->cl, &r->server, &todo);
	/* The margins were white before and after: the client's picture is whole now. */
	ck_assert_msg(same(&r->cl.screen, &r->server), "the client's picture differs at top %d", top);
	n = gfx_cache_add(r->cache, &r->server.img, &span, &todo, ops, ARRAY_SIZE(ops));
	apply_ops(&r->cl, ops, n);
}

static void run_init(struct run *r, size_t max_bytes)
{
	memset(r, 0, sizeof(*r));
	r->cache = gfx_cache_new(max_bytes, SLOTS);
	ck_assert_ptr_nonnull(r->cache);
	client_init(&r->cl);
	pic_init(&r->server);
	view(&r->server, 0);
	memcpy(r->cl.screen.mem, r->server.mem, (size_t)W * H * 4);
}

static void run_free(struct run *r)
{
	gfx_cache_free(r->cache);
	client_free(&r->cl);
	free(r->server.mem);
}

/*
 * Down 600 rows in steps of 37, then back up in steps of 29 (the bands do
 * not line up) to the first rows a scroll exposed.
 */
static void down_and_up(struct run *r)
{
	for (int top = 37; top <= 600; top += 37)
		scroll_to(r, top);
	r->painted = r->from_cache = 0;
	for (int top = r->top - 29; top >= VIEW; top -= 29)
		scroll_to(r, top);
}

START_TEST(scrolling_back_draws_from_the_cache)
{
	struct run r;

	run_init(&r, 64u << 20);
	for (int top = 37; top <= 600; top += 37)
		scroll_to(&r, top);
	ck_assert_int_eq(r.from_cache, 0); /* nothing seen twice on the way down */
	ck_assert_int_gt((int)r.cl.stores, 20);
	/* Back up to the first rows a scroll exposed (the first screen never was). */
	r.painted = r.from_cache = 0;
	for (int top = r.top - 29; top >= VIEW; top -= 29)
		scroll_to(&r, top);
	/* Only the ends of bands cut by the screen's edge are painted. */
	ck_assert_msg(r.from_cache > 2 * r.painted, "%lld pixels from the cache, %lld painted",
	              (long long)r.from_cache, (long long)r.painted);
	struct gfx_cache_stats st;
	gfx_cache_stats(r.cache, &st);
	ck_assert_uint_gt(st.hits, 0);
	ck_assert_uint_eq(st.hit_pixels, (uint64_t)r.from_cache);
	run_free(&r);
}
END_TEST

/*
 * With a gutter the gaps between lines are not one colour but all alike:
 * bands are still found by a row of text, not by a gap row that a dozen
 * other bands share (each of which would be compared row by row at every
 * gap row scrolled past), and scrolling back draws from the cache as
 * much as without one.
 */
START_TEST(alike_rows_do_not_hide_bands)
{
	struct run r;
	struct gfx_cache_stats st;

	gutter = true;
	run_init(&r, 64u << 20);
	down_and_up(&r);
	gutter = false;
	gfx_cache_stats(r.cache, &st);
	ck_assert_msg(r.from_cache > 2 * r.painted, "%lld pixels from the cache, %lld painted",
	              (long long)r.from_cache, (long long)r.painted);
	ck_assert_msg(st.checked <= st.hits + 8, "%llu bands compared for %llu drawn",
	              (unsigned long long)st.checked, (unsigned long long)st.hits);
	run_free(&r);
}
END_TEST

START_TEST(a_changed_row_is_painted_not_drawn)
{
	struct run r;

	run_init(&r, 64u << 20);
	for (int top = 37; top <= 600; top += 37)
		scroll_to(&r, top);
	changed_row = 390; /* inside a kept band, not its anchor row */
	r.painted = r.from_cache = 0;
	/* scroll_to checks the client's picture pixel for pixel at every step. */
	for (int top = r.top - 29; top >= 0; top -= 29)
		scroll_to(&r, top);
	changed_row = UINT32_MAX;
	ck_assert_int_gt(r.from_cache, 0);
	run_free(&r);
}
END_TEST

START_TEST(the_least_recently_used_band_gives_way)
{
	struct run r;
	size_t band = (size_t)(W - 80) * GFX_CACHE_BAND * 4;

	run_init(&r, 20 * band); /* room for 20 bands, not the 600 rows' 37 */
	down_and_up(&r);
	struct gfx_cache_stats st;
	gfx_cache_stats(r.cache, &st);
	ck_assert_uint_le(st.bytes, st.max_bytes);
	ck_assert_uint_gt(r.cl.evicts, 0);
	/* The newest bands (the bottom of the 600 rows) were kept: the way back starts there. */
	ck_assert_int_gt(r.from_cache, 0);
	run_free(&r);
}
END_TEST

START_TEST(other_columns_find_nothing)
{
	struct run r;
	struct gfx_cache_hit hits[8];
	struct region todo;
	struct rect bounds = {0, 0, W, H};
	struct rect other = {8, BANNER, W - 8, VIEW}; /* another scrolled area */

	run_init(&r, 64u << 20);
	for (int top = 37; top <= 600; top += 37)
		scroll_to(&r, top);
	view(&r.server, 500);
	region_init(&todo);
	region_add(&todo, &(struct rect){40, BANNER, W - 80, VIEW}, &bounds, 0);
	ck_assert_uint_eq(gfx_cache_find(r.cache, &r.server.img, &other, &todo, hits, 8), 0);
	ck_assert_int_eq(region_area(&todo), (int64_t)(W - 80) * VIEW);
	run_free(&r);
}
END_TEST

Suite *suite_gfx_cache(void)
{
	Suite *s = suite_create("gfx_cache");
	TCase *tc = tcase_create("gfx_cache");

	tcase_add_test(tc, scrolling_back_draws_from_the_cache);
	tcase_add_test(tc, a_changed_row_is_painted_not_drawn);
	tcase_add_test(tc, alike_rows_do_not_hide_bands);
	tcase_add_test(tc, the_least_recently_used_band_gives_way);
	tcase_add_test(tc, other_columns_find_nothing);
	suite_add_tcase(s, tc);
	return s;
}
