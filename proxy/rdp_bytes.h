/*
 * Bytes per channel of one RDP connection, for the connection_bytes audit
 * event (worker_bytes): the virtual channels where the worker passes
 * their PDUs (rdp.c wraps FreeRDP's SendChannelData and
 * ReceiveChannelData), the dynamic channels inside drdynvc by the
 * headers of those PDUs, and the rest of FreeRDP's transport by phase:
 * "connect" before activation, then "updates" out (fast-path and
 * slow-path output: bitmaps, pointers) and "input" in (input events,
 * frame acknowledgements, refresh and suppress requests).
 *
 * Handles untrusted input: the client's drdynvc PDUs, whose headers are
 * read only within (data, len); a channel id it names that this side
 * never created counts as drdynvc's own. No I/O.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl.h"

#define RDP_BYTES_MAX_DVC 8

struct worker;

struct rdp_bytes {
	struct worker *w;
	struct {
		uint32_t id;
		char name[CTL_MAX_CHANNEL_NAME + 1]; /* "drdynvc/rdpgfx" */
	} dvc[RDP_BYTES_MAX_DVC];
	size_t ndvc;
	char in_channel[CTL_MAX_CHANNEL_NAME + 1]; /* where the rest of the client's PDU goes */
	uint64_t in_seen;                          /* transport bytes read, already counted */
	uint64_t chan_in, chan_out; /* channel bytes counted since the last rdp_bytes_account */
};

void rdp_bytes_init(struct rdp_bytes *b, struct worker *w);

/**
 * Data this side sent on static channel `channel` (one SendChannelData
 * call: for drdynvc one whole PDU), which took `wire` bytes of the
 * transport with its headers. A create request teaches the dynamic
 * channel's name.
 */
void rdp_bytes_sent(struct rdp_bytes *b, const char *channel, const uint8_t *data, size_t len,
                    uint64_t wire);

/** A chunk the client sent on static channel `channel`; first: it starts a PDU. */
void rdp_bytes_received(struct rdp_bytes *b, const char *channel, const uint8_t *data, size_t len,
                        bool first);

/**
 * After a round of the connection's loop: in_total is the transport's
 * bytes read so far, sent the bytes it wrote since the last call. What
 * the channels did not account for goes to connect, or after activation
 * to updates (out) and input (in).
 */
void rdp_bytes_account(struct rdp_bytes *b, bool activated, uint64_t in_total, uint64_t sent);

/** The short name of a dynamic channel ("rdpgfx" for Microsoft::Windows::RDS::Graphics). Pure. */
void rdp_bytes_dvc_name(const char *full, char *out, size_t cap);
