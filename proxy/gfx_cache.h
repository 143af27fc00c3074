/*
 * What a graphics pipeline client keeps of the text a scroll went past,
 * so that scrolling back costs a few bytes a band instead of its pixels.
 *
 * Each band of rows (GFX_CACHE_BAND high) that a scroll exposed and that
 * was painted lossless is copied into a slot of the client's bitmap cache
 * (SurfaceToCache). When a later scroll exposes rows that hold the same
 * pixels again, the band is drawn from that slot (CacheToSurface) and
 * those rows are not encoded.
 *
 * Bands are found again by their rows: each entry keeps a hash of its
 * first row that is not one colour across the scrolled columns and
 * differs from the row above (its anchor), and a hash of each of its rows. A band is used only
 * where all its rows hash equal to the new picture's rows there, so it writes exactly the pixels
 * the client must show. The hashes are keyed with a random key per cache (fbdiff_row_hash), which
 * the page never learns.
 *
 * The client's cache is bounded (MS-RDPEGFX 3.3.1.4: 16 MB and 4096
 * slots for a small cache, 100 MB and 25600 otherwise); the least recently
 * used band gives way. Pure bookkeeping over pixel buffers: the caller
 * sends the PDUs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fbdiff.h"
#include "rect.h"

#define GFX_CACHE_BAND 16    /* rows per cached band */
#define GFX_CACHE_MIN_ROWS 4 /* a band's shortest (the end of a strip) */

struct gfx_cache;

/* A band the client has, to draw at r (r.w, r.h: the band's size). */
struct gfx_cache_hit {
	uint16_t slot;
	struct rect r;
};

/* What the client must do to its cache, in order. */
struct gfx_cache_op {
	enum { GFX_CACHE_EVICT, GFX_CACHE_STORE } kind;
	uint16_t slot; /* 1-based, as on the wire */
	struct rect r; /* STORE: the surface's rectangle to keep */
	uint64_t key;  /* STORE: a key of its pixels (the wire's cacheKey) */
};

struct gfx_cache_stats {
	uint64_t stored, hits;       /* bands */
	uint64_t hit_pixels;         /* pixels to paint the cache saved */
	uint64_t checked;            /* bands compared row by row with a picture */
	size_t bytes, max_bytes;     /* what the client holds now, and may */
};

/** NULL without memory. max_slots >= 1, max_bytes > 0. */
struct gfx_cache *gfx_cache_new(size_t max_bytes, uint16_t max_slots);
void gfx_cache_free(struct gfx_cache *c);

/**
 * For a scroll over the columns of `span` (a move's columns, its rows the
 * area the move touched): finds bands the client has that img now shows
 * over rows of `todo` inside span, up to max of them, and removes what
 * they cover from todo. Returns how many were found, in hits.
 */
size_t gfx_cache_find(struct gfx_cache *c, const struct fbdiff_image *img, const struct rect *span,
                      struct region *todo, struct gfx_cache_hit *hits, size_t max);

/**
 * After `painted` (lossless: the client now shows img there) was sent in a
 * frame that scrolled `span`: the operations that keep its bands, at most
 * max (an eviction and a store count as one each). Bands already kept are
 * only marked used.
 */
size_t gfx_cache_add(struct gfx_cache *c, const struct fbdiff_image *img, const struct rect *span,
                     const struct region *painted, struct gfx_cache_op *ops, size_t max);

void gfx_cache_stats(const struct gfx_cache *c, struct gfx_cache_stats *out);
