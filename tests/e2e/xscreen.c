/*
 * Real viewers under a private Xvfb (see xscreen.h). Reads only PPM files
 * it asked ImageMagick to write; their header is checked all the same.
 */
#include "autoconfig.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "xscreen.h"

#define BLOCK_W 200
#define BLOCK_H 150
#define SIZE_TOL 2
#define MAX_IMAGE 8192

pid_t xscreen_spawn(char *const argv[], char *const env[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (out < 0 || dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
			_exit(126);
		for (char *const *e = env; e && *e; e++)
			putenv(*e);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int xscreen_run(char *const argv[], char *const env[], const char *log)
{
	int status;
	pid_t pid = xscreen_spawn(argv, env, log);

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void xscreen_end(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 50 && waitpid(pid, NULL, WNOHANG) == 0; i++)
		usleep(100000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int xscreen_start_xvfb(int width, int height, const char *log, pid_t *pid)
{
	char disp[16], sock[64], lock[64], size[32];

	snprintf(size, sizeof(size), "%dx%dx24", width, height);
	for (int n = 90; n <= 120; n++) {
		snprintf(sock, sizeof(sock), "/tmp/.X11-unix/X%d", n);
		snprintf(lock, sizeof(lock), "/tmp/.X%d-lock", n);
		if (access(sock, F_OK) == 0 || access(lock, F_OK) == 0)
			continue;
		snprintf(disp, sizeof(disp), ":%d", n);
		char *argv[] = {"Xvfb", disp, "-screen", "0", size, "-nolisten", "tcp", NULL};
		*pid = xscreen_spawn(argv, NULL, log);
		for (int i = 0; i < 100; i++) {
			/* Ours only if it is still running: another run may have won this display.
			 */
			if (waitpid(*pid, NULL, WNOHANG) == *pid)
				break; /* lost a race for this display: try the next */
			if (access(sock, F_OK) == 0) {
				usleep(200000);
				if (waitpid(*pid, NULL, WNOHANG) == *pid)
					break;
				return n;
			}
			usleep(100000);
		}
		xscreen_end(*pid);
		*pid = -1;
	}
	return -1;
}

void xscreen_image_free(struct xscreen_image *img)
{
	free(img->rgb);
	img->rgb = NULL;
	img->w = img->h = 0;
}

static bool read_ppm(const char *path, struct xscreen_image *img)
{
	FILE *f = fopen(path, "rb");
	int max;
	size_t n;

	xscreen_image_free(img);
	if (!f)
		return false;
	bool ok = fscanf(f, "P6 %d %d %d", &img->w, &img->h, &max) == 3 && max == 255 &&
	          img->w > 0 && img->h > 0 && img->w <= MAX_IMAGE && img->h <= MAX_IMAGE &&
	          fgetc(f) != EOF && ckd_mul_size(&n, (size_t)img->w * 3, (size_t)img->h);
	if (ok) {
		img->rgb = malloc(n);
		ok = img->rgb && fread(img->rgb, 1, n, f) == n;
	}
	fclose(f);
	if (!ok)
		xscreen_image_free(img);
	return ok;
}

bool xscreen_shot(int display, const char *ppm_path, const char *log, struct xscreen_image *img)
{
	char disp[16];

	snprintf(disp, sizeof(disp), ":%d", display);
	char *argv[] = {"import", "-display",       disp, "-window", "root", "-depth",
	                "8",      (char *)ppm_path, NULL};
	return xscreen_run(argv, NULL, log) == 0 && read_ppm(ppm_path, img);
}

uint32_t xscreen_pixel(const struct xscreen_image *img, int x, int y)
{
	if (!img->rgb || x < 0 || y < 0 || x >= img->w || y >= img->h)
		return 0xff000000u;
	const uint8_t *p = img->rgb + ((size_t)y * (size_t)img->w + (size_t)x) * 3;
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

bool xscreen_near(uint32_t a, uint32_t rgb, int tol)
{
	if (a & 0xff000000u)
		return false;
	for (int shift = 0; shift <= 16; shift += 8) {
		int diff = (int)((a >> shift) & 0xff) - (int)((rgb >> shift) & 0xff);
		if (abs(diff) > tol)
			return false;
	}
	return true;
}

/* Length of the run of colour rgb from x, y in direction dx, dy. */
static int run_length(const struct xscreen_image *img, int x, int y, int dx, int dy, uint32_t rgb,
                      int tol)
{
	int n = 0;

	while (xscreen_near(xscreen_pixel(img, x + n * dx, y + n * dy), rgb, tol))
		n++;
	return n;
}

static bool about(int v, int want)
{
	return abs(v - want) <= SIZE_TOL;
}

bool xscreen_find_page(const struct xscreen_image *img, int tol, int *x, int *y)
{
	const uint32_t red = 0xff0000, green = 0x00ff00;

	for (int j = 0; j < img->h; j++) {
		for (int i = 0; i < img->w; i++) {
			if (!xscreen_near(xscreen_pixel(img, i, j), red, tol) ||
			    xscreen_near(xscreen_pixel(img, i - 1, j), red, tol) ||
			    xscreen_near(xscreen_pixel(img, i, j - 1), red, tol))
				continue;
			int rw = run_length(img, i, j, 1, 0, red, tol);
			int rh = run_length(img, i, j, 0, 1, red, tol);
			int gw = run_length(img, i + rw, j, 1, 0, green, tol);
			int gh = run_length(img, i + rw, j, 0, 1, green, tol);
			if (about(rw, BLOCK_W) && about(rh, BLOCK_H) && about(gw, BLOCK_W) &&
			    about(gh, BLOCK_H)) {
				*x = i;
				*y = j;
				return true;
			}
		}
	}
	return false;
}

bool xscreen_have(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}
