/* Tests of the RDP bytes per channel: dynamic channels by their PDUs, the rest by phase. */
#include <check.h>
#include <string.h>

#include "rdp_bytes.h"
#include "worker.h"

Suite *suite_rdp_bytes(void);

static const struct ctl_channel_bytes *find(const struct ctl_channel_bytes *c, size_t n,
                                            const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c[i].name, name))
			return &c[i];
	return NULL;
}

START_TEST(channels_and_phases)
{
	static struct worker w = {.ctl_fd = -1, .client_fd = -1};
	struct ctl_channel_bytes c[CTL_MAX_CHANNELS];
	struct rdp_bytes b;
	/* Create requests: cmd 1, 1-byte ids 3 and 4, then the names. */
	static const uint8_t create_gfx[] = "\x10\x03Microsoft::Windows::RDS::Graphics";
	static const uint8_t create_disp[] = "\x10\x04Microsoft::Windows::RDS::DisplayControl";
	static const uint8_t caps[] = {0x50, 0x00, 0x01, 0x00};
	uint8_t data[1600] = {0x30, 0x03}; /* DATA on channel 3 */

	rdp_bytes_init(&b, &w);
	rdp_bytes_account(&b, false, 900, 1200); /* the connection sequence */
	rdp_bytes_sent(&b, "drdynvc", caps, sizeof(caps), 4 + 20);
	rdp_bytes_sent(&b, "drdynvc", create_gfx, sizeof(create_gfx), sizeof(create_gfx) + 20);
	rdp_bytes_sent(&b, "drdynvc", create_disp, sizeof(create_disp), sizeof(create_disp) + 20);
	rdp_bytes_sent(&b, "drdynvc", data, sizeof(data), sizeof(data) + 20);
	/* The client: a create response for 4 (disp), a 2-chunk PDU on 3 (rdpgfx). */
	static const uint8_t resp[] = {0x10, 0x04, 0, 0, 0, 0};
	rdp_bytes_received(&b, "drdynvc", resp, sizeof(resp), true);
	rdp_bytes_received(&b, "drdynvc", data, 100, true);
	rdp_bytes_received(&b, "drdynvc", data + 100, 50, false);
	/* An id never created: drdynvc's own. A channel not opened: dropped. */
	uint8_t stray[] = {0x30, 0x09, 1, 2};
	rdp_bytes_received(&b, "drdynvc", stray, sizeof(stray), true);
	rdp_bytes_received(&b, "dropped", stray, sizeof(stray), true);
	uint64_t out_ch = 24 + sizeof(create_gfx) + 20 + sizeof(create_disp) + 20 + 1620;
	rdp_bytes_account(&b, true, 900 + 500, out_ch + 3000);

	size_t n = worker_bytes_snapshot(&w, c, CTL_MAX_CHANNELS);
	const struct ctl_channel_bytes *gfx = find(c, n, "drdynvc/rdpgfx");
	const struct ctl_channel_bytes *disp = find(c, n, "drdynvc/disp");
	const struct ctl_channel_bytes *dvc = find(c, n, "drdynvc");
	ck_assert(gfx && disp && dvc);
	ck_assert(gfx->out == sizeof(create_gfx) + sizeof(data) && gfx->in == 150);
	ck_assert(disp->out == sizeof(create_disp) && disp->in == sizeof(resp));
	ck_assert(dvc->out == 24 + 3 * 20 && dvc->in == sizeof(stray));
	ck_assert(find(c, n, "dropped")->in == sizeof(stray));
	ck_assert(find(c, n, "connect")->in == 900 && find(c, n, "connect")->out == 1200);
	ck_assert(find(c, n, "updates")->out == 3000);
	ck_assert(find(c, n, "input")->in == 500 - sizeof(resp) - 150 - 2 * sizeof(stray));
	ck_assert(!find(c, n, "rdpdr") && !find(c, n, "cliprdr"));
}
END_TEST

START_TEST(short_names)
{
	char out[17];

	rdp_bytes_dvc_name("Microsoft::Windows::RDS::Graphics", out, sizeof(out));
	ck_assert_str_eq(out, "rdpgfx");
	rdp_bytes_dvc_name("Some::Vendor Channel With A Long Name", out, sizeof(out));
	ck_assert_str_eq(out, "some__vendor_cha");
	rdp_bytes_dvc_name("", out, sizeof(out));
	ck_assert_str_eq(out, "_");
}
END_TEST

Suite *suite_rdp_bytes(void)
{
	Suite *s = suite_create("rdp_bytes");
	TCase *tc = tcase_create("rdp_bytes");
	tcase_add_test(tc, channels_and_phases);
	tcase_add_test(tc, short_names);
	suite_add_tcase(s, tc);
	return s;
}
