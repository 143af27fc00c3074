/* Runs the render test suites with TAP output for automake's driver. */
#include <check.h>
#include <stdlib.h>

Suite *suite_egress_policy(void);
Suite *suite_http_request(void);
Suite *suite_limits(void);

int main(void)
{
	SRunner *sr = srunner_create(suite_egress_policy());
	srunner_add_suite(sr, suite_http_request());
	srunner_add_suite(sr, suite_limits());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
