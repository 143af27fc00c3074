/*
 * Capture: the X server's damaged regions copied into the shared
 * framebuffer (a sealed memfd attached to the X server with MIT-SHM, so the
 * server writes the pixels straight into it), and run-time resizing of the
 * screen through RandR.
 *
 * The framebuffer is written only inside capture_grab(), which the session
 * calls only while it holds a credit from shojid; between a DAMAGE message
 * and the next credit shojid reads a stable picture.
 */
#pragma once

#include <X11/Xlib.h>
#include <stdbool.h>
#include <stdint.h>

#include "pixlink.h"
#include "rect.h"

struct capture;

/** Sets up damage tracking on the root window and a first framebuffer. */
struct capture *capture_create(Display *dpy);
void capture_destroy(struct capture *c);

/** Handles an X event if it is a damage event; true if it was one. */
bool capture_handle_event(struct capture *c, const XEvent *ev);

/** True if damage is waiting to be sent. */
bool capture_pending(const struct capture *c);

/** Marks the whole screen damaged (after a resize, or when shojid asks). */
void capture_damage_all(struct capture *c);

/**
 * Copies every pending damaged region into the framebuffer and describes
 * them in *out (seq filled in by the caller). 0, or -1 on an X error.
 */
int capture_grab(struct capture *c, struct pixlink_damage *out);

/** The current framebuffer: its description and memfd (owned by capture). */
const struct pixlink_framebuffer *capture_framebuffer(const struct capture *c);
int capture_framebuffer_fd(const struct capture *c);

/**
 * Resizes the X screen to width x height and makes a new framebuffer
 * (new generation, new memfd). 0 or -1; on -1 the old size stays.
 */
int capture_resize(struct capture *c, uint16_t width, uint16_t height);
