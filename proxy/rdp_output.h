/*
 * Pixels to one RDP client. The graphics pipeline (RDPGFX: one surface,
 * planar tiles of 64x64, frames paced by the client's acknowledgements)
 * when the client offers it, otherwise bitmap updates (planar, 64x64
 * tiles, each update within the client's MultifragMaxRequestSize). Only
 * changed rectangles are sent; an idle picture sends nothing. The
 * graphics pipeline and Display Control (the client asking for another
 * desktop size) are the only channels this module opens.
 *
 * Threads: FreeRDP's rdpgfx thread calls CapsAdvertise and
 * FrameAcknowledge, its disp thread the monitor layout; they only record what the client said,
 * under a lock, and set the event rdp_output_event() returns. Everything else runs on the worker's
 * RDP thread.
 *
 * Untrusted input: the client's capability sets and acknowledgements
 * (already parsed by FreeRDP); frame ids are compared, never used as
 * indexes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Before FreeRDP's headers, whose MIN and MAX give way to ours. */
#include "util.h"

#include <freerdp/peer.h>

#include "fbdiff.h"
#include "rect.h"

struct rdp_output;
struct rdp_cursor;

/**
 * For peer, with its virtual channel manager vcm; who names it in logs;
 * h264 names the GStreamer encoder for moving areas (h264_encoder.h),
 * NULL for lossless only, kbps its bit rate. Display Control is offered
 * up to max_width x max_height. NULL on error.
 */
struct rdp_output *rdp_output_create(freerdp_peer *peer, HANDLE vcm, const char *who,
                                     const char *h264, unsigned kbps, uint16_t max_width,
                                     uint16_t max_height);

/** Closes the graphics pipeline and frees. Accepts NULL. */
void rdp_output_destroy(struct rdp_output *o);

/** Set when the rdpgfx thread has news; the RDP thread waits on it too. */
HANDLE rdp_output_event(struct rdp_output *o);

/**
 * The client finished a (re)activation: from now on pixels may flow.
 * Chooses the graphics pipeline if the client offered it, else bitmaps.
 */
void rdp_output_activate(struct rdp_output *o);

/**
 * Advances the set-up: opens the graphics pipeline once the dynamic
 * channel is up, creates the surface (width x height) once the client
 * confirmed capabilities, falls back to bitmap updates when it does not
 * come up in time. Call after every wait. 0, or -1 if the connection
 * cannot go on.
 */
int rdp_output_poll(struct rdp_output *o, uint16_t width, uint16_t height);

/** Whether the graphics pipeline or Display Control channel is open (for the audit log). */
bool rdp_output_gfx_opened(const struct rdp_output *o);
bool rdp_output_disp_opened(const struct rdp_output *o);

/**
 * The desktop size the client last asked for through Display Control
 * (unclamped), once; false when it asked for nothing new.
 */
bool rdp_output_take_resize(struct rdp_output *o, uint16_t *width, uint16_t *height);

/** Whether the desktop can change size now (graphics pipeline, or a client that announced it). */
bool rdp_output_can_resize(const struct rdp_output *o);

/**
 * The desktop is now width x height: a new graphics pipeline surface, or
 * a reactivation for bitmap updates; then a full refresh. 0 or -1.
 */
int rdp_output_resize(struct rdp_output *o, uint16_t width, uint16_t height);

/**
 * Whether a frame may be sent now (set up, not suppressed, not too far
 * ahead of acks: two frames, three while an area goes as H.264).
 */
bool rdp_output_can_send(struct rdp_output *o);

/**
 * A key was pressed or a button clicked. While an area goes as H.264 its
 * frames then give way to the answer: for up to 150 ms, a frame of
 * nothing but the moving area waits (rdp_output_holds), and the first
 * frame with another change may go one ahead of the acknowledgements. On
 * a narrow link the answer then queues behind fewer pictures.
 */
void rdp_output_input(struct rdp_output *o);

/** Whether a frame of these changes and moves should wait for the answer to input. */
bool rdp_output_holds(const struct rdp_output *o, const struct region *changes, size_t nmoves);

/** True once after the client needs the whole picture (new surface, refresh, unsuppressed). */
bool rdp_output_take_full_refresh(struct rdp_output *o);

/** The client asked for a refresh (RefreshRect), or to stop or resume output. */
void rdp_output_refresh(struct rdp_output *o);
void rdp_output_suppress(struct rdp_output *o, bool suppress);

/**
 * Sends one frame: the client first applies the nmoves scrolls (inside
 * width x height, in order; the graphics pipeline copies them within its
 * surface, bitmap updates paint their destinations), then gets the
 * rectangles of changes from pixels (B G R X, stride bytes a row), which
 * already show the scrolls' result. 0 or -1. On the graphics pipeline,
 * with H.264 negotiated, areas that keep changing (video, animation) go
 * as AVC420 and get a lossless refresh once they stop; until then
 * rdp_output_busy() is true and the caller calls this at least every
 * 100 ms, with no changes if there are none.
 */
int rdp_output_send(struct rdp_output *o, const uint8_t *pixels, size_t stride, uint16_t width,
                    uint16_t height, const struct fbdiff_move *moves, size_t nmoves,
                    const struct region *changes);

/** Some area is being sent lossy and needs a lossless refresh when it stops. */
bool rdp_output_busy(const struct rdp_output *o);

/**
 * Whether moving areas are looked for (graphics pipeline with H.264): the
 * caller then lets render capture at the browser's pace, not the
 * client's, and passes each capture's changes to rdp_output_observe(), so
 * that a video is recognised however few frames the link lets through.
 */
bool rdp_output_observing(const struct rdp_output *o);
void rdp_output_observe(struct rdp_output *o, const struct region *changes);

/** Sends a new pointer shape. 0 or -1. */
int rdp_output_cursor(struct rdp_output *o, const struct rdp_cursor *c);
