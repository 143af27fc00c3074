/* Runs the e2e test suites with TAP output for automake's driver. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *suite_render_session(void);
Suite *suite_vnc(void);
Suite *suite_vncviewer(void);
Suite *suite_ime(void);
Suite *suite_client_ime(void);
Suite *suite_rdp(void);
Suite *suite_pool(void);
Suite *suite_rdp_video(void);
Suite *suite_encoding(void);
Suite *suite_xfreerdp(void);
Suite *suite_faults(void);
Suite *suite_neighbours(void);
Suite *suite_clipboard(void);
Suite *suite_rdp_clipboard(void);

/* SHOJI_E2E_SKIP: suite names, separated by commas, not to run. */
static bool skipped(const char *name)
{
	const char *list = getenv("SHOJI_E2E_SKIP");
	size_t n = strlen(name);

	for (const char *p = list; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] != 0))
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == 0))
			return true;
	return false;
}

int main(void)
{
	static const struct {
		const char *name; /* as the suite calls itself (CK_RUN_SUITE) */
		Suite *(*make)(void);
	} suites[] = {
	    {"render_session", suite_render_session},
	    {"vnc", suite_vnc},
	    {"vncviewer", suite_vncviewer},
	    {"ime", suite_ime},
	    {"client_ime", suite_client_ime},
	    {"rdp", suite_rdp},
	    {"pool", suite_pool},
	    {"rdp_video", suite_rdp_video},
	    {"encoding", suite_encoding},
	    {"xfreerdp", suite_xfreerdp},
	    {"faults", suite_faults},
	    {"neighbours", suite_neighbours},
	    {"clipboard", suite_clipboard},
	    {"rdp_clipboard", suite_rdp_clipboard},
	};
	SRunner *sr = srunner_create(NULL);

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		if (skipped(suites[i].name))
			fprintf(stderr, "e2e: suite %s skipped (SHOJI_E2E_SKIP)\n", suites[i].name);
		else
			srunner_add_suite(sr, suites[i].make());
	}
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
