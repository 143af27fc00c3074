#include <check.h>

Suite *suite_rect(void);

Suite *suite_rect(void)
{
	return suite_create("rect"); /* PLACEHOLDER */
}
