#include <check.h>

Suite *suite_audit(void);

Suite *suite_audit(void)
{
	return suite_create("audit"); /* PLACEHOLDER */
}
