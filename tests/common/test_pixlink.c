#include <check.h>

Suite *suite_pixlink(void);

Suite *suite_pixlink(void)
{
	return suite_create("pixlink"); /* PLACEHOLDER */
}
