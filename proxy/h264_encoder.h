/*
 * H.264 encoding of one picture region for the RDP graphics pipeline
 * (AVC420), through a GStreamer pipeline:
 *
 *   appsrc (BGRx) ! videoconvert ! I420 ! ENCODER ! byte-stream, one access
 *   unit per buffer ! appsink
 *
 * The encoder element comes from the configuration (x264enc by default;
 * openh264enc, or vaapih264enc where the hardware exists) and is set for
 * low latency: no B-frames, no look-ahead, one output access unit for
 * each input picture, a key frame on request (attach, refresh) and the bit
 * rate capped by the session's budget. Encoding is synchronous: a picture
 * goes in, its access unit comes out, so a caller that skips a picture
 * never has a stale one queued inside the pipeline.
 *
 * Not thread-safe: one encoder per surface, used by one thread.
 * Input: pixels of our own framebuffer, never bytes from outside.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct h264_encoder;

/* x264enc, openh264enc or vaapih264enc; the names [display] h264_encoder takes. */
bool h264_encoder_known(const char *element);

/*
 * An encoder for width x height pictures (both even, at most 4096) at
 * kbps kilobits per second. NULL with err set when GStreamer or the
 * element is missing or the pipeline does not start.
 */
struct h264_encoder *h264_encoder_create(const char *element, unsigned width, unsigned height,
                                         unsigned kbps, char *err, size_t errlen);
void h264_encoder_destroy(struct h264_encoder *e);

/*
 * Encodes one BGRX picture (stride bytes per row); the next picture is a
 * key frame when key is true. On success returns 0 and points *out at the
 * access unit (Annex B byte stream, valid until the next call or destroy)
 * with its length in *len; -1 with err set otherwise.
 */
int h264_encoder_encode(struct h264_encoder *e, const uint8_t *bgrx, size_t stride, bool key,
                        const uint8_t **out, size_t *len, char *err, size_t errlen);

/* Changes the target bit rate for the pictures that follow. */
void h264_encoder_set_kbps(struct h264_encoder *e, unsigned kbps);

/* Pictures encoded so far, and how many of them were key frames. */
void h264_encoder_counts(const struct h264_encoder *e, uint64_t *frames, uint64_t *key_frames);
