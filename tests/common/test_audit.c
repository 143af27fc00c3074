/* Tests of the audit log writer: JSON escaping, appending, overflow. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"

Suite *suite_audit(void);

START_TEST(formats_fields)
{
	char buf[512];
	int n = audit_format(buf, sizeof(buf), "T", "egress", AUDIT_STR, "host", "example.jp",
			     AUDIT_INT, "port", 443LL, AUDIT_BOOL, "allowed", 1, AUDIT_END);
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(buf, "{\"time\":\"T\",\"event\":\"egress\",\"host\":\"example.jp\","
			      "\"port\":443,\"allowed\":true}\n");
}
END_TEST

START_TEST(formats_counters)
{
	char buf[512];
	const struct audit_counter c[] = {
	    {"framebuffer", 10, 6000000000ull},
	    {"cut\"text", 0, 0},
	};
	int n = audit_format(buf, sizeof(buf), "T", "connection_bytes", AUDIT_COUNTERS, "channels",
			     c, (size_t)2, AUDIT_INT, "in", 10LL, AUDIT_END);
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(buf, "{\"time\":\"T\",\"event\":\"connection_bytes\",\"channels\":"
			      "{\"framebuffer\":{\"in\":10,\"out\":6000000000},"
			      "\"cut\\\"text\":{\"in\":0,\"out\":0}},\"in\":10}\n");
	n = audit_format(buf, sizeof(buf), "T", "e", AUDIT_COUNTERS, "channels", c, (size_t)0,
			 AUDIT_END);
	ck_assert_str_eq(buf, "{\"time\":\"T\",\"event\":\"e\",\"channels\":{}}\n");
}
END_TEST

START_TEST(escapes_hostile_strings)
{
	char buf[512];
	int n = audit_format(buf, sizeof(buf), "T", "login", AUDIT_STR, "user",
			     "a\"b\\c\n\x01\xff\xe6\x97\xa5", AUDIT_END);
	ck_assert_int_gt(n, 0);
	ck_assert_str_eq(buf, "{\"time\":\"T\",\"event\":\"login\",\"user\":"
			      "\"a\\\"b\\\\c\\u000a\\u0001\\ufffd\xe6\x97\xa5\"}\n");
}
END_TEST

START_TEST(refuses_overflow)
{
	char buf[40];
	ck_assert_int_eq(audit_format(buf, sizeof(buf), "T", "e", AUDIT_STR, "k",
				      "a long value that does not fit", AUDIT_END),
			 -1);
}
END_TEST

START_TEST(appends_lines)
{
	char path[] = "/tmp/shoji-audit-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	struct audit_log *log = audit_open(path);
	ck_assert_ptr_nonnull(log);
	ck_assert_int_eq(audit_event(log, "session_start", AUDIT_STR, "session", "s1", AUDIT_END), 0);
	ck_assert_int_eq(audit_event(log, "session_end", AUDIT_STR, "session", "s1", AUDIT_STR,
				     "reason", "closed", AUDIT_END),
			 0);
	audit_close(log);
	FILE *f = fopen(path, "r");
	char line[256];
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	ck_assert_ptr_nonnull(strstr(line, "\"event\":\"session_start\""));
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	ck_assert_ptr_nonnull(strstr(line, "\"reason\":\"closed\""));
	ck_assert_ptr_null(fgets(line, sizeof(line), f));
	fclose(f);
	unlink(path);
	ck_assert_int_eq(audit_event(NULL, "x", AUDIT_END), 0);
}
END_TEST

Suite *suite_audit(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("audit");
	tcase_add_test(tc, formats_fields);
	tcase_add_test(tc, formats_counters);
	tcase_add_test(tc, escapes_hostile_strings);
	tcase_add_test(tc, refuses_overflow);
	tcase_add_test(tc, appends_lines);
	suite_add_tcase(s, tc);
	return s;
}
