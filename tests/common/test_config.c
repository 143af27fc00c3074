#include <check.h>

Suite *suite_config(void);

Suite *suite_config(void)
{
	return suite_create("config"); /* PLACEHOLDER */
}
