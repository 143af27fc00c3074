/* Runs the common test suites with TAP output for automake's driver. */
#include <check.h>
#include <stdlib.h>

Suite *suite_audit(void);
Suite *suite_cliptext(void);
Suite *suite_config(void);
Suite *suite_pixlink(void);
Suite *suite_rect(void);
Suite *suite_token_bucket(void);
Suite *suite_video_detect(void);

int main(void)
{
	SRunner *sr = srunner_create(suite_audit());
	srunner_add_suite(sr, suite_cliptext());
	srunner_add_suite(sr, suite_config());
	srunner_add_suite(sr, suite_pixlink());
	srunner_add_suite(sr, suite_rect());
	srunner_add_suite(sr, suite_token_bucket());
	srunner_add_suite(sr, suite_video_detect());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
