/*
 * libvncserver behind the pixel link (see vnc_session.h). Untrusted input:
 * the pixel link (checked by pixlink_client) and the viewer's messages,
 * which reach libvncserver only after rfb_filter allowed them.
 *
 * Threads: libvncserver's hooks run inside rfbProcessEvents, called only
 * from this module's thread, which also owns the pixel link and the
 * control link; so nothing here needs a lock.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <rfb/rfb.h>
#include <rfb/rfbregion.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cliptext.h"
#include "ctl.h"
#include "fbdiff.h"
#include "log.h"
#include "notice.h"
#include "refusal_notice.h"
#include "pixlink_client.h"
#include "util.h"
#include "video_detect.h"
#include "vnc_session.h"
#include "worker.h"

#define FIRST_FRAME_TIMEOUT_MS 15000
#define NOTICE_HOLD_MS 3000 /* the end-of-session notice is shown this long before closing */
#define BANNER_MS 6000      /* a notice from the session (browser restarted) is shown this long */
#define MOVING_JPEG_LEVEL 2 /* a moving area's JPEG: at most this of the viewer's 0..9 levels */
#define MOVING_TICK_MS 100  /* while an area moves, how often a quiet one is looked for */
/*
 * A moving area goes in bands of about this many pixels, one an update,
 * so that what else changes (the answer to a key) waits for a band, not a
 * whole picture: on 2 Mbit/s a 640x360 JPEG picture takes 100 ms.
 */
#define BAND_PIXELS (640 * 96)
#define BAND_ROWS_MIN 16
/*
 * After a key press, a click or a wheel notch the moving area's bands wait
 * at most this long for an update with something else in it (the answer),
 * so that the answer does not queue behind them on a slow link.
 */
#define ANSWER_HOLD_MS 150
/*
 * Held moving areas wait at most this long while other changes keep
 * coming (a chat scrolling beside a video): then a band goes with them,
 * lossless.
 */
#define HELD_MAX_MS 500

/* RFB pointer mask bits. */
#define RFB_LEFT 1
#define RFB_MIDDLE 2
#define RFB_RIGHT 4
#define RFB_WHEEL_UP 8
#define RFB_WHEEL_DOWN 16
#define RFB_WHEEL_LEFT 32
#define RFB_WHEEL_RIGHT 64

struct vnc_session {
	struct worker *w;
	struct pixlink_client *link;
	rfbScreenInfoPtr screen;
	uint8_t *fb;
	struct fbdiff_rows rows; /* row hashes of fb, for the next scroll search */
	int lvs_fd; /* libvncserver's end of the socketpair */
	int stop_pipe[2];
	pthread_t thread;
	int last_mask;
	bool thread_started;
	char ended[CTL_MAX_TEXT + 160]; /* why the session ended under the viewer; "" = it did not */
	uint64_t update_start_us; /* displayHook: an update is being encoded */
	uint64_t notice_until;    /* a notice (no link): the moment to close; 0 = a session */
	const char *banner;    /* a notice from the session over the picture, until banner_until */
	uint64_t banner_until; /* 0 = none */
	int banner_y0, banner_y1;
	/*
	 * Moving areas (video, animation): their changes wait in held while
	 * anything else changed goes first, then go in an update of their own,
	 * as JPEG when the viewer takes it; once still, lossless again.
	 */
	struct video_detect *moving; /* NULL: out of memory, no moving areas */
	sraRegionPtr held;           /* changed pixels of moving areas not yet marked */
	sraRegionPtr lossy_region;   /* what the next update may send as JPEG */
	sraRegionPtr viewer_lossy;   /* what the viewer has as JPEG and not since lossless */
	uint64_t held_since_ms;      /* held non-empty and no band of it gone since; 0: empty */
	bool lossy_next;             /* the held areas were marked: the next update is theirs */
	int viewer_quality;          /* the JPEG level (0..9) the viewer asked for; -1: none */
	uint64_t moving_checked_ms;  /* the last look for areas that stopped */
	bool area_moving;            /* a moving area was found at that look */
	int band_y;                  /* the next band of held starts at or below this row */
	uint64_t answer_due_ms;      /* input came then and no update answered it yet; 0: none */
	uint64_t input_ms;           /* the latest key press, click or wheel notch */
	uint64_t updates, lossy_updates;
};

/* TigerVNC's JPEG quality levels 0..9 as libjpeg-turbo quality and subsampling (4:2:2 = 2). */
static const int jpeg_quality[10] = {15, 29, 41, 42, 62, 77, 79, 86, 92, 100};
static const int jpeg_subsampling[10] = {1, 1, 1, 2, 2, 2, 0, 0, 0, 0};

/*
 * A key press, a click or a wheel notch: what changes in the next
 * ANSWER_HOLD_MS answers it. It goes before the moving areas' bands, and
 * it never makes an area moving (a block redrawn at every key is not video).
 */
static void input_came(struct vnc_session *s)
{
	s->input_ms = s->answer_due_ms = now_ms();
}

static void send_input(struct vnc_session *s, const struct pixlink_msg *m)
{
	if (!s->link)
		return; /* a notice: input goes nowhere */
	worker_activity(s->w);
	if (pixlink_client_send(s->link, m) < 0 && errno != EAGAIN)
		log_warn("pixel link: cannot send input: %s", strerror(errno));
}

static void on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	struct vnc_session *s = cl->screen->screenData;
	struct pixlink_msg m = {.type = PIXLINK_KEY};
	m.u.key = (struct pixlink_key){.keysym = (uint32_t)keysym, .down = down};
	send_input(s, &m);
	if (down)
		input_came(s);
}

static void wheel(struct vnc_session *s, int mask, int bit, int dx, int dy)
{
	if ((mask & bit) && !(s->last_mask & bit)) {
		struct pixlink_msg m = {.type = PIXLINK_WHEEL};
		m.u.wheel = (struct pixlink_wheel){(int16_t)dx, (int16_t)dy};
		send_input(s, &m);
		input_came(s);
	}
}

static void on_pointer(int mask, int x, int y, rfbClientPtr cl)
{
	struct vnc_session *s = cl->screen->screenData;
	struct pixlink_msg m = {.type = PIXLINK_POINTER};
	uint32_t b = 0;

	if (mask & RFB_LEFT)
		b |= PIXLINK_BUTTON_LEFT;
	if (mask & RFB_MIDDLE)
		b |= PIXLINK_BUTTON_MIDDLE;
	if (mask & RFB_RIGHT)
		b |= PIXLINK_BUTTON_RIGHT;
	x = MAX(0, MIN(x, cl->screen->width - 1));
	y = MAX(0, MIN(y, cl->screen->height - 1));
	m.u.pointer = (struct pixlink_pointer){(uint16_t)x, (uint16_t)y, b};
	send_input(s, &m);
	if (mask & ~s->last_mask & (RFB_LEFT | RFB_MIDDLE | RFB_RIGHT))
		input_came(s);
	wheel(s, mask, RFB_WHEEL_UP, 0, -1);
	wheel(s, mask, RFB_WHEEL_DOWN, 0, 1);
	wheel(s, mask, RFB_WHEEL_LEFT, -1, 0);
	wheel(s, mask, RFB_WHEEL_RIGHT, 1, 0);
	s->last_mask = mask;
	rfbDefaultPtrAddEvent(mask, x, y, cl);
}

static int on_set_desktop_size(int width, int height, int nscreens,
                               struct rfbExtDesktopScreen *screens, rfbClientPtr cl)
{
	struct vnc_session *s = cl->screen->screenData;
	(void)nscreens;
	(void)screens;
	if (!s->link)
		return rfbExtDesktopSize_ResizeProhibited;
	if (width < 64 || height < 64 || width > s->w->cfg->display_max_width ||
	    height > s->w->cfg->display_max_height)
		return rfbExtDesktopSize_OutOfResources;
	struct pixlink_msg m = {.type = PIXLINK_RESIZE};
	m.u.size = (struct pixlink_size){(uint16_t)width, (uint16_t)height};
	send_input(s, &m);
	worker_note(s->w, CTL_NOTE_RESIZE, "%dx%d", width, height);
	return rfbExtDesktopSize_Success;
}

/* Filtered viewer text to the browser (vnc.c relays it only under [policy]). */
static void clipboard_in(struct vnc_session *s, const char *str, int len, enum cliptext_charset cs)
{
	const struct shoji_config *cfg = s->w->cfg;
	size_t max = (size_t)cfg->policy_clipboard_max_bytes;

	if (!s->link || len < 0)
		return;
	if (cfg->policy_clipboard_to_browser != SHOJI_CLIPBOARD_TEXT)
		return; /* vnc.c does not relay it: never here */
	uint8_t *text = xcalloc(1, max);
	size_t n = cliptext_filter((const uint8_t *)str, (size_t)len, cs, text, max);
	struct pixlink_msg m = {.type = PIXLINK_CLIPBOARD_IN};
	m.u.clip = (struct pixlink_clipboard){.len = (uint32_t)n, .text = text};
	send_input(s, &m);
	free(text);
}

/*
 * The viewer's cut text: classic (ISO 8859-1), relayed only when [policy]
 * clipboard_to_browser allows it, and audited, by vnc.c.
 */
static void on_cut_text(char *str, int len, rfbClientPtr cl)
{
	clipboard_in(cl->screen->screenData, str, len, CLIPTEXT_LATIN1);
}

/*
 * The same over the extended clipboard (UTF-8): the provide libvncserver
 * inflated here is one vnc.c compressed from text it had filtered.
 */
static void on_cut_text_utf8(char *str, int len, rfbClientPtr cl)
{
	clipboard_in(cl->screen->screenData, str, len, CLIPTEXT_UTF8);
}

/*
 * The browser's clipboard to the viewer when [policy] allows it: a viewer
 * that took the extended clipboard gets UTF-8 (libvncserver 0.9.14 sends
 * it as an extended provide, unasked); any other gets classic cut text only
 * when ISO 8859-1 holds the whole text. Text with Japanese in it would
 * reach such a viewer as a row of '?', which is not the text: it gets
 * nothing, audited as refused.
 */
static void send_cut_text(struct vnc_session *s, const struct pixlink_clipboard *c)
{
	const struct shoji_config *cfg = s->w->cfg;
	rfbClientPtr cl = s->screen->clientHead;

	if (cfg->policy_clipboard_to_terminal != SHOJI_CLIPBOARD_TEXT) {
		log_warn("the session sent clipboard text though [policy] clipboard_to_terminal "
		         "is off; dropped");
		worker_note(s->w, CTL_NOTE_CLIPBOARD, "to_terminal %u 0 refused", c->len);
		return;
	}
	if (!cl)
		return;
	/* The pixel link's parser let only filtered text through; cut it to our own limit. */
	uint8_t *cut = xcalloc(1, (size_t)cfg->policy_clipboard_max_bytes);
	size_t n = cliptext_filter(c->text, c->len, CLIPTEXT_UTF8, cut,
	                           (size_t)cfg->policy_clipboard_max_bytes);
	uint8_t *latin1 = xcalloc(1, n + 1);
	size_t ln = cliptext_to_latin1(cut, n, latin1);
	if (cl->enableExtendedClipboard) {
		rfbSendServerCutTextUTF8(s->screen, (char *)cut, (int)n, (char *)latin1, (int)ln);
		worker_note(s->w, CTL_NOTE_CLIPBOARD, "to_terminal %u %zu allowed", c->len, n);
	} else if (cliptext_is_latin1(cut, n)) {
		rfbSendServerCutText(s->screen, (char *)latin1, (int)ln);
		/* The relay counts all it sends as framebuffer: these 8 + ln bytes are cut text. */
		worker_bytes(s->w, "cut_text", 0, (int64_t)(8 + ln));
		worker_bytes(s->w, "framebuffer", 0, -(int64_t)(8 + ln));
		worker_note(s->w, CTL_NOTE_CLIPBOARD, "to_terminal %u %zu allowed", c->len, ln);
	} else {
		log_info("clipboard text beyond ISO 8859-1 not sent: the viewer has no UTF-8 "
		         "clipboard");
		worker_note(s->w, CTL_NOTE_CLIPBOARD, "to_terminal %u 0 refused", c->len);
	}
	free(latin1);
	free(cut);
}

/* Marks all of what waits (changes of this damage so far, moving areas held) for the viewer. */
static void mark_pending(struct vnc_session *s, sraRegionPtr changes)
{
	sraRgnOr(changes, s->held);
	sraRgnMakeEmpty(s->held);
	if (!sraRgnEmpty(changes))
		rfbMarkRegionAsModified(s->screen, changes);
	sraRgnMakeEmpty(changes);
}

/*
 * One damaged rectangle: a scroll inside it goes as CopyRect (libvncserver
 * sends copies before pixel data, and drops copied areas that were
 * modified since), then the tiles that differ from what the viewer has go
 * to changes. A scroll's exposed strip is text going by, not video: only
 * other changes go to seen, for the moving-area detector.
 */
static size_t apply_rect(struct vnc_session *s, struct fbdiff_image *prev,
                         const struct fbdiff_image *cur, const struct rect *r, sraRegionPtr changes,
                         struct region *seen)
{
	struct fbdiff_move m;
	struct region changed;
	const struct rect all = {0, 0, cur->width, cur->height};
	bool scrolled = false;

	if (fbdiff_find_scroll(prev, cur, r, &m)) {
		struct rect d = fbdiff_move_dest(&m);
		/* What the viewer has not got yet must be marked before the copy moves it. */
		mark_pending(s, changes);
		fbdiff_apply_move(prev, &m);
		rfbScheduleCopyRect(s->screen, d.x, d.y, d.x + d.w, d.y + d.h, 0, m.dy);
		/* JPEG pixels the copy moves are JPEG where they land (and get refreshed there). */
		sraRegionPtr moved =
		    sraRgnCreateRect(m.src.x, m.src.y, m.src.x + m.src.w, m.src.y + m.src.h);
		sraRgnAnd(moved, s->viewer_lossy);
		sraRgnOffset(moved, 0, m.dy);
		sraRegionPtr dest = sraRgnCreateRect(d.x, d.y, d.x + d.w, d.y + d.h);
		sraRgnSubtract(s->viewer_lossy, dest);
		sraRgnOr(s->viewer_lossy, moved);
		sraRgnDestroy(dest);
		sraRgnDestroy(moved);
		log_debug("scroll by %d: rows %d..%d of columns %d..%d", m.dy, d.y, d.y + d.h - 1,
		          d.x, d.x + d.w - 1);
		scrolled = true;
	}
	region_init(&changed);
	fbdiff_update_moved(prev, cur, r, scrolled ? &m : NULL, &changed, 0);
	for (size_t i = 0; i < changed.n; i++) {
		const struct rect *c = &changed.r[i];
		sraRegionPtr one = sraRgnCreateRect(c->x, c->y, c->x + c->w, c->y + c->h);
		sraRgnOr(changes, one);
		sraRgnDestroy(one);
		if (!scrolled)
			region_add(seen, c, &all, 0);
	}
	return (size_t)region_area(&changed);
}

static sraRegionPtr sra_of(const struct region *r)
{
	sraRegionPtr out = sraRgnCreate();
	for (size_t i = 0; i < r->n; i++) {
		sraRegionPtr one = sraRgnCreateRect(r->r[i].x, r->r[i].y, r->r[i].x + r->r[i].w,
		                                    r->r[i].y + r->r[i].h);
		sraRgnOr(out, one);
		sraRgnDestroy(one);
	}
	return out;
}

static sraRegionPtr take_band(struct vnc_session *s);
static sraRect bounding_box(const sraRegion *r);

/*
 * Splits a frame's changes: those in moving areas wait in held (pace()
 * sends them once nothing else waits), the rest is marked. What the viewer
 * has as JPEG outside the moving areas (an area that stopped, or JPEG
 * pixels a scroll moved) is marked too: it goes lossless.
 */
static void classify_changes(struct vnc_session *s, sraRegionPtr changes, const struct region *seen)
{
	struct region moving, settled; /* settled unused: viewer_lossy covers it, moves too */

	if (!s->moving) {
		mark_pending(s, changes);
		return;
	}
	uint64_t now = now_ms();
	if (now - s->input_ms < ANSWER_HOLD_MS) {
		video_detect_touch(s->moving, seen, now);
		video_detect_classify(s->moving, now, &moving, &settled);
	} else {
		video_detect_frame(s->moving, seen, now, &moving, &settled);
	}
	s->moving_checked_ms = now;
	s->area_moving = moving.n > 0;
	sraRegionPtr in_motion = sra_of(&moving);
	sraRegionPtr part = sraRgnCreateRgn(changes);
	sraRgnAnd(part, in_motion);
	sraRgnOr(s->held, part);
	sraRgnSubtract(changes, in_motion);
	/* Held pixels of areas no longer moving go with the rest. */
	sraRgnMakeEmpty(part);
	sraRgnOr(part, s->held);
	sraRgnSubtract(part, in_motion);
	sraRgnOr(changes, part);
	sraRgnAnd(s->held, in_motion);
	if (sraRgnEmpty(s->held))
		s->held_since_ms = 0;
	else if (!s->held_since_ms)
		s->held_since_ms = now;
	else if (now - s->held_since_ms >= HELD_MAX_MS) {
		sraRegionPtr band = take_band(s);
		sraRgnOr(changes, band);
		sraRgnDestroy(band);
		s->held_since_ms = sraRgnEmpty(s->held) ? 0 : now;
	}
	sraRegionPtr stale = sraRgnCreateRgn(s->viewer_lossy);
	sraRgnSubtract(stale, in_motion);
	if (!sraRgnEmpty(stale)) {
		sraRect e = bounding_box(stale);
		log_debug("JPEG pixels within %d,%d %dx%d no longer moving: they go lossless", e.x1,
		          e.y1, e.x2 - e.x1, e.y2 - e.y1);
		sraRgnOr(changes, stale);
	}
	sraRgnDestroy(stale);
	if (!sraRgnEmpty(changes))
		rfbMarkRegionAsModified(s->screen, changes);
	sraRgnMakeEmpty(changes);
	sraRgnDestroy(part);
	sraRgnDestroy(in_motion);
}

/* While an area moves and nothing changes, it is still told the time: it may have stopped. */
static void check_moving(struct vnc_session *s)
{
	if (!s->moving || !video_detect_busy(s->moving) ||
	    now_ms() - s->moving_checked_ms < MOVING_TICK_MS)
		return;
	sraRegionPtr none = sraRgnCreate();
	struct region empty;
	region_init(&empty);
	classify_changes(s, none, &empty);
	sraRgnDestroy(none);
}

/* Rows y0 .. y1 - 1 of fb were written here, not by fbdiff. */
static void forget_rows(struct vnc_session *s, int y0, int y1)
{
	fbdiff_rows_forget(&s->rows, &(struct rect){0, y0, INT32_MAX / 2, y1 - y0});
}

/* Room for fb's row hashes; without it, the hashes are not kept. */
static void new_rows(struct vnc_session *s, uint32_t height)
{
	if (fbdiff_rows_resize(&s->rows, (int32_t)height) < 0)
		log_warn("no room for row hashes: scroll search will take longer");
}

/*
 * Draws the session's notice band over the picture again (the browser
 * paints under it), or, once its time is over, puts the picture back.
 */
static void refresh_banner(struct vnc_session *s)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(s->link);

	if (!s->banner_until || !fb)
		return;
	if (now_ms() < s->banner_until) {
		if (notice_draw(s->fb, (int)fb->width, (int)fb->height, fb->stride, s->banner,
		                &s->banner_y0, &s->banner_y1) == 0) {
			forget_rows(s, s->banner_y0, s->banner_y1);
			rfbMarkRectAsModified(s->screen, 0, s->banner_y0, (int)fb->width,
					      s->banner_y1);
		}
		return;
	}
	s->banner_until = 0;
	if (s->banner_y1 <= s->banner_y0 || (uint32_t)s->banner_y1 > fb->height)
		return;
	size_t off = (size_t)s->banner_y0 * fb->stride;
	memcpy(s->fb + off, pixlink_client_pixels(s->link) + off,
	       (size_t)(s->banner_y1 - s->banner_y0) * fb->stride);
	forget_rows(s, s->banner_y0, s->banner_y1);
	rfbMarkRectAsModified(s->screen, 0, s->banner_y0, (int)fb->width, s->banner_y1);
}

static void on_notice(struct vnc_session *s, const struct pixlink_notice *n)
{
	log_info("session notice %u: %.*s", n->code, (int)n->len, n->text);
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

/* Copies the damaged rectangles out of render's framebuffer into ours. */
static void apply_damage(struct vnc_session *s, const struct pixlink_damage *d)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(s->link);
	/* fbdiff only reads cur, which is mapped read-only. */
	struct fbdiff_image cur = {(uint8_t *)pixlink_client_pixels(s->link), fb->stride,
	                           (int32_t)fb->width, (int32_t)fb->height, NULL};
	struct fbdiff_image prev = {s->fb, fb->stride, (int32_t)fb->width, (int32_t)fb->height,
	                            &s->rows};
	int64_t damaged = 0;
	size_t changed = 0;
	sraRegionPtr changes = sraRgnCreate();
	struct region seen;

	region_init(&seen);
	for (uint16_t i = 0; i < d->nrects; i++) {
		const struct pixlink_rect *pr = &d->rects[i];
		struct rect r = {pr->x, pr->y, pr->w, pr->h};
		damaged += rect_area(&r);
		changed += apply_rect(s, &prev, &cur, &r, changes, &seen);
	}
	classify_changes(s, changes, &seen);
	sraRgnDestroy(changes);
	log_debug("damage %u: %u rectangles, %lld pixels damaged, %zu changed", d->seq, d->nrects,
	          (long long)damaged, changed);
	refresh_banner(s);
}

/* A moving-area detector for the link's picture, at the viewer's pace. */
static void new_detector(struct vnc_session *s)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(s->link);

	video_detect_destroy(s->moving);
	s->moving = video_detect_create((int32_t)fb->width, (int32_t)fb->height);
	if (s->moving)
		video_detect_set_rules(s->moving, &video_rules_paced);
}

static uint8_t *copy_framebuffer(struct vnc_session *s)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(s->link);
	uint8_t *copy = malloc(fb->size);
	if (copy)
		memcpy(copy, pixlink_client_pixels(s->link), fb->size);
	return copy;
}

/* False when there is no memory for the new size: the session cannot go on. */
static bool new_framebuffer(struct vnc_session *s)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(s->link);
	uint8_t *copy = copy_framebuffer(s);
	if (!copy) {
		log_error("no memory for a %ux%u picture", fb->width, fb->height);
		return false;
	}
	uint8_t *old = s->fb;
	s->fb = copy;
	new_rows(s, fb->height);
	rfbNewFramebuffer(s->screen, (char *)copy, (int)fb->width, (int)fb->height, 8, 3, 4);
	/* The whole picture goes again, lossless; what moved is forgotten. */
	sraRgnMakeEmpty(s->held);
	sraRgnMakeEmpty(s->viewer_lossy);
	s->held_since_ms = 0;
	s->lossy_next = false;
	s->area_moving = false;
	new_detector(s);
	s->screen->serverFormat.redShift = 16;
	s->screen->serverFormat.greenShift = 8;
	s->screen->serverFormat.blueShift = 0;
	free(old);
	pixlink_client_grant(s->link, 1);
	return true;
}

static void set_cursor(struct vnc_session *s, const struct pixlink_cursor *c)
{
	size_t n = (size_t)c->width * c->height;
	rfbCursorPtr cur = calloc(1, sizeof(*cur));
	unsigned char *rich = malloc(n * 4), *alpha = malloc(n);
	if (!cur || !rich || !alpha) {
		free(cur), free(rich), free(alpha);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		/* Premultiplied B G R A in; the screen's B G R X plus alpha out. */
		memcpy(rich + i * 4, c->pixels + i * 4, 4);
		rich[i * 4 + 3] = 0;
		alpha[i] = c->pixels[i * 4 + 3];
	}
	cur->width = c->width;
	cur->height = c->height;
	cur->xhot = c->hot_x;
	cur->yhot = c->hot_y;
	cur->richSource = rich;
	cur->alphaSource = alpha;
	cur->alphaPreMultiplied = TRUE;
	cur->mask = (unsigned char *)rfbMakeMaskFromAlphaSource(c->width, c->height, alpha);
	cur->cleanup = cur->cleanupMask = cur->cleanupRichSource = TRUE;
	rfbMakeXCursorFromRichCursor(s->screen, cur);
	cur->cleanupSource = TRUE;
	rfbSetCursor(s->screen, cur);
}

static bool handle_link(struct vnc_session *s)
{
	struct pixlink_event ev;
	int r;

	while ((r = pixlink_client_read(s->link, &ev)) > 0) {
		switch (ev.type) {
		case PIXLINK_EV_DAMAGE:
			apply_damage(s, &ev.msg->u.damage);
			break;
		case PIXLINK_EV_FRAMEBUFFER:
			if (!new_framebuffer(s))
				return false;
			refresh_banner(s);
			break;
		case PIXLINK_EV_CURSOR:
			set_cursor(s, &ev.msg->u.cursor);
			break;
		case PIXLINK_EV_CLIPBOARD:
			send_cut_text(s, &ev.msg->u.clip);
			break;
		case PIXLINK_EV_NOTICE:
			on_notice(s, &ev.msg->u.notice);
			break;
		default:
			break;
		}
	}
	if (r < 0) {
		log_warn("pixel link ended: %s", pixlink_client_error(s->link));
		snprintf(s->ended, sizeof(s->ended),
			 "ブラウザのセッションが終了しました。もう一度接続してください。\n"
			 "The browser session has ended. Please connect again.");
		return false;
	}
	return true;
}

/* The control process may end this connection (a takeover, a kill). */
static bool handle_ctl(struct vnc_session *s)
{
	uint8_t buf[CTL_MAX_MSG];
	struct ctl_msg m;
	int fd = -1;

	ssize_t n = pixlink_recv(s->w->ctl_fd, buf, sizeof(buf), &fd);
	if (fd >= 0)
		close(fd);
	if (n < 0 && errno == EAGAIN)
		return true;
	if (n > 0 && ctl_parse(buf, (size_t)n, &m) == n && m.type == CTL_KICK) {
		log_info("connection ended by the control process: %s", m.u.kick.reason);
		snprintf(s->ended, sizeof(s->ended), "この接続は終了しました。\nDisconnected: %s",
			 m.u.kick.reason);
	} else
		log_warn("control link closed or sent garbage; ending");
	return false;
}

static sraRect bounding_box(const sraRegion *r)
{
	sraRegionPtr box = sraRgnBBox(r);
	sraRect b = {0, 0, 0, 0};
	sraRectangleIterator *it = sraRgnGetIterator(box);
	if (it) {
		sraRgnIteratorNext(it, &b);
		sraRgnReleaseIterator(it);
	}
	sraRgnDestroy(box);
	return b;
}

/*
 * Takes the next band of the held moving areas out of held: rows from
 * band_y down (from the top again past the bottom), about BAND_PIXELS,
 * so that every part of the area gets its turn.
 */
static sraRegionPtr take_band(struct vnc_session *s)
{
	sraRect all = bounding_box(s->held);
	int rows = MAX(BAND_ROWS_MIN, BAND_PIXELS / MAX(all.x2 - all.x1, 1));
	int y = s->band_y;

	sraRegionPtr below = sraRgnCreateRect(all.x1, MAX(y, all.y1), all.x2, all.y2);
	sraRgnAnd(below, s->held);
	y = sraRgnEmpty(below) ? all.y1 : bounding_box(below).y1;
	sraRgnDestroy(below);
	sraRegionPtr band = sraRgnCreateRect(all.x1, y, all.x2, y + rows);
	sraRgnAnd(band, s->held);
	sraRgnSubtract(s->held, band);
	s->band_y = y + rows;
	return band;
}

/*
 * Frames are paced by the viewer: render may send the next damage only
 * when the viewer has asked for an update and everything before was sent.
 * Meanwhile render coalesces, so a viewer behind a slow link gets the
 * newest picture (a scroll of many small steps as one CopyRect) instead of
 * every intermediate one.
 *
 * Moving areas go last: an update of their own follows the one with
 * everything else, so the answer to a key press does not wait behind a
 * video's pixels, and only they may go as JPEG. True when it marked them:
 * an update is due now.
 */
static bool pace(struct vnc_session *s)
{
	rfbClientPtr cl = s->screen->clientHead;

	if (!cl || !s->link || !pixlink_client_fb(s->link))
		return false;
	/* What waits to be sent where the viewer looks (it may ask for a part only). */
	bool asked = !sraRgnEmpty(cl->requestedRegion);
	sraRegionPtr waiting = sraRgnCreateRgn(cl->modifiedRegion);
	sraRgnOr(waiting, cl->copyRegion);
	sraRgnAnd(waiting, cl->requestedRegion);
	bool busy = !sraRgnEmpty(waiting);
	sraRgnDestroy(waiting);
	if (s->answer_due_ms && now_ms() - s->answer_due_ms >= ANSWER_HOLD_MS)
		s->answer_due_ms = 0;
	if (asked && !busy && !sraRgnEmpty(s->held) && !s->answer_due_ms) {
		sraRegionPtr band = take_band(s);
		s->held_since_ms = sraRgnEmpty(s->held) ? 0 : now_ms();
		sraRgnMakeEmpty(s->lossy_region);
		sraRgnOr(s->lossy_region, band);
		rfbMarkRegionAsModified(s->screen, band);
		sraRgnDestroy(band);
		s->lossy_next = true;
		return true;
	}
	/*
	 * While an area moves, render captures at its own pace, not the
	 * viewer's: a key's answer is then captured as soon as it is drawn and
	 * goes at the next request, ahead of the held moving area, and the
	 * detector sees every capture. A blinking caret (a tile or two) does
	 * not count: a scroll then still coalesces into one CopyRect.
	 */
	if (pixlink_client_credit(s->link) > 0 || (!s->area_moving && (!asked || busy)))
		return false;
	if (pixlink_client_grant(s->link, 1) < 0 && errno != EAGAIN)
		log_warn("pixel link: cannot grant credit: %s", strerror(errno));
	return false;
}

/*
 * The session ended under the viewer: says why over its picture, and
 * serves its update requests a little longer so that it sees it.
 */
static void show_ended(struct vnc_session *s)
{
	int y0, y1;

	if (!s->ended[0] || !s->screen->clientHead)
		return;
	if (notice_draw(s->fb, s->screen->width, s->screen->height,
			(size_t)s->screen->paddedWidthInBytes, s->ended, &y0, &y1) < 0)
		return;
	forget_rows(s, y0, y1);
	rfbMarkRectAsModified(s->screen, 0, y0, s->screen->width, y1);
	uint64_t end = now_ms() + NOTICE_HOLD_MS;
	while (s->screen->clientHead && now_ms() < end) {
		struct pollfd p = { .fd = s->stop_pipe[0], .events = POLLIN };
		if (poll(&p, 1, 50) > 0)
			break;
		while (rfbProcessEvents(s->screen, 0))
			;
	}
}

static void *session_thread(void *arg)
{
	struct vnc_session *s = arg;
	bool running = true;

	while (running && s->screen->clientHead) {
		struct pollfd p[4] = {
		    {.fd = s->link ? pixlink_client_fd(s->link) : -1, .events = POLLIN},
		    {.fd = s->w->ctl_fd, .events = POLLIN},
		    {.fd = s->lvs_fd, .events = POLLIN},
		    {.fd = s->stop_pipe[0], .events = POLLIN},
		};
		bool moving = s->moving && video_detect_busy(s->moving);
		if (poll(p, 4, moving ? MOVING_TICK_MS : 1000) < 0 && errno != EINTR)
			break;
		/*
		 * The control process first: after a takeover it kicks this worker
		 * before the new one asks render to resync, so the link may already
		 * hold the new reader's answer; a kicked worker must not take it.
		 */
		if (p[1].revents && !handle_ctl(s))
			running = false;
		else if (p[0].revents && !handle_link(s))
			running = false;
		if (p[3].revents || (s->notice_until && now_ms() >= s->notice_until))
			running = false;
		if (s->banner_until && now_ms() >= s->banner_until)
			refresh_banner(s);
		check_moving(s);
		/* Reads the viewer's messages, sends updates it asked for. */
		do {
			while (rfbProcessEvents(s->screen, 0))
				;
		} while (running && pace(s));
	}
	show_ended(s);
	rfbShutdownServer(s->screen, TRUE);
	return NULL;
}

static int wait_first_frame(struct vnc_session *s)
{
	uint64_t end = now_ms() + FIRST_FRAME_TIMEOUT_MS;
	struct pixlink_event ev;

	while (!pixlink_client_fb(s->link)) {
		int left = (int)(end > now_ms() ? end - now_ms() : 0);
		struct pollfd p = {.fd = pixlink_client_fd(s->link), .events = POLLIN};
		if (left == 0 || poll(&p, 1, left) <= 0)
			return -1;
		int r;
		while ((r = pixlink_client_read(s->link, &ev)) > 0)
			;
		if (r < 0)
			return -1;
	}
	return 0;
}

/* Tight's JPEG at TigerVNC's level 0..9 for the next update; -1: lossless. */
static void set_jpeg(rfbClientPtr cl, int level)
{
	cl->tightQualityLevel = level;
	cl->turboQualityLevel = level < 0 ? -1 : jpeg_quality[level];
	if (level >= 0)
		cl->turboSubsampLevel = jpeg_subsampling[level];
}

/*
 * libvncserver starts a framebuffer update: encoding time starts. Only an
 * update of held moving areas and nothing else may go as JPEG, and only
 * to a viewer that asked for JPEG and uses Tight.
 */
static void on_update_start(rfbClientPtr cl)
{
	struct vnc_session *s = cl->screen->screenData;
	bool lossy = false;

	s->update_start_us = now_us();
	/* A viewer that does not draw the cursor itself gets it drawn into the update. */
	if (s->lossy_next && s->viewer_quality >= 0 && cl->preferredEncoding == rfbEncodingTight &&
	    cl->enableCursorShapeUpdates) {
		sraRegionPtr other = sraRgnCreateRgn(cl->modifiedRegion);
		sraRgnSubtract(other, s->lossy_region);
		lossy = sraRgnEmpty(other);
		sraRgnDestroy(other);
	}
	s->lossy_next = false;
	sraRegionPtr sent = sraRgnCreateRgn(cl->modifiedRegion);
	sraRgnAnd(sent, cl->requestedRegion);
	if (lossy)
		sraRgnOr(s->viewer_lossy, sent);
	else
		sraRgnSubtract(s->viewer_lossy, sent);
	sraRgnDestroy(sent);
	if (!lossy && !sraRgnEmpty(cl->modifiedRegion))
		s->answer_due_ms = 0; /* something other than the moving area goes: the answer */
	set_jpeg(cl, lossy ? MIN(s->viewer_quality, MOVING_JPEG_LEVEL) : -1);
	s->updates++;
	s->lossy_updates += lossy;
}

/* The update was encoded and written to the relay: a frame for the counters. */
static void on_update_done(rfbClientPtr cl, int result)
{
	struct vnc_session *s = cl->screen->screenData;
	if (result && s->update_start_us)
		worker_stats_frame(s->w, now_us() - s->update_start_us);
	s->update_start_us = 0;
	set_jpeg(cl, -1);
}

/*
 * Pixels stay exact but for moving areas: TigerVNC's viewer asks for JPEG
 * (quality 6) on a slow link, and libvncserver's Tight would then blur
 * text and page chrome and leave them so. The level it asked for is kept
 * for moving areas (on_update_start). Called when an update request comes,
 * after any SetEncodings the viewer sent before it; between updates the
 * level is always -1, so another value is the viewer's own. A viewer that
 * later sends SetEncodings without a level keeps the one it gave.
 */
static void keep_lossless(rfbClientPtr cl, rfbFramebufferUpdateRequestMsg *req)
{
	struct vnc_session *s = cl->screen->screenData;

	(void)req;
	if (cl->tightQualityLevel >= 0 && cl->tightQualityLevel <= 9)
		s->viewer_quality = cl->tightQualityLevel;
	set_jpeg(cl, -1);
}

/* libvncserver's screen over s->fb (width x height, B G R X) and its one client. */
static int make_screen(struct vnc_session *s, int width, int height)
{
	int argc = 0;

	if (!s->fb)
		return -1;
	s->screen = rfbGetScreen(&argc, NULL, width, height, 8, 3, 4);
	if (!s->screen)
		return -1;
	rfbScreenInfoPtr sc = s->screen;
	sc->frameBuffer = (char *)s->fb;
	sc->serverFormat.redShift = 16;
	sc->serverFormat.greenShift = 8;
	sc->serverFormat.blueShift = 0;
	sc->desktopName = "shoji";
	sc->screenData = s;
	sc->port = 0; /* no listening socket: one client, our socketpair */
	sc->ipv6port = 0;
	sc->httpPort = 0;
	sc->autoPort = FALSE;
	sc->alwaysShared = TRUE;
	sc->deferUpdateTime = 0; /* we poll; a deferred update would wait a whole poll */
	sc->kbdAddEvent = on_key;
	sc->ptrAddEvent = on_pointer;
	sc->setDesktopSizeHook = on_set_desktop_size;
	sc->setXCutText = on_cut_text;
	sc->setXCutTextUTF8 = on_cut_text_utf8;
	sc->displayHook = on_update_start;
	sc->displayFinishedHook = on_update_done;
	sc->permitFileTransfer = FALSE;
	rfbInitServer(sc);
	rfbClientPtr cl = rfbNewClient(sc, s->lvs_fd);
	if (!cl)
		return -1;
	cl->clientFramebufferUpdateRequestHook = keep_lossless;
	return 0;
}

struct vnc_session *vnc_session_start(struct worker *w, int link_fd, int *fd)
{
	struct vnc_session *s = xcalloc(1, sizeof(*s));
	int sv[2] = {-1, -1};

	s->w = w;
	s->lvs_fd = -1;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	s->viewer_quality = -1;
	s->held = sraRgnCreate();
	s->lossy_region = sraRgnCreate();
	s->viewer_lossy = sraRgnCreate();
	rfbLogEnable(shoji_log_get_level() >= SHOJI_LOG_DEBUG);
	s->link = pixlink_client_create(link_fd, (uint32_t)w->cfg->display_max_width,
	                                (uint32_t)w->cfg->display_max_height);
	if (!s->link || pixlink_client_resync(s->link) < 0 || wait_first_frame(s) < 0) {
		log_error("the session did not send a picture: %s",
		          s->link ? pixlink_client_error(s->link) : strerror(errno));
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(s->stop_pipe, O_CLOEXEC) < 0)
		goto fail;
	s->lvs_fd = sv[0];
	s->fb = copy_framebuffer(s);
	if (RAND_bytes((unsigned char *)&s->rows.seed, sizeof(s->rows.seed)) != 1)
		goto fail;
	new_rows(s, pixlink_client_fb(s->link)->height);
	if (make_screen(s, (int)pixlink_client_fb(s->link)->width,
	                (int)pixlink_client_fb(s->link)->height) < 0)
		goto fail;
	new_detector(s);
	/* The first credit: render answers with the whole screen. */
	pixlink_client_grant(s->link, 1);
	set_nonblock(w->ctl_fd, true);
	if (pthread_create(&s->thread, NULL, session_thread, s) != 0)
		goto fail;
	s->thread_started = true;
	*fd = sv[1];
	return s;
fail:
	if (sv[1] >= 0)
		close(sv[1]);
	vnc_session_stop(s);
	return NULL;
}

struct vnc_session *vnc_notice_start(struct worker *w, const char *reason, int *fd)
{
	struct vnc_session *s = xcalloc(1, sizeof(*s));
	int sv[2] = {-1, -1};
	size_t stride;

	s->w = w;
	s->lvs_fd = -1;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	s->notice_until = now_ms() + REFUSAL_SHOW_MS;
	s->viewer_quality = -1;
	s->held = sraRgnCreate();
	s->lossy_region = sraRgnCreate();
	s->viewer_lossy = sraRgnCreate();
	rfbLogEnable(shoji_log_get_level() >= SHOJI_LOG_DEBUG);
	s->fb = refusal_render(reason, REFUSAL_WIDTH, REFUSAL_HEIGHT, &stride);
	if (!s->fb || stride != REFUSAL_WIDTH * 4)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(s->stop_pipe, O_CLOEXEC) < 0)
		goto fail;
	s->lvs_fd = sv[0];
	if (make_screen(s, REFUSAL_WIDTH, REFUSAL_HEIGHT) < 0)
		goto fail;
	set_nonblock(w->ctl_fd, true);
	if (pthread_create(&s->thread, NULL, session_thread, s) != 0)
		goto fail;
	s->thread_started = true;
	*fd = sv[1];
	return s;
fail:
	if (sv[1] >= 0)
		close(sv[1]);
	vnc_session_stop(s);
	return NULL;
}

void vnc_session_stop(struct vnc_session *s)
{
	if (!s)
		return;
	if (s->thread_started) {
		if (write(s->stop_pipe[1], "x", 1) < 0)
			log_debug("stop pipe: %s", strerror(errno));
		pthread_join(s->thread, NULL);
	}
	if (s->screen) {
		s->screen->frameBuffer = NULL;
		rfbScreenCleanup(s->screen);
	}
	if (s->updates)
		log_info("%llu updates sent, %llu of them moving areas as JPEG",
		         (unsigned long long)s->updates, (unsigned long long)s->lossy_updates);
	free(s->fb);
	fbdiff_rows_free(&s->rows);
	video_detect_destroy(s->moving);
	if (s->held)
		sraRgnDestroy(s->held);
	if (s->lossy_region)
		sraRgnDestroy(s->lossy_region);
	if (s->viewer_lossy)
		sraRgnDestroy(s->viewer_lossy);
	pixlink_client_destroy(s->link);
	if (s->stop_pipe[0] >= 0)
		close(s->stop_pipe[0]);
	if (s->stop_pipe[1] >= 0)
		close(s->stop_pipe[1]);
	free(s);
}
