/*
 * Rectangles and small damage regions: add rectangles, merge those that
 * overlap or nearly touch, and keep the list under a fixed bound by
 * falling back to bounding boxes. Pure; no allocation.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rect {
	int32_t x, y, w, h;
};

#define REGION_MAX_RECTS 64

struct region {
	size_t n;
	struct rect r[REGION_MAX_RECTS];
};

bool rect_empty(const struct rect *r);
/** Intersection; empty (w = h = 0) when they do not meet. */
struct rect rect_intersect(const struct rect *a, const struct rect *b);
/** Smallest rectangle holding both (an empty one is ignored). */
struct rect rect_union(const struct rect *a, const struct rect *b);
int64_t rect_area(const struct rect *r);

void region_init(struct region *reg);
/**
 * Adds r (clipped to `bounds`). Rectangles are merged when their union
 * costs at most `slack` extra pixels over their separate areas; when the
 * region is full, the pair whose union wastes least is merged.
 */
void region_add(struct region *reg, const struct rect *r, const struct rect *bounds,
		int64_t slack);
/** Total area of the region's rectangles (they do not overlap after add). */
int64_t region_area(const struct region *reg);
/** Whether any pixel of r is in the region. */
bool region_meets(const struct region *reg, const struct rect *r);
struct rect region_extents(const struct region *reg);
