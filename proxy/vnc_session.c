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
#include "vnc_session.h"
#include "worker.h"

#define FIRST_FRAME_TIMEOUT_MS 15000
#define NOTICE_HOLD_MS 3000 /* the end-of-session notice is shown this long before closing */
#define BANNER_MS 6000      /* a notice from the session (browser restarted) is shown this long */

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
};

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
}

static void wheel(struct vnc_session *s, int mask, int bit, int dx, int dy)
{
	if ((mask & bit) && !(s->last_mask & bit)) {
		struct pixlink_msg m = {.type = PIXLINK_WHEEL};
		m.u.wheel = (struct pixlink_wheel){(int16_t)dx, (int16_t)dy};
		send_input(s, &m);
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

/*
 * One damaged rectangle: a scroll inside it goes as CopyRect (libvncserver
 * sends copies before pixel data, and drops copied areas that were
 * modified since), then only the tiles that differ from what the viewer
 * has are marked.
 */
static size_t apply_rect(struct vnc_session *s, struct fbdiff_image *prev,
                         const struct fbdiff_image *cur, const struct rect *r)
{
	struct fbdiff_move m;
	struct region changed;

	if (fbdiff_find_scroll(prev, cur, r, &m)) {
		struct rect d = fbdiff_move_dest(&m);
		fbdiff_apply_move(prev, &m);
		rfbScheduleCopyRect(s->screen, d.x, d.y, d.x + d.w, d.y + d.h, 0, m.dy);
		log_debug("scroll by %d: rows %d..%d of columns %d..%d", m.dy, d.y, d.y + d.h - 1,
		          d.x, d.x + d.w - 1);
	}
	region_init(&changed);
	fbdiff_update(prev, cur, r, &changed, 0);
	for (size_t i = 0; i < changed.n; i++) {
		const struct rect *c = &changed.r[i];
		rfbMarkRectAsModified(s->screen, c->x, c->y, c->x + c->w, c->y + c->h);
	}
	return (size_t)region_area(&changed);
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
				&s->banner_y0, &s->banner_y1) == 0)
			rfbMarkRectAsModified(s->screen, 0, s->banner_y0, (int)fb->width,
					      s->banner_y1);
		return;
	}
	s->banner_until = 0;
	if (s->banner_y1 <= s->banner_y0 || (uint32_t)s->banner_y1 > fb->height)
		return;
	size_t off = (size_t)s->banner_y0 * fb->stride;
	memcpy(s->fb + off, pixlink_client_pixels(s->link) + off,
	       (size_t)(s->banner_y1 - s->banner_y0) * fb->stride);
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
	                           (int32_t)fb->width, (int32_t)fb->height};
	struct fbdiff_image prev = {s->fb, fb->stride, (int32_t)fb->width, (int32_t)fb->height};
	int64_t damaged = 0;
	size_t changed = 0;

	for (uint16_t i = 0; i < d->nrects; i++) {
		const struct pixlink_rect *pr = &d->rects[i];
		struct rect r = {pr->x, pr->y, pr->w, pr->h};
		damaged += rect_area(&r);
		changed += apply_rect(s, &prev, &cur, &r);
	}
	log_debug("damage %u: %u rectangles, %lld pixels damaged, %zu changed", d->seq, d->nrects,
	          (long long)damaged, changed);
	refresh_banner(s);
}

static uint8_t *copy_framebuffer(struct vnc_session *s)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(s->link);
	uint8_t *copy = malloc(fb->size);
	if (copy)
		memcpy(copy, pixlink_client_pixels(s->link), fb->size);
	return copy;
}

static void new_framebuffer(struct vnc_session *s)
{
	const struct pixlink_framebuffer *fb = pixlink_client_fb(s->link);
	uint8_t *copy = copy_framebuffer(s);
	if (!copy)
		return;
	uint8_t *old = s->fb;
	s->fb = copy;
	rfbNewFramebuffer(s->screen, (char *)copy, (int)fb->width, (int)fb->height, 8, 3, 4);
	s->screen->serverFormat.redShift = 16;
	s->screen->serverFormat.greenShift = 8;
	s->screen->serverFormat.blueShift = 0;
	free(old);
	pixlink_client_grant(s->link, 1);
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
			new_framebuffer(s);
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

/*
 * Frames are paced by the viewer: render may send the next damage only
 * when the viewer has asked for an update and everything before was sent.
 * Meanwhile render coalesces, so a viewer behind a slow link gets the
 * newest picture (a scroll of many small steps as one CopyRect) instead of
 * every intermediate one.
 */
static void pace(struct vnc_session *s)
{
	rfbClientPtr cl = s->screen->clientHead;

	if (!cl || !s->link || pixlink_client_credit(s->link) > 0 || !pixlink_client_fb(s->link))
		return;
	if (sraRgnEmpty(cl->requestedRegion))
		return;
	/* What waits to be sent where the viewer looks (it may ask for a part only). */
	sraRegionPtr waiting = sraRgnCreateRgn(cl->modifiedRegion);
	sraRgnOr(waiting, cl->copyRegion);
	sraRgnAnd(waiting, cl->requestedRegion);
	bool busy = !sraRgnEmpty(waiting);
	sraRgnDestroy(waiting);
	if (busy)
		return;
	if (pixlink_client_grant(s->link, 1) < 0 && errno != EAGAIN)
		log_warn("pixel link: cannot grant credit: %s", strerror(errno));
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
		if (poll(p, 4, 1000) < 0 && errno != EINTR)
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
		/* Reads the viewer's messages, sends updates it asked for. */
		while (rfbProcessEvents(s->screen, 0))
			;
		if (running)
			pace(s);
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

/* libvncserver starts a framebuffer update: encoding time starts. */
static void on_update_start(rfbClientPtr cl)
{
	struct vnc_session *s = cl->screen->screenData;
	s->update_start_us = now_us();
}

/* The update was encoded and written to the relay: a frame for the counters. */
static void on_update_done(rfbClientPtr cl, int result)
{
	struct vnc_session *s = cl->screen->screenData;
	if (result && s->update_start_us)
		worker_stats_frame(s->w, now_us() - s->update_start_us);
	s->update_start_us = 0;
}

/*
 * Pixels stay exact: TigerVNC's viewer asks for JPEG (quality 6) on a slow
 * link, and libvncserver's Tight would then blur text and page chrome and
 * leave them so. Called before each update is sent, after any SetEncodings
 * the viewer sent before it.
 */
static void keep_lossless(rfbClientPtr cl, rfbFramebufferUpdateRequestMsg *req)
{
	(void)req;
	cl->tightQualityLevel = -1;
	cl->turboQualityLevel = -1;
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
	if (make_screen(s, (int)pixlink_client_fb(s->link)->width,
	                (int)pixlink_client_fb(s->link)->height) < 0)
		goto fail;
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
	free(s->fb);
	pixlink_client_destroy(s->link);
	if (s->stop_pipe[0] >= 0)
		close(s->stop_pipe[0]);
	if (s->stop_pipe[1] >= 0)
		close(s->stop_pipe[1]);
	free(s);
}
