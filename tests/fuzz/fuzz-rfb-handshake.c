/*
 * libFuzzer target for the server side of the RFB + VeNCrypt handshake.
 * The first input byte picks the options (TLS available, plaintext allowed)
 * and the caller's verdict on the credentials; the rest is what a viewer
 * sends. The handshake is driven as shojid drives it (send what is queued,
 * "run" TLS when asked, judge the credentials), once with all the bytes at
 * hand and once with the bytes arriving one at a time: both runs must send
 * the same bytes and end the same way. Broken invariants abort.
 *
 * The second half of the input is also fed to the client machine toward
 * libvncserver (rfb_inner), which parses libvncserver's bytes.
 *
 * Handles untrusted input: it is nothing but untrusted input.
 * Seeds: tests/fuzz/corpus/rfb-handshake/.
 */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rfb_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant failed: %s\n", #cond);                          \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct run {
	struct rfb_handshake hs;
	uint8_t out[RFB_HS_MAX_OUTPUT];
	size_t nout;
	size_t consumed;
	ssize_t last; /* the last rfb_hs_input() result */
};

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

static void drain(struct run *r)
{
	size_t k;

	/* Everything a handshake ever sends fits RFB_HS_MAX_OUTPUT. */
	while ((k = rfb_hs_output(&r->hs, r->out + r->nout, sizeof(r->out) - r->nout)) > 0)
		r->nout += k;
	CHECK(rfb_hs_state(&r->hs) != RFB_HS_SEND);
}

static void check_credentials(const struct rfb_handshake *hs)
{
	CHECK(memchr(hs->user, 0, sizeof(hs->user)));
	CHECK(memchr(hs->password, 0, sizeof(hs->password)));
	CHECK(hs->subtype == RFB_VENCRYPT_X509_PLAIN || hs->subtype == RFB_VENCRYPT_PLAIN);
	CHECK(hs->tls == (hs->subtype == RFB_VENCRYPT_X509_PLAIN));
	CHECK(hs->minor == 7 || hs->minor == 8);
}

/* The caller's side of one step; false when the handshake is over. */
static bool step_caller(struct run *r, bool verdict)
{
	drain(r);
	switch (rfb_hs_state(&r->hs)) {
	case RFB_HS_START_TLS:
		CHECK(r->hs.subtype == RFB_VENCRYPT_X509_PLAIN);
		CHECK(rfb_hs_tls_done(&r->hs) == 0);
		return true;
	case RFB_HS_CREDENTIALS:
		check_credentials(&r->hs);
		CHECK(rfb_hs_result(&r->hs, verdict, "refused") == 0);
		CHECK(all_zero(r->hs.password, sizeof(r->hs.password)));
		return true;
	case RFB_HS_READ:
		return true;
	default:
		return false;
	}
}

/* Feeds data as it arrives `chunk` bytes at a time. */
static void run(struct run *r, const struct rfb_hs_options *opt, bool verdict, const uint8_t *data,
                size_t size, size_t chunk)
{
	size_t have = 0;

	memset(r, 0, sizeof(*r));
	rfb_hs_init(&r->hs, opt);
	while (step_caller(r, verdict)) {
		if (rfb_hs_state(&r->hs) != RFB_HS_READ)
			continue;
		ssize_t n = rfb_hs_input(&r->hs, data + r->consumed, have - r->consumed);
		r->last = n;
		CHECK(n >= -1 && (n < 0 || (size_t)n <= have - r->consumed));
		if (n < 0) {
			CHECK(r->hs.error[0] != '\0');
			CHECK(all_zero(r->hs.password, sizeof(r->hs.password)));
			drain(r);
			CHECK(rfb_hs_state(&r->hs) == RFB_HS_FAILED);
			break;
		}
		if (n > 0) {
			r->consumed += (size_t)n;
			continue;
		}
		if (have == size)
			break; /* needs more than there is */
		have = size - have < chunk ? size : have + chunk;
	}
	if (rfb_hs_state(&r->hs) == RFB_HS_DONE) {
		CHECK(r->hs.error[0] == '\0');
		check_credentials(&r->hs);
		CHECK(r->nout >= 4 && memcmp(r->out + r->nout - 4, "\0\0\0\0", 4) == 0);
	}
	CHECK(r->nout >= RFB_VERSION_LEN && memcmp(r->out, "RFB 003.008\n", 12) == 0);
}

static void fuzz_inner(const uint8_t *data, size_t size)
{
	struct rfb_inner in;
	uint8_t out[64];
	size_t off = 0;

	rfb_inner_init(&in);
	for (;;) {
		while (rfb_inner_output(&in, out, sizeof(out)) > 0)
			;
		if (rfb_inner_state(&in) != RFB_HS_READ)
			break;
		ssize_t n = rfb_inner_input(&in, data + off, size - off);
		CHECK(n >= -1 && (n < 0 || (size_t)n <= size - off));
		if (n <= 0) {
			CHECK(n == 0 || (in.error[0] && rfb_inner_state(&in) == RFB_HS_FAILED));
			break;
		}
		off += (size_t)n;
	}
	for (const char *p = in.error; *p; p++)
		CHECK(*p >= 0x20 && *p < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, bytewise;

	if (size < 1)
		return 0;
	struct rfb_hs_options opt = {
	    .tls_available = data[0] & 1,
	    .allow_plaintext = data[0] & 2,
	};
	bool verdict = data[0] & 4;

	run(&whole, &opt, verdict, data + 1, size - 1, size);
	run(&bytewise, &opt, verdict, data + 1, size - 1, 1);
	CHECK(whole.nout == bytewise.nout && memcmp(whole.out, bytewise.out, whole.nout) == 0);
	CHECK(rfb_hs_state(&whole.hs) == rfb_hs_state(&bytewise.hs));
	CHECK(whole.consumed == bytewise.consumed);
	CHECK(strcmp(whole.hs.error, bytewise.hs.error) == 0);
	CHECK(strcmp(whole.hs.user, bytewise.hs.user) == 0);
	CHECK(whole.hs.subtype == bytewise.hs.subtype && whole.hs.tls == bytewise.hs.tls);
	rfb_hs_finish(&whole.hs);
	rfb_hs_finish(&bytewise.hs);

	fuzz_inner(data + 1 + (size - 1) / 2, (size - 1) - (size - 1) / 2);
	return 0;
}
