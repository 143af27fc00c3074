/*
 * The configuration file: INI syntax, the value types, defaults, cross-key
 * validation and the generated help and example file, all driven by the one
 * key table SHOJI_CONFIG_KEYS in config.h.
 *
 * Handles untrusted input: the config file's bytes (an administrator's, but
 * a typo must give a clear error, never a crash). config_parse_buf() is pure
 * over (buf, len), stops at the first problem and says in one line where it
 * is, what is wrong and what would have been accepted. Only config_load()
 * does I/O.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

enum cfg_type {
	CFG_STRING,
	CFG_PATH,
	CFG_INT,
	CFG_BOOL,
	CFG_SIZE,
	CFG_RANGE,
	CFG_LIST,
	CFG_ENUM,
	CFG_LISTEN,
	CFG_URL,
	CFG_HOSTPORT,
};

struct cfg_key {
	const char *section;
	const char *name;
	enum cfg_type type;
	const char *def;
	uint64_t min, max;
	const char *allowed;
	const char *help;
	size_t offset, size;
};

#define CFG_KEY_ENTRY(sec, key, typ, def_, min_, max_, allowed_, help_)                            \
	{                                                                                          \
	    .section = #sec,                                                                       \
	    .name = #key,                                                                          \
	    .type = CFG_##typ,                                                                     \
	    .def = def_,                                                                           \
	    .min = min_,                                                                           \
	    .max = max_,                                                                           \
	    .allowed = allowed_,                                                                   \
	    .help = help_,                                                                         \
	    .offset = offsetof(struct shoji_config, sec##_##key),                                  \
	    .size = sizeof(((struct shoji_config *)0)->sec##_##key),                               \
	},

static const struct cfg_key cfg_keys[] = {SHOJI_CONFIG_KEYS(CFG_KEY_ENTRY)};

_Static_assert(ARRAY_SIZE(cfg_keys) == SHOJI_CONFIG_NKEYS, "key table and index enum agree");

/* One parsed value, copied into its field by the field's size. */
union cfg_value {
	char *s;
	long i;
	bool b;
	uint64_t size;
	struct shoji_range range;
	struct shoji_strlist list;
	int e;
};

#define CFG_WHY_MAX 320     /* "problem" part of a message */
#define CFG_ALLOWED_MAX 512 /* "allowed" part of a message */
#define CFG_QUOTE_MAX 72    /* a user's text quoted in a message */
#define CFG_SHOWN_MAX 60    /* bytes of that text shown before "..." */
#define CFG_EXAMPLE_WIDTH 78

static const char *const bool_true[] = {"true", "yes", "on", "1"};
static const char *const bool_false[] = {"false", "no", "off", "0"};

/* ---- small helpers ---------------------------------------------------- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && is_blank(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && is_blank((*s)[*len - 1]))
		(*len)--;
}

static char *dup_len(const char *s, size_t len)
{
	char *d = xcalloc(len + 1, 1);
	memcpy(d, s, len);
	return d;
}

/* Quotes text for a message, cut short when long: "abc", "aaaa...". */
static void quote_text(char *out, size_t outlen, const char *s, size_t len)
{
	if (len > CFG_SHOWN_MAX)
		snprintf(out, outlen, "\"%.*s...\"", CFG_SHOWN_MAX, s);
	else
		snprintf(out, outlen, "\"%.*s\"", (int)len, s);
}

/* Finds the i-th '|'-separated word of an ENUM; its length in *len. */
static const char *enum_word(const char *allowed, int i, size_t *len)
{
	const char *p = allowed;

	for (; i > 0; i--) {
		p = strchr(p, '|');
		if (!p)
			return NULL;
		p++;
	}
	*len = strcspn(p, "|");
	return p;
}

/* 0: a whole number in *out; -1: not one; -2: too large for 64 bits. */
static int parse_whole(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (__builtin_mul_overflow(v, 10u, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return -2;
	}
	*out = v;
	return 0;
}

/* Bytes with the largest suffix that divides them exactly: "2G", "1536K". */
static void format_size(char *buf, size_t len, uint64_t v)
{
	static const char suffix[] = {'G', 'M', 'K'};

	for (size_t i = 0; i < ARRAY_SIZE(suffix); i++) {
		uint64_t unit = 1ull << (10 * (3 - i));
		if (v != 0 && v % unit == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", v / unit, suffix[i]);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, v);
}

/* ---- what each key allows, in words ----------------------------------- */

static void describe_enum(char *buf, size_t len, const char *allowed)
{
	size_t off = 0, wlen;
	const char *w;

	buf[0] = '\0';
	for (int i = 0; (w = enum_word(allowed, i, &wlen)) && off < len; i++) {
		size_t dummy;
		const char *sep = i == 0 ? "" : enum_word(allowed, i + 1, &dummy) ? ", " : " or ";
		off += (size_t)snprintf(buf + off, len - off, "%s%.*s", sep, (int)wlen, w);
	}
}

static void describe_allowed(const struct cfg_key *k, char *buf, size_t len)
{
	char lo[32], hi[32];

	switch (k->type) {
	case CFG_STRING:
		snprintf(buf, len, "any text");
		break;
	case CFG_PATH:
		snprintf(buf, len, "an absolute path (starting with /)%s",
		         k->def[0] == '\0' ? ", or empty" : "");
		break;
	case CFG_INT:
		snprintf(buf, len, "a whole number from %" PRIu64 " to %" PRIu64, k->min, k->max);
		break;
	case CFG_BOOL:
		snprintf(buf, len, "true, false, yes, no, on, off, 1 or 0");
		break;
	case CFG_SIZE:
		format_size(lo, sizeof(lo), k->min);
		format_size(hi, sizeof(hi), k->max);
		snprintf(buf, len,
		         "a size from %s to %s (bytes, or with suffix K, M or G: 1024-based)", lo,
		         hi);
		break;
	case CFG_RANGE:
		snprintf(buf, len, "LO-HI, whole numbers with %" PRIu64 " <= LO <= HI <= %" PRIu64,
		         k->min, k->max);
		break;
	case CFG_LIST:
		snprintf(buf, len, "comma-separated items, none of them empty; or empty for none");
		break;
	case CFG_ENUM:
		describe_enum(buf, len, k->allowed);
		break;
	case CFG_LISTEN:
		snprintf(buf, len,
		         "comma-separated HOST:PORT or [IPV6]:PORT with a port from 1 to 65535, "
		         "at most %d of them; or empty for off",
		         SHOJI_CONFIG_MAX_LISTEN);
		break;
	case CFG_URL:
		snprintf(buf, len, "an http:// or https:// URL, or about:blank");
		break;
	case CFG_HOSTPORT:
		snprintf(buf, len,
		         "HOST:PORT or [IPV6]:PORT with a port from 1 to 65535; or empty "
		         "for none");
		break;
	}
}

/* ---- value parsers: each fills *out, or `why` and -1 ------------------ */

static int parse_int(const struct cfg_key *k, const char *s, long *out, char *why, size_t wlen)
{
	char q[CFG_QUOTE_MAX];
	const char *digits = s[0] == '-' ? s + 1 : s;
	uint64_t v;
	int rc = parse_whole(digits, strlen(digits), &v);

	quote_text(q, sizeof(q), s, strlen(s));
	if (rc == -1) {
		snprintf(why, wlen, "%s is not a whole number", q);
		return -1;
	}
	if (rc == -2 || digits != s || v < k->min || v > k->max) {
		snprintf(why, wlen, "%s is out of range", q);
		return -1;
	}
	*out = (long)v;
	return 0;
}

/* log2 of a size suffix's unit, 0 for no suffix known. */
static unsigned size_shift(char c)
{
	switch (c) {
	case 'K':
	case 'k':
		return 10;
	case 'M':
	case 'm':
		return 20;
	case 'G':
	case 'g':
		return 30;
	default:
		return 0;
	}
}

static int parse_size(const struct cfg_key *k, const char *s, uint64_t *out, char *why, size_t wlen)
{
	char q[CFG_QUOTE_MAX];
	size_t len = strlen(s), ndigits = strspn(s, "0123456789");
	unsigned shift = 0;
	uint64_t v;

	quote_text(q, sizeof(q), s, len);
	if (len == ndigits + 1)
		shift = size_shift(s[ndigits]);
	if (ndigits == 0 || (len != ndigits && shift == 0)) {
		snprintf(why, wlen, "%s is not a size", q);
		return -1;
	}
	int rc = parse_whole(s, ndigits, &v);
	if (rc == -2 || v > (UINT64_MAX >> shift) || (v << shift) < k->min ||
	    (v << shift) > k->max) {
		snprintf(why, wlen, "%s is out of range", q);
		return -1;
	}
	*out = v << shift;
	return 0;
}

static int parse_range(const struct cfg_key *k, const char *s, struct shoji_range *out, char *why,
                       size_t wlen)
{
	char q[CFG_QUOTE_MAX];
	const char *dash = strchr(s, '-');
	uint64_t lo, hi;

	quote_text(q, sizeof(q), s, strlen(s));
	if (!dash) {
		snprintf(why, wlen, "%s is not a range LO-HI", q);
		return -1;
	}
	const char *a = s, *b = dash + 1;
	size_t alen = (size_t)(dash - s), blen = strlen(b);
	trim(&a, &alen);
	trim(&b, &blen);
	int ra = parse_whole(a, alen, &lo), rb = parse_whole(b, blen, &hi);
	if (ra == -1 || rb == -1) {
		snprintf(why, wlen, "%s is not a range LO-HI", q);
		return -1;
	}
	if (ra == 0 && rb == 0 && lo > hi) {
		snprintf(why, wlen, "%s has LO greater than HI", q);
		return -1;
	}
	if (ra == -2 || rb == -2 || lo < k->min || hi > k->max) {
		snprintf(why, wlen, "%s is out of range", q);
		return -1;
	}
	out->lo = (uint32_t)lo;
	out->hi = (uint32_t)hi;
	return 0;
}

static int parse_bool(const char *s, bool *out, char *why, size_t wlen)
{
	char q[CFG_QUOTE_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(bool_true); i++) {
		if (strcasecmp(s, bool_true[i]) == 0 || strcasecmp(s, bool_false[i]) == 0) {
			*out = strcasecmp(s, bool_true[i]) == 0;
			return 0;
		}
	}
	quote_text(q, sizeof(q), s, strlen(s));
	snprintf(why, wlen, "%s is not a yes-or-no value", q);
	return -1;
}

static int parse_enum(const struct cfg_key *k, const char *s, int *out, char *why, size_t wlen)
{
	char q[CFG_QUOTE_MAX];
	size_t wl, len = strlen(s);
	const char *w;

	for (int i = 0; (w = enum_word(k->allowed, i, &wl)); i++) {
		if (wl == len && strncasecmp(s, w, len) == 0) {
			*out = i;
			return 0;
		}
	}
	quote_text(q, sizeof(q), s, len);
	snprintf(why, wlen, "%s is not one of the allowed words", q);
	return -1;
}

static int parse_path(const struct cfg_key *k, const char *s, char *why, size_t wlen)
{
	char q[CFG_QUOTE_MAX];

	if (s[0] == '\0') {
		if (k->def[0] == '\0')
			return 0;
		snprintf(why, wlen, "the value is empty");
		return -1;
	}
	if (s[0] != '/') {
		quote_text(q, sizeof(q), s, strlen(s));
		snprintf(why, wlen, "%s is not an absolute path", q);
		return -1;
	}
	return 0;
}

static int parse_url(const char *s, char *why, size_t wlen)
{
	char q[CFG_QUOTE_MAX];
	size_t skip = 0;

	if (strcasecmp(s, "about:blank") == 0)
		return 0;
	if (strncasecmp(s, "http://", 7) == 0)
		skip = 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		skip = 8;
	quote_text(q, sizeof(q), s, strlen(s));
	if (skip == 0) {
		snprintf(why, wlen, "%s is not an http:// or https:// URL", q);
		return -1;
	}
	if (strcspn(s + skip, "/?#") == 0 || strpbrk(s, " \t")) {
		snprintf(why, wlen, "%s is not a URL (it needs a host and no spaces)", q);
		return -1;
	}
	return 0;
}

/* A DNS name or an IPv4 address, as far as text can tell. */
static bool is_host(const char *h, size_t len)
{
	char buf[INET_ADDRSTRLEN];
	struct in_addr a4;

	if (len == 0 || len > 253 || h[0] == '.' || h[0] == '-')
		return false;
	if (strspn(h, "0123456789.") >= len) {
		if (len >= sizeof(buf))
			return false;
		memcpy(buf, h, len);
		buf[len] = '\0';
		return inet_pton(AF_INET, buf, &a4) == 1;
	}
	for (size_t i = 0; i < len; i++) {
		char c = h[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
		if (!ok)
			return false;
	}
	return true;
}

static bool is_ipv6(const char *h, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a6;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, h, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, &a6) == 1;
}

/*
 * Splits HOST:PORT or [IPV6]:PORT. On success host points into s (without
 * brackets) and *port is 1..65535.
 */
static int split_hostport(const char *s, const char **host, size_t *hlen, unsigned *port, char *why,
                          size_t wlen)
{
	char q[CFG_QUOTE_MAX];
	const char *colon;
	uint64_t p;

	quote_text(q, sizeof(q), s, strlen(s));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':') {
			snprintf(why, wlen, "%s is not [IPV6]:PORT", q);
			return -1;
		}
		*host = s + 1;
		*hlen = (size_t)(close - s - 1);
		colon = close + 1;
		if (!is_ipv6(*host, *hlen)) {
			snprintf(why, wlen, "%s does not hold an IPv6 address in brackets", q);
			return -1;
		}
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			snprintf(why, wlen, "%s has no :PORT", q);
			return -1;
		}
		*host = s;
		*hlen = (size_t)(colon - s);
		if (memchr(s, ':', *hlen)) {
			snprintf(why, wlen,
			         "%s: an IPv6 address must be in brackets, as [::1]:PORT", q);
			return -1;
		}
		if (!is_host(s, *hlen)) {
			snprintf(why, wlen, "%s does not start with a host name or address", q);
			return -1;
		}
	}
	if (parse_whole(colon + 1, strlen(colon + 1), &p) != 0 || p < 1 || p > 65535) {
		snprintf(why, wlen, "%s does not end with a port from 1 to 65535", q);
		return -1;
	}
	*port = (unsigned)p;
	return 0;
}

static int check_hostport(const char *s, char *why, size_t wlen)
{
	const char *host;
	size_t hlen;
	unsigned port;

	return split_hostport(s, &host, &hlen, &port, why, wlen);
}

static void free_list(struct shoji_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* Comma-separated items, trimmed; `check` (may be NULL) vets each one. */
static int parse_list(const char *s, struct shoji_strlist *out, size_t max,
                      int (*check)(const char *item, char *why, size_t wlen), char *why,
                      size_t wlen)
{
	char q[CFG_QUOTE_MAX];
	size_t n = 1;

	memset(out, 0, sizeof(*out));
	if (s[0] == '\0')
		return 0;
	quote_text(q, sizeof(q), s, strlen(s));
	for (const char *p = s; (p = strchr(p, ',')); p++)
		n++;
	if (n > max) {
		snprintf(why, wlen, "%s has more than %zu items", q, max);
		return -1;
	}
	out->items = xcalloc(n, sizeof(*out->items));
	for (const char *p = s; out->n < n; p += strcspn(p, ",") + 1) {
		const char *item = p;
		size_t len = strcspn(p, ",");
		trim(&item, &len);
		if (len == 0) {
			snprintf(why, wlen, "%s has an empty item", q);
			goto err_item;
		}
		out->items[out->n++] = dup_len(item, len);
		if (check && check(out->items[out->n - 1], why, wlen) < 0)
			goto err_item;
	}
	return 0;

err_item:
	free_list(out);
	return -1;
}

static int parse_value(const struct cfg_key *k, const char *s, union cfg_value *out, char *why,
                       size_t wlen)
{
	memset(out, 0, sizeof(*out));
	switch (k->type) {
	case CFG_STRING:
		break;
	case CFG_PATH:
		if (parse_path(k, s, why, wlen) < 0)
			return -1;
		break;
	case CFG_URL:
		if (parse_url(s, why, wlen) < 0)
			return -1;
		break;
	case CFG_HOSTPORT:
		if (s[0] != '\0' && check_hostport(s, why, wlen) < 0)
			return -1;
		break;
	case CFG_INT:
		return parse_int(k, s, &out->i, why, wlen);
	case CFG_BOOL:
		return parse_bool(s, &out->b, why, wlen);
	case CFG_SIZE:
		return parse_size(k, s, &out->size, why, wlen);
	case CFG_RANGE:
		return parse_range(k, s, &out->range, why, wlen);
	case CFG_ENUM:
		return parse_enum(k, s, &out->e, why, wlen);
	case CFG_LIST:
		return parse_list(s, &out->list, SHOJI_CONFIG_MAX_LIST_ITEMS, NULL, why, wlen);
	case CFG_LISTEN:
		return parse_list(s, &out->list, SHOJI_CONFIG_MAX_LISTEN, check_hostport, why,
		                  wlen);
	}
	out->s = xstrdup(s);
	return 0;
}

static void *field_of(struct shoji_config *cfg, const struct cfg_key *k)
{
	return (char *)cfg + k->offset;
}

static const void *cfield_of(const struct shoji_config *cfg, const struct cfg_key *k)
{
	return (const char *)cfg + k->offset;
}

static void free_field(struct shoji_config *cfg, const struct cfg_key *k)
{
	switch (k->type) {
	case CFG_STRING:
	case CFG_PATH:
	case CFG_URL:
	case CFG_HOSTPORT:
		free(*(char **)field_of(cfg, k));
		*(char **)field_of(cfg, k) = NULL;
		break;
	case CFG_LIST:
	case CFG_LISTEN:
		free_list(field_of(cfg, k));
		break;
	default:
		break;
	}
}

/* Replaces the field's value (freeing the old one) with a parsed one. */
static void store_value(struct shoji_config *cfg, const struct cfg_key *k, union cfg_value *v)
{
	free_field(cfg, k);
	memcpy(field_of(cfg, k), v, k->size);
}

/* ---- the table's own sanity, checked before defaults are used --------- */

static void __attribute__((noreturn)) bad_declaration(const struct cfg_key *k, const char *why)
{
	fprintf(stderr, "shoji: invalid built-in config key [%s] %s: %s\n", k->section, k->name,
	        why);
	abort();
}

static void check_declaration(const struct cfg_key *k)
{
	bool bounded = k->type == CFG_INT || k->type == CFG_SIZE || k->type == CFG_RANGE;

	if (!k->help || !k->help[0])
		bad_declaration(k, "no help text");
	if (!k->def)
		bad_declaration(k, "no default");
	if ((k->type == CFG_ENUM) != (k->allowed != NULL))
		bad_declaration(k, "`allowed` is for ENUM keys, and only for them");
	if (k->type == CFG_ENUM &&
	    (!k->allowed[0] || strstr(k->allowed, "||") || k->allowed[0] == '|' ||
	     k->allowed[strlen(k->allowed) - 1] == '|'))
		bad_declaration(k, "`allowed` has an empty word");
	if (bounded && k->min > k->max)
		bad_declaration(k, "min is greater than max");
	if (k->type == CFG_INT && k->max > LONG_MAX)
		bad_declaration(k, "max does not fit a long");
	if (k->type == CFG_RANGE && k->max > UINT32_MAX)
		bad_declaration(k, "max does not fit 32 bits");
}

struct shoji_config *config_defaults(void)
{
	struct shoji_config *cfg = xcalloc(1, sizeof(*cfg));
	char why[CFG_WHY_MAX];
	union cfg_value v;

	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		check_declaration(k);
		if (parse_value(k, k->def, &v, why, sizeof(why)) < 0) {
			fprintf(stderr, "shoji: built-in default of [%s] %s is invalid: %s\n",
			        k->section, k->name, why);
			abort();
		}
		store_value(cfg, k, &v);
	}
	cfg->source = xstrdup("(defaults)");
	return cfg;
}

void config_destroy(struct shoji_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++)
		free_field(cfg, &cfg_keys[i]);
	free(cfg->source);
	free(cfg);
}

/* ---- INI lines --------------------------------------------------------- */

struct parse_state {
	struct shoji_config *cfg;
	const char *name;
	unsigned lineno;
	const char *section; /* the table's spelling, NULL before the first header */
	char *err;
	size_t errlen;
};

/* Index of the first key of a section, or SHOJI_CONFIG_NKEYS if none. */
static size_t section_index(const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		if (strlen(cfg_keys[i].section) == len && memcmp(cfg_keys[i].section, s, len) == 0)
			return i;
	}
	return SHOJI_CONFIG_NKEYS;
}

static const char *find_section(const char *s, size_t len)
{
	size_t i = section_index(s, len);

	return i < ARRAY_SIZE(cfg_keys) ? cfg_keys[i].section : NULL;
}

static const struct cfg_key *find_key(const char *section, const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		if (strcmp(k->section, section) == 0 && strlen(k->name) == len &&
		    memcmp(k->name, s, len) == 0)
			return k;
	}
	return NULL;
}

/* "[server], [tls], ..." each section once, in table order. */
static void list_sections(char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys) && off < len; i++) {
		const char *sec = cfg_keys[i].section;
		if (section_index(sec, strlen(sec)) != i)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s[%s]", off ? ", " : "", sec);
	}
}

static void list_keys(const char *section, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys) && off < len; i++) {
		if (strcmp(cfg_keys[i].section, section) == 0)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
			                        cfg_keys[i].name);
	}
}

static int line_error(struct parse_state *st, const char *what, const char *allowed)
{
	set_err(st->err, st->errlen, "%s:%u: %s; allowed: %s", st->name, st->lineno, what, allowed);
	return -1;
}

static int parse_section_line(struct parse_state *st, const char *line, size_t len)
{
	char what[CFG_WHY_MAX], allowed[CFG_ALLOWED_MAX], q[CFG_QUOTE_MAX];
	const char *name = line + 1;
	size_t nlen = len - 2;

	if (len < 2 || line[len - 1] != ']') {
		quote_text(q, sizeof(q), line, len);
		snprintf(what, sizeof(what), "%s is not a [section] header", q);
		return line_error(st, what, "[section] alone on its line");
	}
	trim(&name, &nlen);
	st->section = find_section(name, nlen);
	if (!st->section) {
		quote_text(q, sizeof(q), name, nlen);
		snprintf(what, sizeof(what), "unknown section %s", q);
		list_sections(allowed, sizeof(allowed));
		return line_error(st, what, allowed);
	}
	return 0;
}

/* Removes double quotes around the whole value; -1 if only one is there. */
static int unquote(const char **v, size_t *vlen)
{
	if (*vlen == 0 || (*v)[0] != '"')
		return 0;
	if (*vlen < 2 || (*v)[*vlen - 1] != '"')
		return -1;
	(*v)++;
	*vlen -= 2;
	return 0;
}

static int set_key(struct parse_state *st, const struct cfg_key *k, const char *v, size_t vlen)
{
	char why[CFG_WHY_MAX], allowed[CFG_ALLOWED_MAX];
	size_t idx = (size_t)(k - cfg_keys);
	union cfg_value val;

	if (st->cfg->line[idx]) {
		snprintf(why, sizeof(why), "given twice (first on line %u)", st->cfg->line[idx]);
		snprintf(allowed, sizeof(allowed), "each key once");
	} else if (unquote(&v, &vlen) < 0) {
		snprintf(why, sizeof(why), "the value has an opening \" but no closing one");
		snprintf(allowed, sizeof(allowed), "\"a whole value in double quotes\"");
	} else {
		char *s = dup_len(v, vlen);
		int rc = parse_value(k, s, &val, why, sizeof(why));
		free(s);
		if (rc == 0) {
			store_value(st->cfg, k, &val);
			st->cfg->line[idx] = st->lineno;
			return 0;
		}
		describe_allowed(k, allowed, sizeof(allowed));
	}
	set_err(st->err, st->errlen, "%s:%u: [%s] %s: %s; allowed: %s", st->name, st->lineno,
	        k->section, k->name, why, allowed);
	return -1;
}

static int parse_key_line(struct parse_state *st, const char *line, size_t len, const char *eq)
{
	char what[CFG_WHY_MAX], allowed[CFG_ALLOWED_MAX], q[CFG_QUOTE_MAX];
	const char *key = line, *v = eq + 1;
	size_t klen = (size_t)(eq - line), vlen = len - klen - 1;

	trim(&key, &klen);
	trim(&v, &vlen);
	quote_text(q, sizeof(q), key, klen);
	if (klen == 0)
		return line_error(st, "a line starts with \"=\", not with a key", "key = value");
	if (!st->section) {
		snprintf(what, sizeof(what), "key %s comes before any [section] header", q);
		list_sections(allowed, sizeof(allowed));
		return line_error(st, what, allowed);
	}
	const struct cfg_key *k = find_key(st->section, key, klen);
	if (!k) {
		snprintf(what, sizeof(what), "[%s] %s: unknown key", st->section, q);
		list_keys(st->section, allowed, sizeof(allowed));
		return line_error(st, what, allowed);
	}
	return set_key(st, k, v, vlen);
}

static int parse_line(struct parse_state *st, const char *line, size_t len)
{
	char what[CFG_WHY_MAX], q[CFG_QUOTE_MAX];

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(what, sizeof(what), "control character 0x%02x in the line", c);
			return line_error(st, what, "text, tabs and spaces");
		}
	}
	trim(&line, &len);
	if (len == 0 || line[0] == '#' || line[0] == ';')
		return 0;
	if (line[0] == '[')
		return parse_section_line(st, line, len);
	const char *eq = memchr(line, '=', len);
	if (eq)
		return parse_key_line(st, line, len, eq);
	quote_text(q, sizeof(q), line, len);
	snprintf(what, sizeof(what), "%s is neither a [section] header nor key = value", q);
	return line_error(st, what,
	                  "[section], key = value, blank lines, and comment lines "
	                  "starting with # or ;");
}

struct shoji_config *config_parse_buf(const char *buf, size_t len, const char *name, char *err,
                                      size_t errlen)
{
	struct parse_state st = {.name = name ? name : "(config)", .err = err, .errlen = errlen};
	size_t pos = 0;

	if (len > SHOJI_CONFIG_MAX_SIZE) {
		set_err(err, errlen,
		        "%s: %zu bytes is too large for a config file; allowed: at "
		        "most %d bytes",
		        st.name, len, SHOJI_CONFIG_MAX_SIZE);
		return NULL;
	}
	st.cfg = config_defaults();
	free(st.cfg->source);
	st.cfg->source = xstrdup(st.name);
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		pos += llen + (nl ? 1 : 0);
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		st.lineno++;
		if (parse_line(&st, line, llen) < 0) {
			config_destroy(st.cfg);
			return NULL;
		}
	}
	return st.cfg;
}

/* ---- reading the file ------------------------------------------------- */

/* Reads at most SHOJI_CONFIG_MAX_SIZE + 1 bytes so a larger file shows. */
static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	size_t cap = SHOJI_CONFIG_MAX_SIZE + 1, len = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	buf = xcalloc(cap, 1);
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			goto err_read;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SHOJI_CONFIG_MAX_SIZE) {
		set_err(err, errlen,
		        "%s: larger than a config file can be; allowed: at most %d bytes", path,
		        SHOJI_CONFIG_MAX_SIZE);
		goto err_read;
	}
	close(fd);
	*out = buf;
	*outlen = len;
	return 0;

err_read:
	free(buf);
	close(fd);
	return -1;
}

struct shoji_config *config_load(const char *path, char *err, size_t errlen)
{
	struct shoji_config *cfg;
	char *buf;
	size_t len;

	if (read_file(path, &buf, &len, err, errlen) < 0)
		return NULL;
	cfg = config_parse_buf(buf, len, path, err, errlen);
	free(buf);
	return cfg;
}

/* ---- checks across keys ----------------------------------------------- */

/* Reports on key `at`; the line is the one that set it, if a file did. */
static int key_error(const struct shoji_config *cfg, enum shoji_config_key at, const char *why,
                     const char *allowed, char *err, size_t errlen)
{
	const struct cfg_key *k = &cfg_keys[at];
	char where[32] = "";

	if (cfg->line[at])
		snprintf(where, sizeof(where), ":%u", cfg->line[at]);
	set_err(err, errlen, "%s%s: [%s] %s: %s; allowed: %s", cfg->source, where, k->section,
	        k->name, why, allowed);
	return -1;
}

/* a <= b, reported on whichever of the two the file set. */
static int check_at_most(const struct shoji_config *cfg, enum shoji_config_key a, long va,
                         enum shoji_config_key b, long vb, char *err, size_t errlen)
{
	const struct cfg_key *ka = &cfg_keys[a], *kb = &cfg_keys[b];
	char why[CFG_WHY_MAX], allowed[CFG_ALLOWED_MAX];

	if (va <= vb)
		return 0;
	if (cfg->line[a] || !cfg->line[b]) {
		snprintf(why, sizeof(why), "%ld is more than [%s] %s (%ld)", va, kb->section,
		         kb->name, vb);
		snprintf(allowed, sizeof(allowed), "at most [%s] %s", kb->section, kb->name);
		return key_error(cfg, a, why, allowed, err, errlen);
	}
	snprintf(why, sizeof(why), "%ld is less than [%s] %s (%ld)", vb, ka->section, ka->name, va);
	snprintf(allowed, sizeof(allowed), "at least [%s] %s", ka->section, ka->name);
	return key_error(cfg, b, why, allowed, err, errlen);
}

struct listener {
	enum shoji_config_key key;
	const char *item;
	char host[256]; /* normalised: addresses as inet_ntop writes them */
	unsigned port;
	bool wildcard; /* 0.0.0.0 or [::], which take the port on every address */
};

static void listener_init(struct listener *l, enum shoji_config_key key, const char *item)
{
	const char *host = "";
	size_t hlen = 0;
	char why[CFG_WHY_MAX];
	struct in6_addr a6;
	struct in_addr a4;

	l->key = key;
	l->item = item;
	l->port = 0;
	split_hostport(item, &host, &hlen, &l->port, why, sizeof(why));
	snprintf(l->host, sizeof(l->host), "%.*s", (int)hlen, host);
	l->wildcard = false;
	if (inet_pton(AF_INET6, l->host, &a6) == 1) {
		l->wildcard = IN6_IS_ADDR_UNSPECIFIED(&a6);
		inet_ntop(AF_INET6, &a6, l->host, sizeof(l->host));
	} else if (inet_pton(AF_INET, l->host, &a4) == 1) {
		l->wildcard = a4.s_addr == INADDR_ANY;
		inet_ntop(AF_INET, &a4, l->host, sizeof(l->host));
	}
}

static bool listeners_clash(const struct listener *a, const struct listener *b)
{
	return a->port == b->port &&
	       (a->wildcard || b->wildcard || strcasecmp(a->host, b->host) == 0);
}

static int clash_error(const struct shoji_config *cfg, const struct listener *later,
                       const struct listener *earlier, char *err, size_t errlen)
{
	char why[CFG_WHY_MAX];

	/* point at the file's line rather than at a default */
	if (!cfg->line[later->key] && cfg->line[earlier->key]) {
		const struct listener *t = later;
		later = earlier;
		earlier = t;
	}
	const struct cfg_key *k = &cfg_keys[earlier->key];

	snprintf(why, sizeof(why), "%s clashes with %s of [%s] %s", later->item, earlier->item,
	         k->section, k->name);
	return key_error(cfg, later->key, why,
	                 "each port once per address (0.0.0.0 and [::] take the port on every "
	                 "address)",
	                 err, errlen);
}

/* [vnc] and [rdp] listeners must all be able to bind side by side. */
static int check_listeners(const struct shoji_config *cfg, char *err, size_t errlen)
{
	const struct shoji_strlist *vnc = &cfg->vnc_listen, *rdp = &cfg->rdp_listen;
	size_t n = 0;
	int rc = 0;

	if (vnc->n == 0 && rdp->n == 0)
		return key_error(cfg,
		                 cfg->line[SHOJI_CFG_rdp_listen] ? SHOJI_CFG_rdp_listen
		                                                 : SHOJI_CFG_vnc_listen,
		                 "no viewer could connect: [vnc] listen and [rdp] listen are both "
		                 "empty",
		                 "an address in at least one of them", err, errlen);
	struct listener *all = xcalloc(vnc->n + rdp->n, sizeof(*all));
	for (size_t i = 0; i < vnc->n; i++)
		listener_init(&all[n++], SHOJI_CFG_vnc_listen, vnc->items[i]);
	for (size_t i = 0; i < rdp->n; i++)
		listener_init(&all[n++], SHOJI_CFG_rdp_listen, rdp->items[i]);
	for (size_t i = 1; i < n && rc == 0; i++) {
		for (size_t j = 0; j < i && rc == 0; j++) {
			if (listeners_clash(&all[i], &all[j]))
				rc = clash_error(cfg, &all[i], &all[j], err, errlen);
		}
	}
	free(all);
	return rc;
}

/* [metrics] listen: loopback only (127.0.0.0/8, ::1), and apart from the viewers' ports. */
static int check_metrics(const struct shoji_config *cfg, char *err, size_t errlen)
{
	const struct shoji_strlist *m = &cfg->metrics_listen;
	struct in6_addr a6;
	struct in_addr a4;
	char why[CFG_WHY_MAX];

	for (size_t i = 0; i < m->n; i++) {
		struct listener l;
		listener_init(&l, SHOJI_CFG_metrics_listen, m->items[i]);
		bool loop =
		    (inet_pton(AF_INET, l.host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127) ||
		    (inet_pton(AF_INET6, l.host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6));
		if (loop)
			continue;
		snprintf(why, sizeof(why), "%s is not a loopback address", m->items[i]);
		return key_error(cfg, SHOJI_CFG_metrics_listen, why,
		                 "127.0.0.1:PORT or [::1]:PORT (metrics are for a local scraper or "
		                 "agent), or empty",
		                 err, errlen);
	}
	return 0;
}

static int check_bookmarks(const struct shoji_config *cfg, char *err, size_t errlen)
{
	char why[CFG_WHY_MAX], q[CFG_QUOTE_MAX];

	for (size_t i = 0; i < cfg->browser_bookmarks.n; i++) {
		const char *item = cfg->browser_bookmarks.items[i], *eq = strchr(item, '=');
		const char *name = item, *url = eq ? eq + 1 : "";
		size_t nlen = eq ? (size_t)(eq - item) : 0;
		trim(&name, &nlen);
		while (is_blank(*url))
			url++;
		if (nlen > 0 && eq && strncasecmp(url, "about:", 6) != 0 &&
		    parse_url(url, why, sizeof(why)) == 0)
			continue;
		quote_text(q, sizeof(q), item, strlen(item));
		snprintf(why, sizeof(why), "%s is not NAME=URL with an http:// or https:// URL", q);
		return key_error(cfg, SHOJI_CFG_browser_bookmarks, why,
		                 "comma-separated NAME=URL items, each URL http:// or https://",
		                 err, errlen);
	}
	return 0;
}

/* A budget below what the smallest picture update needs would stall the viewer. */
#define MIN_BUDGET_KBPS 100

static int check_budget(const struct shoji_config *cfg, char *err, size_t errlen)
{
	char why[CFG_WHY_MAX];

	if (cfg->display_max_kbps == 0 || cfg->display_max_kbps >= MIN_BUDGET_KBPS)
		return 0;
	snprintf(why, sizeof(why), "%ld kbit/s is too little to carry a picture",
	         (long)cfg->display_max_kbps);
	return key_error(cfg, SHOJI_CFG_display_max_kbps, why,
	                 "0 (no budget) or a whole number from 100 to 1000000", err, errlen);
}

int config_validate(const struct shoji_config *cfg, char *err, size_t errlen)
{
	if (check_budget(cfg, err, errlen) < 0)
		return -1;
	if (check_at_most(cfg, SHOJI_CFG_display_width, cfg->display_width,
	                  SHOJI_CFG_display_max_width, cfg->display_max_width, err, errlen) < 0)
		return -1;
	if (check_at_most(cfg, SHOJI_CFG_display_height, cfg->display_height,
	                  SHOJI_CFG_display_max_height, cfg->display_max_height, err, errlen) < 0)
		return -1;
	if (check_listeners(cfg, err, errlen) < 0 || check_metrics(cfg, err, errlen) < 0)
		return -1;
	return check_bookmarks(cfg, err, errlen);
}

/* ---- output ------------------------------------------------------------ */

/* Quotes a value whose spaces or quotes at either end would be lost. */
static void print_text(FILE *out, const char *s)
{
	size_t len = strlen(s);
	bool quote =
	    len > 0 && (is_blank(s[0]) || is_blank(s[len - 1]) || s[0] == '"' || s[len - 1] == '"');

	fprintf(out, quote ? "\"%s\"" : "%s", s);
}

static void print_list(FILE *out, const struct shoji_strlist *l)
{
	const char *first = l->n ? l->items[0] : "", *last = l->n ? l->items[l->n - 1] : "";
	bool quote = l->n && (first[0] == '"' || last[strlen(last) - 1] == '"');

	fputs(quote ? "\"" : "", out);
	for (size_t i = 0; i < l->n; i++)
		fprintf(out, "%s%s", i ? ", " : "", l->items[i]);
	fputs(quote ? "\"" : "", out);
}

static void print_value(FILE *out, const struct shoji_config *cfg, const struct cfg_key *k)
{
	const void *f = cfield_of(cfg, k);
	char buf[32];
	size_t wlen;
	const char *w;

	switch (k->type) {
	case CFG_STRING:
	case CFG_PATH:
	case CFG_URL:
	case CFG_HOSTPORT:
		print_text(out, *(char *const *)f);
		break;
	case CFG_INT:
		fprintf(out, "%ld", *(const long *)f);
		break;
	case CFG_BOOL:
		fputs(*(const bool *)f ? "true" : "false", out);
		break;
	case CFG_SIZE:
		format_size(buf, sizeof(buf), *(const uint64_t *)f);
		fputs(buf, out);
		break;
	case CFG_RANGE:
		fprintf(out, "%" PRIu32 "-%" PRIu32, ((const struct shoji_range *)f)->lo,
		        ((const struct shoji_range *)f)->hi);
		break;
	case CFG_LIST:
	case CFG_LISTEN:
		print_list(out, f);
		break;
	case CFG_ENUM:
		w = enum_word(k->allowed, *(const int *)f, &wlen);
		fprintf(out, "%.*s", w ? (int)wlen : 0, w ? w : "");
		break;
	}
}

static bool value_is_empty(const struct shoji_config *cfg, const struct cfg_key *k)
{
	switch (k->type) {
	case CFG_STRING:
	case CFG_PATH:
	case CFG_URL:
	case CFG_HOSTPORT:
		return (*(char *const *)cfield_of(cfg, k))[0] == '\0';
	case CFG_LIST:
	case CFG_LISTEN:
		return ((const struct shoji_strlist *)cfield_of(cfg, k))->n == 0;
	default:
		return false;
	}
}

void config_print_values(const struct shoji_config *cfg, FILE *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		if (i == 0 || strcmp(k->section, cfg_keys[i - 1].section) != 0)
			fprintf(out, "%s[%s]\n", i ? "\n" : "", k->section);
		fprintf(out, "%s =%s", k->name, value_is_empty(cfg, k) ? "" : " ");
		print_value(out, cfg, k);
		fputc('\n', out);
	}
}

/* `key = value`, without a trailing space when the value is empty. */
static void print_assignment(FILE *out, const char *prefix, const struct cfg_key *k)
{
	fprintf(out, "%s%s =%s%s\n", prefix, k->name, k->def[0] ? " " : "", k->def);
}

void config_print_help(FILE *out)
{
	char allowed[CFG_ALLOWED_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		describe_allowed(k, allowed, sizeof(allowed));
		fprintf(out, "%s[%s] ", i ? "\n" : "", k->section);
		print_assignment(out, "", k);
		fprintf(out, "\t%s\n\tallowed: %s\n", k->help, allowed);
	}
}

/* Writes text as "# " comment lines of at most CFG_EXAMPLE_WIDTH columns. */
static void print_comment(FILE *out, const char *text)
{
	const char *p = text;

	while (*p) {
		size_t room = CFG_EXAMPLE_WIDTH - 2, len = strlen(p);
		if (len > room) {
			size_t cut = room;
			while (cut > 0 && p[cut] != ' ')
				cut--;
			len = cut ? cut : strcspn(p, " ");
		}
		fprintf(out, "# %.*s\n", (int)len, p);
		p += len;
		while (*p == ' ')
			p++;
	}
}

void config_print_example(FILE *out)
{
	char allowed[CFG_ALLOWED_MAX], line[CFG_ALLOWED_MAX + 16];

	print_comment(out, "shoji.conf: configuration of shojid, the shoji browser-isolation "
	                   "server. Generated by `shojid --example-config`.");
	fputs("#\n", out);
	print_comment(out, "Every key is shown commented out at its built-in default; remove "
	                   "the leading \"# \" to change one. Syntax: [section] headers, "
	                   "`key = value` lines, and comment lines starting with # or ; (a # "
	                   "later in a line is part of the value). Double quotes around a value "
	                   "keep its leading and trailing spaces. Check a file with "
	                   "`shojid --check-config -c FILE`.");
	for (size_t i = 0; i < ARRAY_SIZE(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];
		if (i == 0 || strcmp(k->section, cfg_keys[i - 1].section) != 0)
			fprintf(out, "\n[%s]\n", k->section);
		describe_allowed(k, allowed, sizeof(allowed));
		snprintf(line, sizeof(line), "allowed: %s", allowed);
		fputc('\n', out);
		print_comment(out, k->help);
		print_comment(out, line);
		print_assignment(out, "# ", k);
	}
}
