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

struct fbdiff_rows;

struct fbdiff_image {
	uint8_t *pixels;
	size_t stride;
	int32_t width, height;
	struct fbdiff_rows *rows; /* NULL, or hashes of its rows kept between searches */
};

/*
 * Row hashes of a front-end's copy of the picture, kept from one scroll
 * search to the next: a row a scroll moved keeps its hash, so a search
 * hashes only the rows of the copy that changed since (the strip the last
 * scroll exposed), and a sample of the new picture's rows to find the
 * shift. fbdiff_apply_move and fbdiff_update keep the hashes true; a
 * caller that writes the copy's pixels itself calls fbdiff_rows_forget.
 * A wrong hash could only hide a scroll (moves are verified pixel by
 * pixel), never show a wrong picture.
 */
struct fbdiff_row {
	int32_t x, w; /* the columns hashed */
	uint64_t hash;
	bool known; /* hash is that of the copy's pixels */
};

struct fbdiff_rows {
	struct fbdiff_row *row; /* one per row of the image */
	int32_t n;
	uint64_t seed;   /* of the hashes; random per session, so a page cannot aim at them */
	uint64_t reused; /* rows of the copy a search did not hash again */
};

/** Room for the hashes of an image of `height` rows, none known; -1 when out of memory. */
int fbdiff_rows_init(struct fbdiff_rows *rows, int32_t height, uint64_t seed);

/**
 * Room for `height` rows, none known, the seed kept (a new picture size);
 * -1 when out of memory, with none (hashes are then not kept).
 */
int fbdiff_rows_resize(struct fbdiff_rows *rows, int32_t height);

void fbdiff_rows_free(struct fbdiff_rows *rows);

/** Drops the hashes of rows that r's pixels are on (the caller wrote them). */
void fbdiff_rows_forget(struct fbdiff_rows *rows, const struct rect *r);

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
 * fbdiff_update after fbdiff_apply_move(prev, m) of a move that
 * fbdiff_find_scroll found in r (m NULL: none): the rows it moved are
 * known to show cur's colours and are not compared again (their X bytes
 * stay as they were).
 */
size_t fbdiff_update_moved(struct fbdiff_image *prev, const struct fbdiff_image *cur,
                           const struct rect *r, const struct fbdiff_move *m,
                           struct region *changed, int64_t slack);

/**
 * Looks for a vertical scroll inside r: the longest band of rows of prev
 * that cur holds, pixel for pixel, shifted by some dy != 0 (both the band
 * and its destination inside r). True with *m if a band of at least
 * FBDIFF_SCROLL_MIN_ROWS rows was found. Neither image's pixels are
 * changed; prev's row hashes, if it keeps them, are used and completed.
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
