#ifndef SHOJI_E2E_CLICK_H
#define SHOJI_E2E_CLICK_H

#include <stdbool.h>
#include <stdint.h>

/* One client's left click at x, y (0 or -1), and its wait for a pixel. */
typedef int click_fn(void *client, int x, int y);
typedef bool wait_pixel_fn(void *client, int x, int y, uint32_t rgb, int timeout_ms);

/*
 * Clicks at x, y until the pixel at px, py turns rgb: again every 3 s, for
 * up to timeout_ms. A browser started a moment before has, rarely and under
 * load, left the first click of its session unanswered, its page drawn and
 * its handlers set; each click that went unanswered is reported on stderr.
 * A page that never answers still fails.
 */
bool click_until(void *client, click_fn *click, wait_pixel_fn *wait, int x, int y, int px, int py,
                 uint32_t rgb, int timeout_ms);

#endif
