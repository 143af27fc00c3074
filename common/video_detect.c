/*
 * Moving-area detection over 64x64 tiles (see video_detect.h).
 *
 * Input: damage of our own framebuffer; pure.
 */
#include "video_detect.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct tile {
	uint64_t times[VIDEO_MIN_CHANGES]; /* ring of the latest change times counted */
	uint64_t last;                     /* the latest change, counted or not */
	uint32_t count;                    /* changes recorded, saturating at the ring size */
	uint32_t head;                     /* where the next change goes */
	uint64_t frame;                    /* frame of the latest change, so a frame counts once */
	bool moving, lossy;                /* lossy: it was reported as moving */
};

const struct video_rules video_rules_capture = {VIDEO_MIN_CHANGES, VIDEO_WINDOW_MS, VIDEO_SETTLE_MS,
                                                0};
const struct video_rules video_rules_paced = {5, 1800, 700, 150};

struct video_detect {
	struct video_rules rules;
	int32_t width, height, cols, rows;
	uint64_t frame;
	size_t moving; /* tiles moving after the latest frame */
	struct tile *tiles;
};

struct video_detect *video_detect_create(int32_t width, int32_t height)
{
	if (width < 1 || height < 1 || width > 8192 || height > 8192)
		return NULL;
	struct video_detect *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->rules = video_rules_capture;
	d->width = width;
	d->height = height;
	d->cols = (width + VIDEO_TILE - 1) / VIDEO_TILE;
	d->rows = (height + VIDEO_TILE - 1) / VIDEO_TILE;
	d->tiles = calloc((size_t)d->cols * (size_t)d->rows, sizeof(*d->tiles));
	if (!d->tiles) {
		free(d);
		return NULL;
	}
	return d;
}

void video_detect_destroy(struct video_detect *d)
{
	if (!d)
		return;
	free(d->tiles);
	free(d);
}

void video_detect_set_rules(struct video_detect *d, const struct video_rules *rules)
{
	d->rules = *rules;
	d->rules.min_changes = MIN(MAX(d->rules.min_changes, 1u), (uint32_t)VIDEO_MIN_CHANGES);
	video_detect_reset(d);
}

bool video_detect_busy(const struct video_detect *d)
{
	return d->moving > 0;
}

void video_detect_reset(struct video_detect *d)
{
	d->moving = 0;
	memset(d->tiles, 0, (size_t)d->cols * (size_t)d->rows * sizeof(*d->tiles));
}

/* The ring holds the latest rules->min_changes change times, at least rules->gap_ms apart. */
static void record(struct tile *t, const struct video_rules *rules, uint64_t frame, uint64_t now,
                   bool count)
{
	const uint32_t ring = rules->min_changes;

	if (t->frame == frame && t->count)
		return;
	t->frame = frame;
	t->last = now;
	if (!count || (t->count && now - t->times[(t->head + ring - 1) % ring] < rules->gap_ms))
		return;
	t->times[t->head] = now;
	t->head = (t->head + 1) % ring;
	if (t->count < ring)
		t->count++;
}

static void record_changes(struct video_detect *d, const struct region *changes, uint64_t now,
                           bool count)
{
	const struct rect picture = {0, 0, d->width, d->height};

	for (size_t i = 0; i < changes->n; i++) {
		struct rect r = rect_intersect(&changes->r[i], &picture);
		if (rect_empty(&r))
			continue;
		int32_t c0 = r.x / VIDEO_TILE, c1 = (r.x + r.w - 1) / VIDEO_TILE;
		int32_t r0 = r.y / VIDEO_TILE, r1 = (r.y + r.h - 1) / VIDEO_TILE;
		for (int32_t row = r0; row <= r1; row++)
			for (int32_t col = c0; col <= c1; col++)
				record(&d->tiles[(size_t)row * d->cols + col], &d->rules, d->frame,
				       now, count);
	}
}

static struct rect tile_rect(const struct video_detect *d, int32_t col, int32_t row)
{
	struct rect r = {col * VIDEO_TILE, row * VIDEO_TILE, VIDEO_TILE, VIDEO_TILE};
	r.w = MIN(r.w, d->width - r.x);
	r.h = MIN(r.h, d->height - r.y);
	return r;
}

/* Moves tiles in and out of the moving state; returns how many are moving. */
static size_t classify(struct video_detect *d, uint64_t now, struct region *settled)
{
	const struct rect picture = {0, 0, d->width, d->height};
	const uint32_t ring = d->rules.min_changes;
	size_t n = 0;

	for (int32_t row = 0; row < d->rows; row++)
		for (int32_t col = 0; col < d->cols; col++) {
			struct tile *t = &d->tiles[(size_t)row * d->cols + col];
			uint64_t last = t->last;
			uint64_t oldest = t->times[t->head]; /* of the ring, once full */
			if (!t->moving && t->count == ring && now - oldest <= d->rules.window_ms)
				t->moving = true;
			else if (t->moving && t->count && now - last >= d->rules.settle_ms) {
				/* Changes before the stop count no more: they would make it move
				 * again. */
				t->moving = false;
				t->count = 0;
				t->head = 0;
				if (t->lossy) {
					struct rect r = tile_rect(d, col, row);
					region_add(settled, &r, &picture, 0);
				}
				t->lossy = false;
			}
			n += t->moving;
		}
	return n;
}

void video_detect_observe(struct video_detect *d, const struct region *changes, uint64_t now_ms)
{
	d->frame++;
	record_changes(d, changes, now_ms, true);
}

void video_detect_touch(struct video_detect *d, const struct region *changes, uint64_t now_ms)
{
	d->frame++;
	record_changes(d, changes, now_ms, false);
}

void video_detect_frame(struct video_detect *d, const struct region *changes, uint64_t now_ms,
                        struct region *moving, struct region *settled)
{
	video_detect_observe(d, changes, now_ms);
	video_detect_classify(d, now_ms, moving, settled);
}

void video_detect_classify(struct video_detect *d, uint64_t now_ms, struct region *moving,
                           struct region *settled)
{
	const struct rect picture = {0, 0, d->width, d->height};

	region_init(moving);
	region_init(settled);
	d->moving = classify(d, now_ms, settled);
	if (d->moving < VIDEO_MIN_TILES)
		return;
	for (int32_t row = 0; row < d->rows; row++)
		for (int32_t col = 0; col < d->cols; col++) {
			struct tile *t = &d->tiles[(size_t)row * d->cols + col];
			if (!t->moving)
				continue;
			struct rect r = tile_rect(d, col, row);
			region_add(moving, &r, &picture, 0);
			t->lossy = true;
		}
}

bool video_detect_covers(const struct video_detect *d, const struct rect *r)
{
	const struct rect picture = {0, 0, d->width, d->height};
	struct rect c = rect_intersect(r, &picture);

	if (d->moving < VIDEO_MIN_TILES)
		return false;
	if (rect_empty(&c))
		return true;
	for (int32_t row = c.y / VIDEO_TILE; row <= (c.y + c.h - 1) / VIDEO_TILE; row++)
		for (int32_t col = c.x / VIDEO_TILE; col <= (c.x + c.w - 1) / VIDEO_TILE; col++)
			if (!d->tiles[(size_t)row * d->cols + col].moving)
				return false;
	return true;
}
