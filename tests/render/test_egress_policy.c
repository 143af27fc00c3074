#include <check.h>

Suite *suite_egress_policy(void);

Suite *suite_egress_policy(void)
{
	return suite_create("egress_policy"); /* PLACEHOLDER */
}
