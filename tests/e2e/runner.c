/* Runs the e2e test suites with TAP output for automake's driver. */
#include <check.h>
#include <stdlib.h>

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

int main(void)
{
	SRunner *sr = srunner_create(suite_render_session());
	srunner_add_suite(sr, suite_vnc());
	srunner_add_suite(sr, suite_vncviewer());
	srunner_add_suite(sr, suite_ime());
	srunner_add_suite(sr, suite_client_ime());
	srunner_add_suite(sr, suite_rdp());
	srunner_add_suite(sr, suite_pool());
	srunner_add_suite(sr, suite_rdp_video());
	srunner_add_suite(sr, suite_encoding());
	srunner_add_suite(sr, suite_xfreerdp());
	srunner_add_suite(sr, suite_faults());
	srunner_add_suite(sr, suite_neighbours());
	srunner_add_suite(sr, suite_clipboard());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
