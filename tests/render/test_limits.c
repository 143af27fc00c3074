#include <check.h>

Suite *suite_limits(void);

Suite *suite_limits(void)
{
	return suite_create("limits"); /* PLACEHOLDER */
}
