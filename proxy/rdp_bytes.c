/*
 * Bytes per channel of an RDP connection (see rdp_bytes.h). Untrusted
 * input: the client's drdynvc PDU headers.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "dvc_filter.h"
#include "rdp_bytes.h"
#include "worker.h"

void rdp_bytes_init(struct rdp_bytes *b, struct worker *w)
{
	*b = (struct rdp_bytes){.w = w};
}

void rdp_bytes_dvc_name(const char *full, char *out, size_t cap)
{
	static const struct {
		const char *full, *name;
	} known[] = {
	    {"Microsoft::Windows::RDS::Graphics", "rdpgfx"},
	    {"Microsoft::Windows::RDS::DisplayControl", "disp"},
	    {"Microsoft::Windows::RDS::Input", "rdpei"},
	    {"Microsoft::Windows::RDS::Geometry::v08.01", "geometry"},
	    {"Microsoft::Windows::RDS::Video::Control::v08.01", "video_control"},
	    {"Microsoft::Windows::RDS::Video::Data::v08.01", "video_data"},
	    {"AUDIO_PLAYBACK_DVC", "rdpsnd"},
	    {"AUDIO_INPUT", "audin"},
	};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(full, known[i].full)) {
			snprintf(out, cap, "%s", known[i].name);
			return;
		}
	/* Another: lower case, [a-z0-9_] only, cut to fit after "drdynvc/". */
	for (const char *p = full; *p && n + 1 < cap && n < 16; p++) {
		char ch = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
		out[n++] = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ? ch : '_';
	}
	if (n == 0 && cap > 1)
		out[n++] = '_';
	if (cap > 0)
		out[n] = '\0';
}

/* The channel id of a DVC PDU that names one, or false (capabilities, soft sync, short). */
static bool dvc_id(const uint8_t *data, size_t len, unsigned *cmd, uint32_t *id, size_t *end)
{
	static const size_t sizes[4] = {1, 2, 4, 0};

	if (len == 0)
		return false;
	*cmd = data[0] >> 4;
	size_t n = sizes[data[0] & 3];
	if (*cmd == DVC_CAPS || *cmd == DVC_SOFT_SYNC_RESPONSE || *cmd == 0x08 || n == 0 ||
	    len < 1 + n)
		return false;
	*id = 0;
	for (size_t i = n; i-- > 0;)
		*id = *id << 8 | data[1 + i];
	*end = 1 + n;
	return true;
}

static const char *dvc_lookup(const struct rdp_bytes *b, uint32_t id)
{
	for (size_t i = 0; i < b->ndvc; i++)
		if (b->dvc[i].id == id)
			return b->dvc[i].name;
	return NULL;
}

/* A create request this side sent: remembers the id's name (a name seen before gets the new id). */
static void learn(struct rdp_bytes *b, uint32_t id, const uint8_t *name, size_t len)
{
	char full[128], shortname[CTL_MAX_CHANNEL_NAME - 8 + 1]; /* after "drdynvc/" */
	size_t n = 0;

	while (n < len && n + 1 < sizeof(full) && name[n])
		full[n] = (char)name[n], n++;
	full[n] = '\0';
	rdp_bytes_dvc_name(full, shortname, sizeof(shortname));
	size_t i = 0;
	while (i < b->ndvc && strcmp(b->dvc[i].name + 8, shortname) != 0)
		i++;
	if (i == b->ndvc) {
		if (b->ndvc == RDP_BYTES_MAX_DVC)
			return;
		b->ndvc++;
		snprintf(b->dvc[i].name, sizeof(b->dvc[i].name), "drdynvc/%s", shortname);
	}
	b->dvc[i].id = id;
}

void rdp_bytes_sent(struct rdp_bytes *b, const char *channel, const uint8_t *data, size_t len,
                    uint64_t wire)
{
	const char *dvc = NULL;
	unsigned cmd;
	uint32_t id;
	size_t at;

	b->chan_out += wire;
	if (!strcmp(channel, "drdynvc") && dvc_id(data, len, &cmd, &id, &at)) {
		if (cmd == DVC_CREATE)
			learn(b, id, data + at, len - at);
		dvc = dvc_lookup(b, id);
	}
	if (!dvc) {
		worker_bytes(b->w, channel, 0, (int64_t)wire);
		return;
	}
	/* The PDU to its dynamic channel, the static channel's headers to drdynvc. */
	uint64_t pdu = len < wire ? len : wire;
	worker_bytes(b->w, dvc, 0, (int64_t)pdu);
	worker_bytes(b->w, channel, 0, (int64_t)(wire - pdu));
}

void rdp_bytes_received(struct rdp_bytes *b, const char *channel, const uint8_t *data, size_t len,
                        bool first)
{
	unsigned cmd;
	uint32_t id;
	size_t at;

	b->chan_in += len;
	if (first) {
		const char *dvc = NULL;
		if (!strcmp(channel, "drdynvc") && dvc_id(data, len, &cmd, &id, &at))
			dvc = dvc_lookup(b, id);
		snprintf(b->in_channel, sizeof(b->in_channel), "%s", dvc ? dvc : channel);
	} else if (!b->in_channel[0] || strncmp(b->in_channel, channel, strlen(channel)) != 0) {
		/* A chunk of another channel than the PDU under way: its own. */
		snprintf(b->in_channel, sizeof(b->in_channel), "%s", channel);
	}
	worker_bytes(b->w, b->in_channel, (int64_t)len, 0);
}

void rdp_bytes_account(struct rdp_bytes *b, bool activated, uint64_t in_total, uint64_t sent)
{
	uint64_t in = in_total > b->in_seen ? in_total - b->in_seen : 0;

	b->in_seen = in_total > b->in_seen ? in_total : b->in_seen;
	/* Channel payloads were counted where they passed; the rest is the connection's own. */
	in = in > b->chan_in ? in - b->chan_in : 0;
	uint64_t out = sent > b->chan_out ? sent - b->chan_out : 0;
	b->chan_in = b->chan_out = 0;
	if (!activated) {
		worker_bytes(b->w, "connect", (int64_t)in, (int64_t)out);
		return;
	}
	worker_bytes(b->w, "input", (int64_t)in, 0);
	worker_bytes(b->w, "updates", 0, (int64_t)out);
}
