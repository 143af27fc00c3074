/*
 * Damage-driven capture into a sealed memfd (see capture.h). The memfd is
 * attached to the X server with MIT-SHM's AttachFd; xcb_shm_get_image then
 * writes full-width bands of rows straight into it at their final offset,
 * so the pixels are copied once, by the X server. No untrusted input: the
 * X server is the session's own.
 */
#include "autoconfig.h"

#include <X11/Xlib-xcb.h>
#include <X11/extensions/Xdamage.h>
#include <X11/extensions/Xfixes.h>
#include <X11/extensions/Xrandr.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xcb/shm.h>

#include "capture.h"
#include "log.h"
#include "util.h"

/* Merge damaged rectangles when that costs at most this many extra pixels. */
#define MERGE_SLACK (64 * 64)

struct capture {
	Display *dpy;
	xcb_connection_t *xcb;
	Window root;
	int damage_event;
	Damage damage;
	XserverRegion scratch;

	struct pixlink_framebuffer fb;
	int fb_fd;
	uint8_t *fb_map;
	xcb_shm_seg_t seg;
	bool seg_attached;

	struct region pending;
};

static void detach_framebuffer(struct capture *c)
{
	if (c->seg_attached) {
		xcb_shm_detach(c->xcb, c->seg);
		c->seg_attached = false;
	}
	if (c->fb_map)
		munmap(c->fb_map, c->fb.size);
	if (c->fb_fd >= 0)
		close(c->fb_fd);
	c->fb_map = NULL;
	c->fb_fd = -1;
}

/* Makes a framebuffer of the given size and attaches it to the X server. */
static int attach_framebuffer(struct capture *c, uint32_t width, uint32_t height)
{
	size_t stride, size;

	if (!ckd_mul_size(&stride, width, 4) || !ckd_mul_size(&size, stride, height))
		return -1;
	int fd = pixlink_fb_create(size);
	if (fd < 0) {
		log_error("cannot create a %zu-byte framebuffer: %s", size, strerror(errno));
		return -1;
	}
	uint8_t *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return -1;
	}
	/* xcb_shm_attach_fd closes the descriptor it sends: give it a copy. */
	int xfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	xcb_shm_seg_t seg = xcb_generate_id(c->xcb);
	xcb_void_cookie_t ck = xcb_shm_attach_fd_checked(c->xcb, seg, xfd, 0);
	xcb_generic_error_t *err = xcb_request_check(c->xcb, ck);
	if (xfd < 0 || err) {
		log_error("the X server refused the framebuffer (MIT-SHM AttachFd)");
		free(err);
		munmap(map, size);
		close(fd);
		return -1;
	}
	detach_framebuffer(c);
	c->seg = seg;
	c->seg_attached = true;
	c->fb_fd = fd;
	c->fb_map = map;
	c->fb.generation++;
	c->fb.width = width;
	c->fb.height = height;
	c->fb.stride = (uint32_t)stride;
	c->fb.format = PIXLINK_FORMAT_BGRX8888;
	c->fb.size = size;
	return 0;
}

/* The root window's size as the server has it now (Xlib's cache lags RandR). */
static void root_size(const struct capture *c, int *w, int *h)
{
	Window root;
	int x, y;
	unsigned width = 0, height = 0, border, depth;

	XGetGeometry(c->dpy, c->root, &root, &x, &y, &width, &height, &border, &depth);
	*w = (int)width;
	*h = (int)height;
}

struct capture *capture_create(Display *dpy)
{
	int ev, err, major, minor;

	if (!XDamageQueryExtension(dpy, &ev, &err) || !XFixesQueryExtension(dpy, &major, &minor)) {
		log_error("the X server lacks DAMAGE or XFIXES");
		return NULL;
	}
	struct capture *c = xcalloc(1, sizeof(*c));
	c->dpy = dpy;
	c->xcb = XGetXCBConnection(dpy);
	c->root = DefaultRootWindow(dpy);
	c->damage_event = ev + XDamageNotify;
	c->fb_fd = -1;
	region_init(&c->pending);
	const xcb_query_extension_reply_t *shm = xcb_get_extension_data(c->xcb, &xcb_shm_id);
	if (!shm || !shm->present) {
		log_error("the X server lacks MIT-SHM");
		goto fail;
	}
	int w, h;
	root_size(c, &w, &h);
	if (attach_framebuffer(c, (uint32_t)w, (uint32_t)h) < 0)
		goto fail;
	c->damage = XDamageCreate(dpy, c->root, XDamageReportNonEmpty);
	c->scratch = XFixesCreateRegion(dpy, NULL, 0);
	capture_damage_all(c);
	return c;
fail:
	free(c);
	return NULL;
}

void capture_destroy(struct capture *c)
{
	if (!c)
		return;
	detach_framebuffer(c);
	free(c);
}

static struct rect screen_bounds(const struct capture *c)
{
	return (struct rect){ 0, 0, (int32_t)c->fb.width, (int32_t)c->fb.height };
}

bool capture_handle_event(struct capture *c, const XEvent *ev)
{
	if (ev->type != c->damage_event)
		return false;
	/* Move everything damaged so far into our region; X starts afresh. */
	XDamageSubtract(c->dpy, c->damage, None, c->scratch);
	int n = 0;
	XRectangle *rects = XFixesFetchRegion(c->dpy, c->scratch, &n);
	struct rect bounds = screen_bounds(c);
	for (int i = 0; i < n; i++) {
		struct rect r = { rects[i].x, rects[i].y, rects[i].width, rects[i].height };
		region_add(&c->pending, &r, &bounds, MERGE_SLACK);
	}
	if (rects)
		XFree(rects);
	return true;
}

bool capture_pending(const struct capture *c)
{
	return c->pending.n > 0;
}

void capture_damage_all(struct capture *c)
{
	struct rect all = screen_bounds(c);
	region_init(&c->pending);
	region_add(&c->pending, &all, &all, 0);
}

static int cmp_rect_y(const void *a, const void *b)
{
	const struct rect *ra = a, *rb = b;
	return ra->y < rb->y ? -1 : ra->y > rb->y;
}

/* Fetches rows [y, y+h) of the screen into the framebuffer. */
static int grab_band(struct capture *c, int32_t y, int32_t h)
{
	xcb_shm_get_image_cookie_t ck = xcb_shm_get_image(
		c->xcb, c->root, 0, (int16_t)y, (uint16_t)c->fb.width, (uint16_t)h, ~0u,
		XCB_IMAGE_FORMAT_Z_PIXMAP, c->seg, (uint32_t)y * c->fb.stride);
	xcb_generic_error_t *err = NULL;
	xcb_shm_get_image_reply_t *reply = xcb_shm_get_image_reply(c->xcb, ck, &err);
	free(reply);
	if (err) {
		log_error("MIT-SHM GetImage failed (X error %d)", err->error_code);
		free(err);
		return -1;
	}
	return 0;
}

int capture_grab(struct capture *c, struct pixlink_damage *out)
{
	struct rect rs[REGION_MAX_RECTS];
	size_t n = c->pending.n;

	memcpy(rs, c->pending.r, n * sizeof(rs[0]));
	region_init(&c->pending);
	qsort(rs, n, sizeof(rs[0]), cmp_rect_y);
	/* Grab the union of the rectangles' row ranges, band by band. */
	int32_t top = -1, bottom = -1;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && top >= 0 && rs[i].y <= bottom) {
			bottom = MAX(bottom, rs[i].y + rs[i].h);
			continue;
		}
		if (top >= 0 && grab_band(c, top, bottom - top) < 0)
			return -1;
		if (i < n) {
			top = rs[i].y;
			bottom = rs[i].y + rs[i].h;
		}
	}
	out->generation = c->fb.generation;
	out->nrects = (uint16_t)MIN(n, (size_t)PIXLINK_MAX_RECTS);
	for (size_t i = 0; i < out->nrects; i++)
		out->rects[i] = (struct pixlink_rect){ (uint16_t)rs[i].x, (uint16_t)rs[i].y,
						       (uint16_t)rs[i].w, (uint16_t)rs[i].h };
	return 0;
}

const struct pixlink_framebuffer *capture_framebuffer(const struct capture *c)
{
	return &c->fb;
}

int capture_framebuffer_fd(const struct capture *c)
{
	return c->fb_fd;
}

/* Finds or creates a RandR mode of exactly width x height. */
static RRMode find_or_create_mode(Display *dpy, Window root, XRRScreenResources *res,
				  uint16_t width, uint16_t height)
{
	for (int i = 0; i < res->nmode; i++)
		if (res->modes[i].width == width && res->modes[i].height == height)
			return res->modes[i].id;
	char name[32];
	XRRModeInfo info = { 0 };
	snprintf(name, sizeof(name), "%ux%u", width, height);
	info.width = width;
	info.height = height;
	info.name = name;
	info.nameLength = (unsigned)strlen(name);
	info.hTotal = width;
	info.vTotal = height;
	info.dotClock = (unsigned long)width * height * 60;
	return XRRCreateMode(dpy, root, &info);
}

/* Resizes the screen: output off, screen size, mode on at the new size. */
static void randr_resize(Display *dpy, Window root, uint16_t width, uint16_t height)
{
	XRRScreenResources *res = XRRGetScreenResources(dpy, root);
	if (!res)
		return;
	RROutput output = res->noutput > 0 ? res->outputs[0] : None;
	RRCrtc crtc = res->ncrtc > 0 ? res->crtcs[0] : None;
	if (crtc)
		XRRSetCrtcConfig(dpy, res, crtc, CurrentTime, 0, 0, None, RR_Rotate_0, NULL, 0);
	int mm_w = width * 254 / 960, mm_h = height * 254 / 960; /* 96 dpi */
	XRRSetScreenSize(dpy, root, width, height, mm_w, mm_h);
	if (crtc && output) {
		RRMode mode = find_or_create_mode(dpy, root, res, width, height);
		XRRAddOutputMode(dpy, output, mode);
		XRRSetCrtcConfig(dpy, res, crtc, CurrentTime, 0, 0, mode, RR_Rotate_0, &output, 1);
	}
	XRRFreeScreenResources(res);
}

int capture_resize(struct capture *c, uint16_t width, uint16_t height)
{
	if (width == c->fb.width && height == c->fb.height)
		return 0;
	XGrabServer(c->dpy);
	randr_resize(c->dpy, c->root, width, height);
	XUngrabServer(c->dpy);
	XSync(c->dpy, False);
	int w, h;
	root_size(c, &w, &h);
	if (w != width || h != height) {
		log_warn("the X server did not take %ux%u (it is %dx%d)", width, height, w, h);
		if (w == (int)c->fb.width && h == (int)c->fb.height)
			return -1;
	}
	if (attach_framebuffer(c, (uint32_t)w, (uint32_t)h) < 0)
		return -1;
	capture_damage_all(c);
	log_info("screen resized to %dx%d", w, h);
	return 0;
}
