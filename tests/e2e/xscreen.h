/*
 * Real viewers under a private Xvfb, for end-to-end tests: starting and
 * ending child programs with their output in a log file, an Xvfb on the
 * first free display, screenshots of its root window (ImageMagick's
 * import, read back as PPM), and finding the test page (tests/pages: a
 * red and a green block of 200x150 side by side) in them.
 *
 * Every child gets PR_SET_PDEATHSIG, so a test that dies takes its
 * viewers and X server with it. Not thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct xscreen_image {
	int w, h;
	uint8_t *rgb; /* w * h * 3 bytes, R G B */
};

/**
 * Starts argv (searched in PATH) with env added to the environment and
 * stdout and stderr appended to log. Its pid, or -1.
 */
pid_t xscreen_spawn(char *const argv[], char *const env[], const char *log);

/** Runs argv like xscreen_spawn and waits: its exit status, or -1. */
int xscreen_run(char *const argv[], char *const env[], const char *log);

/** SIGTERM, then SIGKILL after 5 s; reaps. Ignores pid <= 0. */
void xscreen_end(pid_t pid);

/**
 * Starts Xvfb of width x height x 24 on the first free display from :90
 * on, its log in log; the display number, or -1.
 */
int xscreen_start_xvfb(int width, int height, const char *log, pid_t *pid);

/**
 * Screenshots the root window of display into ppm_path (kept) and reads it
 * into img (freeing what img held). Tool output goes to log.
 */
bool xscreen_shot(int display, const char *ppm_path, const char *log, struct xscreen_image *img);

void xscreen_image_free(struct xscreen_image *img);

/** 0xRRGGBB at x, y; 0xff000000 outside the image. */
uint32_t xscreen_pixel(const struct xscreen_image *img, int x, int y);

/** Whether a is within tol of rgb in each channel (false outside the image). */
bool xscreen_near(uint32_t a, uint32_t rgb, int tol);

/**
 * Finds the test page's red block with the green one right of it, both
 * 200x150 give or take 2 pixels, colours within tol; the red block's
 * top-left corner in *x, *y.
 */
bool xscreen_find_page(const struct xscreen_image *img, int tol, int *x, int *y);

/** Whether a program is on PATH. */
bool xscreen_have(const char *prog);
