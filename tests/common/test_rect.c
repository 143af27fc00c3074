/* Tests of rectangles and bounded damage regions: clipping, merging, the bound, area. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rect.h"

Suite *suite_rect(void);

static struct rect rc(int32_t x, int32_t y, int32_t w, int32_t h)
{
	struct rect r = {x, y, w, h};
	return r;
}

static void assert_rect(struct rect r, int32_t x, int32_t y, int32_t w, int32_t h)
{
	ck_assert_int_eq(r.x, x);
	ck_assert_int_eq(r.y, y);
	ck_assert_int_eq(r.w, w);
	ck_assert_int_eq(r.h, h);
}

/* No two rectangles overlap and all lie inside bounds. */
static void assert_region_sane(const struct region *reg, const struct rect *bounds)
{
	ck_assert_uint_le(reg->n, REGION_MAX_RECTS);
	for (size_t i = 0; i < reg->n; i++) {
		ck_assert(!rect_empty(&reg->r[i]));
		struct rect in = rect_intersect(&reg->r[i], bounds);
		ck_assert_int_eq(rect_area(&in), rect_area(&reg->r[i]));
		for (size_t j = i + 1; j < reg->n; j++) {
			struct rect o = rect_intersect(&reg->r[i], &reg->r[j]);
			ck_assert_msg(rect_empty(&o), "rectangles %zu and %zu overlap", i, j);
		}
	}
}

START_TEST(empty_and_area)
{
	struct rect a = rc(0, 0, 0, 5), b = rc(0, 0, 5, -1), c = rc(-3, -4, 3, 4);
	ck_assert(rect_empty(&a));
	ck_assert(rect_empty(&b));
	ck_assert(!rect_empty(&c));
	ck_assert_int_eq(rect_area(&a), 0);
	ck_assert_int_eq(rect_area(&b), 0);
	ck_assert_int_eq(rect_area(&c), 12);
	struct rect big = rc(0, 0, 100000, 100000);
	ck_assert_int_eq(rect_area(&big), 10000000000LL);
}
END_TEST

START_TEST(intersect)
{
	struct rect a = rc(0, 0, 10, 10), b = rc(5, 5, 10, 10), c = rc(10, 0, 5, 5),
	            d = rc(2, 3, 4, 2);
	assert_rect(rect_intersect(&a, &b), 5, 5, 5, 5);
	ck_assert(rect_empty(&(struct rect){0}));
	struct rect touch = rect_intersect(&a, &c); /* shares an edge only */
	ck_assert(rect_empty(&touch));
	assert_rect(rect_intersect(&a, &d), 2, 3, 4, 2);
	struct rect e = rc(0, 0, 0, 0);
	struct rect ie = rect_intersect(&a, &e);
	ck_assert(rect_empty(&ie));
	/* Edges beyond int32 are computed without overflow. */
	struct rect far = rc(INT32_MAX - 5, 0, 100, 10), near = rc(INT32_MAX - 10, 0, 8, 10);
	assert_rect(rect_intersect(&far, &near), INT32_MAX - 5, 0, 3, 10);
}
END_TEST

START_TEST(union_ignores_empty)
{
	struct rect a = rc(0, 0, 10, 10), b = rc(20, 30, 5, 5), e = rc(100, 100, 0, 7);
	assert_rect(rect_union(&a, &b), 0, 0, 25, 35);
	assert_rect(rect_union(&a, &e), 0, 0, 10, 10);
	assert_rect(rect_union(&e, &b), 20, 30, 5, 5);
	struct rect ee = rect_union(&e, &e);
	ck_assert(rect_empty(&ee));
}
END_TEST

START_TEST(clips_to_bounds)
{
	struct region reg;
	struct rect bounds = rc(0, 0, 100, 50);
	region_init(&reg);

	region_add(&reg, &(struct rect){-10, -10, 20, 20}, &bounds, 0);
	ck_assert_uint_eq(reg.n, 1);
	assert_rect(reg.r[0], 0, 0, 10, 10);

	region_add(&reg, &(struct rect){90, 40, 1000, 1000}, &bounds, 0);
	ck_assert_uint_eq(reg.n, 2);
	assert_rect(reg.r[1], 90, 40, 10, 10);

	/* Entirely outside, or empty: nothing added. */
	region_add(&reg, &(struct rect){100, 0, 10, 10}, &bounds, 1000000);
	region_add(&reg, &(struct rect){-50, -50, 10, 10}, &bounds, 1000000);
	region_add(&reg, &(struct rect){5, 5, 0, 10}, &bounds, 1000000);
	ck_assert_uint_eq(reg.n, 2);
	ck_assert_int_eq(region_area(&reg), 200);
	assert_region_sane(&reg, &bounds);
}
END_TEST

START_TEST(merges_within_slack)
{
	struct region reg;
	struct rect bounds = rc(0, 0, 1000, 1000);

	/* Side by side: the union wastes nothing. */
	region_init(&reg);
	region_add(&reg, &(struct rect){0, 0, 10, 10}, &bounds, 0);
	region_add(&reg, &(struct rect){10, 0, 10, 10}, &bounds, 0);
	ck_assert_uint_eq(reg.n, 1);
	assert_rect(reg.r[0], 0, 0, 20, 10);

	/* One pixel apart: the union wastes 10 pixels. */
	region_init(&reg);
	region_add(&reg, &(struct rect){0, 0, 10, 10}, &bounds, 9);
	region_add(&reg, &(struct rect){11, 0, 10, 10}, &bounds, 9);
	ck_assert_uint_eq(reg.n, 2);
	ck_assert_int_eq(region_area(&reg), 200);

	region_init(&reg);
	region_add(&reg, &(struct rect){0, 0, 10, 10}, &bounds, 10);
	region_add(&reg, &(struct rect){11, 0, 10, 10}, &bounds, 10);
	ck_assert_uint_eq(reg.n, 1);
	assert_rect(reg.r[0], 0, 0, 21, 10);
	ck_assert_int_eq(region_area(&reg), 210);
}
END_TEST

START_TEST(merges_chains)
{
	struct region reg;
	struct rect bounds = rc(0, 0, 1000, 1000);

	/* Two apart, then a bridge that makes all three one cheap rectangle. */
	region_init(&reg);
	region_add(&reg, &(struct rect){0, 0, 10, 10}, &bounds, 0);
	region_add(&reg, &(struct rect){20, 0, 10, 10}, &bounds, 0);
	ck_assert_uint_eq(reg.n, 2);
	region_add(&reg, &(struct rect){10, 0, 10, 10}, &bounds, 0);
	ck_assert_uint_eq(reg.n, 1);
	assert_rect(reg.r[0], 0, 0, 30, 10);
}
END_TEST

START_TEST(overlap_never_remains)
{
	struct region reg;
	struct rect bounds = rc(0, 0, 1000, 1000);

	/* Even with no slack at all, overlapping rectangles do not stay overlapping. */
	region_init(&reg);
	region_add(&reg, &(struct rect){0, 0, 10, 10}, &bounds, -1000000);
	region_add(&reg, &(struct rect){100, 100, 10, 10}, &bounds, -1000000);
	region_add(&reg, &(struct rect){5, 5, 10, 10}, &bounds, -1000000);
	assert_region_sane(&reg, &bounds);
	ck_assert_uint_eq(reg.n, 2);
	ck_assert_int_eq(region_area(&reg), 15 * 15 + 100);

	/* A rectangle inside another adds nothing. */
	region_init(&reg);
	region_add(&reg, &(struct rect){0, 0, 50, 50}, &bounds, 0);
	region_add(&reg, &(struct rect){10, 10, 5, 5}, &bounds, 0);
	ck_assert_uint_eq(reg.n, 1);
	ck_assert_int_eq(region_area(&reg), 2500);
}
END_TEST

START_TEST(full_region_merges_cheapest_pair)
{
	struct region reg;
	struct rect bounds = rc(0, 0, 1000, 1000);

	/* 64 single pixels on a grid 10 apart: no pair is cheap. */
	region_init(&reg);
	for (int i = 0; i < REGION_MAX_RECTS; i++)
		region_add(&reg, &(struct rect){(i % 8) * 10, (i / 8) * 10, 1, 1}, &bounds, 0);
	ck_assert_uint_eq(reg.n, REGION_MAX_RECTS);

	/* One more, two pixels right of (30,20): merging those two wastes 1 pixel. */
	region_add(&reg, &(struct rect){32, 20, 1, 1}, &bounds, 0);
	ck_assert_uint_eq(reg.n, REGION_MAX_RECTS);
	ck_assert_int_eq(region_area(&reg), REGION_MAX_RECTS - 1 + 3);
	bool found = false;
	for (size_t i = 0; i < reg.n; i++)
		if (reg.r[i].x == 30 && reg.r[i].y == 20 && reg.r[i].w == 3 && reg.r[i].h == 1)
			found = true;
	ck_assert(found);
	assert_region_sane(&reg, &bounds);
}
END_TEST

#define GRID 200

/* Many scattered rectangles: the bound holds and every added pixel stays covered. */
START_TEST(bound_holds_and_covers)
{
	static bool added[GRID][GRID];
	struct region reg;
	struct rect bounds = rc(0, 0, GRID, GRID);
	uint32_t seed = 12345;

	memset(added, 0, sizeof(added));
	region_init(&reg);
	for (int k = 0; k < 2000; k++) {
		seed = seed * 1103515245u + 12345u;
		int32_t x = (int32_t)(seed >> 8) % (GRID + 20) - 10;
		seed = seed * 1103515245u + 12345u;
		int32_t y = (int32_t)(seed >> 8) % (GRID + 20) - 10;
		seed = seed * 1103515245u + 12345u;
		int32_t w = (int32_t)(seed >> 8) % 12, h = (int32_t)(seed >> 16) % 12;
		struct rect r = rc(x, y, w, h);
		region_add(&reg, &r, &bounds, (int64_t)(k % 3) * 8);
		struct rect in = rect_intersect(&r, &bounds);
		for (int32_t yy = in.y; yy < in.y + in.h; yy++)
			for (int32_t xx = in.x; xx < in.x + in.w; xx++)
				added[yy][xx] = true;
		ck_assert_uint_le(reg.n, REGION_MAX_RECTS);
	}
	assert_region_sane(&reg, &bounds);

	int64_t covered = 0;
	for (int32_t y = 0; y < GRID; y++) {
		for (int32_t x = 0; x < GRID; x++) {
			bool in = false;
			for (size_t i = 0; i < reg.n && !in; i++)
				in = x >= reg.r[i].x && x < reg.r[i].x + reg.r[i].w &&
				     y >= reg.r[i].y && y < reg.r[i].y + reg.r[i].h;
			if (added[y][x])
				ck_assert_msg(in, "pixel %d,%d was added but is not covered", x, y);
			covered += in;
		}
	}
	/* Rectangles do not overlap, so the area is exactly the pixels covered. */
	ck_assert_int_eq(region_area(&reg), covered);
}
END_TEST

START_TEST(extents)
{
	struct region reg;
	struct rect bounds = rc(0, 0, 1000, 1000);

	region_init(&reg);
	struct rect e = region_extents(&reg);
	ck_assert(rect_empty(&e));
	ck_assert_int_eq(region_area(&reg), 0);
	region_add(&reg, &(struct rect){10, 20, 5, 5}, &bounds, 0);
	region_add(&reg, &(struct rect){300, 2, 7, 3}, &bounds, 0);
	assert_rect(region_extents(&reg), 10, 2, 297, 23);
	ck_assert_int_eq(region_area(&reg), 25 + 21);
}
END_TEST

/* One shared pixel is enough; touching edges and the empty region are not. */
START_TEST(meets)
{
	struct region reg;
	struct rect bounds = rc(0, 0, 1000, 1000);

	region_init(&reg);
	ck_assert(!region_meets(&reg, &(struct rect){0, 0, 10, 10}));
	region_add(&reg, &(struct rect){10, 20, 5, 5}, &bounds, 0);
	region_add(&reg, &(struct rect){300, 2, 7, 3}, &bounds, 0);
	ck_assert(region_meets(&reg, &(struct rect){306, 4, 50, 50}));
	ck_assert(region_meets(&reg, &(struct rect){0, 0, 11, 21}));
	ck_assert(!region_meets(&reg, &(struct rect){0, 0, 10, 21}));
	ck_assert(!region_meets(&reg, &(struct rect){15, 20, 100, 5}));
	ck_assert(!region_meets(&reg, &(struct rect){100, 0, 150, 500}));
}
END_TEST

Suite *suite_rect(void)
{
	Suite *s = suite_create("rect");
	TCase *tc = tcase_create("rect");
	tcase_add_test(tc, empty_and_area);
	tcase_add_test(tc, intersect);
	tcase_add_test(tc, union_ignores_empty);
	tcase_add_test(tc, clips_to_bounds);
	tcase_add_test(tc, merges_within_slack);
	tcase_add_test(tc, merges_chains);
	tcase_add_test(tc, overlap_never_remains);
	tcase_add_test(tc, full_region_merges_cheapest_pair);
	tcase_add_test(tc, bound_holds_and_covers);
	tcase_add_test(tc, extents);
	tcase_add_test(tc, meets);
	suite_add_tcase(s, tc);
	return s;
}
