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
	uint64_t times[VIDEO_MIN_CHANGES]; /* ring of the latest change times */
	uint32_t count;                    /* changes recorded, saturating at the ring size */
	uint32_t head;                     /* where the next change goes */
	uint64_t frame;                    /* frame of the latest change, so a frame counts once */
	bool moving, lossy;                /* lossy: it was reported as moving */
};

struct video_detect {
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

bool video_detect_busy(const struct video_detect *d)
{
	return d->moving > 0;
}

void video_detect_reset(struct video_detect *d)
{
	d->moving = 0;
	memset(d->tiles, 0, (size_t)d->cols * (size_t)d->rows * sizeof(*d->tiles));
}

static void record(struct tile *t, uint64_t frame, uint64_t now)
{
	if (t->frame == frame && t->count)
		return;
	t->frame = frame;
	t->times[t->head] = now;
	t->head = (t->head + 1) % VIDEO_MIN_CHANGES;
	if (t->count < VIDEO_MIN_CHANGES)
		t->count++;
}

static void record_changes(struct video_detect *d, const struct region *changes, uint64_t now)
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
				record(&d->tiles[(size_t)row * d->cols + col], d->frame, now);
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
	size_t n = 0;

	for (int32_t row = 0; row < d->rows; row++)
		for (int32_t col = 0; col < d->cols; col++) {
			struct tile *t = &d->tiles[(size_t)row * d->cols + col];
			uint64_t last =
			    t->times[(t->head + VIDEO_MIN_CHANGES - 1) % VIDEO_MIN_CHANGES];
			uint64_t oldest = t->times[t->head]; /* of the ring, once full */
			if (!t->moving && t->count == VIDEO_MIN_CHANGES &&
			    now - oldest <= VIDEO_WINDOW_MS)
				t->moving = true;
			else if (t->moving && t->count && now - last >= VIDEO_SETTLE_MS) {
				t->moving = false;
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
	record_changes(d, changes, now_ms);
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
