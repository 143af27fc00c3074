/*
 * What really changed inside damaged rectangles. A front-end keeps a copy
 * of the picture it last sent from; when render reports damage, the damaged
 * rectangles of render's framebuffer are compared with that copy tile by
 * tile, only tiles whose pixels differ are copied, and each is reported as
 * the box of its changed pixels. Applications repaint far more than they
 * change (a caret blink repaints a line, a keystroke a whole text field),
 * and the viewer should only get what it cannot already show.
 *
 * Scroll detection: a damaged rectangle whose rows reappear in the new
 * picture shifted up or down (a page scrolled) is reported as a move, which
 * a front-end sends as VNC CopyRect or RDP SurfaceToSurface, so only the
 * newly exposed strip is encoded. Moves are verified pixel by pixel, never
 * guessed from hashes alone.
 *
 * Pure functions over pixel buffers (32 bits per pixel, B G R X; the X byte
 * is ignored when comparing); no I/O. Untrusted input: the pixels and the
 * rectangles come from render; callers pass rectangles already checked
 * against both images (pixlink_damage_ok and the desktop's bounds).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rect.h"

/* Tiles compared at once; their grid is anchored at 0,0. */
#define FBDIFF_TILE 64
/* A move is reported only for at least this many rows... */
#define FBDIFF_SCROLL_MIN_ROWS 16
/* ...of a rectangle at least this wide. */
#define FBDIFF_SCROLL_MIN_WIDTH 64
/*
 * Columns at the right edge of a wide rectangle left out of the search (a
 * scroll bar's thumb moves otherwise); the move covers them too when they
 * moved with the rest.
 */
#define FBDIFF_SCROLL_EDGE 32

struct fbdiff_image {
	uint8_t *pixels;
	size_t stride;
	int32_t width, height;
};

/* Rows src.y .. src.y + src.h - 1 of columns src.x .. moved down by dy (up if negative). */
struct fbdiff_move {
	struct rect src;
	int32_t dy;
};

/**
 * Copies rectangle r of cur into prev where they differ, and adds to
 * *changed (merging with `slack`, see region_add) the box of changed pixels
 * of each tile that differs. Returns the number of tiles that differed.
 * r must lie inside both images.
 */
size_t fbdiff_update(struct fbdiff_image *prev, const struct fbdiff_image *cur,
                     const struct rect *r, struct region *changed, int64_t slack);

/**
 * Looks for a vertical scroll inside r: the longest band of rows of prev
 * that cur holds, pixel for pixel, shifted by some dy != 0 (both the band
 * and its destination inside r). True with *m if a band of at least
 * FBDIFF_SCROLL_MIN_ROWS rows was found. Neither image is changed.
 */
bool fbdiff_find_scroll(const struct fbdiff_image *prev, const struct fbdiff_image *cur,
                        const struct rect *r, struct fbdiff_move *m);

/** Where a move puts its rows. */
struct rect fbdiff_move_dest(const struct fbdiff_move *m);

/**
 * A 64-bit hash of the colours of n pixels from p (X bytes ignored), mixed
 * with key. Under a random key a page cannot aim at a collision: it never
 * sees the key or the hashes.
 */
uint64_t fbdiff_row_hash(const uint8_t *p, int32_t n, uint64_t key);

/** Applies a move to an image (as the viewer will, to its own copy). */
void fbdiff_apply_move(struct fbdiff_image *img, const struct fbdiff_move *m);
