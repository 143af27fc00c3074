#include <check.h>

Suite *suite_http_request(void);

Suite *suite_http_request(void)
{
	return suite_create("http_request"); /* PLACEHOLDER */
}
