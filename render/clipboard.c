/*
 * Selection ownership and conversion for the session's clipboard (see
 * clipboard.h). Handles untrusted input: yes, the selection data the
 * browser (or anything else in the session) offers; it is read only up to
 * a bound and passed on only through cliptext_filter().
 */
#include "autoconfig.h"

#include <X11/Xatom.h>
#include <X11/extensions/Xfixes.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clipboard.h"
#include "cliptext.h"
#include "log.h"
#include "pixlink.h"
#include "util.h"

/* Raw bytes read per selection, as a multiple of max_bytes: room for what the filter drops. */
#define READ_FACTOR 2

struct clipboard {
	Display *dpy;
	Window win;
	int xfixes_event;
	struct clipboard_opts o;
	Atom clipboard, utf8, targets, incr, prop;
	uint8_t *text; /* what we own CLIPBOARD and PRIMARY with; NULL = nothing */
	size_t len;
	uint8_t *latin1; /* the same as STRING */
	size_t latin1_len;
};

struct clipboard *clipboard_create(Display *dpy, int xfixes_event, const struct clipboard_opts *o)
{
	struct clipboard *c = xcalloc(1, sizeof(*c));
	Window root = DefaultRootWindow(dpy);

	c->dpy = dpy;
	c->o = *o;
	c->xfixes_event = xfixes_event;
	if (c->o.max_bytes == 0 || c->o.max_bytes > PIXLINK_MAX_CLIPBOARD) {
		free(c);
		errno = EINVAL;
		return NULL;
	}
	c->clipboard = XInternAtom(dpy, "CLIPBOARD", False);
	c->utf8 = XInternAtom(dpy, "UTF8_STRING", False);
	c->targets = XInternAtom(dpy, "TARGETS", False);
	c->incr = XInternAtom(dpy, "INCR", False);
	c->prop = XInternAtom(dpy, "SHOJI_CLIPBOARD", False);
	c->win = XCreateSimpleWindow(dpy, root, -10, -10, 1, 1, 0, 0, 0);
	if (c->o.to_terminal)
		XFixesSelectSelectionInput(dpy, root, c->clipboard,
		                           XFixesSetSelectionOwnerNotifyMask);
	return c;
}

void clipboard_destroy(struct clipboard *c)
{
	if (!c)
		return;
	XDestroyWindow(c->dpy, c->win);
	free(c->text);
	free(c->latin1);
	free(c);
}

int clipboard_set(struct clipboard *c, const uint8_t *text, size_t len)
{
	if (!c->o.to_browser) {
		errno = EPERM;
		return -1;
	}
	if (len > c->o.max_bytes) {
		errno = EMSGSIZE;
		return -1;
	}
	uint8_t *copy = xcalloc(1, len + 1), *latin1 = xcalloc(1, len + 1);
	memcpy(copy, text, len);
	free(c->text);
	free(c->latin1);
	c->text = copy;
	c->len = len;
	c->latin1 = latin1;
	c->latin1_len = cliptext_to_latin1(copy, len, latin1);
	XSetSelectionOwner(c->dpy, c->clipboard, c->win, CurrentTime);
	XSetSelectionOwner(c->dpy, XA_PRIMARY, c->win, CurrentTime);
	return 0;
}

/* Writes what target asks for into the requestor's property; false if we cannot. */
static bool answer_target(struct clipboard *c, const XSelectionRequestEvent *r, Atom prop)
{
	if (r->target == c->targets) {
		Atom t[] = {c->targets, c->utf8, XA_STRING};
		XChangeProperty(c->dpy, r->requestor, prop, XA_ATOM, 32, PropModeReplace,
		                (unsigned char *)t, (int)ARRAY_SIZE(t));
	} else if (r->target == c->utf8) {
		XChangeProperty(c->dpy, r->requestor, prop, c->utf8, 8, PropModeReplace, c->text,
		                (int)c->len);
	} else if (r->target == XA_STRING) {
		XChangeProperty(c->dpy, r->requestor, prop, XA_STRING, 8, PropModeReplace,
		                c->latin1, (int)c->latin1_len);
	} else {
		return false;
	}
	return true;
}

static void on_request(struct clipboard *c, const XSelectionRequestEvent *r)
{
	XSelectionEvent reply = {.type = SelectionNotify,
	                         .display = r->display,
	                         .requestor = r->requestor,
	                         .selection = r->selection,
	                         .target = r->target,
	                         .time = r->time};
	/* An obsolete client names no property: the target is the property. */
	Atom prop = r->property != None ? r->property : r->target;

	reply.property = c->text && answer_target(c, r, prop) ? prop : None;
	XSendEvent(c->dpy, r->requestor, False, NoEventMask, (XEvent *)&reply);
}

static void on_clear(struct clipboard *c, const XSelectionClearEvent *e)
{
	if (e->selection != c->clipboard)
		return;
	/* Someone else (the browser) owns CLIPBOARD now; PRIMARY follows selections anyway. */
	free(c->text);
	free(c->latin1);
	c->text = c->latin1 = NULL;
	c->len = c->latin1_len = 0;
}

/* CLIPBOARD has a new owner: ask it for its text. */
static void on_owner(struct clipboard *c, const XFixesSelectionNotifyEvent *e)
{
	if (e->selection != c->clipboard || e->owner == None || e->owner == c->win)
		return;
	XConvertSelection(c->dpy, c->clipboard, c->utf8, c->prop, c->win, e->selection_timestamp);
}

/* The owner answered: read at most READ_FACTOR * max_bytes, filter, pass on. */
static void on_converted(struct clipboard *c, const XSelectionEvent *e)
{
	Atom type;
	int format;
	unsigned long n, after;
	unsigned char *data = NULL;
	long units = (long)(c->o.max_bytes * READ_FACTOR / 4 + 1);

	if (e->property == None)
		return;
	if (XGetWindowProperty(c->dpy, c->win, e->property, 0, units, True, AnyPropertyType, &type,
	                       &format, &n, &after, &data) != Success)
		return;
	if (type == c->incr) {
		log_info("clipboard: an incremental (INCR) transfer refused: longer than %zu bytes",
		         c->o.max_bytes);
	} else if ((type == c->utf8 || type == XA_STRING) && format == 8 && data) {
		uint8_t *out = xcalloc(1, c->o.max_bytes);
		enum cliptext_charset cs = type == c->utf8 ? CLIPTEXT_UTF8 : CLIPTEXT_LATIN1;
		size_t len = cliptext_filter(data, n, cs, out, c->o.max_bytes);
		if (after > 0 || len < n)
			log_debug("clipboard: %lu bytes offered, %zu passed", n + after, len);
		c->o.on_text(c->o.arg, out, len);
		free(out);
	}
	if (data)
		XFree(data);
	/* Deleted above only when read whole: drop the rest of a longer one. */
	XDeleteProperty(c->dpy, c->win, e->property);
}

bool clipboard_handle_event(struct clipboard *c, const XEvent *ev)
{
	if (ev->type == c->xfixes_event + XFixesSelectionNotify) {
		if (c->o.to_terminal)
			on_owner(c, (const XFixesSelectionNotifyEvent *)ev);
		return true;
	}
	switch (ev->type) {
	case SelectionRequest:
		if (ev->xselectionrequest.owner != c->win)
			return false;
		on_request(c, &ev->xselectionrequest);
		return true;
	case SelectionClear:
		if (ev->xselectionclear.window != c->win)
			return false;
		on_clear(c, &ev->xselectionclear);
		return true;
	case SelectionNotify:
		if (ev->xselection.requestor != c->win)
			return false;
		if (c->o.to_terminal)
			on_converted(c, &ev->xselection);
		return true;
	default:
		return false;
	}
}
