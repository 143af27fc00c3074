/*
 * A notice drawn over a viewer's picture when its session ends under it
 * (the browser's sandbox died, an administrator ended it, a login took it
 * over): a grey band across the middle of the screen with the text, in
 * Japanese and English, so the user knows why the picture froze before
 * the connection closes. Pure drawing into the caller's pixels (32 bits
 * per pixel, any channel order: the band is grey and the text white), no
 * I/O. No untrusted input: the text comes from shojid.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define NOTICE_BAND_RGB 0x303030 /* the band's colour, grey in any channel order */
#define NOTICE_BAND_HEIGHT 96

/**
 * Draws the band and text (UTF-8, lines split at '\n') over pixels of
 * width x height with stride bytes a row; the band's rows in *y0, *y1
 * (end excluded) for the caller to mark changed. 0, or -1 when nothing
 * could be drawn (cairo failed, or the screen is too small).
 */
int notice_draw(uint8_t *pixels, int width, int height, size_t stride, const char *text, int *y0,
                int *y1);
