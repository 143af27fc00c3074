/*
 * The admin socket protocol's parsers: requests as a local user may send
 * them (well-formed, partial, malformed) and answer records.
 */
#include <check.h>
#include <string.h>

#include "admin_proto.h"

Suite *suite_admin_proto(void);

static struct admin_request req;

static ssize_t parse(const char *s)
{
	return admin_parse_request(s, strlen(s), &req);
}

START_TEST(parses_commands)
{
	ck_assert_int_eq(parse("status\n"), 7);
	ck_assert_int_eq(req.command, ADMIN_STATUS);
	ck_assert_int_eq(parse("sessions\nmore"), 9);
	ck_assert_int_eq(req.command, ADMIN_SESSIONS);
	ck_assert_int_eq(parse("show 0123456789abcdef\n"), 22);
	ck_assert_int_eq(req.command, ADMIN_SHOW);
	ck_assert_str_eq(req.args[0], "0123456789abcdef");
	ck_assert_int_eq(parse("kill 0123456789abcdef left the office: 終業\n") > 0, 1);
	ck_assert_int_eq(req.command, ADMIN_KILL);
	ck_assert_str_eq(req.reason, "left the office: 終業");
	ck_assert_int_eq(parse("kill-user tanaka policy\n") > 0, 1);
	ck_assert_int_eq(req.command, ADMIN_KILL_USER);
	ck_assert_str_eq(req.args[0], "tanaka");
	ck_assert_int_eq(parse("drain\n") > 0 && req.command == ADMIN_DRAIN, 1);
	ck_assert_int_eq(parse("undrain\n") > 0 && req.command == ADMIN_UNDRAIN, 1);
	ck_assert_int_eq(parse("pool min_ready=3 max_sessions=20\n") > 0, 1);
	ck_assert_int_eq(req.command, ADMIN_POOL);
	ck_assert_uint_eq(req.nargs, 2);
	ck_assert_str_eq(admin_command_name(ADMIN_KILL_USER), "kill-user");
}
END_TEST

START_TEST(waits_for_the_line)
{
	ck_assert_int_eq(parse(""), 0);
	ck_assert_int_eq(parse("stat"), 0);
	ck_assert_int_eq(parse("status"), 0);
	char big[ADMIN_MAX_LINE + 8];
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(admin_parse_request(big, ADMIN_MAX_LINE - 1, &req), 0);
	ck_assert_int_eq(admin_parse_request(big, ADMIN_MAX_LINE, &req), -1);
	ck_assert_int_eq(admin_parse_request(big, sizeof(big), &req), -1);
}
END_TEST

START_TEST(refuses_malformed)
{
	static const char *const bad[] = {
	    "\n",
	    "reboot\n",
	    "status now\n",
	    "status \n",
	    " status\n",
	    "show\n",
	    "show a b\n",
	    "show  abc\n",
	    "show ab\tc\n",
	    "show caf\xc3\xa9\n",
	    "kill abc\n",
	    "kill abc \n",
	    "kill abc why\x01\n",
	    "kill-user\n",
	    "pool\n",
	    "pool min_ready\n",
	    "pool min_ready=\n",
	    "pool min_ready=-1\n",
	    "pool min_ready=1x\n",
	    "pool min_ready=99999999\n",
	    "pool min_ready=1 min_ready=2\n",
	    "pool min_ready=1 max_sessions=2 min_ready=3\n",
	    "pool uid_range=1\n",
	    "drain\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i]) == -1, "accepted %s", bad[i]);
	char longword[ADMIN_MAX_WORD + 8] = "show ";
	memset(longword + 5, 'x', ADMIN_MAX_WORD + 1);
	strcpy(longword + 5 + ADMIN_MAX_WORD + 1, "\n");
	ck_assert_int_eq(parse(longword), -1);
}
END_TEST

START_TEST(pool_args)
{
	long v = -1;
	ck_assert_int_eq(admin_parse_pool_arg("min_ready=0", &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(admin_parse_pool_arg("max_sessions=1000000", &v), 1);
	ck_assert_int_eq(v, 1000000);
	ck_assert_int_eq(admin_parse_pool_arg("max_sessions=1000001", &v), -1);
	ck_assert_int_eq(admin_parse_pool_arg("max_sessions=+1", &v), -1);
}
END_TEST

START_TEST(records)
{
	struct admin_field f[4];
	const char *line = "id=ab12\tuser=田中\tidle_s=3\tresolution=";

	ck_assert_int_eq(admin_parse_record(line, strlen(line), f, 4), 4);
	ck_assert_str_eq(f[0].name, "id");
	ck_assert_str_eq(f[0].value, "ab12");
	ck_assert_str_eq(f[1].value, "田中");
	ck_assert_str_eq(f[3].name, "resolution");
	ck_assert_str_eq(f[3].value, "");
	ck_assert_int_eq(admin_parse_record(line, strlen(line), f, 3), -1); /* too many */
	static const char *const bad[] = {"",       "id",         "=x",      "Id=x",
	                                  "id=x\t", "id=x\tuser", "id=a\rb", "i d=x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(admin_parse_record(bad[i], strlen(bad[i]), f, 4) == -1, "accepted %s",
		              bad[i]);
}
END_TEST

Suite *suite_admin_proto(void)
{
	Suite *s = suite_create("admin_proto");
	TCase *tc = tcase_create("admin_proto");
	tcase_add_test(tc, parses_commands);
	tcase_add_test(tc, waits_for_the_line);
	tcase_add_test(tc, refuses_malformed);
	tcase_add_test(tc, pool_args);
	tcase_add_test(tc, records);
	suite_add_tcase(s, tc);
	return s;
}
