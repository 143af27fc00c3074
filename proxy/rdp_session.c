/*
 * The pixel link behind the RDP front-end (see rdp_session.h). Untrusted
 * input: everything render sends, checked by pixlink_client; rectangles
 * are clipped to the desktop again before any copy.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "config.h"
#include "fbdiff.h"
#include "log.h"
#include "notice.h"
#include "pixlink_client.h"
#include "rdp_session.h"
#include "util.h"
#include "worker.h"

#define SETTLE_TIMEOUT_MS 5000 /* wait this long for render to take the desktop's size */
#define MAX_HELD_KEYS 32
/* Changed rectangles are merged when that costs at most this many extra pixels. */
#define MERGE_SLACK (64 * 64)
#define BANNER_MS 6000 /* a notice from the session (browser restarted) is shown this long */

struct rdp_session {
	struct worker *w;
	uint8_t *clip; /* the browser's last clipboard text, not taken yet */
	size_t clip_len;
	bool clip_new;
	struct pixlink_client *link;
	uint16_t width, height;
	uint8_t *pixels; /* width x height, B G R X */
	size_t stride;
	struct fbdiff_rows rows; /* row hashes of pixels, for the next scroll search */
	struct region changes;
	struct fbdiff_move moves[RDP_SESSION_MAX_MOVES]; /* to apply before changes */
	size_t nmoves;
	bool have_fb, settled, resize_sent;
	uint64_t settle_deadline;
	struct rdp_cursor cursor;
	bool cursor_changed;
	uint16_t held[MAX_HELD_KEYS];
	size_t nheld;
	uint32_t buttons;
	uint16_t x, y;
	uint16_t high_surrogate;
	const char *banner;    /* a notice from the session over the picture, until banner_until */
	uint64_t banner_until; /* 0 = none */
	int banner_y0, banner_y1;
	rdp_session_observer observer; /* sees each capture's changes; NULL = none */
	void *observer_arg;
	uint64_t frame_gap_us;  /* [display] max_fps as the time between frames; 0 = none */
	uint64_t next_frame_us; /* the earliest time for the next credit */
	bool frame_wanted;      /* a credit waits for next_frame_us */
};

static void send_msg(struct rdp_session *s, const struct pixlink_msg *m)
{
	worker_activity(s->w);
	if (pixlink_client_send(s->link, m) < 0 && errno != EAGAIN)
		log_warn("pixel link: cannot send %s: %s", pixlink_type_name(m->type),
		         strerror(errno));
}

static struct rect desktop(const struct rdp_session *s)
{
	return (struct rect){0, 0, s->width, s->height};
}

/* r (framebuffer coordinates) clipped to the desktop and the framebuffer. */
static struct rect clip(const struct rdp_session *s, struct rect r)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(s->link);
	struct rect bounds = desktop(s), fbr = {0, 0, (int32_t)fb->width, (int32_t)fb->height};

	r = rect_intersect(&r, &bounds);
	return rect_intersect(&r, &fbr);
}

/* Copies r from render's framebuffer and marks it all changed. */
static void copy_rect(struct rdp_session *s, struct rect r)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(s->link);
	const uint8_t *src = pixlink_client_pixels(s->link);
	struct rect bounds = desktop(s);

	r = clip(s, r);
	if (rect_empty(&r))
		return;
	for (int32_t y = r.y; y < r.y + r.h; y++)
		memcpy(s->pixels + (size_t)y * s->stride + (size_t)r.x * 4,
		       src + (size_t)y * fb->stride + (size_t)r.x * 4, (size_t)r.w * 4);
	fbdiff_rows_forget(&s->rows, &r);
	region_add(&s->changes, &r, &bounds, MERGE_SLACK);
}

/*
 * Records a scroll the client will apply before the changes are painted:
 * changed areas not yet sent that it moves must be painted again where
 * they land.
 */
static void add_move(struct rdp_session *s, struct fbdiff_image *prev, const struct fbdiff_move *m)
{
	struct region before = s->changes;
	struct rect bounds = desktop(s);

	for (size_t i = 0; i < before.n; i++) {
		struct rect moved = rect_intersect(&before.r[i], &m->src);
		moved.y += m->dy;
		region_add(&s->changes, &moved, &bounds, MERGE_SLACK);
	}
	fbdiff_apply_move(prev, m);
	s->moves[s->nmoves++] = *m;
}

/*
 * Takes r from render's framebuffer: a scroll inside it becomes a move,
 * and only the tiles that differ are marked changed.
 */
static void diff_rect(struct rdp_session *s, struct rect r, struct region *seen)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(s->link);
	/* fbdiff only reads cur, which is mapped read-only. */
	struct fbdiff_image cur = {(uint8_t *)pixlink_client_pixels(s->link), fb->stride,
	                           (int32_t)fb->width, (int32_t)fb->height, NULL};
	struct fbdiff_image prev = {s->pixels, s->stride, s->width, s->height, &s->rows};
	struct fbdiff_move m;
	struct region changed;
	bool scrolled = false;

	r = clip(s, r);
	if (rect_empty(&r))
		return;
	if (s->nmoves < RDP_SESSION_MAX_MOVES && fbdiff_find_scroll(&prev, &cur, &r, &m)) {
		add_move(s, &prev, &m);
		scrolled = true;
	}
	region_init(&changed);
	fbdiff_update_moved(&prev, &cur, &r, scrolled ? &m : NULL, &changed, MERGE_SLACK);
	struct rect bounds = desktop(s);
	for (size_t i = 0; i < changed.n; i++) {
		region_add(&s->changes, &changed.r[i], &bounds, MERGE_SLACK);
		/* A scroll's exposed strip is text going by, not video: it stays lossless. */
		if (!scrolled)
			region_add(seen, &changed.r[i], &bounds, 0);
	}
}

static void on_framebuffer(struct rdp_session *s)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(s->link);
	bool fits = fb->width == s->width && fb->height == s->height;

	s->have_fb = true;
	/* What the new framebuffer does not cover stays black. */
	memset(s->pixels, 0, s->stride * s->height);
	fbdiff_rows_forget(&s->rows, &(struct rect){0, 0, s->width, s->height});
	copy_rect(s, (struct rect){0, 0, (int32_t)fb->width, (int32_t)fb->height});
	rdp_session_mark_all(s);
	if (fits) {
		s->settled = true;
	} else if (!s->resize_sent) {
		struct pixlink_msg m = {.type = PIXLINK_RESIZE};
		m.u.size = (struct pixlink_size){s->width, s->height};
		send_msg(s, &m);
		s->resize_sent = true;
		log_info("asking the session for %ux%u (it is %ux%u)", s->width, s->height,
		         fb->width, fb->height);
	}
}

static void on_damage(struct rdp_session *s, const struct pixlink_damage *d)
{
	struct region seen;

	region_init(&seen);
	for (uint16_t i = 0; i < d->nrects; i++) {
		const struct pixlink_rect *r = &d->rects[i];
		diff_rect(s, (struct rect){r->x, r->y, r->w, r->h}, &seen);
	}
	if (s->observer)
		s->observer(s->observer_arg, &seen);
}

void rdp_session_set_observer(struct rdp_session *s, rdp_session_observer fn, void *arg)
{
	s->observer = fn;
	s->observer_arg = arg;
}

static void on_cursor(struct rdp_session *s, const struct pixlink_cursor *c)
{
	size_t n = (size_t)c->width * c->height * 4; /* the parser bounds both by 128 */

	s->cursor.serial = c->serial;
	s->cursor.width = c->width;
	s->cursor.height = c->height;
	s->cursor.hot_x = c->hot_x;
	s->cursor.hot_y = c->hot_y;
	memcpy(s->cursor.pixels, c->pixels, MIN(n, sizeof(s->cursor.pixels)));
	s->cursor_changed = true;
}

/*
 * Draws the session's notice band over the picture again (the browser
 * paints under it), or, once its time is over, puts the picture back.
 */
static void refresh_banner(struct rdp_session *s)
{
	struct rect all = desktop(s);

	if (!s->banner_until || !s->have_fb)
		return;
	if (now_ms() < s->banner_until) {
		if (notice_draw(s->pixels, s->width, s->height, s->stride, s->banner, &s->banner_y0,
		                &s->banner_y1) == 0) {
			struct rect band = {0, s->banner_y0, s->width, s->banner_y1 - s->banner_y0};
			fbdiff_rows_forget(&s->rows, &band);
			region_add(&s->changes, &band, &all, MERGE_SLACK);
		}
		return;
	}
	s->banner_until = 0;
	copy_rect(s, (struct rect){0, s->banner_y0, s->width, s->banner_y1 - s->banner_y0});
}

static void on_notice(struct rdp_session *s, const struct pixlink_notice *n)
{
	log_info("session notice %u: %.*s", n->code, (int)n->len, n->text);
	if (n->code == PIXLINK_NOTICE_RESIZE_REFUSED) {
		s->settled = true; /* show what there is, cropped or padded */
		return;
	}
	if (n->code == PIXLINK_NOTICE_BROWSER_RESTARTED)
		s->banner = "ブラウザが異常終了したため、再起動しました。\n"
		            "The browser stopped unexpectedly and was restarted.";
	else if (n->code == PIXLINK_NOTICE_BROWSER_FAILING)
		s->banner = "ブラウザが繰り返し異常終了しています。\n"
		            "The browser keeps failing; this session will end.";
	else
		return;
	s->banner_until = now_ms() + BANNER_MS;
	refresh_banner(s);
}

/* The browser's clipboard: kept for rdp.c, which applies the policy. */
static void on_clipboard(struct rdp_session *s, const struct pixlink_clipboard *c)
{
	free(s->clip);
	s->clip = xcalloc(1, c->len + 1);
	memcpy(s->clip, c->text, c->len);
	s->clip_len = c->len;
	s->clip_new = true;
}

int rdp_session_read(struct rdp_session *s)
{
	struct pixlink_event ev;
	int r;

	if (s->banner_until && now_ms() >= s->banner_until)
		refresh_banner(s);
	if (rdp_session_frame_wait_ms(s) == 0)
		rdp_session_want_frame(s);
	while ((r = pixlink_client_read(s->link, &ev)) > 0) {
		switch (ev.type) {
		case PIXLINK_EV_FRAMEBUFFER:
			on_framebuffer(s);
			refresh_banner(s);
			break;
		case PIXLINK_EV_DAMAGE:
			on_damage(s, &ev.msg->u.damage);
			refresh_banner(s);
			break;
		case PIXLINK_EV_CURSOR:
			on_cursor(s, &ev.msg->u.cursor);
			break;
		case PIXLINK_EV_NOTICE:
			on_notice(s, &ev.msg->u.notice);
			break;
		case PIXLINK_EV_CLIPBOARD:
			on_clipboard(s, &ev.msg->u.clip);
			break;
		default:
			break;
		}
	}
	if (r < 0) {
		log_warn("pixel link ended: %s", pixlink_client_error(s->link));
		return -1;
	}
	return 0;
}

struct rdp_session *rdp_session_create(struct worker *w, int link_fd, uint16_t width,
                                       uint16_t height)
{
	struct rdp_session *s = xcalloc(1, sizeof(*s));
	size_t size;

	s->w = w;
	s->width = width;
	s->height = height;
	s->stride = (size_t)width * 4;
	if (w->cfg->display_max_fps > 0)
		s->frame_gap_us = (uint64_t)(1000000 / w->cfg->display_max_fps);
	region_init(&s->changes);
	if (!ckd_mul_size(&size, s->stride, height) || !(s->pixels = calloc(1, size ? size : 1)) ||
	    RAND_bytes((unsigned char *)&s->rows.seed, sizeof(s->rows.seed)) != 1 ||
	    fbdiff_rows_resize(&s->rows, height) < 0) {
		close(link_fd);
		goto fail;
	}
	s->link = pixlink_client_create(link_fd, (uint32_t)w->cfg->display_max_width,
	                                (uint32_t)w->cfg->display_max_height);
	if (!s->link || pixlink_client_resync(s->link) < 0) {
		log_error("cannot take the session's pixel link: %s", strerror(errno));
		goto fail;
	}
	s->settle_deadline = now_ms() + SETTLE_TIMEOUT_MS;
	return s;
fail:
	rdp_session_destroy(s);
	return NULL;
}

int rdp_session_resize(struct rdp_session *s, uint16_t width, uint16_t height)
{
	size_t stride = (size_t)width * 4, size;
	uint8_t *pixels;

	if (!ckd_mul_size(&size, stride, height) || !(pixels = calloc(1, size ? size : 1)))
		return -1;
	free(s->pixels);
	s->pixels = pixels;
	if (fbdiff_rows_resize(&s->rows, height) < 0)
		log_warn("no room for row hashes: scroll search will take longer");
	s->width = width;
	s->height = height;
	s->stride = stride;
	region_init(&s->changes);
	s->settled = false;
	s->resize_sent = false;
	s->settle_deadline = now_ms() + SETTLE_TIMEOUT_MS;
	/* What render has now, cropped or padded, until it sends the new size. */
	if (s->have_fb)
		on_framebuffer(s);
	return 0;
}

void rdp_session_destroy(struct rdp_session *s)
{
	if (!s)
		return;
	if (s->link)
		rdp_session_release_all(s);
	pixlink_client_destroy(s->link);
	free(s->clip);
	free(s->pixels);
	fbdiff_rows_free(&s->rows);
	free(s);
}

const uint8_t *rdp_session_take_clipboard(struct rdp_session *s, size_t *len)
{
	if (!s->clip_new)
		return NULL;
	s->clip_new = false;
	*len = s->clip_len;
	return s->clip;
}

void rdp_session_clipboard_in(struct rdp_session *s, const uint8_t *text, size_t len)
{
	struct pixlink_msg m = {.type = PIXLINK_CLIPBOARD_IN};

	m.u.clip = (struct pixlink_clipboard){.len = (uint32_t)len, .text = text};
	send_msg(s, &m);
}

int rdp_session_fd(const struct rdp_session *s)
{
	return pixlink_client_fd(s->link);
}

bool rdp_session_ready(const struct rdp_session *s)
{
	return s->have_fb && (s->settled || now_ms() >= s->settle_deadline);
}

uint16_t rdp_session_width(const struct rdp_session *s)
{
	return s->width;
}

uint16_t rdp_session_height(const struct rdp_session *s)
{
	return s->height;
}

const uint8_t *rdp_session_pixels(const struct rdp_session *s, size_t *stride)
{
	*stride = s->stride;
	return s->pixels;
}

size_t rdp_session_take_moves(struct rdp_session *s, struct fbdiff_move *out, size_t cap)
{
	size_t n = MIN(s->nmoves, cap);

	memcpy(out, s->moves, n * sizeof(*out));
	s->nmoves = 0;
	return n;
}

bool rdp_session_scrolling(const struct rdp_session *s)
{
	return s->nmoves > 0;
}

const struct region *rdp_session_changes(const struct rdp_session *s)
{
	return &s->changes;
}

bool rdp_session_take_changes(struct rdp_session *s, struct region *out)
{
	if (s->changes.n == 0)
		return false;
	*out = s->changes;
	region_init(&s->changes);
	return true;
}

void rdp_session_mark_all(struct rdp_session *s)
{
	struct rect all = desktop(s);

	s->nmoves = 0;
	region_init(&s->changes);
	region_add(&s->changes, &all, &all, 0);
}

/*
 * Frames keep to a schedule of one per frame_gap_us, not to a gap after
 * each: render captures at the browser's next paint after the credit, and
 * a gap counted from there would halve a 60 Hz page's rate to 20 at 30.
 * Behind the schedule (after a pause) two frames may go at once, so a key
 * pressed after a pause is answered at once.
 */
void rdp_session_want_frame(struct rdp_session *s)
{
	uint64_t now = now_us();

	if (!pixlink_client_fb(s->link))
		return;
	if (pixlink_client_credit(s->link) != 0) {
		s->frame_wanted = false; /* render has one */
		return;
	}
	if (s->frame_gap_us && now < s->next_frame_us) {
		s->frame_wanted = true;
		return;
	}
	s->frame_wanted = false;
	s->next_frame_us = MAX(s->next_frame_us + s->frame_gap_us, now);
	if (pixlink_client_grant(s->link, 1) < 0 && errno != EAGAIN)
		log_warn("pixel link: cannot grant credit: %s", strerror(errno));
}

int64_t rdp_session_frame_wait_ms(const struct rdp_session *s)
{
	uint64_t now = now_us();

	if (!s->frame_wanted)
		return -1;
	/* Rounded up: a wait of 0 means the credit may go now. */
	return s->next_frame_us > now ? (int64_t)((s->next_frame_us - now + 999) / 1000) : 0;
}

const struct rdp_cursor *rdp_session_take_cursor(struct rdp_session *s)
{
	if (!s->cursor_changed)
		return NULL;
	s->cursor_changed = false;
	return &s->cursor;
}

/* Remembers a held key; false for a release of a key that is not held. */
static bool track_key(struct rdp_session *s, uint16_t scancode, bool down)
{
	for (size_t i = 0; i < s->nheld; i++) {
		if (s->held[i] != scancode)
			continue;
		if (!down)
			s->held[i] = s->held[--s->nheld];
		return true;
	}
	if (down && s->nheld < MAX_HELD_KEYS)
		s->held[s->nheld++] = scancode;
	return down;
}

void rdp_session_key(struct rdp_session *s, uint16_t scancode, bool down)
{
	struct pixlink_msg m = {.type = PIXLINK_KEY};

	if (scancode == 0)
		return;
	/* A release of a key not held (released on focus loss already) is dropped. */
	if (!track_key(s, scancode, down))
		return;
	m.u.key = (struct pixlink_key){.keysym = 0, .scancode = scancode, .down = down};
	send_msg(s, &m);
}

void rdp_session_keysym(struct rdp_session *s, uint32_t keysym, bool down)
{
	struct pixlink_msg m = {.type = PIXLINK_KEY};

	m.u.key = (struct pixlink_key){.keysym = keysym, .scancode = 0, .down = down};
	send_msg(s, &m);
}

void rdp_session_utf16(struct rdp_session *s, uint16_t unit)
{
	struct pixlink_msg m = {.type = PIXLINK_UNICODE};
	uint32_t cp = unit;

	if (unit >= 0xd800 && unit <= 0xdbff) {
		s->high_surrogate = unit;
		return;
	}
	if (unit >= 0xdc00 && unit <= 0xdfff) {
		if (!s->high_surrogate)
			return; /* a lone low surrogate is not a character */
		cp = 0x10000 + (((uint32_t)s->high_surrogate - 0xd800) << 10) + (unit - 0xdc00);
	}
	s->high_surrogate = 0;
	if (cp < 0x20 || cp == 0x7f)
		return; /* control characters are keys, not text */
	m.u.codepoint = cp;
	send_msg(s, &m);
}

static void send_pointer(struct rdp_session *s)
{
	struct pixlink_msg m = {.type = PIXLINK_POINTER};

	m.u.pointer = (struct pixlink_pointer){s->x, s->y, s->buttons};
	send_msg(s, &m);
}

void rdp_session_move(struct rdp_session *s, int x, int y)
{
	s->x = (uint16_t)MAX(0, MIN(x, (int)s->width - 1));
	s->y = (uint16_t)MAX(0, MIN(y, (int)s->height - 1));
	send_pointer(s);
}

void rdp_session_button(struct rdp_session *s, uint32_t button, bool down)
{
	uint32_t b = down ? s->buttons | button : s->buttons & ~button;

	if (b == s->buttons)
		return;
	s->buttons = b & PIXLINK_BUTTON_MASK;
	send_pointer(s);
}

void rdp_session_wheel(struct rdp_session *s, int dx, int dy)
{
	struct pixlink_msg m = {.type = PIXLINK_WHEEL};

	if (dx == 0 && dy == 0)
		return;
	m.u.wheel = (struct pixlink_wheel){(int16_t)MAX(-100, MIN(dx, 100)),
	                                   (int16_t)MAX(-100, MIN(dy, 100))};
	send_msg(s, &m);
}

void rdp_session_release_all(struct rdp_session *s)
{
	while (s->nheld > 0)
		rdp_session_key(s, s->held[s->nheld - 1], false);
	if (s->buttons) {
		s->buttons = 0;
		send_pointer(s);
	}
	s->high_surrogate = 0;
}
