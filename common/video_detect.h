/*
 * Finds the parts of a picture that behave like video (a player, an
 * animation, a continuous scroll): a 64x64 tile is "moving" once it has
 * changed VIDEO_MIN_CHANGES times within VIDEO_WINDOW_MS, and stays moving
 * until it has not changed for VIDEO_SETTLE_MS; then it is reported once as
 * "settled", so that a lossy encoding of it can be replaced by a lossless
 * one. A blinking caret or typing (a few changes a second) never qualifies,
 * nor does a moving area smaller than VIDEO_MIN_TILES tiles.
 *
 * Pure; the caller passes the time. Input: damage of our own framebuffer.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "rect.h"

#define VIDEO_TILE 64
#define VIDEO_WINDOW_MS 1000
#define VIDEO_MIN_CHANGES 10
#define VIDEO_SETTLE_MS 300
#define VIDEO_MIN_TILES 4

struct video_detect;

/* For a width x height picture (1 to 8192 each); NULL when out of memory. */
struct video_detect *video_detect_create(int32_t width, int32_t height);
void video_detect_destroy(struct video_detect *d);

/*
 * Records a frame's changes at now_ms (never decreasing). *moving receives
 * the moving area (tile-aligned, clipped to the picture; empty when the
 * moving tiles are fewer than VIDEO_MIN_TILES); *settled the tiles that
 * stopped moving since the last call. Either may be simplified to bounding
 * boxes when it has more than REGION_MAX_RECTS rectangles.
 */
void video_detect_frame(struct video_detect *d, const struct region *changes, uint64_t now_ms,
                        struct region *moving, struct region *settled);

/*
 * True while some tile is moving: the caller then calls video_detect_frame
 * (with an empty region when nothing changed) at least every
 * VIDEO_SETTLE_MS, so that settled tiles are reported.
 */
bool video_detect_busy(const struct video_detect *d);

/* Forgets all history (a resize, a new viewer). */
void video_detect_reset(struct video_detect *d);
