/*
 * Finds the parts of a picture that behave like video (a player, an
 * animation, a continuous scroll): a 64x64 tile is "moving" once it has
 * changed VIDEO_MIN_CHANGES times within VIDEO_WINDOW_MS, and stays moving
 * until it has not changed for VIDEO_SETTLE_MS; then it is reported once as
 * "settled", so that a lossy encoding of it can be replaced by a lossless
 * one. A blinking caret or typing (a few changes a second) never qualifies,
 * nor does a moving area smaller than VIDEO_MIN_TILES tiles.
 *
 * Changes are best recorded at the rate the picture changes (each capture
 * render makes: video_detect_observe), not at the rate frames can be sent:
 * on a slow link a few frames a second go out, and a 30 fps video would
 * never reach VIDEO_MIN_CHANGES in VIDEO_WINDOW_MS if only they counted.
 * video_detect_classify() then says, when a frame goes out, what is moving.
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

/*
 * When a tile counts as moving: min_changes (1 to VIDEO_MIN_CHANGES)
 * changes within window_ms, of which only those at least gap_ms after the
 * previous one counted count; it settles after settle_ms without a change.
 */
struct video_rules {
	uint32_t min_changes, window_ms, settle_ms, gap_ms;
};

/* The defaults: VIDEO_MIN_CHANGES in VIDEO_WINDOW_MS, settled after VIDEO_SETTLE_MS. */
extern const struct video_rules video_rules_capture;

/*
 * For a caller that sees only the frames it sends, each the newest picture
 * when the viewer asked for it (VNC): a 30 fps video is seen 3 or 4 times
 * a second on a slow link before it goes lossy, so fewer changes over a
 * longer window qualify, and a tile settles only after a longer quiet.
 * Once something moves, that caller sees every capture: changes closer
 * than 150 ms count once, so that a block a key press redraws over two or
 * three captures, at a press a second, never qualifies.
 */
extern const struct video_rules video_rules_paced;

/* For a width x height picture (1 to 8192 each); NULL when out of memory. */
struct video_detect *video_detect_create(int32_t width, int32_t height);

/* Other rules than video_rules_capture; forgets the history. */
void video_detect_set_rules(struct video_detect *d, const struct video_rules *rules);
void video_detect_destroy(struct video_detect *d);

/*
 * Records one capture's changes at now_ms (never decreasing); a tile counts
 * once per call however many rectangles touch it.
 */
void video_detect_observe(struct video_detect *d, const struct region *changes, uint64_t now_ms);

/*
 * What is moving at now_ms, from the changes observed so far: *moving
 * receives the moving area (tile-aligned, clipped to the picture; empty
 * when the moving tiles are fewer than VIDEO_MIN_TILES), *settled the
 * tiles that stopped moving since the last call after being reported as
 * moving. Either may be simplified to bounding boxes when it has more than
 * REGION_MAX_RECTS rectangles.
 */
void video_detect_classify(struct video_detect *d, uint64_t now_ms, struct region *moving,
                           struct region *settled);

/*
 * Records changes that answer input (what a key press redraws): they keep
 * a tile that is moving from settling, but never make one moving, however
 * fast the keys come.
 */
void video_detect_touch(struct video_detect *d, const struct region *changes, uint64_t now_ms);

/*
 * video_detect_observe() then video_detect_classify(), for a caller whose
 * frames are its captures. Records a frame's changes at now_ms (never decreasing). *moving receives
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

/*
 * True when every tile r touches was moving at the latest classification
 * (and the moving area was reported, VIDEO_MIN_TILES or more): a change
 * there is the video's own, not an answer to input.
 */
bool video_detect_covers(const struct video_detect *d, const struct rect *r);

/* Forgets all history (a resize, a new viewer). */
void video_detect_reset(struct video_detect *d);
