#include <check.h>

Suite *suite_pixlink_client(void);

Suite *suite_pixlink_client(void)
{
	return suite_create("pixlink_client"); /* PLACEHOLDER */
}
