/*
 * A full-screen notice a viewer is shown instead of a browser when the
 * pool refuses its login (host full, per-user limit, maintenance): a
 * heading and the reason in Japanese and English, drawn with cairo and
 * pango (Noto Sans CJK) into a B G R X picture, for the VNC front-end to
 * serve for REFUSAL_SHOW_MS before it closes. The RDP front-end shows the
 * same text on its logon screen. No untrusted input: the text comes from
 * the control process.
 */
#pragma once

#include <cairo.h>
#include <stddef.h>
#include <stdint.h>

#define REFUSAL_SHOW_MS 8000
#define REFUSAL_WIDTH 1024
#define REFUSAL_HEIGHT 768

/** The Japanese line for a refusal reason the control process sent (English). */
const char *refusal_japanese(const char *reason);

/** Draws the notice for reason over the whole width x height of cr. */
void refusal_draw(cairo_t *cr, const char *reason, int width, int height);

/**
 * Draws the notice for reason (English, from the control process) into a
 * new picture of width x height, B G R X with *stride bytes a row; free()
 * it. NULL on error (logged).
 */
uint8_t *refusal_render(const char *reason, uint16_t width, uint16_t height, size_t *stride);
