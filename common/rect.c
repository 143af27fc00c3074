/*
 * Rectangles and bounded damage regions (rect.h). Handles untrusted input:
 * indirectly. Rectangles may come from a hostile render, so they are first
 * clipped to the framebuffer and edges are computed in 64 bits; a region
 * never holds more than REGION_MAX_RECTS rectangles, and they never overlap,
 * so the encoder never sends a pixel twice.
 */
#include "autoconfig.h"

#include "rect.h"
#include "util.h"

static int32_t clamp32(int64_t v)
{
	if (v > INT32_MAX)
		return INT32_MAX;
	if (v < INT32_MIN)
		return INT32_MIN;
	return (int32_t)v;
}

static int64_t right(const struct rect *r)
{
	return (int64_t)r->x + r->w;
}

static int64_t bottom(const struct rect *r)
{
	return (int64_t)r->y + r->h;
}

/* Rectangle from its edges; 64-bit extents beyond int32 are clamped. */
static struct rect from_edges(int64_t x0, int64_t y0, int64_t x1, int64_t y1)
{
	struct rect r = {clamp32(x0), clamp32(y0), 0, 0};
	r.w = clamp32(x1 - x0);
	r.h = clamp32(y1 - y0);
	return r;
}

bool rect_empty(const struct rect *r)
{
	return r->w <= 0 || r->h <= 0;
}

struct rect rect_intersect(const struct rect *a, const struct rect *b)
{
	struct rect none = {0, 0, 0, 0};

	if (rect_empty(a) || rect_empty(b))
		return none;
	int64_t x0 = MAX(a->x, b->x), y0 = MAX(a->y, b->y);
	int64_t x1 = MIN(right(a), right(b)), y1 = MIN(bottom(a), bottom(b));
	if (x1 <= x0 || y1 <= y0)
		return none;
	return from_edges(x0, y0, x1, y1);
}

struct rect rect_union(const struct rect *a, const struct rect *b)
{
	struct rect none = {0, 0, 0, 0};

	if (rect_empty(a))
		return rect_empty(b) ? none : *b;
	if (rect_empty(b))
		return *a;
	int64_t x0 = MIN(a->x, b->x), y0 = MIN(a->y, b->y);
	int64_t x1 = MAX(right(a), right(b)), y1 = MAX(bottom(a), bottom(b));
	return from_edges(x0, y0, x1, y1);
}

int64_t rect_area(const struct rect *r)
{
	return rect_empty(r) ? 0 : (int64_t)r->w * r->h;
}

void region_init(struct region *reg)
{
	reg->n = 0;
}

/*
 * Pixels the union of a and b covers that neither of them does. Negative
 * never: overlapping pixels are counted once.
 */
static int64_t merge_waste(const struct rect *a, const struct rect *b)
{
	struct rect u = rect_union(a, b);
	struct rect i = rect_intersect(a, b);
	return rect_area(&u) - rect_area(a) - rect_area(b) + rect_area(&i);
}

static void region_remove(struct region *reg, size_t i)
{
	reg->r[i] = reg->r[--reg->n];
}

static bool overlaps(const struct rect *a, const struct rect *b)
{
	struct rect i = rect_intersect(a, b);
	return !rect_empty(&i);
}

/*
 * Grows c by merging into it every rectangle of reg that overlaps it or is
 * cheap to merge, removing those from reg. Afterwards c overlaps none of
 * the rectangles left.
 */
static struct rect absorb(struct region *reg, struct rect c, int64_t slack)
{
	bool merged;

	do {
		merged = false;
		for (size_t i = 0; i < reg->n; i++) {
			if (!overlaps(&c, &reg->r[i]) && merge_waste(&c, &reg->r[i]) > slack)
				continue;
			c = rect_union(&c, &reg->r[i]);
			region_remove(reg, i);
			merged = true;
			break;
		}
	} while (merged);
	return c;
}

/*
 * reg is full and c overlaps none of its rectangles: finds the pair among
 * reg's rectangles and c whose union wastes least. Index reg->n means c.
 */
static void cheapest_pair(const struct region *reg, const struct rect *c, size_t *pi, size_t *pj)
{
	int64_t best = INT64_MAX;

	*pi = 0;
	*pj = reg->n;
	for (size_t i = 0; i < reg->n; i++) {
		for (size_t j = i + 1; j <= reg->n; j++) {
			const struct rect *b = j == reg->n ? c : &reg->r[j];
			int64_t w = merge_waste(&reg->r[i], b);
			if (w < best) {
				best = w;
				*pi = i;
				*pj = j;
			}
		}
	}
}

void region_add(struct region *reg, const struct rect *r, const struct rect *bounds, int64_t slack)
{
	struct rect c = rect_intersect(r, bounds);

	while (!rect_empty(&c)) {
		c = absorb(reg, c, slack);
		if (reg->n < REGION_MAX_RECTS) {
			reg->r[reg->n++] = c;
			return;
		}
		size_t i, j;
		cheapest_pair(reg, &c, &i, &j);
		if (j == reg->n) {
			c = rect_union(&reg->r[i], &c);
			region_remove(reg, i);
		} else {
			/* Two old ones merge: c goes in, their union is added next. */
			struct rect u = rect_union(&reg->r[i], &reg->r[j]);
			region_remove(reg, j); /* j > i: removing it first keeps i valid */
			region_remove(reg, i);
			reg->r[reg->n++] = c;
			c = u;
		}
	}
}

bool region_meets(const struct region *reg, const struct rect *r)
{
	for (size_t i = 0; i < reg->n; i++) {
		struct rect in = rect_intersect(&reg->r[i], r);
		if (!rect_empty(&in))
			return true;
	}
	return false;
}

int64_t region_area(const struct region *reg)
{
	int64_t sum = 0;

	for (size_t i = 0; i < reg->n; i++)
		sum += rect_area(&reg->r[i]);
	return sum;
}

struct rect region_extents(const struct region *reg)
{
	struct rect e = {0, 0, 0, 0};

	for (size_t i = 0; i < reg->n; i++)
		e = rect_union(&e, &reg->r[i]);
	return e;
}
