/* Runs the proxy test suites with TAP output for automake's driver. */
#include <check.h>
#include <stdlib.h>

Suite *suite_pixlink_client(void);
Suite *suite_userdb(void);
Suite *suite_rfb_handshake(void);
Suite *suite_rfb_filter(void);
Suite *suite_ctl(void);
Suite *suite_x224(void);
Suite *suite_rdp_session(void);
Suite *suite_admin_proto(void);
Suite *suite_h264_encoder(void);
Suite *suite_fbdiff(void);
Suite *suite_login_limit(void);
Suite *suite_notice(void);
Suite *suite_dvc_filter(void);
Suite *suite_cliprdr_filter(void);
Suite *suite_http_get(void);
Suite *suite_zgfx_enc(void);
Suite *suite_audit_limit(void);
Suite *suite_rdp_bytes(void);
Suite *suite_gfx_cache(void);

int main(void)
{
	SRunner *sr = srunner_create(suite_pixlink_client());
	srunner_add_suite(sr, suite_userdb());
	srunner_add_suite(sr, suite_rfb_handshake());
	srunner_add_suite(sr, suite_rfb_filter());
	srunner_add_suite(sr, suite_ctl());
	srunner_add_suite(sr, suite_x224());
	srunner_add_suite(sr, suite_rdp_session());
	srunner_add_suite(sr, suite_admin_proto());
	srunner_add_suite(sr, suite_h264_encoder());
	srunner_add_suite(sr, suite_fbdiff());
	srunner_add_suite(sr, suite_gfx_cache());
	srunner_add_suite(sr, suite_login_limit());
	srunner_add_suite(sr, suite_notice());
	srunner_add_suite(sr, suite_dvc_filter());
	srunner_add_suite(sr, suite_cliprdr_filter());
	srunner_add_suite(sr, suite_http_get());
	srunner_add_suite(sr, suite_zgfx_enc());
	srunner_add_suite(sr, suite_audit_limit());
	srunner_add_suite(sr, suite_rdp_bytes());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
