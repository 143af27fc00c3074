/*
 * H.264 encoding through GStreamer (see h264_encoder.h).
 *
 * Input: our own framebuffer's pixels; no bytes from outside.
 */
#include "h264_encoder.h"

/* Before GLib's headers, whose MIN and MAX replace ours. */
#include "util.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOMINAL_FPS 30 /* the rate the encoder budgets its bits for */
/*
 * RDP runs over TCP: nothing is lost, so a key frame is needed only when
 * the client starts over (attach, refresh), which asks for one. A periodic
 * one (a whole surface, tens of KiB) held every frame behind it for a
 * quarter of a second on a 2 Mbit/s link.
 */
#define KEY_INT_MAX G_MAXINT
#define PULL_TIMEOUT (2 * GST_SECOND)
#define MAX_SIDE 4096

struct h264_encoder {
	GstElement *pipeline, *src, *enc, *sink;
	unsigned width, height, kbps;
	uint64_t frames, key_frames;
	uint8_t *out;
	size_t out_cap;
};

static const char *const known[] = {"x264enc", "openh264enc", "vaapih264enc"};

bool h264_encoder_known(const char *element)
{
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strcmp(element, known[i]) == 0)
			return true;
	return false;
}

static pthread_once_t gst_once = PTHREAD_ONCE_INIT;
static bool gst_ok;
static char gst_err[160];

static void gst_start(void)
{
	GError *e = NULL;

	gst_ok = gst_init_check(NULL, NULL, &e);
	if (!gst_ok)
		snprintf(gst_err, sizeof(gst_err), "GStreamer does not start: %s",
		         e ? e->message : "unknown error");
	g_clear_error(&e);
}

static bool has_property(GstElement *el, const char *name)
{
	return g_object_class_find_property(G_OBJECT_GET_CLASS(el), name) != NULL;
}

/* Low latency, no B-frames, key frames only when asked. */
static void configure_encoder(struct h264_encoder *e, const char *element)
{
	GstElement *enc = e->enc;

	if (strcmp(element, "x264enc") == 0) {
		gst_util_set_object_arg(G_OBJECT(enc), "tune", "zerolatency");
		gst_util_set_object_arg(G_OBJECT(enc), "speed-preset", "ultrafast");
		g_object_set(enc, "bframes", 0, "key-int-max", KEY_INT_MAX, "byte-stream", TRUE,
		             "rc-lookahead", 0, "sync-lookahead", 0, "vbv-buf-capacity", 300, NULL);
	} else if (strcmp(element, "openh264enc") == 0) {
		g_object_set(enc, "gop-size", 10 * NOMINAL_FPS, NULL);
		gst_util_set_object_arg(G_OBJECT(enc), "rate-control", "bitrate");
	} else {
		if (has_property(enc, "max-bframes"))
			g_object_set(enc, "max-bframes", 0, NULL);
		if (has_property(enc, "keyframe-period"))
			g_object_set(enc, "keyframe-period", 10 * NOMINAL_FPS, NULL);
	}
	h264_encoder_set_kbps(e, e->kbps);
}

void h264_encoder_set_kbps(struct h264_encoder *e, unsigned kbps)
{
	if (kbps < 16)
		kbps = 16;
	e->kbps = kbps;
	GParamSpec *p = g_object_class_find_property(G_OBJECT_GET_CLASS(e->enc), "bitrate");
	if (!p)
		return;
	/* openh264enc counts bits per second, the others kilobits. */
	if (p->value_type == G_TYPE_UINT || p->value_type == G_TYPE_INT) {
		bool bits = strcmp(G_OBJECT_TYPE_NAME(e->enc), "GstOpenh264Enc") == 0;
		g_object_set(e->enc, "bitrate", bits ? kbps * 1000u : kbps, NULL);
	}
}

#define N_ELEMENTS 6

/* The elements, in pipeline order; the first missing one is named in err. */
static int make_elements(struct h264_encoder *e, const char *element, GstElement *el[N_ELEMENTS],
                         char *err, size_t errlen)
{
	static const char *const names[N_ELEMENTS] = {"appsrc", "videoconvert", "capsfilter",
	                                              NULL,     "capsfilter",   "appsink"};

	for (size_t i = 0; i < N_ELEMENTS; i++) {
		const char *name = names[i] ? names[i] : element;
		el[i] = gst_element_factory_make(name, NULL);
		if (!el[i]) {
			set_err(err, errlen, "GStreamer element %s is not installed", name);
			while (i-- > 0)
				gst_object_unref(el[i]);
			return -1;
		}
	}
	e->src = el[0];
	e->enc = el[3];
	e->sink = el[5];
	return 0;
}

static void set_caps(GstElement *filter, GstCaps *caps)
{
	g_object_set(filter, "caps", caps, NULL);
	gst_caps_unref(caps);
}

static int build_pipeline(struct h264_encoder *e, const char *element, char *err, size_t errlen)
{
	GstElement *el[N_ELEMENTS];

	if (make_elements(e, element, el, err, errlen) < 0)
		return -1;
	e->pipeline = gst_pipeline_new("h264");
	gst_bin_add_many(GST_BIN(e->pipeline), el[0], el[1], el[2], el[3], el[4], el[5], NULL);

	GstCaps *in =
	    gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "BGRx", "width", G_TYPE_INT,
	                        (int)e->width, "height", G_TYPE_INT, (int)e->height, "framerate",
	                        GST_TYPE_FRACTION, NOMINAL_FPS, 1, NULL);
	g_object_set(e->src, "caps", in, "format", GST_FORMAT_TIME, "block", FALSE, NULL);
	gst_caps_unref(in);
	/* RDP's AVC420 is BT.709 with full-range YUV (MS-RDPEGFX; FreeRDP's decoder agrees). */
	set_caps(el[2], gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420",
	                                    "colorimetry", G_TYPE_STRING, "1:3:5:1", NULL));
	set_caps(el[4], gst_caps_new_simple("video/x-h264", "stream-format", G_TYPE_STRING,
	                                    "byte-stream", "alignment", G_TYPE_STRING, "au", NULL));
	g_object_set(e->sink, "sync", FALSE, "max-buffers", 4, NULL);
	configure_encoder(e, element);

	if (!gst_element_link_many(el[0], el[1], el[2], el[3], el[4], el[5], NULL)) {
		set_err(err, errlen, "cannot link appsrc ! videoconvert ! %s ! appsink", element);
		return -1;
	}
	if (gst_element_set_state(e->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
		set_err(err, errlen, "the %s pipeline does not start", element);
		return -1;
	}
	return 0;
}

struct h264_encoder *h264_encoder_create(const char *element, unsigned width, unsigned height,
                                         unsigned kbps, char *err, size_t errlen)
{
	struct h264_encoder *e = NULL;

	if (!h264_encoder_known(element)) {
		set_err(err, errlen,
		        "unknown H.264 encoder %s (x264enc, openh264enc, vaapih264enc)", element);
		return NULL;
	}
	if (width < 16 || height < 16 || width > MAX_SIDE || height > MAX_SIDE || width % 2 ||
	    height % 2) {
		set_err(err, errlen, "H.264 picture %ux%u: sides must be even, 16 to %d", width,
		        height, MAX_SIDE);
		return NULL;
	}
	pthread_once(&gst_once, gst_start);
	if (!gst_ok) {
		set_err(err, errlen, "%s", gst_err);
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	e->width = width;
	e->height = height;
	e->kbps = kbps;
	if (build_pipeline(e, element, err, errlen) < 0) {
		h264_encoder_destroy(e);
		return NULL;
	}
	return e;
}

void h264_encoder_destroy(struct h264_encoder *e)
{
	if (!e)
		return;
	if (e->pipeline) {
		gst_element_set_state(e->pipeline, GST_STATE_NULL);
		gst_object_unref(e->pipeline);
	}
	free(e->out);
	free(e);
}

/* The pipeline's error message, if it posted one. */
static void bus_error(struct h264_encoder *e, const char *what, char *err, size_t errlen)
{
	GstBus *bus = gst_element_get_bus(e->pipeline);
	GstMessage *m = bus ? gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR) : NULL;
	GError *ge = NULL;

	if (m)
		gst_message_parse_error(m, &ge, NULL);
	set_err(err, errlen, "%s%s%s", what, ge ? ": " : "", ge ? ge->message : "");
	g_clear_error(&ge);
	if (m)
		gst_message_unref(m);
	if (bus)
		gst_object_unref(bus);
}

static GstBuffer *picture_buffer(const struct h264_encoder *e, const uint8_t *bgrx, size_t stride)
{
	size_t row = (size_t)e->width * 4;
	GstBuffer *buf = gst_buffer_new_allocate(NULL, row * e->height, NULL);
	GstMapInfo map;

	if (!buf || !gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
		if (buf)
			gst_buffer_unref(buf);
		return NULL;
	}
	for (unsigned y = 0; y < e->height; y++)
		memcpy(map.data + y * row, bgrx + y * stride, row);
	gst_buffer_unmap(buf, &map);
	GST_BUFFER_PTS(buf) = gst_util_uint64_scale(e->frames, GST_SECOND, NOMINAL_FPS);
	GST_BUFFER_DURATION(buf) = GST_SECOND / NOMINAL_FPS;
	return buf;
}

static int take_sample(struct h264_encoder *e, GstSample *s, const uint8_t **out, size_t *len,
                       char *err, size_t errlen)
{
	GstBuffer *buf = gst_sample_get_buffer(s);
	GstMapInfo map;
	int rc = -1;

	if (!buf || !gst_buffer_map(buf, &map, GST_MAP_READ)) {
		set_err(err, errlen, "the encoder gave an unreadable buffer");
		return -1;
	}
	if (map.size > e->out_cap) {
		uint8_t *p = realloc(e->out, map.size);
		if (!p) {
			set_err(err, errlen, "out of memory for a %zu-byte access unit", map.size);
			goto out;
		}
		e->out = p;
		e->out_cap = map.size;
	}
	memcpy(e->out, map.data, map.size);
	*out = e->out;
	*len = map.size;
	if (!GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT))
		e->key_frames++;
	e->frames++;
	rc = 0;
out:
	gst_buffer_unmap(buf, &map);
	return rc;
}

int h264_encoder_encode(struct h264_encoder *e, const uint8_t *bgrx, size_t stride, bool key,
                        const uint8_t **out, size_t *len, char *err, size_t errlen)
{
	GstBuffer *buf = picture_buffer(e, bgrx, stride);

	if (!buf) {
		set_err(err, errlen, "out of memory for a %ux%u picture", e->width, e->height);
		return -1;
	}
	if (key) {
		GstEvent *ev = gst_video_event_new_downstream_force_key_unit(
		    GST_BUFFER_PTS(buf), GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, TRUE,
		    (guint)e->key_frames);
		gst_element_send_event(e->src, ev);
	}
	if (gst_app_src_push_buffer(GST_APP_SRC(e->src), buf) != GST_FLOW_OK) {
		bus_error(e, "the encoder refused a picture", err, errlen);
		return -1;
	}
	GstSample *s = gst_app_sink_try_pull_sample(GST_APP_SINK(e->sink), PULL_TIMEOUT);
	if (!s) {
		bus_error(e, "the encoder gave no access unit", err, errlen);
		return -1;
	}
	int rc = take_sample(e, s, out, len, err, errlen);
	gst_sample_unref(s);
	return rc;
}

void h264_encoder_counts(const struct h264_encoder *e, uint64_t *frames, uint64_t *key_frames)
{
	*frames = e->frames;
	*key_frames = e->key_frames;
}
