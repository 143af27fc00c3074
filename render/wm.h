/*
 * A minimal window manager for the session's X server: the browser's main
 * windows fill the screen, every other top-level window (dialogs, pop-ups)
 * is kept inside the visible area, and the layout follows a resize. There
 * are no decorations: the viewer's own window is the frame.
 */
#pragma once

#include <X11/Xlib.h>
#include <stdbool.h>

struct wm;

/** Takes the window-manager role on the root window; NULL if another has it. */
struct wm *wm_create(Display *dpy);
void wm_destroy(struct wm *wm);

/** Handles an X event if it is for the window manager; true if it was. */
bool wm_handle_event(struct wm *wm, const XEvent *ev);

/** Lays every top-level window out again for the current screen size. */
void wm_relayout(struct wm *wm);
