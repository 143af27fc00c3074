/*
 * The RDP logon screen (see logon_screen.h): field editing from keys and
 * characters, and drawing with cairo and pango into a scratch picture
 * that is compared tile by tile with what the client has. Untrusted
 * input: the client's keys, characters and clicks; every index into a
 * keymap is bounds-checked and the fields never grow past their limits.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Before GLib's headers, whose MIN and MAX give way to ours. */
#include "util.h"

#include <cairo.h>
#include <openssl/crypto.h>
#include <pango/pangocairo.h>

#include "log.h"
#include "logon_screen.h"
#include "refusal_notice.h"

#define TILE 64
#define MERGE_SLACK (64 * 64)
#define FONT "Noto Sans CJK JP"
#define MAX_DOTS 32        /* the password field shows at most this many */
#define DOT "\xe2\x97\x8f" /* U+25CF BLACK CIRCLE */

/* Colours (0xRRGGBB); the end-to-end test looks for some of them. */
#define COLOUR_BACKGROUND 0x1f3a5f
#define COLOUR_PANEL 0xf4f4f4
#define COLOUR_FIELD 0xffffff
#define COLOUR_BORDER 0x8a8a8a
#define COLOUR_FOCUS 0x2a6fdb
#define COLOUR_TEXT 0x202020
#define COLOUR_BUTTON 0x2a6fdb
#define COLOUR_BUTTON_TEXT 0xffffff
#define COLOUR_ERROR 0xc00000

/* The panel, centred on the desktop; positions inside it. */
#define PANEL_W 520
#define PANEL_H 380
#define FIELD_X 40
#define FIELD_W (PANEL_W - 2 * FIELD_X)
#define FIELD_H 36
#define USER_LABEL_Y 96
#define USER_FIELD_Y 122
#define PASSWORD_LABEL_Y 172
#define PASSWORD_FIELD_Y 198
#define BUTTON_W 200
#define BUTTON_H 40
#define BUTTON_Y 258
#define MESSAGE_Y 318

#define SC_ESCAPE 0x01
#define SC_BACKSPACE 0x0e
#define SC_TAB 0x0f
#define SC_ENTER 0x1c
#define SC_KP_ENTER 0xe01c
#define SC_LSHIFT 0x2a
#define SC_RSHIFT 0x36
#define SC_LCTRL 0x1d
#define SC_RCTRL 0xe01d
#define SC_LALT 0x38
#define SC_RALT 0xe038
#define SC_CAPS 0x3a
#define SC_NUMLOCK 0x45
#define SC_KP_SLASH 0xe035

enum field { FIELD_USER, FIELD_PASSWORD };

struct logon_screen {
	uint16_t width, height;
	size_t stride;
	uint8_t *pixels;  /* what the client has (once taken) */
	uint8_t *scratch; /* the picture drawn now */
	struct region changes;
	bool dirty;
	enum logon_keyboard keyboard;
	enum field focus;
	char user[LOGON_MAX_USER + 1];
	char password[LOGON_MAX_PASSWORD + 1];
	char message[256];
	bool message_error;
	char notice[256]; /* logon_screen_notice: drawn instead of the form */
	bool shift_l, shift_r, ctrl, alt, caps, num;
	uint16_t high_surrogate;
};

/* ---- keymaps: set-1 scancodes 0x00..0x39 to ASCII, 0 for none ---- */

static const char us_plain[] = "\0\0"
                               "1234567890-="
                               "\0\0"
                               "qwertyuiop[]"
                               "\0\0"
                               "asdfghjkl;'`"
                               "\0"
                               "\\zxcvbnm,./"
                               "\0"
                               "*"
                               "\0"
                               " ";
static const char us_shift[] = "\0\0"
                               "!@#$%^&*()_+"
                               "\0\0"
                               "QWERTYUIOP{}"
                               "\0\0"
                               "ASDFGHJKL:\"~"
                               "\0"
                               "|ZXCVBNM<>?"
                               "\0"
                               "*"
                               "\0"
                               " ";
static const char jp_plain[] = "\0\0"
                               "1234567890-^"
                               "\0\0"
                               "qwertyuiop@["
                               "\0\0"
                               "asdfghjkl;:"
                               "\0\0"
                               "]zxcvbnm,./"
                               "\0"
                               "*"
                               "\0"
                               " ";
static const char jp_shift[] = "\0\0"
                               "!\"#$%&'()"
                               "\0"
                               "=~"
                               "\0\0"
                               "QWERTYUIOP`{"
                               "\0\0"
                               "ASDFGHJKL+*"
                               "\0\0"
                               "}ZXCVBNM<>?"
                               "\0"
                               "*"
                               "\0"
                               " ";
/* The keypad with Num Lock on: 0x47..0x53. */
static const char keypad[] = "789-456+1230.";

_Static_assert(sizeof(us_plain) == 0x3b && sizeof(us_shift) == 0x3b && sizeof(jp_plain) == 0x3b &&
                   sizeof(jp_shift) == 0x3b,
               "keymaps cover scancodes 0x00..0x39");

static bool is_letter(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* The character a key types, 0 for none. */
static char key_char(const struct logon_screen *ls, uint16_t sc)
{
	bool jp = ls->keyboard == LOGON_KEYBOARD_JP;
	bool shift = ls->shift_l || ls->shift_r;

	if (sc == SC_KP_SLASH)
		return '/';
	if (sc >= 0x47 && sc <= 0x53)
		return ls->num ? keypad[sc - 0x47] : 0;
	if (jp && sc == 0x73) /* ろ */
		return shift ? '_' : '\\';
	if (jp && sc == 0x7d) /* yen */
		return shift ? '|' : '\\';
	if (sc >= 0x3a)
		return 0;
	char plain = (jp ? jp_plain : us_plain)[sc];
	if (ls->caps && is_letter(plain))
		shift = !shift;
	return (shift ? (jp ? jp_shift : us_shift) : (jp ? jp_plain : us_plain))[sc];
}

/* ---- fields ---- */

static char *field_buf(struct logon_screen *ls, enum field f, size_t *cap)
{
	*cap = f == FIELD_USER ? sizeof(ls->user) : sizeof(ls->password);
	return f == FIELD_USER ? ls->user : ls->password;
}

static void clear_field(struct logon_screen *ls, enum field f)
{
	size_t cap;
	char *buf = field_buf(ls, f, &cap);

	OPENSSL_cleanse(buf, cap);
	ls->dirty = true;
}

/* Appends code point cp as UTF-8 if it fits. */
static void field_append(struct logon_screen *ls, uint32_t cp)
{
	size_t cap;
	char *buf = field_buf(ls, ls->focus, &cap);
	size_t len = strlen(buf);
	char enc[4];
	size_t n;

	if (cp < 0x80) {
		enc[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		enc[0] = (char)(0xc0 | cp >> 6);
		enc[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		enc[0] = (char)(0xe0 | cp >> 12);
		enc[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		enc[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		enc[0] = (char)(0xf0 | cp >> 18);
		enc[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		enc[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		enc[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (len + n >= cap)
		return;
	memcpy(buf + len, enc, n);
	buf[len + n] = '\0';
	OPENSSL_cleanse(enc, sizeof(enc));
	ls->dirty = true;
}

/* Removes the last code point of the focused field. */
static void field_backspace(struct logon_screen *ls)
{
	size_t cap;
	char *buf = field_buf(ls, ls->focus, &cap);
	size_t len = strlen(buf), end = len;

	if (len == 0)
		return;
	do
		len--;
	while (len > 0 && ((unsigned char)buf[len] & 0xc0) == 0x80);
	OPENSSL_cleanse(buf + len, end - len);
	ls->dirty = true;
}

/* Cuts a UTF-8 string to at most max bytes without splitting a character. */
static void copy_cut(char *dst, const char *src, size_t max)
{
	size_t len = strlen(src);

	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static size_t codepoints(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void focus(struct logon_screen *ls, enum field f)
{
	if (ls->focus != f)
		ls->dirty = true;
	ls->focus = f;
}

/* Enter or the button: only with a user name. */
static enum logon_action submit(struct logon_screen *ls)
{
	if (!ls->user[0]) {
		focus(ls, FIELD_USER);
		logon_screen_message(ls, "ユーザー名を入力してください / Enter your user name",
		                     true);
		return LOGON_NONE;
	}
	return LOGON_SUBMIT;
}

/* ---- drawing ---- */

static void set_colour(cairo_t *cr, uint32_t rgb)
{
	cairo_set_source_rgb(cr, ((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
	                     (rgb & 0xff) / 255.0);
}

static void fill(cairo_t *cr, int x, int y, int w, int h, uint32_t rgb)
{
	set_colour(cr, rgb);
	cairo_rectangle(cr, x, y, w, h);
	cairo_fill(cr);
}

/* Draws one line of text at x, y within width; returns its width in pixels. */
static int text(cairo_t *cr, const char *utf8, int x, int y, int width, int px, bool bold,
                uint32_t rgb, bool centre)
{
	PangoLayout *layout = pango_cairo_create_layout(cr);
	PangoFontDescription *font = pango_font_description_from_string(FONT);
	int tw = 0, th = 0;

	pango_font_description_set_absolute_size(font, px * PANGO_SCALE);
	pango_font_description_set_weight(font, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
	pango_layout_set_font_description(layout, font);
	pango_layout_set_width(layout, width * PANGO_SCALE);
	pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_START);
	pango_layout_set_alignment(layout, centre ? PANGO_ALIGN_CENTER : PANGO_ALIGN_LEFT);
	pango_layout_set_text(layout, utf8, -1);
	pango_layout_get_pixel_size(layout, &tw, &th);
	set_colour(cr, rgb);
	cairo_move_to(cr, x, y);
	pango_cairo_show_layout(cr, layout);
	pango_font_description_free(font);
	g_object_unref(layout);
	return MIN(tw, width);
}

static void draw_field(struct logon_screen *ls, cairo_t *cr, int x, int y, enum field f)
{
	bool focused = ls->focus == f;
	char dots[MAX_DOTS * (sizeof(DOT) - 1) + 1] = "";

	fill(cr, x, y, FIELD_W, FIELD_H, focused ? COLOUR_FOCUS : COLOUR_BORDER);
	fill(cr, x + 2, y + 2, FIELD_W - 4, FIELD_H - 4, COLOUR_FIELD);
	const char *shown = ls->user;
	if (f == FIELD_PASSWORD) {
		size_t n = MIN(codepoints(ls->password), (size_t)MAX_DOTS);
		for (size_t i = 0; i < n; i++)
			memcpy(dots + i * (sizeof(DOT) - 1), DOT, sizeof(DOT));
		shown = dots;
	}
	int tw = text(cr, shown, x + 10, y + 7, FIELD_W - 24, f == FIELD_PASSWORD ? 14 : 17, false,
	              COLOUR_TEXT, false);
	if (focused) /* the caret */
		fill(cr, x + 11 + tw, y + 7, 2, FIELD_H - 14, COLOUR_TEXT);
}

/* The panel's top-left corner on the desktop. */
static void panel_origin(const struct logon_screen *ls, int *x, int *y)
{
	*x = MAX(0, (ls->width - PANEL_W) / 2);
	*y = MAX(0, (ls->height - PANEL_H) / 2);
}

static void draw(struct logon_screen *ls, cairo_t *cr)
{
	int x, y;

	if (ls->notice[0]) {
		refusal_draw(cr, ls->notice, ls->width, ls->height);
		return;
	}
	panel_origin(ls, &x, &y);
	fill(cr, 0, 0, ls->width, ls->height, COLOUR_BACKGROUND);
	fill(cr, x, y, PANEL_W, PANEL_H, COLOUR_PANEL);
	fill(cr, x, y, PANEL_W, 6, COLOUR_FOCUS);
	text(cr, "Shoji 安全なブラウザ / Secure browser", x + 20, y + 22, PANEL_W - 40, 22, true,
	     COLOUR_TEXT, true);
	text(cr, "サインインしてください / Please sign in", x + 20, y + 56, PANEL_W - 40, 14, false,
	     COLOUR_TEXT, true);
	text(cr, "ユーザー名 / User name", x + FIELD_X, y + USER_LABEL_Y, FIELD_W, 15, false,
	     COLOUR_TEXT, false);
	draw_field(ls, cr, x + FIELD_X, y + USER_FIELD_Y, FIELD_USER);
	text(cr, "パスワード / Password", x + FIELD_X, y + PASSWORD_LABEL_Y, FIELD_W, 15, false,
	     COLOUR_TEXT, false);
	draw_field(ls, cr, x + FIELD_X, y + PASSWORD_FIELD_Y, FIELD_PASSWORD);
	int bx = x + (PANEL_W - BUTTON_W) / 2;
	fill(cr, bx, y + BUTTON_Y, BUTTON_W, BUTTON_H, COLOUR_BUTTON);
	text(cr, "ログイン / Sign in", bx, y + BUTTON_Y + 9, BUTTON_W, 16, true, COLOUR_BUTTON_TEXT,
	     true);
	text(cr, ls->message, x + 20, y + MESSAGE_Y, PANEL_W - 40, 14, false,
	     ls->message_error ? COLOUR_ERROR : COLOUR_TEXT, true);
}

static int render(struct logon_screen *ls)
{
	cairo_surface_t *surface = cairo_image_surface_create_for_data(
	    ls->scratch, CAIRO_FORMAT_RGB24, ls->width, ls->height, (int)ls->stride);
	cairo_t *cr = cairo_create(surface);
	int rc = cairo_status(cr) == CAIRO_STATUS_SUCCESS ? 0 : -1;

	if (rc == 0) {
		draw(ls, cr);
		cairo_surface_flush(surface);
	}
	cairo_destroy(cr);
	cairo_surface_destroy(surface);
	return rc;
}

/* Copies the tiles of the new picture that differ into pixels and marks them changed. */
static void diff_tiles(struct logon_screen *ls)
{
	struct rect bounds = {0, 0, ls->width, ls->height};

	for (int ty = 0; ty < ls->height; ty += TILE) {
		for (int tx = 0; tx < ls->width; tx += TILE) {
			struct rect r = {tx, ty, MIN(TILE, ls->width - tx),
			                 MIN(TILE, ls->height - ty)};
			bool differs = false;
			for (int y = r.y; y < r.y + r.h; y++) {
				size_t at = (size_t)y * ls->stride + (size_t)r.x * 4;
				if (differs ||
				    memcmp(ls->pixels + at, ls->scratch + at, (size_t)r.w * 4)) {
					memcpy(ls->pixels + at, ls->scratch + at, (size_t)r.w * 4);
					differs = true;
				}
			}
			if (differs) /* rows above the first difference were equal already */
				region_add(&ls->changes, &r, &bounds, MERGE_SLACK);
		}
	}
}

/* ---- the public part ---- */

struct logon_screen *logon_screen_create(uint16_t width, uint16_t height, const char *user,
                                         enum logon_keyboard keyboard)
{
	struct logon_screen *ls = xcalloc(1, sizeof(*ls));
	size_t size;

	ls->width = width;
	ls->height = height;
	ls->stride = (size_t)cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, width);
	ls->keyboard = keyboard;
	ls->num = true;
	ls->dirty = true;
	region_init(&ls->changes);
	if (width == 0 || height == 0 || ls->stride < (size_t)width * 4 ||
	    !ckd_mul_size(&size, ls->stride, height) || !(ls->pixels = calloc(1, size)) ||
	    !(ls->scratch = calloc(1, size))) {
		log_error("logon screen: no picture of %ux%u", width, height);
		logon_screen_destroy(ls);
		return NULL;
	}
	copy_cut(ls->user, user ? user : "", LOGON_MAX_USER);
	ls->focus = ls->user[0] ? FIELD_PASSWORD : FIELD_USER;
	return ls;
}

void logon_screen_destroy(struct logon_screen *ls)
{
	if (!ls)
		return;
	OPENSSL_cleanse(ls->password, sizeof(ls->password));
	OPENSSL_cleanse(ls->user, sizeof(ls->user));
	free(ls->pixels);
	free(ls->scratch);
	free(ls);
}

uint16_t logon_screen_width(const struct logon_screen *ls)
{
	return ls->width;
}

uint16_t logon_screen_height(const struct logon_screen *ls)
{
	return ls->height;
}

bool logon_screen_take_changes(struct logon_screen *ls, struct region *out)
{
	if (ls->dirty) {
		if (render(ls) == 0)
			diff_tiles(ls);
		else
			log_warn("logon screen: cannot draw");
		ls->dirty = false;
	}
	if (ls->changes.n == 0)
		return false;
	*out = ls->changes;
	region_init(&ls->changes);
	return true;
}

const uint8_t *logon_screen_pixels(const struct logon_screen *ls, size_t *stride)
{
	*stride = ls->stride;
	return ls->pixels;
}

void logon_screen_mark_all(struct logon_screen *ls)
{
	struct rect all = {0, 0, ls->width, ls->height};

	region_init(&ls->changes);
	region_add(&ls->changes, &all, &all, 0);
}

/* Modifier and lock keys; true when code was one. */
static bool modifier(struct logon_screen *ls, uint16_t code, bool down)
{
	switch (code) {
	case SC_LSHIFT:
		ls->shift_l = down;
		return true;
	case SC_RSHIFT:
		ls->shift_r = down;
		return true;
	case SC_LCTRL:
	case SC_RCTRL:
		ls->ctrl = down;
		return true;
	case SC_LALT:
	case SC_RALT:
		ls->alt = down;
		return true;
	case SC_CAPS:
		ls->caps ^= down;
		return true;
	case SC_NUMLOCK:
		ls->num ^= down;
		return true;
	default:
		return false;
	}
}

enum logon_action logon_screen_key(struct logon_screen *ls, uint16_t scancode, bool down)
{
	if (modifier(ls, scancode, down) || !down)
		return LOGON_NONE;
	switch (scancode) {
	case SC_ENTER:
	case SC_KP_ENTER:
		return submit(ls);
	case SC_TAB: /* two fields: Tab and Shift-Tab both go to the other */
		focus(ls, ls->focus == FIELD_USER ? FIELD_PASSWORD : FIELD_USER);
		return LOGON_NONE;
	case SC_BACKSPACE:
		field_backspace(ls);
		return LOGON_NONE;
	case SC_ESCAPE:
		clear_field(ls, ls->focus);
		return LOGON_NONE;
	default:
		break;
	}
	char ch = ls->ctrl || ls->alt ? 0 : key_char(ls, scancode);
	if (ch)
		field_append(ls, (uint32_t)(unsigned char)ch);
	return LOGON_NONE;
}

enum logon_action logon_screen_utf16(struct logon_screen *ls, uint16_t unit)
{
	uint32_t cp = unit;

	if (unit >= 0xd800 && unit <= 0xdbff) {
		ls->high_surrogate = unit;
		return LOGON_NONE;
	}
	if (unit >= 0xdc00 && unit <= 0xdfff) {
		if (!ls->high_surrogate)
			return LOGON_NONE;
		cp = 0x10000 + (((uint32_t)ls->high_surrogate - 0xd800) << 10) + (unit - 0xdc00);
	}
	ls->high_surrogate = 0;
	if (cp == '\r')
		return submit(ls);
	if (cp == '\b')
		field_backspace(ls);
	else if (cp >= 0x20 && !(cp >= 0x7f && cp < 0xa0))
		field_append(ls, cp);
	return LOGON_NONE;
}

static bool inside(int x, int y, int rx, int ry, int rw, int rh)
{
	return x >= rx && x < rx + rw && y >= ry && y < ry + rh;
}

enum logon_action logon_screen_click(struct logon_screen *ls, int x, int y)
{
	int px, py;

	panel_origin(ls, &px, &py);
	if (inside(x, y, px + FIELD_X, py + USER_FIELD_Y, FIELD_W, FIELD_H))
		focus(ls, FIELD_USER);
	else if (inside(x, y, px + FIELD_X, py + PASSWORD_FIELD_Y, FIELD_W, FIELD_H))
		focus(ls, FIELD_PASSWORD);
	else if (inside(x, y, px + (PANEL_W - BUTTON_W) / 2, py + BUTTON_Y, BUTTON_W, BUTTON_H))
		return submit(ls);
	return LOGON_NONE;
}

void logon_screen_sync(struct logon_screen *ls, bool caps_lock, bool num_lock)
{
	ls->caps = caps_lock;
	ls->num = num_lock;
	ls->shift_l = ls->shift_r = ls->ctrl = ls->alt = false;
	ls->high_surrogate = 0;
}

const char *logon_screen_user(const struct logon_screen *ls)
{
	return ls->user;
}

const char *logon_screen_password(const struct logon_screen *ls)
{
	return ls->password;
}

void logon_screen_message(struct logon_screen *ls, const char *text, bool error)
{
	snprintf(ls->message, sizeof(ls->message), "%s", text);
	ls->message_error = error;
	ls->dirty = true;
}

void logon_screen_notice(struct logon_screen *ls, const char *reason)
{
	clear_field(ls, FIELD_PASSWORD);
	snprintf(ls->notice, sizeof(ls->notice), "%s", reason);
	ls->dirty = true;
}

void logon_screen_refused(struct logon_screen *ls, const char *message)
{
	clear_field(ls, FIELD_PASSWORD);
	focus(ls, ls->user[0] ? FIELD_PASSWORD : FIELD_USER);
	logon_screen_message(ls, message, true);
}
