#include "autoconfig.h"

#include <stdio.h>

#include "click.h"
#include "util.h"

#define CLICK_AGAIN_MS 3000

bool click_until(void *client, click_fn *click, wait_pixel_fn *wait, int x, int y, int px, int py,
                 uint32_t rgb, int timeout_ms)
{
	uint64_t first = now_ms(), end = first + (uint64_t)timeout_ms;

	for (;;) {
		if (click(client, x, y) < 0)
			return false;
		uint64_t now = now_ms();
		int left = now < end ? (int)(end - now) : 0;
		if (wait(client, px, py, rgb, MIN(left, CLICK_AGAIN_MS)))
			return true;
		if (now_ms() >= end)
			return false;
		fprintf(stderr,
		        "click at %d,%d: pixel %d,%d not %06x %llu ms after the first click; "
		        "clicking again\n",
		        x, y, px, py, rgb, (unsigned long long)(now_ms() - first));
	}
}
