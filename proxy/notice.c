/*
 * The end-of-session notice (see notice.h), drawn with cairo and pango in
 * the font the logon screen uses. No untrusted input.
 */
#include <cairo.h>
#include <pango/pangocairo.h>

#include "notice.h"

#define FONT "Noto Sans CJK JP"
#define TEXT_PX 18

static void draw(cairo_t *cr, int width, int y0, int h, const char *text)
{
	int tw, th;

	cairo_set_source_rgb(cr, ((NOTICE_BAND_RGB >> 16) & 0xff) / 255.0,
	                     ((NOTICE_BAND_RGB >> 8) & 0xff) / 255.0,
	                     (NOTICE_BAND_RGB & 0xff) / 255.0);
	cairo_rectangle(cr, 0, y0, width, h);
	cairo_fill(cr);
	PangoLayout *layout = pango_cairo_create_layout(cr);
	PangoFontDescription *font = pango_font_description_from_string(FONT);
	pango_font_description_set_absolute_size(font, TEXT_PX * PANGO_SCALE);
	pango_layout_set_font_description(layout, font);
	pango_layout_set_width(layout, (width - 16) * PANGO_SCALE);
	pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END);
	pango_layout_set_alignment(layout, PANGO_ALIGN_CENTER);
	pango_layout_set_text(layout, text, -1);
	pango_layout_get_pixel_size(layout, &tw, &th);
	cairo_set_source_rgb(cr, 1, 1, 1);
	/* Clipped to the band: a long text never spills over the picture. */
	cairo_rectangle(cr, 0, y0, width, h);
	cairo_clip(cr);
	cairo_move_to(cr, 8, y0 + (h - th) / 2);
	pango_cairo_show_layout(cr, layout);
	pango_font_description_free(font);
	g_object_unref(layout);
}

int notice_draw(uint8_t *pixels, int width, int height, size_t stride, const char *text, int *y0,
                int *y1)
{
	int h = height < NOTICE_BAND_HEIGHT ? height : NOTICE_BAND_HEIGHT;

	if (width < 16 || height < 16 || stride < (size_t)width * 4 || stride > INT32_MAX)
		return -1;
	*y0 = (height - h) / 2;
	*y1 = *y0 + h;
	cairo_surface_t *surface = cairo_image_surface_create_for_data(pixels, CAIRO_FORMAT_RGB24,
	                                                               width, height, (int)stride);
	cairo_t *cr = cairo_create(surface);
	int rc = cairo_status(cr) == CAIRO_STATUS_SUCCESS ? 0 : -1;
	if (rc == 0) {
		draw(cr, width, *y0, h, text);
		cairo_surface_flush(surface);
	}
	cairo_destroy(cr);
	cairo_surface_destroy(surface);
	return rc;
}
