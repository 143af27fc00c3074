#include <check.h>

Suite *suite_render_session(void);

Suite *suite_render_session(void)
{
	return suite_create("render_session"); /* PLACEHOLDER */
}
