/*
 * libFuzzer target for the pixel-link parser. The input is a stream of
 * messages, parsed one after another as shojid would from render; each
 * parsed message must re-encode to exactly the bytes it came from, and each
 * DAMAGE and FRAMEBUFFER is also put through the framebuffer checks. Any
 * disagreement aborts, so the fuzzer reports it.
 *
 * Seeds: tests/fuzz/corpus/pixlink/ (one encoded message per file).
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cliptext.h"
#include "pixlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct pixlink_framebuffer fixed_fb = {
    .generation = 1,
    .width = 1280,
    .height = 800,
    .stride = 1280 * 4,
    .format = PIXLINK_FORMAT_BGRX8888,
    .size = 1280 * 4 * 800,
};

static uint8_t again[PIXLINK_MAX_MSG];

static void check_message(const struct pixlink_msg *m, const uint8_t *bytes, size_t len)
{
	if (len < PIXLINK_HEADER_LEN || len > PIXLINK_MAX_MSG)
		abort();
	if (pixlink_encode(m, again, sizeof(again)) != len || memcmp(again, bytes, len) != 0)
		abort();
	/* Pointers into the input stay inside the message. */
	if (m->type == PIXLINK_CURSOR &&
	    (m->u.cursor.pixels < bytes ||
	     m->u.cursor.pixels + (size_t)m->u.cursor.width * m->u.cursor.height * 4 > bytes + len))
		abort();
	if (m->type == PIXLINK_NOTICE && m->u.notice.len > 0 &&
	    ((const uint8_t *)m->u.notice.text < bytes ||
	     (const uint8_t *)m->u.notice.text + m->u.notice.len > bytes + len))
		abort();

	if ((m->type == PIXLINK_CLIPBOARD_OUT || m->type == PIXLINK_CLIPBOARD_IN) &&
	    (m->u.clip.len > PIXLINK_MAX_CLIPBOARD ||
	     (m->u.clip.len > 0 && (m->u.clip.text < bytes ||
	                            m->u.clip.text + m->u.clip.len > bytes + len)) ||
	     !cliptext_ok(m->u.clip.text, m->u.clip.len)))
		abort(); /* clipboard text outside the message, or not filtered */

	if (m->type == PIXLINK_DAMAGE) {
		const struct pixlink_damage *d = &m->u.damage;
		bool ok = pixlink_damage_ok(d, &fixed_fb, d->seq);
		for (size_t i = 0; ok && i < d->nrects; i++)
			if ((uint32_t)d->rects[i].x + d->rects[i].w > fixed_fb.width ||
			    (uint32_t)d->rects[i].y + d->rects[i].h > fixed_fb.height)
				abort(); /* accepted a rectangle outside */
		(void)pixlink_damage_ok(d, &fixed_fb, 1);
	}
	if (m->type == PIXLINK_FRAMEBUFFER) {
		if (!pixlink_fb_geometry_ok(&m->u.fb, PIXLINK_MAX_DIM, PIXLINK_MAX_DIM))
			abort(); /* the parser must have checked it */
		(void)pixlink_fb_geometry_ok(&m->u.fb, 1280, 800);
	}
	(void)pixlink_from_render(m->type);
	(void)pixlink_type_name(m->type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pixlink_msg m;
	size_t off = 0;

	while (off < size) {
		ssize_t n = pixlink_parse(data + off, size - off, &m);
		if (n <= 0)
			break;
		if ((size_t)n > size - off)
			abort();
		check_message(&m, data + off, (size_t)n);
		off += (size_t)n;
	}
	return 0;
}
