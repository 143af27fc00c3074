/*
 * Tests of the clipboard text filter: what survives, what is stripped, the
 * limit on a character boundary, Latin-1 input (classic RFB cut text) and
 * output, UTF-16LE input and output (RDP's CF_UNICODETEXT), and that
 * whatever comes out passes cliptext_ok().
 */
#include "autoconfig.h"

#include <check.h>
#include <uchar.h>
#include <string.h>

#include "cliptext.h"
#include "util.h"

Suite *suite_cliptext(void);

static uint8_t out[256];

/* Filters a literal (sizeof - 1 keeps embedded NULs) and checks the result. */
#define FILTER(in, cs, max) filter((const uint8_t *)(in), sizeof(in) - 1, cs, max)

static const char *filter(const uint8_t *in, size_t len, enum cliptext_charset cs, size_t max)
{
	ck_assert_uint_lt(max, sizeof(out));
	memset(out, 0xee, sizeof(out));
	size_t n = cliptext_filter(in, len, cs, out, max);
	ck_assert_uint_le(n, max);
	ck_assert_uint_eq(out[n], 0xee); /* nothing written past what it returned */
	ck_assert(cliptext_ok(out, n));
	out[n] = '\0';
	return (const char *)out;
}

START_TEST(keeps_plain_text)
{
	ck_assert_str_eq(FILTER("hello, world", CLIPTEXT_UTF8, 100), "hello, world");
	ck_assert_str_eq(FILTER("a\tb\nc", CLIPTEXT_UTF8, 100), "a\tb\nc");
	ck_assert_str_eq(FILTER("日本語のテキスト", CLIPTEXT_UTF8, 100), "日本語のテキスト");
	ck_assert_str_eq(FILTER("emoji \xf0\x9f\x98\x80!", CLIPTEXT_UTF8, 100),
	                 "emoji \xf0\x9f\x98\x80!");
	ck_assert_str_eq(FILTER("", CLIPTEXT_UTF8, 100), "");
}
END_TEST

START_TEST(strips_controls)
{
	ck_assert_str_eq(FILTER("a\0b", CLIPTEXT_UTF8, 100), "ab");
	ck_assert_str_eq(FILTER("\x1b[31mred\x1b[0m", CLIPTEXT_UTF8, 100), "[31mred[0m");
	ck_assert_str_eq(FILTER("bell\a back\b ff\f vt\v del\x7f", CLIPTEXT_UTF8, 100),
	                 "bell back ff vt del");
	ck_assert_str_eq(FILTER("c1\xc2\x85\xc2\x9bx", CLIPTEXT_UTF8, 100), "c1x");
	ck_assert_str_eq(FILTER("nbsp\xc2\xa0ok", CLIPTEXT_UTF8, 100), "nbsp\xc2\xa0ok");
}
END_TEST

START_TEST(line_ends_become_lf)
{
	ck_assert_str_eq(FILTER("a\r\nb\r\n", CLIPTEXT_UTF8, 100), "a\nb\n");
	ck_assert_str_eq(FILTER("a\rb\r", CLIPTEXT_UTF8, 100), "a\nb\n");
	ck_assert_str_eq(FILTER("a\r\r\nb", CLIPTEXT_UTF8, 100), "a\n\nb");
	ck_assert_str_eq(FILTER("a\r\nb", CLIPTEXT_LATIN1, 100), "a\nb");
}
END_TEST

START_TEST(drops_invalid_utf8)
{
	ck_assert_str_eq(FILTER("a\xffz", CLIPTEXT_UTF8, 100), "az");
	ck_assert_str_eq(FILTER("over\xc0\xaflong", CLIPTEXT_UTF8, 100), "overlong");
	ck_assert_str_eq(FILTER("sur\xed\xa0\x80rogate", CLIPTEXT_UTF8, 100), "surrogate");
	ck_assert_str_eq(FILTER("big\xf4\x90\x80\x80!", CLIPTEXT_UTF8, 100), "big!");
	ck_assert_str_eq(FILTER("cut\xe3\x81", CLIPTEXT_UTF8, 100), "cut");
	ck_assert_str_eq(FILTER("lone\x80\xbf", CLIPTEXT_UTF8, 100), "lone");
	/* A broken sequence does not swallow the valid character after it. */
	ck_assert_str_eq(FILTER("\xe3\x81"
	                        "a",
	                        CLIPTEXT_UTF8, 100),
	                 "a");
}
END_TEST

START_TEST(truncates_on_a_character_boundary)
{
	ck_assert_str_eq(FILTER("abcdef", CLIPTEXT_UTF8, 4), "abcd");
	/* 3 bytes per character: 7 bytes hold two of them, not a part of the third. */
	ck_assert_str_eq(FILTER("日本語", CLIPTEXT_UTF8, 7), "日本");
	ck_assert_str_eq(FILTER("日本語", CLIPTEXT_UTF8, 2), "");
	ck_assert_str_eq(FILTER("a\xf0\x9f\x98\x80", CLIPTEXT_UTF8, 4), "a");
	/* Latin-1 é is two bytes of UTF-8. */
	ck_assert_str_eq(FILTER("caf\xe9", CLIPTEXT_LATIN1, 4), "caf");
	ck_assert_str_eq(FILTER("caf\xe9", CLIPTEXT_LATIN1, 5), "caf\xc3\xa9");
	/* Stripped characters do not count. */
	ck_assert_str_eq(FILTER("\0\0\0\0abc", CLIPTEXT_UTF8, 3), "abc");
	ck_assert_str_eq(FILTER("abc", CLIPTEXT_UTF8, 0), "");
}
END_TEST

START_TEST(latin1_in_and_out)
{
	ck_assert_str_eq(FILTER("na\xefve \xa5"
	                        "100 \xd7",
	                        CLIPTEXT_LATIN1, 100),
	                 "na\xc3\xafve \xc2\xa5"
	                 "100 \xc3\x97");
	ck_assert_str_eq(FILTER("c1\x85\x9b del\x7f nul\0!", CLIPTEXT_LATIN1, 100), "c1 del nul!");

	const char *u = "caf\xc3\xa9 日本 \xc2\xa5";
	uint8_t l[32];
	size_t n = cliptext_to_latin1((const uint8_t *)u, strlen(u), l);
	ck_assert_uint_eq(n, 9);
	ck_assert_mem_eq(l, "caf\xe9 ?? \xa5", 9);
}
END_TEST

/* A u"" literal (its units, without the literal's own NUL) as UTF-16LE bytes. */
#define UTF16(lit) le16(lit, sizeof(lit) / sizeof(char16_t) - 1)

static uint8_t le16_buf[256];
static size_t le16_len;

static const uint8_t *le16(const char16_t *s, size_t units)
{
	ck_assert_uint_le(units * 2, sizeof(le16_buf));
	for (size_t i = 0; i < units; i++) {
		le16_buf[2 * i] = (uint8_t)(s[i] & 0xff);
		le16_buf[2 * i + 1] = (uint8_t)(s[i] >> 8);
	}
	le16_len = units * 2;
	return le16_buf;
}

static const char *filter16(const uint8_t *in, size_t max)
{
	return filter(in, le16_len, CLIPTEXT_UTF16LE, max);
}

START_TEST(utf16le_in)
{
	ck_assert_str_eq(filter16(UTF16(u"Hello, 日本語"), 100), "Hello, 日本語");
	/* A surrogate pair: U+1F600. */
	ck_assert_str_eq(filter16(UTF16(u"a\U0001F600b"), 100), "a\U0001F600b");
	/* CRLF and lone CR become LF; controls go, tab stays. */
	ck_assert_str_eq(filter16(UTF16(u"a\r\nb\rc\td\x1b\x7f\x85"), 100), "a\nb\nc\td");
	/* The NUL terminator ends the text; what follows it is not text. */
	ck_assert_str_eq(filter16(UTF16(u"abc\0def"), 100), "abc");
	ck_assert_str_eq(filter16(UTF16(u"\0abc"), 100), "");
	ck_assert_str_eq(filter16(UTF16(u""), 100), "");
}
END_TEST

START_TEST(utf16le_drops_lone_surrogates)
{
	static const char16_t lone_high[] = {'a', 0xd83d, 'b', 0};
	static const char16_t lone_low[] = {'a', 0xde00, 'b', 0};
	static const char16_t high_high_low[] = {'a', 0xd83d, 0xd83d, 0xde00, 0};
	static const char16_t reversed[] = {0xde00, 0xd83d, 'x', 0};
	static const char16_t high_at_end[] = {'a', 0xd83d};

	ck_assert_str_eq(filter16(le16(lone_high, 3), 100), "ab");
	ck_assert_str_eq(filter16(le16(lone_low, 3), 100), "ab");
	/* The first high surrogate is alone; the second pairs with the low one. */
	ck_assert_str_eq(filter16(le16(high_high_low, 4), 100), "a\xf0\x9f\x98\x80");
	ck_assert_str_eq(filter16(le16(reversed, 3), 100), "x");
	ck_assert_str_eq(filter16(le16(high_at_end, 2), 100), "a");
	/* An odd last byte is no unit. */
	le16(u"ab", 2);
	ck_assert_str_eq(filter(le16_buf, 3, CLIPTEXT_UTF16LE, 100), "a");
	ck_assert_str_eq(filter(le16_buf, 1, CLIPTEXT_UTF16LE, 100), "");
}
END_TEST

START_TEST(utf16le_limit_on_the_utf8_output)
{
	/* The limit counts UTF-8 bytes out: 日 is 3 of them, two UTF-16 bytes in. */
	ck_assert_str_eq(filter16(UTF16(u"ab日本"), 5), "ab日");
	ck_assert_str_eq(filter16(UTF16(u"ab日本"), 7), "ab日");
	ck_assert_str_eq(filter16(UTF16(u"ab日本"), 8), "ab日本");
	/* A surrogate pair (4 bytes of UTF-8) is never split. */
	ck_assert_str_eq(filter16(UTF16(u"a\U0001F600"), 4), "a");
	ck_assert_str_eq(filter16(UTF16(u"a\U0001F600"), 5), "a\xf0\x9f\x98\x80");
	ck_assert_str_eq(filter16(UTF16(u"abc"), 0), "");
}
END_TEST

/* UTF-8 to UTF-16LE with the terminator; the bytes compared with a u"" literal. */
static void to16_is(const char *in, size_t cap, const char16_t *want, size_t units)
{
	uint8_t buf[256];
	memset(buf, 0xee, sizeof(buf));
	ck_assert_uint_le(cap, sizeof(buf) - 1);
	size_t n = cliptext_to_utf16le((const uint8_t *)in, strlen(in), buf, cap);
	ck_assert_uint_le(n, cap);
	ck_assert_uint_eq(buf[n], 0xee);
	ck_assert_uint_eq(n, units * 2 + 2);
	for (size_t i = 0; i < units; i++) {
		ck_assert_uint_eq(buf[2 * i], want[i] & 0xff);
		ck_assert_uint_eq(buf[2 * i + 1], want[i] >> 8);
	}
	ck_assert_uint_eq(buf[n - 2], 0);
	ck_assert_uint_eq(buf[n - 1], 0);
}

#define TO16(in, cap, lit) to16_is(in, cap, lit, sizeof(lit) / sizeof(char16_t) - 1)

START_TEST(utf16le_out)
{
	TO16("Hello, 日本語", CLIPTEXT_UTF16_MAX(strlen("Hello, 日本語")), u"Hello, 日本語");
	TO16("a\nb", CLIPTEXT_UTF16_MAX(3), u"a\r\nb");
	TO16("\xf0\x9f\x98\x80", CLIPTEXT_UTF16_MAX(4), u"\U0001F600");
	TO16("", 2, u"");
	/* Whole characters and the terminator within cap. */
	TO16("ab日", 6, u"ab");
	TO16("a\U0001F600", 7, u"a");
	TO16("a\nb", 5, u"a");
	/* Round trip through the filter. */
	uint8_t buf[64];
	const char *text = "行1\n行2 \xf0\x9f\x98\x80";
	size_t n = cliptext_to_utf16le((const uint8_t *)text, strlen(text), buf, sizeof(buf));
	ck_assert_str_eq(filter(buf, n, CLIPTEXT_UTF16LE, 100), text);
	ck_assert_uint_eq(cliptext_to_utf16le((const uint8_t *)"a", 1, buf, 1), 0);
}
END_TEST

START_TEST(latin1_only_when_it_holds_the_text)
{
	ck_assert(cliptext_is_latin1((const uint8_t *)"", 0));
	ck_assert(cliptext_is_latin1((const uint8_t *)"caf\xc3\xa9 \xc2\xa5\xc3\xbf", 11));
	ck_assert(!cliptext_is_latin1((const uint8_t *)"caf\xc3\xa9 日本", 12));
	ck_assert(!cliptext_is_latin1((const uint8_t *)"\xc4\x80", 2)); /* U+0100 */
	ck_assert(!cliptext_is_latin1((const uint8_t *)"a\xe9", 2));    /* not UTF-8 */
}
END_TEST

START_TEST(ok_accepts_only_filtered)
{
	ck_assert(cliptext_ok((const uint8_t *)"", 0));
	ck_assert(cliptext_ok((const uint8_t *)"a\tb\n日本", 10));
	ck_assert(!cliptext_ok((const uint8_t *)"a\rb", 3));
	ck_assert(!cliptext_ok((const uint8_t *)"a\0b", 3));
	ck_assert(!cliptext_ok((const uint8_t *)"\xc2\x85", 2));
	ck_assert(!cliptext_ok((const uint8_t *)"\xe9", 1));
	ck_assert(!cliptext_ok((const uint8_t *)"\xe6\x97", 2));
	ck_assert(cliptext_is_control(0));
	ck_assert(cliptext_is_control('\r'));
	ck_assert(!cliptext_is_control('\t'));
	ck_assert(!cliptext_is_control(0xa0));
}
END_TEST

Suite *suite_cliptext(void)
{
	Suite *s = suite_create("cliptext");
	TCase *tc = tcase_create("filter");

	tcase_add_test(tc, keeps_plain_text);
	tcase_add_test(tc, strips_controls);
	tcase_add_test(tc, line_ends_become_lf);
	tcase_add_test(tc, drops_invalid_utf8);
	tcase_add_test(tc, truncates_on_a_character_boundary);
	tcase_add_test(tc, latin1_in_and_out);
	tcase_add_test(tc, ok_accepts_only_filtered);
	tcase_add_test(tc, utf16le_in);
	tcase_add_test(tc, utf16le_drops_lone_surrogates);
	tcase_add_test(tc, utf16le_limit_on_the_utf8_output);
	tcase_add_test(tc, utf16le_out);
	tcase_add_test(tc, latin1_only_when_it_holds_the_text);
	suite_add_tcase(s, tc);
	return s;
}
