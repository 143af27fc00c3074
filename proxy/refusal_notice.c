/*
 * The refused-login notice (see refusal_notice.h), drawn with cairo and pango.
 * No untrusted input.
 */
#include "autoconfig.h"

/* Before glib's headers, which redefine MIN and MAX the same way. */
#include "util.h"

#include <cairo.h>
#include <pango/pangocairo.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "refusal_notice.h"

#define FONT "Noto Sans CJK JP"
#define COLOUR_BACKGROUND 0x1f3a5f
#define COLOUR_PANEL 0xf4f4f4
#define COLOUR_TEXT 0x202020
#define COLOUR_HEADING 0xc00000

/* The control process's reasons (daemon.c, pick_session) by a word they hold. */
static const struct {
	const char *key, *ja;
} reasons[] = {
    {"server limit", "すべてのブラウザーが使用中です（サーバーの上限に達しました）。"
                     "しばらくしてから、もう一度接続してください。"},
    {"already signed in", "別の端末でサインイン中です。そちらでサインアウトしてから"
                          "接続してください。"},
    {"still closing", "前回のセッションを終了しています。しばらくしてから、"
                      "もう一度接続してください。"},
    {"maintenance", "メンテナンスのため、新しいセッションを開始できません。"
                    "しばらくしてから、もう一度接続してください。"},
};

const char *refusal_japanese(const char *reason)
{
	for (size_t i = 0; i < ARRAY_SIZE(reasons); i++)
		if (strstr(reason, reasons[i].key))
			return reasons[i].ja;
	return "ただいま接続できません。しばらくしてから、もう一度接続してください。";
}

static void set_colour(cairo_t *cr, uint32_t rgb)
{
	cairo_set_source_rgb(cr, ((rgb >> 16) & 0xff) / 255.0, ((rgb >> 8) & 0xff) / 255.0,
	                     (rgb & 0xff) / 255.0);
}

/* A wrapped, centred paragraph at y; the y below it. */
static int paragraph(cairo_t *cr, const char *utf8, int x, int y, int width, int px, bool bold)
{
	PangoLayout *layout = pango_cairo_create_layout(cr);
	PangoFontDescription *font = pango_font_description_from_string(FONT);
	int tw, th;

	pango_font_description_set_absolute_size(font, px * PANGO_SCALE);
	pango_font_description_set_weight(font, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
	pango_layout_set_font_description(layout, font);
	pango_layout_set_width(layout, width * PANGO_SCALE);
	pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
	pango_layout_set_alignment(layout, PANGO_ALIGN_CENTER);
	pango_layout_set_text(layout, utf8, -1);
	pango_layout_get_pixel_size(layout, &tw, &th);
	cairo_move_to(cr, x, y);
	pango_cairo_show_layout(cr, layout);
	pango_font_description_free(font);
	g_object_unref(layout);
	return y + th;
}

void refusal_draw(cairo_t *cr, const char *reason, int width, int height)
{
	int pw = MIN(width - 40, 760), ph = MIN(height - 40, 360);
	int px = (width - pw) / 2, py = (height - ph) / 2, y;

	set_colour(cr, COLOUR_BACKGROUND);
	cairo_paint(cr);
	set_colour(cr, COLOUR_PANEL);
	cairo_rectangle(cr, px, py, pw, ph);
	cairo_fill(cr);
	set_colour(cr, COLOUR_HEADING);
	y = paragraph(cr, "接続できません / Cannot connect", px + 20, py + 30, pw - 40, 28, true);
	set_colour(cr, COLOUR_TEXT);
	y = paragraph(cr, refusal_japanese(reason), px + 20, y + 30, pw - 40, 20, false);
	paragraph(cr, reason, px + 20, y + 20, pw - 40, 18, false);
}

uint8_t *refusal_render(const char *reason, uint16_t width, uint16_t height, size_t *stride)
{
	size_t size;
	int s = cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, width);

	if (width < 64 || height < 64 || s <= 0 || !ckd_mul_size(&size, (size_t)s, height)) {
		log_error("refusal notice: bad size %ux%u", width, height);
		return NULL;
	}
	uint8_t *px = calloc(1, size);
	if (!px)
		return NULL;
	cairo_surface_t *surface =
	    cairo_image_surface_create_for_data(px, CAIRO_FORMAT_RGB24, width, height, s);
	cairo_t *cr = cairo_create(surface);
	bool ok = cairo_status(cr) == CAIRO_STATUS_SUCCESS;
	if (ok) {
		refusal_draw(cr, reason, width, height);
		cairo_surface_flush(surface);
	}
	cairo_destroy(cr);
	cairo_surface_destroy(surface);
	if (!ok) {
		log_error("refusal notice: cairo failed");
		free(px);
		return NULL;
	}
	*stride = (size_t)s;
	return px;
}
