/*
 * Tests of the config module: the INI syntax, every value type, each kind
 * of error and its message, the cross-key checks, file loading, and that
 * the example file in the source tree is the one the code generates.
 */
#include "autoconfig.h"

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define ERRLEN 1024
#define ALL_SECTIONS                                                                               \
	"[server], [tls], [auth], [vnc], [rdp], [sandbox], [browser], [egress], [display], "       \
	"[pool], [policy], [audit], [metrics]"

static char err[ERRLEN];

static struct shoji_config *parse(const char *text)
{
	err[0] = '\0';
	return config_parse_buf(text, strlen(text), "shoji.conf", err, sizeof(err));
}

/* Parses text that must be refused, and returns the message. */
static const char *parse_error(const char *text)
{
	struct shoji_config *cfg = parse(text);

	ck_assert_msg(cfg == NULL, "accepted: %s", text);
	ck_assert_msg(err[0] != '\0', "no message for: %s", text);
	ck_assert_msg(strchr(err, '\n') == NULL, "message has a newline: %s", err);
	return err;
}

static void assert_error(const char *text, const char *message)
{
	ck_assert_str_eq(parse_error(text), message);
}

static void assert_error_has(const char *text, const char *part)
{
	const char *msg = parse_error(text);
	ck_assert_msg(strstr(msg, part) != NULL, "\"%s\" not in \"%s\"", part, msg);
}

/* Parses text that must be accepted and pass config_validate. */
static struct shoji_config *parse_ok(const char *text)
{
	struct shoji_config *cfg = parse(text);

	ck_assert_msg(cfg != NULL, "refused: %s", err);
	ck_assert_msg(config_validate(cfg, err, sizeof(err)) == 0, "invalid: %s", err);
	return cfg;
}

/* Parses text that is well-formed but must fail config_validate. */
static const char *validate_error(const char *text)
{
	struct shoji_config *cfg = parse(text);

	ck_assert_msg(cfg != NULL, "refused: %s", err);
	err[0] = '\0';
	ck_assert_msg(config_validate(cfg, err, sizeof(err)) == -1, "valid: %s", text);
	config_destroy(cfg);
	return err;
}

static char *values_of(const struct shoji_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	config_print_values(cfg, f);
	fclose(f);
	return buf;
}

static char *example_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	config_print_example(f);
	fclose(f);
	return buf;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long len;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	ck_assert_int_ge(len, 0);
	rewind(f);
	buf = calloc((size_t)len + 1, 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return buf;
}

/* A copy of s with every `from` replaced by `to`. */
static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t flen = strlen(from), tlen = strlen(to), n = 0;
	char *out, *o;

	for (const char *p = s; (p = strstr(p, from)); p += flen)
		n++;
	out = calloc(strlen(s) + n * tlen + 1, 1);
	ck_assert_ptr_nonnull(out);
	o = out;
	for (const char *p = s, *hit; *p; p = hit + flen) {
		hit = strstr(p, from);
		if (!hit) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(hit - p));
		o += hit - p;
		memcpy(o, to, tlen);
		o += tlen;
	}
	return out;
}

static char *write_temp(const char *text, size_t len)
{
	char *path = strdup("/tmp/shoji-test-config-XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* ---- defaults ----------------------------------------------------------- */

START_TEST(test_defaults)
{
	struct shoji_config *cfg = config_defaults();

	ck_assert_str_eq(cfg->source, "(defaults)");
	ck_assert_str_eq(cfg->server_state_dir, "/var/lib/shoji");
	ck_assert_str_eq(cfg->server_admin_socket, "/run/shoji/admin.sock");
	ck_assert_str_eq(cfg->server_admin_group, "shoji-admin");
	ck_assert_int_eq(cfg->server_log_level, SHOJI_LOG_INFO);
	ck_assert_str_eq(cfg->tls_cert, "/etc/shoji/tls/server.crt");
	ck_assert_uint_eq(cfg->vnc_listen.n, 1);
	ck_assert_str_eq(cfg->vnc_listen.items[0], "0.0.0.0:5900");
	ck_assert(!cfg->vnc_allow_plaintext);
	ck_assert_str_eq(cfg->rdp_listen.items[0], "0.0.0.0:3389");
	ck_assert(!cfg->rdp_nla);
	ck_assert_uint_eq(cfg->sandbox_uid_range.lo, 200000);
	ck_assert_uint_eq(cfg->sandbox_uid_range.hi, 200999);
	ck_assert_uint_eq(cfg->sandbox_memory_max, 2ull << 30);
	ck_assert_int_eq(cfg->sandbox_pids_max, 512);
	ck_assert_str_eq(cfg->sandbox_cgroup_root, "");
	ck_assert_str_eq(cfg->browser_start_url, "about:blank");
	ck_assert_str_eq(cfg->browser_upstream_proxy, "");
	ck_assert_uint_eq(cfg->browser_bookmarks.n, 0);
	ck_assert_str_eq(cfg->browser_timezone, "Asia/Tokyo");
	ck_assert_uint_eq(cfg->egress_allow.n, 0);
	ck_assert_int_eq(cfg->display_width, 1280);
	ck_assert_int_eq(cfg->display_max_height, 2160);
	for (int i = 0; i < SHOJI_CONFIG_NKEYS; i++)
		ck_assert_uint_eq(cfg->line[i], 0);
	ck_assert_int_eq(config_validate(cfg, err, sizeof(err)), 0);
	config_destroy(cfg);
	config_destroy(NULL);
}
END_TEST

START_TEST(test_empty_file_is_defaults)
{
	struct shoji_config *def = config_defaults(), *cfg = parse_ok("");
	char *a = values_of(def), *b = values_of(cfg);

	ck_assert_str_eq(a, b);
	ck_assert_str_eq(cfg->source, "shoji.conf");
	free(a);
	free(b);
	config_destroy(def);
	config_destroy(cfg);
}
END_TEST

/* ---- good files ------------------------------------------------------- */

START_TEST(test_every_type)
{
	struct shoji_config *cfg =
	    parse_ok("# a municipal test host\n"
	             "[server]\n"
	             "state_dir = /srv/shoji\n"
	             "admin_group = wheel\n"
	             "log_level = debug\n"
	             "\n"
	             "[vnc]\n"
	             "listen = 127.0.0.1:5901, [::1]:5902\n"
	             "allow_plaintext = yes\n"
	             "[sandbox]\n"
	             "uid_range = 300000-300099\n"
	             "memory_max = 512M\n"
	             "pids_max = 1024\n"
	             "cgroup_root = /sys/fs/cgroup/shoji\n"
	             "[browser]\n"
	             "start_url = https://www.city.example.lg.jp/#main\n"
	             "upstream_proxy = proxy.city.example.jp:8080\n"
	             "bookmarks = Portal=https://portal.example.jp/, Map=http://map/\n"
	             "[egress]\n"
	             "allow = 10.1.0.0/16 , intranet.example:443,host\n"
	             "[display]\n"
	             "width = 1920\n"
	             "height=1080\n");

	ck_assert_str_eq(cfg->server_state_dir, "/srv/shoji");
	ck_assert_str_eq(cfg->server_admin_group, "wheel");
	ck_assert_int_eq(cfg->server_log_level, SHOJI_LOG_DEBUG);
	ck_assert_uint_eq(cfg->vnc_listen.n, 2);
	ck_assert_str_eq(cfg->vnc_listen.items[0], "127.0.0.1:5901");
	ck_assert_str_eq(cfg->vnc_listen.items[1], "[::1]:5902");
	ck_assert(cfg->vnc_allow_plaintext);
	ck_assert_uint_eq(cfg->sandbox_uid_range.lo, 300000);
	ck_assert_uint_eq(cfg->sandbox_uid_range.hi, 300099);
	ck_assert_uint_eq(cfg->sandbox_memory_max, 512ull << 20);
	ck_assert_int_eq(cfg->sandbox_pids_max, 1024);
	ck_assert_str_eq(cfg->sandbox_cgroup_root, "/sys/fs/cgroup/shoji");
	ck_assert_str_eq(cfg->browser_start_url, "https://www.city.example.lg.jp/#main");
	ck_assert_str_eq(cfg->browser_upstream_proxy, "proxy.city.example.jp:8080");
	ck_assert_uint_eq(cfg->browser_bookmarks.n, 2);
	ck_assert_str_eq(cfg->browser_bookmarks.items[1], "Map=http://map/");
	ck_assert_uint_eq(cfg->egress_allow.n, 3);
	ck_assert_str_eq(cfg->egress_allow.items[0], "10.1.0.0/16");
	ck_assert_str_eq(cfg->egress_allow.items[1], "intranet.example:443");
	ck_assert_str_eq(cfg->egress_allow.items[2], "host");
	ck_assert_int_eq(cfg->display_width, 1920);
	ck_assert_int_eq(cfg->display_height, 1080);
	/* untouched keys keep their defaults; lines say who set what */
	ck_assert_str_eq(cfg->rdp_listen.items[0], "0.0.0.0:3389");
	ck_assert_uint_eq(cfg->line[SHOJI_CFG_server_state_dir], 3);
	ck_assert_uint_eq(cfg->line[SHOJI_CFG_display_height], 23);
	ck_assert_uint_eq(cfg->line[SHOJI_CFG_rdp_listen], 0);
	config_destroy(cfg);
}
END_TEST

START_TEST(test_bool_words)
{
	static const char *const yes[] = {"true", "yes", "on", "1", "TRUE", "Yes", "ON"};
	static const char *const no[] = {"false", "no", "off", "0", "False", "NO"};
	char text[128];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(text, sizeof(text), "[rdp]\nnla = %s\n", yes[i]);
		struct shoji_config *cfg = parse_ok(text);
		ck_assert_msg(cfg->rdp_nla, "%s", yes[i]);
		config_destroy(cfg);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(text, sizeof(text), "[vnc]\nallow_plaintext = %s\n", no[i]);
		struct shoji_config *cfg = parse_ok(text);
		ck_assert_msg(!cfg->vnc_allow_plaintext, "%s", no[i]);
		config_destroy(cfg);
	}
}
END_TEST

START_TEST(test_sizes)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
	    {"64M", 64ull << 20},      {"64m", 64ull << 20},  {"65536K", 64ull << 20},
	    {"67108864", 64ull << 20}, {"1024G", 1ull << 40}, {"3g", 3ull << 30},
	};
	char text[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[sandbox]\nmemory_max = %s\n", cases[i].text);
		struct shoji_config *cfg = parse_ok(text);
		ck_assert_msg(cfg->sandbox_memory_max == cases[i].bytes, "%s", cases[i].text);
		config_destroy(cfg);
	}
}
END_TEST

START_TEST(test_log_levels_follow_log_h)
{
	static const struct {
		const char *word;
		enum shoji_log_level level;
	} cases[] = {{"error", SHOJI_LOG_ERROR},
	             {"warn", SHOJI_LOG_WARN},
	             {"info", SHOJI_LOG_INFO},
	             {"debug", SHOJI_LOG_DEBUG}};
	char text[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[server]\nlog_level = %s\n", cases[i].word);
		struct shoji_config *cfg = parse_ok(text);
		ck_assert_int_eq(cfg->server_log_level, (int)cases[i].level);
		config_destroy(cfg);
	}
}
END_TEST

START_TEST(test_crlf_bom_comments)
{
	struct shoji_config *cfg = parse_ok("\xef\xbb\xbf; Windows Notepad\r\n"
	                                    "[display]\r\n"
	                                    "   # 画面の大きさ (indented comment)\r\n"
	                                    "width = 1024\r\n"
	                                    "\t[ server ]\t\r\n"
	                                    "admin_group = staff\r\n"
	                                    "\r\n"
	                                    "[browser]\r\n"
	                                    "locale = ja-JP"); /* no final newline */

	ck_assert_int_eq(cfg->display_width, 1024);
	ck_assert_str_eq(cfg->server_admin_group, "staff");
	ck_assert_str_eq(cfg->browser_locale, "ja-JP");
	ck_assert_uint_eq(cfg->line[SHOJI_CFG_server_admin_group], 6);
	config_destroy(cfg);
}
END_TEST

START_TEST(test_quoted_values)
{
	struct shoji_config *cfg = parse_ok("[server]\n"
	                                    "admin_group = \"  spaced  \"\n"
	                                    "[browser]\n"
	                                    "locale = \"\"\n"
	                                    "timezone = say \"hi\" there\n"
	                                    "start_url = \"http://www.example.jp/a#b\"\n"
	                                    "[vnc]\n"
	                                    "listen = \"127.0.0.1:5900\"\n");

	ck_assert_str_eq(cfg->server_admin_group, "  spaced  ");
	ck_assert_str_eq(cfg->browser_locale, "");
	ck_assert_str_eq(cfg->browser_timezone, "say \"hi\" there");
	ck_assert_str_eq(cfg->browser_start_url, "http://www.example.jp/a#b");
	ck_assert_str_eq(cfg->vnc_listen.items[0], "127.0.0.1:5900");
	config_destroy(cfg);
	assert_error("[server]\nadmin_group = \"open\n",
	             "shoji.conf:2: [server] admin_group: the value has an opening \" but no "
	             "closing one; allowed: \"a whole value in double quotes\"");
}
END_TEST

START_TEST(test_empty_listen_and_lists)
{
	struct shoji_config *cfg = parse_ok("[vnc]\nlisten =\n[egress]\ndeny = \n");

	ck_assert_uint_eq(cfg->vnc_listen.n, 0);
	ck_assert_ptr_null(cfg->vnc_listen.items);
	ck_assert_uint_eq(cfg->egress_deny.n, 0);
	ck_assert_uint_eq(cfg->rdp_listen.n, 1);
	config_destroy(cfg);
}
END_TEST

START_TEST(test_empty_path_only_where_allowed)
{
	struct shoji_config *cfg = parse_ok("[sandbox]\ncgroup_root =\n");
	ck_assert_str_eq(cfg->sandbox_cgroup_root, "");
	config_destroy(cfg);
	assert_error("[tls]\ncert =\n", "shoji.conf:2: [tls] cert: the value is empty; allowed: an "
	                                "absolute path (starting with /)");
}
END_TEST

/* ---- errors --------------------------------------------------------------- */

START_TEST(test_error_not_a_number)
{
	assert_error("[display]\nwidth = abc\n",
	             "shoji.conf:2: [display] width: \"abc\" is not a whole number; allowed: a "
	             "whole number from 320 to 8192");
}
END_TEST

START_TEST(test_error_out_of_bounds)
{
	assert_error("[display]\n\nheight = 100\n",
	             "shoji.conf:3: [display] height: \"100\" is out of range; allowed: a whole "
	             "number from 200 to 8192");
	assert_error_has("[display]\nwidth = 8193\n", "\"8193\" is out of range");
	assert_error_has("[display]\nwidth = -5\n", "\"-5\" is out of range");
	assert_error_has("[display]\nwidth = 99999999999999999999999\n", "is out of range");
	assert_error_has("[sandbox]\npids_max = 15\n", "from 16 to 65536");
	assert_error("[sandbox]\nmemory_max = 32M\n",
	             "shoji.conf:2: [sandbox] memory_max: \"32M\" is out of range; allowed: a size "
	             "from 64M to 1024G (bytes, or with suffix K, M or G: 1024-based)");
	assert_error_has("[sandbox]\nmemory_max = 1025G\n", "is out of range");
	assert_error_has("[sandbox]\nmemory_max = 99999999999G\n", "is out of range");
	assert_error_has("[sandbox]\nuid_range = 500-600\n", "\"500-600\" is out of range");
	assert_error_has("[sandbox]\nuid_range = 1000-4294967295\n", "is out of range");
	assert_error("[audit]\nmax_repeats = 0\n",
	             "shoji.conf:2: [audit] max_repeats: \"0\" is out of range; allowed: a whole "
	             "number from 1 to 100000");
}
END_TEST

START_TEST(test_error_unknown_key)
{
	assert_error_has("[display]\nwdth = 1024\n",
	                 "shoji.conf:2: [display] \"wdth\": unknown key; allowed: width, height, "
	                 "max_width, max_height, ");
	/* a key of another section is unknown here */
	assert_error_has("[tls]\nwidth = 1024\n",
	                 "[tls] \"width\": unknown key; allowed: cert, key");
}
END_TEST

START_TEST(test_error_unknown_section)
{
	assert_error("[dispaly]\nwidth = 1\n",
	             "shoji.conf:1: unknown section \"dispaly\"; allowed: " ALL_SECTIONS);
	assert_error_has("[display\n", "\"[display\" is not a [section] header");
	assert_error_has("[display] x\n", "is not a [section] header");
	assert_error_has("[]\n", "unknown section \"\"");
}
END_TEST

START_TEST(test_error_bad_line)
{
	assert_error("[display]\nwidth 1024\n",
	             "shoji.conf:2: \"width 1024\" is neither a [section] header nor key = value; "
	             "allowed: [section], key = value, blank lines, and comment lines starting "
	             "with # or ;");
	assert_error_has("[display]\n= 5\n", "shoji.conf:2: a line starts with \"=\"");
	assert_error_has("[display]\nwidth = 10\x01\n", "shoji.conf:2: control character 0x01");
}
END_TEST

START_TEST(test_error_nul_byte)
{
	static const char text[] = "[display]\nwidth = 1024\n# x\0y\n";
	struct shoji_config *cfg =
	    config_parse_buf(text, sizeof(text) - 1, "nul.conf", err, sizeof(err));

	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, "nul.conf:3: control character 0x00 in the line; allowed: text, "
	                      "tabs and spaces");
}
END_TEST

START_TEST(test_error_duplicate_key)
{
	assert_error("[display]\nwidth = 1024\nwidth = 1280\n",
	             "shoji.conf:3: [display] width: given twice (first on line 2); allowed: each "
	             "key once");
	/* also when the section is opened again */
	assert_error_has("[display]\nwidth = 1024\n[server]\n[display]\nwidth = 1024\n",
	                 "shoji.conf:5: [display] width: given twice");
}
END_TEST

START_TEST(test_error_key_before_section)
{
	assert_error("width = 1024\n[display]\n", "shoji.conf:1: key \"width\" comes before any "
	                                          "[section] header; allowed: " ALL_SECTIONS);
}
END_TEST

START_TEST(test_error_path_relative)
{
	assert_error("[tls]\ncert = tls/server.crt\n",
	             "shoji.conf:2: [tls] cert: \"tls/server.crt\" is not an absolute path; "
	             "allowed: an absolute path (starting with /)");
	assert_error_has("[sandbox]\ncgroup_root = sys/fs/cgroup\n",
	                 "allowed: an absolute path (starting with /), or empty");
}
END_TEST

START_TEST(test_error_bad_values_per_type)
{
	assert_error(
	    "[server]\nlog_level = verbose\n",
	    "shoji.conf:2: [server] log_level: \"verbose\" is not one of the allowed words; "
	    "allowed: error, warn, info or debug");
	assert_error("[rdp]\nnla = maybe\n",
	             "shoji.conf:2: [rdp] nla: \"maybe\" is not a yes-or-no value; allowed: true, "
	             "false, yes, no, on, off, 1 or 0");
	assert_error_has("[sandbox]\nmemory_max = 2X\n", "\"2X\" is not a size");
	assert_error_has("[sandbox]\nmemory_max = 2GB\n", "\"2GB\" is not a size");
	assert_error_has("[sandbox]\nmemory_max = G\n", "\"G\" is not a size");
	assert_error_has("[sandbox]\nmemory_max =\n", "\"\" is not a size");
	assert_error_has("[sandbox]\nuid_range = 300000\n", "is not a range LO-HI");
	assert_error_has("[sandbox]\nuid_range = a-b\n", "is not a range LO-HI");
	assert_error_has("[sandbox]\nuid_range = 300099-300000\n", "has LO greater than HI");
	assert_error_has("[egress]\nallow = a,,b\n", "\"a,,b\" has an empty item");
	assert_error_has("[egress]\nallow = a,\n", "has an empty item");
	assert_error_has("[egress]\ndeny = , a\n", "has an empty item");
	assert_error("[browser]\nstart_url = ftp://example.jp/\n",
	             "shoji.conf:2: [browser] start_url: \"ftp://example.jp/\" is not an http:// "
	             "or https:// URL; allowed: an http:// or https:// URL, or about:blank");
	assert_error_has("[browser]\nstart_url = www.example.jp\n", "is not an http://");
	assert_error_has("[browser]\nstart_url = http://\n", "needs a host");
	assert_error_has("[browser]\nstart_url = http://a b/\n", "no spaces");
	assert_error_has("[browser]\nupstream_proxy = proxy\n", "\"proxy\" has no :PORT");
	assert_error_has("[browser]\nupstream_proxy = proxy:http\n", "a port from 1 to 65535");
}
END_TEST

START_TEST(test_error_listen)
{
	assert_error("[vnc]\nlisten = 0.0.0.0:0\n",
	             "shoji.conf:2: [vnc] listen: \"0.0.0.0:0\" does not end with a port from 1 to "
	             "65535; allowed: comma-separated HOST:PORT or [IPV6]:PORT with a port from 1 "
	             "to 65535, at most 64 of them; or empty for off");
	assert_error_has("[vnc]\nlisten = 0.0.0.0:65536\n", "port from 1 to 65535");
	assert_error_has("[vnc]\nlisten = 0.0.0.0\n", "has no :PORT");
	assert_error_has("[vnc]\nlisten = ::1:5900\n", "must be in brackets");
	assert_error_has("[vnc]\nlisten = [::1:5900\n", "is not [IPV6]:PORT");
	assert_error_has("[vnc]\nlisten = [::1]5900\n", "is not [IPV6]:PORT");
	assert_error_has("[vnc]\nlisten = [zz]:5900\n", "does not hold an IPv6 address");
	assert_error_has("[vnc]\nlisten = []:5900\n", "does not hold an IPv6 address");
	assert_error_has("[vnc]\nlisten = 300.1.1.1:5900\n", "host name or address");
	assert_error_has("[vnc]\nlisten = bad/host:5900\n", "host name or address");
	assert_error_has("[vnc]\nlisten = :5900\n", "host name or address");
	assert_error_has("[vnc]\nlisten = 127.0.0.1:5900,,127.0.0.1:5901\n", "empty item");
	assert_error_has("[vnc]\nlisten = 127.0.0.1:5900, x:y\n",
	                 "\"x:y\" does not end with a port");
}
END_TEST

START_TEST(test_error_too_many_listeners)
{
	char text[4096] = "[vnc]\nlisten = ";

	for (int i = 0; i <= SHOJI_CONFIG_MAX_LISTEN; i++) {
		char item[32];
		snprintf(item, sizeof(item), "%s127.0.0.1:%d", i ? "," : "", 6000 + i);
		strcat(text, item);
	}
	assert_error_has(text, "has more than 64 items");
}
END_TEST

START_TEST(test_error_long_values_are_cut)
{
	char text[600] = "[server]\nlog_level = ";

	memset(text + strlen(text), 'x', 400);
	const char *msg = parse_error(text);
	ck_assert_msg(strstr(msg, "xxx...\" is not one of the allowed words") != NULL, "%s", msg);
	ck_assert_uint_lt(strlen(msg), 300);
}
END_TEST

START_TEST(test_error_small_buffers)
{
	char small[16];
	struct shoji_config *cfg =
	    config_parse_buf("[nope]\n", 7, "shoji.conf", small, sizeof(small));

	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(small, "shoji.conf:1: u");
	ck_assert_ptr_null(config_parse_buf("[nope]\n", 7, "shoji.conf", NULL, 0));
}
END_TEST

START_TEST(test_error_too_large)
{
	size_t len = SHOJI_CONFIG_MAX_SIZE + 1;
	char *big = malloc(len);

	ck_assert_ptr_nonnull(big);
	memset(big, '\n', len);
	ck_assert_ptr_null(config_parse_buf(big, len, "big.conf", err, sizeof(err)));
	ck_assert_msg(strstr(err, "big.conf: 1048577 bytes is too large") == err, "%s", err);
	/* exactly the limit is fine */
	struct shoji_config *cfg = config_parse_buf(big, len - 1, "big.conf", err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	config_destroy(cfg);
	free(big);
}
END_TEST

/* ---- cross-key checks ---------------------------------------------------- */

START_TEST(test_validate_display)
{
	ck_assert_str_eq(validate_error("[display]\n\nwidth = 4000\n"),
	                 "shoji.conf:3: [display] width: 4000 is more than [display] max_width "
	                 "(3840); allowed: at most [display] max_width");
	/* when only the maximum was lowered, the maximum's line is the culprit */
	ck_assert_str_eq(validate_error("[display]\nmax_width = 1024\n"),
	                 "shoji.conf:2: [display] max_width: 1024 is less than [display] width "
	                 "(1280); allowed: at least [display] width");
	ck_assert_str_eq(validate_error("[display]\nheight = 1200\nmax_height = 1000\n"),
	                 "shoji.conf:2: [display] height: 1200 is more than [display] max_height "
	                 "(1000); allowed: at most [display] max_height");
	struct shoji_config *cfg = parse_ok("[display]\nwidth = 1024\nmax_width = 1024\n");
	config_destroy(cfg);
}
END_TEST

/* [display] max_kbps: 0 is no budget; below 100 kbit/s nothing usable gets through. */
START_TEST(test_validate_budget)
{
	ck_assert_str_eq(validate_error("[display]\nwidth = 1024\nmax_kbps = 64\n"),
	                 "shoji.conf:3: [display] max_kbps: 64 kbit/s is too little to carry a "
	                 "picture; allowed: 0 (no budget) or a whole number from 100 to 1000000");
	assert_error_has("[display]\nmax_kbps = 2000000\n", "shoji.conf:2: [display] max_kbps:");
	assert_error_has("[display]\nmax_kbps = -1\n", "[display] max_kbps:");
	struct shoji_config *cfg = parse_ok("[display]\nmax_kbps = 0\n");
	ck_assert_int_eq(cfg->display_max_kbps, 0);
	config_destroy(cfg);
	cfg = parse_ok("[display]\nmax_kbps = 1500\n");
	ck_assert_int_eq(cfg->display_max_kbps, 1500);
	config_destroy(cfg);
	cfg = parse_ok("");
	ck_assert_int_eq(cfg->display_max_kbps, 0);
	ck_assert_int_eq(cfg->display_video_kbps, 1000);
	config_destroy(cfg);
}
END_TEST

START_TEST(test_validate_listeners)
{
	ck_assert_str_eq(
	    validate_error("[vnc]\nlisten =\n[rdp]\nlisten =\n"),
	    "shoji.conf:4: [rdp] listen: no viewer could connect: [vnc] listen and "
	    "[rdp] listen are both empty; allowed: an address in at least one of them");
	ck_assert_str_eq(
	    validate_error("[vnc]\nlisten = 0.0.0.0:3389\n"),
	    "shoji.conf:2: [vnc] listen: 0.0.0.0:3389 clashes with 0.0.0.0:3389 of [rdp] "
	    "listen; allowed: each port once per address (0.0.0.0 and [::] take the "
	    "port on every address)");
	ck_assert_msg(strstr(validate_error("[vnc]\nlisten = 127.0.0.1:5900, 127.0.0.1:5900\n"),
	                     "shoji.conf:2: [vnc] listen: 127.0.0.1:5900 clashes with "
	                     "127.0.0.1:5900 of [vnc] listen") != NULL,
	              "%s", err);
	ck_assert_msg(strstr(validate_error("[vnc]\nlisten = [::]:5900, 127.0.0.1:5900\n"),
	                     "clashes") != NULL,
	              "%s", err);
	ck_assert_msg(strstr(validate_error("[vnc]\nlisten = [::1]:5900, [0:0::1]:5900\n"),
	                     "clashes") != NULL,
	              "%s", err);
	ck_assert_msg(
	    strstr(validate_error("[vnc]\nlisten = Host.example:5900,host.EXAMPLE:5900\n"),
	           "clashes") != NULL,
	    "%s", err);

	struct shoji_config *cfg = parse_ok("[vnc]\nlisten = 127.0.0.1:5900, 127.0.0.2:5900, "
	                                    "[::1]:5900, 127.0.0.1:5901\n[rdp]\nlisten =\n");
	config_destroy(cfg);
}
END_TEST

START_TEST(test_validate_metrics_loopback)
{
	ck_assert_str_eq(validate_error("[metrics]\nlisten = 0.0.0.0:9464\n"),
	                 "shoji.conf:2: [metrics] listen: 0.0.0.0:9464 is not a loopback address; "
	                 "allowed: 127.0.0.1:PORT or [::1]:PORT (metrics are for a local scraper "
	                 "or agent), or empty");
	ck_assert_msg(strstr(validate_error("[metrics]\nlisten = 127.0.0.1:9464, [::]:9464\n"),
	                     "[::]:9464 is not a loopback address") != NULL,
	              "%s", err);
	ck_assert_msg(strstr(validate_error("[metrics]\nlisten = localhost:9464\n"),
	                     "is not a loopback address") != NULL,
	              "%s", err);
	struct shoji_config *cfg = parse_ok("[metrics]\nlisten = 127.0.0.1:9464, [::1]:9464\n");
	ck_assert_uint_eq(cfg->metrics_listen.n, 2);
	config_destroy(cfg);
	cfg = parse_ok("");
	ck_assert_uint_eq(cfg->metrics_listen.n, 0); /* off by default */
	config_destroy(cfg);
}
END_TEST

START_TEST(test_validate_bookmarks)
{
	ck_assert_str_eq(validate_error("[browser]\nbookmarks = Portal=https://p.example/, Map\n"),
	                 "shoji.conf:2: [browser] bookmarks: \"Map\" is not NAME=URL with an "
	                 "http:// or https:// URL; allowed: comma-separated NAME=URL items, each "
	                 "URL http:// or https://");
	ck_assert_msg(strstr(validate_error("[browser]\nbookmarks = =http://a/\n"),
	                     "\"=http://a/\" is not NAME=URL") != NULL,
	              "%s", err);
	ck_assert_msg(strstr(validate_error("[browser]\nbookmarks = X=about:blank\n"),
	                     "is not NAME=URL") != NULL,
	              "%s", err);
	ck_assert_msg(strstr(validate_error("[browser]\nbookmarks = X=ftp://a/\n"),
	                     "is not NAME=URL") != NULL,
	              "%s", err);
	struct shoji_config *cfg =
	    parse_ok("[browser]\nbookmarks = 庁内ポータル = http://portal/\n");
	config_destroy(cfg);
}
END_TEST

/* ---- files ------------------------------------------------------------------ */

START_TEST(test_load_missing_file)
{
	ck_assert_ptr_null(config_load("/nonexistent/shoji.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/shoji.conf: cannot open: No such file or directory");
	ck_assert_ptr_null(config_load("/", err, sizeof(err)));
	ck_assert_str_eq(err, "/: cannot read: Is a directory");
}
END_TEST

START_TEST(test_load_file)
{
	static const char good[] = "[display]\nwidth = 800\n";
	static const char text[] = "[display]\nwidth = 800\nwdth = 1\n";
	char *path = write_temp(good, sizeof(good) - 1);
	struct shoji_config *cfg = config_load(path, err, sizeof(err));

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->source, path);
	ck_assert_int_eq(cfg->display_width, 800);
	config_destroy(cfg);
	unlink(path);
	free(path);

	/* errors name the file as given */
	path = write_temp(text, sizeof(text) - 1);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "%s", err);
	ck_assert_msg(strstr(err, ":3: [display] \"wdth\": unknown key") != NULL, "%s", err);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_load_too_large)
{
	size_t len = SHOJI_CONFIG_MAX_SIZE + 10;
	char *big = malloc(len);

	memset(big, '#', len);
	char *path = write_temp(big, len);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	ck_assert_msg(strstr(err, "larger than a config file can be") != NULL, "%s", err);
	unlink(path);
	free(path);
	free(big);
}
END_TEST

/* ---- generated text ----------------------------------------------------- */

START_TEST(test_example_file_is_current)
{
	char *generated = example_text(), *expected;
	char *in_tree = read_text(SHOJI_SRCDIR "/shoji.conf.example");
	struct shoji_config *def = config_defaults();

	/*
	 * The file in the tree documents the default install prefix; a build
	 * configured with another --prefix has another [server] render_path.
	 */
	expected = replace_all(generated, def->server_render_path,
	                       "/usr/local/libexec/shoji/shoji-render");
	ck_assert_msg(strcmp(in_tree, expected) == 0,
	              "shoji.conf.example is out of date: regenerate it with "
	              "`build/proxy/shojid --example-config > shoji.conf.example`");
	config_destroy(def);
	free(expected);
	free(generated);
	free(in_tree);
}
END_TEST

/*
 * Removes "# " from the `# key = value` lines of the example: the last line
 * of each block of comments that follows a blank line.
 */
static char *uncomment_keys(const char *example, int *nkeys)
{
	char *out = strdup(example), *line = out;

	*nkeys = 0;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		bool last = !nl || nl[1] == '\n' || nl[1] == '\0';
		size_t name = strspn(line + 2, "abcdefghijklmnopqrstuvwxyz0123456789_");
		if (last && strncmp(line, "# ", 2) == 0 && name > 0 &&
		    strncmp(line + 2 + name, " =", 2) == 0) {
			memmove(line, line + 2, strlen(line + 2) + 1);
			nl = strchr(line, '\n');
			(*nkeys)++;
		}
		line = nl ? nl + 1 : NULL;
	}
	return out;
}

START_TEST(test_example_parses_to_defaults)
{
	struct shoji_config *def = config_defaults();
	char *example = example_text(), *want = values_of(def), *got;
	int nkeys;

	/* as written, every key commented out */
	struct shoji_config *cfg = parse_ok(example);
	got = values_of(cfg);
	ck_assert_str_eq(got, want);
	free(got);
	config_destroy(cfg);

	/* and with every key line switched on */
	char *active = uncomment_keys(example, &nkeys);
	ck_assert_int_eq(nkeys, SHOJI_CONFIG_NKEYS);
	cfg = parse_ok(active);
	got = values_of(cfg);
	ck_assert_str_eq(got, want);
	for (int i = 0; i < SHOJI_CONFIG_NKEYS; i++)
		ck_assert_uint_ne(cfg->line[i], 0);
	free(got);
	config_destroy(cfg);
	free(active);
	free(example);
	free(want);
	config_destroy(def);
}
END_TEST

START_TEST(test_values_round_trip)
{
	struct shoji_config *cfg =
	    parse_ok("[server]\nadmin_group = \" a \"\n"
	             "[browser]\nlocale = \"\"quoted\"\"\ntimezone = \"\"x\"\n"
	             "bookmarks = \"\"A=http://a/, B=http://b/\"\"\n"
	             "[sandbox]\nmemory_max = 1536M\n");
	char *text = values_of(cfg), *again;

	ck_assert_str_eq(cfg->browser_locale, "\"quoted\"");
	ck_assert_str_eq(cfg->browser_bookmarks.items[0], "\"A=http://a/");
	ck_assert_msg(strstr(text, "memory_max = 1536M\n") != NULL, "%s", text);
	config_destroy(cfg);
	cfg = parse(text);
	ck_assert_msg(cfg != NULL, "%s: %s", err, text);
	ck_assert_str_eq(cfg->server_admin_group, " a ");
	ck_assert_str_eq(cfg->browser_locale, "\"quoted\"");
	ck_assert_str_eq(cfg->browser_timezone, "\"x");
	again = values_of(cfg);
	ck_assert_str_eq(again, text);
	config_destroy(cfg);
	free(text);
	free(again);
}
END_TEST

START_TEST(test_print_help)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	config_print_help(f);
	fclose(f);
	ck_assert_msg(strstr(buf, "[display] width = 1280\n\tdesktop width of a new session "
	                          "before a viewer says otherwise\n\tallowed: a whole number from "
	                          "320 to 8192\n") != NULL,
	              "%s", buf);
	ck_assert_msg(strstr(buf, "[sandbox] cgroup_root =\n") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "allowed: error, warn, info or debug\n") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "[audit] file = /var/log/shoji/audit.log\n") != NULL, "%s", buf);
	free(buf);
}
END_TEST

Suite *suite_config(void);

Suite *suite_config(void)
{
	Suite *s = suite_create("config");
	TCase *good = tcase_create("good"), *bad = tcase_create("errors");
	TCase *cross = tcase_create("validate"), *files = tcase_create("files");

	tcase_add_test(good, test_defaults);
	tcase_add_test(good, test_empty_file_is_defaults);
	tcase_add_test(good, test_every_type);
	tcase_add_test(good, test_bool_words);
	tcase_add_test(good, test_sizes);
	tcase_add_test(good, test_log_levels_follow_log_h);
	tcase_add_test(good, test_crlf_bom_comments);
	tcase_add_test(good, test_quoted_values);
	tcase_add_test(good, test_empty_listen_and_lists);
	tcase_add_test(good, test_empty_path_only_where_allowed);
	tcase_add_test(bad, test_error_not_a_number);
	tcase_add_test(bad, test_error_out_of_bounds);
	tcase_add_test(bad, test_error_unknown_key);
	tcase_add_test(bad, test_error_unknown_section);
	tcase_add_test(bad, test_error_bad_line);
	tcase_add_test(bad, test_error_nul_byte);
	tcase_add_test(bad, test_error_duplicate_key);
	tcase_add_test(bad, test_error_key_before_section);
	tcase_add_test(bad, test_error_path_relative);
	tcase_add_test(bad, test_error_bad_values_per_type);
	tcase_add_test(bad, test_error_listen);
	tcase_add_test(bad, test_validate_metrics_loopback);
	tcase_add_test(bad, test_error_too_many_listeners);
	tcase_add_test(bad, test_error_long_values_are_cut);
	tcase_add_test(bad, test_error_small_buffers);
	tcase_add_test(bad, test_error_too_large);
	tcase_add_test(cross, test_validate_display);
	tcase_add_test(cross, test_validate_budget);
	tcase_add_test(cross, test_validate_listeners);
	tcase_add_test(cross, test_validate_bookmarks);
	tcase_add_test(files, test_load_missing_file);
	tcase_add_test(files, test_load_file);
	tcase_add_test(files, test_load_too_large);
	tcase_add_test(files, test_example_file_is_current);
	tcase_add_test(files, test_example_parses_to_defaults);
	tcase_add_test(files, test_values_round_trip);
	tcase_add_test(files, test_print_help);
	suite_add_tcase(s, good);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, cross);
	suite_add_tcase(s, files);
	return s;
}
