/*
 * Tests of fbdiff: synthetic framebuffers where the test knows exactly
 * what changed (a glyph, a caret, only the unused X bytes, a page scrolled
 * under a fixed banner), checking that only changed pixels are reported,
 * that scrolls are found with the right shift, that nothing is reported as
 * a scroll that is not one, and that the copy ends up pixel-exact.
 */
#include "autoconfig.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fbdiff.h"
#include "util.h"

Suite *suite_fbdiff(void);

#define W 320
#define H 240
#define BANNER 20 /* rows at the top that do not scroll */
#define EDGE_W 16 /* the scroll bar's columns at the right */

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

static void put(struct pic *p, int x, int y, uint32_t rgb)
{
	uint32_t v = rgb & 0xffffff;
	memcpy(p->mem + ((size_t)y * W + (size_t)x) * 4, &v, 4);
}

static uint32_t get(const struct pic *p, int x, int y)
{
	uint32_t v;
	memcpy(&v, p->mem + ((size_t)y * W + (size_t)x) * 4, 4);
	return v & 0xffffff;
}

static void fill(struct pic *p, uint32_t rgb)
{
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			put(p, x, y, rgb);
}

/* A colour that differs for every line of a long "article": no two lines alike. */
static uint32_t article(int line, int x)
{
	uint32_t h = (uint32_t)line * 2654435761u ^ (uint32_t)(x / 7) * 40503u;
	if (line % 24 >= 18)
		return 0xffffff; /* the gap between lines of text */
	return (h >> 8) & 0xffffff;
}

/* A page scrolled down by `top` pixels under a fixed banner, with a scroll bar. */
static void page(struct pic *p, int top)
{
	for (int y = 0; y < H; y++) {
		for (int x = 0; x < W; x++) {
			uint32_t c = article(y + top, x);
			if (y < BANNER)
				c = 0xa000a0;
			else if (x >= W - EDGE_W)
				c = (y - BANNER >= top / 4 && y - BANNER < top / 4 + 40) ? 0x808080
				                                                         : 0xf0f0f0;
			put(p, x, y, c);
		}
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

START_TEST(unchanged_reports_nothing)
{
	struct pic prev, cur;
	struct region changed;
	struct rect all = {0, 0, W, H};

	pic_init(&prev);
	pic_init(&cur);
	page(&prev, 0);
	page(&cur, 0);
	region_init(&changed);
	ck_assert_uint_eq(fbdiff_update(&prev.img, &cur.img, &all, &changed, 0), 0);
	ck_assert_uint_eq(changed.n, 0);
	free(prev.mem);
	free(cur.mem);
}
END_TEST

START_TEST(glyph_and_caret_boxes)
{
	struct pic prev, cur;
	struct region changed;
	struct rect damage = {0, 0, W, 100}; /* the whole text field repainted */

	pic_init(&prev);
	pic_init(&cur);
	fill(&prev, 0xffffff);
	fill(&cur, 0xffffff);
	for (int y = 40; y < 57; y++) /* a 9x17 glyph at 70,40 */
		for (int x = 70; x < 79; x++)
			if ((x + y) % 3)
				put(&cur, x, y, 0x202020);
	for (int y = 150; y < 170; y++) /* outside the damage: must stay unseen */
		put(&cur, 5, y, 0x000000);
	region_init(&changed);
	ck_assert_uint_eq(fbdiff_update(&prev.img, &cur.img, &damage, &changed, 0), 1);
	ck_assert_uint_eq(changed.n, 1);
	struct rect r = changed.r[0];
	ck_assert_int_eq(r.x, 70);
	ck_assert_int_eq(r.y, 40);
	ck_assert_int_eq(r.w, 9);
	ck_assert_int_eq(r.h, 17);
	ck_assert_uint_eq(get(&prev, 72, 40), 0x202020);
	ck_assert_uint_eq(get(&prev, 5, 150), 0xffffff);

	/* The caret (1x22) straddles a tile edge (y = 64): one box per tile. */
	for (int y = 50; y < 72; y++)
		put(&cur, 80, y, 0x000000);
	region_init(&changed);
	ck_assert_uint_eq(fbdiff_update(&prev.img, &cur.img, &damage, &changed, 0), 2);
	ck_assert_int_eq(region_area(&changed), 22);
	free(prev.mem);
	free(cur.mem);
}
END_TEST

START_TEST(x_bytes_ignored_but_copied)
{
	struct pic prev, cur;
	struct region changed;
	struct rect all = {0, 0, W, H};

	pic_init(&prev);
	pic_init(&cur);
	fill(&prev, 0x336699);
	fill(&cur, 0x336699);
	cur.mem[4 * (10 * W + 10) + 3] = 0xff;
	region_init(&changed);
	ck_assert_uint_eq(fbdiff_update(&prev.img, &cur.img, &all, &changed, 0), 0);
	ck_assert_uint_eq(prev.mem[4 * (10 * W + 10) + 3], 0xff);
	free(prev.mem);
	free(cur.mem);
}
END_TEST

/* Scrolls the page from `from` to `to`, as the viewer would see it move. */
static void check_scroll(int from, int to)
{
	struct pic prev, cur;
	struct fbdiff_move m;
	struct region changed;
	struct rect damage = {0, BANNER, W, H - BANNER};

	pic_init(&prev);
	pic_init(&cur);
	page(&prev, from);
	page(&cur, to);
	ck_assert(fbdiff_find_scroll(&prev.img, &cur.img, &damage, &m));
	ck_assert_int_eq(m.dy, from - to);
	struct rect d = fbdiff_move_dest(&m);
	ck_assert_int_eq(d.x, 0);
	ck_assert_int_eq(d.w, W - FBDIFF_SCROLL_EDGE);
	ck_assert_int_ge(d.y, BANNER);
	ck_assert_int_le(d.y + d.h, H);
	/* All rows that stay visible move: only the exposed strip is missing. */
	ck_assert_int_eq(d.h, H - BANNER - abs(from - to));
	fbdiff_apply_move(&prev.img, &m);
	region_init(&changed);
	fbdiff_update_moved(&prev.img, &cur.img, &damage, &m, &changed, 0);
	int64_t strip = (int64_t)abs(from - to) * W;
	int64_t edge = (int64_t)(H - BANNER) * FBDIFF_SCROLL_EDGE;
	ck_assert_int_le(region_area(&changed), strip + edge);
	ck_assert(same(&prev, &cur));
	free(prev.mem);
	free(cur.mem);
}

START_TEST(scroll_down_found)
{
	check_scroll(0, 40);
	check_scroll(100, 103);
}
END_TEST

START_TEST(scroll_without_scroll_bar_covers_the_edge)
{
	struct pic prev, cur;
	struct fbdiff_move m;
	struct rect damage = {0, BANNER, W, H - BANNER};

	pic_init(&prev);
	pic_init(&cur);
	for (int y = BANNER; y < H; y++)
		for (int x = 0; x < W; x++) {
			put(&prev, x, y, article(y, x));
			put(&cur, x, y, article(y + 30, x));
		}
	ck_assert(fbdiff_find_scroll(&prev.img, &cur.img, &damage, &m));
	ck_assert_int_eq(m.dy, -30);
	ck_assert_int_eq(m.src.w, W);
	free(prev.mem);
	free(cur.mem);
}
END_TEST

START_TEST(scroll_up_found)
{
	check_scroll(120, 48);
}
END_TEST

/*
 * A copy that keeps its row hashes, scrolled down and up frame by frame:
 * every move is found as without them and the copy stays exact. A row a
 * move put in place keeps its hash: after the first frame, a search
 * hashes again only the strip the last move exposed, and the rows its
 * owner wrote and said so; a move narrower than the hashed columns drops
 * the hashes of the rows it writes.
 */
START_TEST(kept_row_hashes_follow_the_copy)
{
	static const int tops[] = {0, 7, 15, 40, 22, 23, 5};
	struct pic prev, cur;
	struct fbdiff_rows rows;
	struct fbdiff_move m;
	struct region changed;
	struct rect damage = {0, BANNER, W, H - BANNER};
	int32_t moved = 0; /* rows the last move put in place */

	pic_init(&prev);
	pic_init(&cur);
	ck_assert_int_eq(fbdiff_rows_init(&rows, H, 12345), 0);
	prev.img.rows = &rows;
	page(&prev, tops[0]);
	for (size_t i = 1; i < ARRAY_SIZE(tops); i++) {
		uint64_t reused = rows.reused;
		page(&cur, tops[i]);
		ck_assert(fbdiff_find_scroll(&prev.img, &cur.img, &damage, &m));
		ck_assert_int_eq(m.dy, tops[i - 1] - tops[i]);
		ck_assert_uint_ge(rows.reused - reused, (uint64_t)moved);
		ck_assert_uint_le(rows.reused - reused, (uint64_t)moved + 8);
		moved = m.src.h;
		fbdiff_apply_move(&prev.img, &m);
		region_init(&changed);
		fbdiff_update_moved(&prev.img, &cur.img, &damage, &m, &changed, 0);
		ck_assert(same(&prev, &cur));
	}

	/* The owner draws over 10 rows the last move put in place, and says so. */
	struct rect drawn = {0, 100, W, 10};
	for (int y = drawn.y; y < drawn.y + drawn.h; y++)
		for (int x = 0; x < W; x++)
			put(&prev, x, y, 0x00ff00);
	fbdiff_rows_forget(&rows, &drawn);
	uint64_t reused = rows.reused;
	page(&cur, 20);
	ck_assert(fbdiff_find_scroll(&prev.img, &cur.img, &damage, &m));
	ck_assert_int_eq(m.dy, 5 - 20);
	ck_assert_uint_ge(rows.reused - reused, (uint64_t)(moved - drawn.h));
	ck_assert_uint_le(rows.reused - reused, (uint64_t)(moved - drawn.h + 8));

	/*
	 * A move narrower than the kept columns (a scrolling box inside the
	 * page) drops the hashes of the rows it writes, and only theirs.
	 */
	struct fbdiff_move box = {.src = {10, 120, W - 60, 40}, .dy = -8};
	bool known[H];
	int32_t was_known = 0;
	for (int y = 0; y < H; y++)
		was_known += known[y] = rows.row[y].known;
	ck_assert_int_gt(was_known, H / 2);
	ck_assert(known[box.src.y + box.dy] && known[box.src.y + box.dy + box.src.h - 1]);
	fbdiff_apply_move(&prev.img, &box);
	for (int y = 0; y < H; y++) {
		bool written = y >= box.src.y + box.dy && y < box.src.y + box.dy + box.src.h;
		ck_assert_msg(rows.row[y].known == (known[y] && !written),
		              "row %d: kept %d, was %d, written %d", y, rows.row[y].known, known[y],
		              written);
	}
	fbdiff_rows_free(&rows);
	free(prev.mem);
	free(cur.mem);
}
END_TEST

START_TEST(no_scroll_where_none)
{
	struct pic prev, cur;
	struct fbdiff_move m;
	struct rect damage = {0, 0, W, H};

	pic_init(&prev);
	pic_init(&cur);
	/* Same picture; a blank one; a new page that shares no rows. */
	page(&prev, 0);
	page(&cur, 0);
	ck_assert(!fbdiff_find_scroll(&prev.img, &cur.img, &damage, &m));
	fill(&prev, 0xffffff);
	fill(&cur, 0xffffff);
	ck_assert(!fbdiff_find_scroll(&prev.img, &cur.img, &damage, &m));
	page(&prev, 0);
	page(&cur, 5000);
	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++)
			put(&cur, x, y, get(&cur, x, y) ^ 0x010101);
	ck_assert(!fbdiff_find_scroll(&prev.img, &cur.img, &damage, &m));
	/* Too narrow a rectangle is not searched. */
	page(&prev, 0);
	page(&cur, 30);
	struct rect narrow = {0, BANNER, FBDIFF_SCROLL_MIN_WIDTH - 1, H - BANNER};
	ck_assert(!fbdiff_find_scroll(&prev.img, &cur.img, &narrow, &m));
	free(prev.mem);
	free(cur.mem);
}
END_TEST

START_TEST(partial_rect_scroll_stays_inside)
{
	struct pic prev, cur;
	struct fbdiff_move m;
	struct rect damage = {40, 60, 200, 120};

	pic_init(&prev);
	pic_init(&cur);
	page(&prev, 0);
	page(&cur, 24);
	if (fbdiff_find_scroll(&prev.img, &cur.img, &damage, &m)) {
		struct rect d = fbdiff_move_dest(&m), in = rect_intersect(&d, &damage);
		struct rect sin = rect_intersect(&m.src, &damage);
		ck_assert_int_eq(rect_area(&in), rect_area(&d));
		ck_assert_int_eq(rect_area(&sin), rect_area(&m.src));
		ck_assert_int_eq(m.dy, -24);
	} else {
		ck_abort_msg("no scroll found in a scrolled part of the page");
	}
	free(prev.mem);
	free(cur.mem);
}
END_TEST

Suite *suite_fbdiff(void)
{
	Suite *s = suite_create("fbdiff");
	TCase *tc = tcase_create("fbdiff");
	tcase_add_test(tc, unchanged_reports_nothing);
	tcase_add_test(tc, glyph_and_caret_boxes);
	tcase_add_test(tc, x_bytes_ignored_but_copied);
	tcase_add_test(tc, scroll_down_found);
	tcase_add_test(tc, scroll_up_found);
	tcase_add_test(tc, kept_row_hashes_follow_the_copy);
	tcase_add_test(tc, scroll_without_scroll_bar_covers_the_edge);
	tcase_add_test(tc, no_scroll_where_none);
	tcase_add_test(tc, partial_rect_scroll_stays_inside);
	suite_add_tcase(s, tc);
	return s;
}
