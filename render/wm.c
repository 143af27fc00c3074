/*
 * Window management (see wm.h). Main windows (top-level, not transient for
 * another) are placed at 0,0 at the screen's size; transient windows keep
 * their size, shrunk to fit, and are moved inside the screen. The newest
 * mapped main window gets the input focus.
 */
#include "autoconfig.h"

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <stdlib.h>

#include "log.h"
#include "util.h"
#include "wm.h"

struct wm {
	Display *dpy;
	Window root;
};

static bool wm_refused;

static int on_select_error(Display *dpy, XErrorEvent *e)
{
	(void)dpy;
	if (e->error_code == BadAccess)
		wm_refused = true;
	return 0;
}

struct wm *wm_create(Display *dpy)
{
	Window root = DefaultRootWindow(dpy);
	int (*old)(Display *, XErrorEvent *) = XSetErrorHandler(on_select_error);

	wm_refused = false;
	XSelectInput(dpy, root, SubstructureRedirectMask | SubstructureNotifyMask |
					StructureNotifyMask);
	XSync(dpy, False);
	XSetErrorHandler(old);
	if (wm_refused) {
		log_error("another window manager runs on this display");
		return NULL;
	}
	struct wm *wm = xcalloc(1, sizeof(*wm));
	wm->dpy = dpy;
	wm->root = root;
	return wm;
}

void wm_destroy(struct wm *wm)
{
	free(wm);
}

static void screen_size(struct wm *wm, int *w, int *h)
{
	Window r;
	int x, y;
	unsigned width, height, bw, depth;

	XGetGeometry(wm->dpy, wm->root, &r, &x, &y, &width, &height, &bw, &depth);
	*w = (int)width;
	*h = (int)height;
}

static bool is_main_window(struct wm *wm, Window w)
{
	Window owner = None;
	return !XGetTransientForHint(wm->dpy, w, &owner) || owner == None ||
	       owner == wm->root;
}

/* The geometry window w should have, given the one it asks for. */
static void fit(struct wm *wm, Window w, int *x, int *y, int *width, int *height)
{
	int sw, sh;

	screen_size(wm, &sw, &sh);
	if (is_main_window(wm, w)) {
		*x = 0;
		*y = 0;
		*width = sw;
		*height = sh;
		return;
	}
	*width = MAX(1, MIN(*width, sw));
	*height = MAX(1, MIN(*height, sh));
	*x = MAX(0, MIN(*x, sw - *width));
	*y = MAX(0, MIN(*y, sh - *height));
}

static void place(struct wm *wm, Window w, int x, int y, int width, int height)
{
	fit(wm, w, &x, &y, &width, &height);
	XWindowChanges ch = { .x = x, .y = y, .width = width, .height = height, .border_width = 0 };
	XConfigureWindow(wm->dpy, w, CWX | CWY | CWWidth | CWHeight | CWBorderWidth, &ch);
}

static void on_map_request(struct wm *wm, const XMapRequestEvent *e)
{
	XWindowAttributes a;

	if (!XGetWindowAttributes(wm->dpy, e->window, &a))
		return;
	place(wm, e->window, a.x, a.y, a.width, a.height);
	XMapRaised(wm->dpy, e->window);
	if (is_main_window(wm, e->window))
		XSetInputFocus(wm->dpy, e->window, RevertToPointerRoot, CurrentTime);
}

static void on_configure_request(struct wm *wm, const XConfigureRequestEvent *e)
{
	XWindowAttributes a;

	if (!XGetWindowAttributes(wm->dpy, e->window, &a))
		return;
	int x = e->value_mask & CWX ? e->x : a.x;
	int y = e->value_mask & CWY ? e->y : a.y;
	int w = e->value_mask & CWWidth ? e->width : a.width;
	int h = e->value_mask & CWHeight ? e->height : a.height;
	place(wm, e->window, x, y, w, h);
	if (e->value_mask & CWStackMode) {
		XWindowChanges ch = { .stack_mode = e->detail };
		XConfigureWindow(wm->dpy, e->window, CWStackMode, &ch);
	}
}

bool wm_handle_event(struct wm *wm, const XEvent *ev)
{
	switch (ev->type) {
	case MapRequest:
		on_map_request(wm, &ev->xmaprequest);
		return true;
	case ConfigureRequest:
		on_configure_request(wm, &ev->xconfigurerequest);
		return true;
	case CirculateRequest:
		if (ev->xcirculaterequest.place == PlaceOnTop)
			XRaiseWindow(wm->dpy, ev->xcirculaterequest.window);
		else
			XLowerWindow(wm->dpy, ev->xcirculaterequest.window);
		return true;
	default:
		return false;
	}
}

void wm_relayout(struct wm *wm)
{
	Window r, parent, *children = NULL;
	unsigned n = 0;

	if (!XQueryTree(wm->dpy, wm->root, &r, &parent, &children, &n))
		return;
	for (unsigned i = 0; i < n; i++) {
		XWindowAttributes a;
		if (!XGetWindowAttributes(wm->dpy, children[i], &a) || a.override_redirect ||
		    a.map_state == IsUnmapped)
			continue;
		place(wm, children[i], a.x, a.y, a.width, a.height);
	}
	if (children)
		XFree(children);
	XFlush(wm->dpy);
}
