/*
 * The egress policy: which destinations the browser may reach. Built once
 * per session from [egress] allow and deny, the built-in refusal set (the
 * address ranges no Internet site lives in: loopback, RFC 1918, CGNAT,
 * link-local, multicast, ...) and the host's own addresses; read-only
 * afterwards, so connection threads share it without locks.
 *
 * Handles untrusted input: the host names and addresses passed to
 * egress_policy_allows() come from the browser's request and from DNS
 * answers (both possibly a hostile page's choice); they are compared, never
 * parsed here. The entries come from the administrator's config file.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "egress.h"
#include "util.h"

#define ENTRY_MAX 300 /* longest entry text: a host name, ":" and a port */

/* An address in network byte order; IPv4 uses the first 4 bytes. */
struct net_addr {
	int family;
	uint8_t bytes[16];
};

enum rule_kind { RULE_NET, RULE_HOST, RULE_DOMAIN };

struct egress_rule {
	enum rule_kind kind;
	struct net_addr net; /* RULE_NET */
	unsigned prefix;
	char host[HTTP_MAX_HOST + 1]; /* RULE_HOST; RULE_DOMAIN without its "*." */
	uint16_t port;                /* 0: any port */
	char *reason;
};

struct rule_list {
	struct egress_rule *v;
	size_t n;
};

struct egress_policy {
	struct rule_list allow, deny, builtin;
	struct net_addr *own;
	size_t n_own;
};

static const struct {
	const char *cidr;
	const char *reason;
} builtin_refusals[] = {
    {"0.0.0.0/8", "unspecified address"},
    {"10.0.0.0/8", "private address"},
    {"100.64.0.0/10", "shared (CGNAT) address"},
    {"127.0.0.0/8", "loopback address"},
    {"169.254.0.0/16", "link-local address"},
    {"172.16.0.0/12", "private address"},
    {"192.0.0.0/24", "IETF protocol assignment address"},
    {"192.168.0.0/16", "private address"},
    {"198.18.0.0/15", "benchmarking address"},
    {"224.0.0.0/4", "multicast address"},
    {"255.255.255.255/32", "broadcast address"}, /* before 240/4, which holds it */
    {"240.0.0.0/4", "reserved address"},
    {"::/128", "unspecified address"},
    {"::1/128", "loopback address"},
    {"fc00::/7", "private address"},
    {"fe80::/10", "link-local address"},
    {"fec0::/10", "site-local address"},
    {"ff00::/8", "multicast address"},
};

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* IPv6 forms that carry an IPv4 address: ::ffff:0:0/96 and 64:ff9b::/96. */
static bool v6_embeds_v4(const uint8_t b[16])
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};

	return memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0;
}

static void addr_normalise(struct net_addr *a)
{
	if (a->family == AF_INET6 && v6_embeds_v4(a->bytes)) {
		memmove(a->bytes, a->bytes + 12, 4);
		memset(a->bytes + 4, 0, 12);
		a->family = AF_INET;
	}
}

static bool addr_from_sockaddr(const struct sockaddr *sa, struct net_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memcpy(out->bytes, &in->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(out->bytes, &in6->sin6_addr, 16);
	} else {
		return false;
	}
	out->family = sa->sa_family;
	addr_normalise(out);
	return true;
}

static bool addr_from_text(const char *s, struct net_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->bytes) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, s, out->bytes) == 1)
		out->family = AF_INET6;
	else
		return false;
	return true;
}

static bool net_contains(const struct net_addr *net, unsigned prefix, const struct net_addr *a)
{
	if (net->family != a->family)
		return false;
	unsigned whole = prefix / 8, rest = prefix % 8;
	if (memcmp(net->bytes, a->bytes, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net->bytes[whole] & mask) == (a->bytes[whole] & mask);
}

/* Whether no bit is set after the prefix. */
static bool net_is_clean(const struct net_addr *net, unsigned prefix)
{
	for (unsigned bit = prefix; bit < addr_len(net->family) * 8; bit++)
		if (net->bytes[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

/* Compares host names, ignoring one trailing dot of the asked-for name. */
static bool host_equal(const char *asked, size_t asked_len, const char *name)
{
	return strlen(name) == asked_len && strncasecmp(asked, name, asked_len) == 0;
}

static bool rule_matches(const struct egress_rule *r, const char *host, uint16_t port,
                         const struct net_addr *a)
{
	size_t n = strlen(host);

	if (r->port && r->port != port)
		return false;
	if (n > 0 && host[n - 1] == '.')
		n--;
	switch (r->kind) {
	case RULE_NET:
		return a && net_contains(&r->net, r->prefix, a);
	case RULE_HOST:
		return host_equal(host, n, r->host);
	case RULE_DOMAIN: {
		size_t k = strlen(r->host);
		return host_equal(host, n, r->host) ||
		       (n > k && host[n - k - 1] == '.' && host_equal(host + n - k, k, r->host));
	}
	}
	return false;
}

static const struct egress_rule *list_match(const struct rule_list *l, const char *host,
                                            uint16_t port, const struct net_addr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (rule_matches(&l->v[i], host, port, a))
			return &l->v[i];
	return NULL;
}

bool egress_policy_allows(const struct egress_policy *p, const char *host, uint16_t port,
                          const struct sockaddr *sa, const char **reason)
{
	struct net_addr addr, *a = NULL;
	const struct egress_rule *r;

	if (sa) {
		if (!addr_from_sockaddr(sa, &addr)) {
			*reason = "not an IP address";
			return false;
		}
		a = &addr;
	}
	if ((r = list_match(&p->allow, host, port, a))) {
		*reason = r->reason;
		return true;
	}
	if ((r = list_match(&p->deny, host, port, a)) ||
	    (a && (r = list_match(&p->builtin, host, port, a)))) {
		*reason = r->reason;
		return false;
	}
	for (size_t i = 0; a && i < p->n_own; i++) {
		if (p->own[i].family == a->family &&
		    memcmp(p->own[i].bytes, a->bytes, addr_len(a->family)) == 0) {
			*reason = "host's own address";
			return false;
		}
	}
	*reason = "not in a refused range";
	return true;
}

/* --- building --- */

struct entry_ctx {
	const char *list; /* "allow" or "deny" */
	size_t index;     /* 1-based */
	const char *text;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int entry_error(const struct entry_ctx *c,
                                                             const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "[egress] %s: entry %zu '%s': %s", c->list, c->index, c->text,
	         what);
	return -1;
}

static int parse_prefix(const struct entry_ctx *c, const char *s, int family, unsigned *prefix)
{
	unsigned max = family == AF_INET ? 32 : 128;
	unsigned v = 0;
	size_t i = 0;

	for (; s[i] >= '0' && s[i] <= '9' && i < 3; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (i == 0 || s[i] != '\0' || v > max)
		return entry_error(c, "prefix length must be 0..%u", max);
	*prefix = v;
	return 0;
}

static int parse_cidr(const struct entry_ctx *c, char *s, struct egress_rule *r)
{
	char *slash = strchr(s, '/');
	char clean[INET6_ADDRSTRLEN];

	*slash = '\0';
	if (!addr_from_text(s, &r->net))
		return entry_error(c, "'%s' is not an IPv4 or IPv6 address", s);
	if (parse_prefix(c, slash + 1, r->net.family, &r->prefix) < 0)
		return -1;
	if (!net_is_clean(&r->net, r->prefix)) {
		struct net_addr masked = r->net;
		for (unsigned bit = r->prefix; bit < addr_len(masked.family) * 8; bit++)
			masked.bytes[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
		inet_ntop(masked.family, masked.bytes, clean, sizeof(clean));
		return entry_error(c, "bits are set after the prefix (did you mean %s/%u?)", clean,
		                   r->prefix);
	}
	r->kind = RULE_NET;
	if (r->net.family == AF_INET6 && r->prefix >= 96 && v6_embeds_v4(r->net.bytes)) {
		/* Addresses are judged as the IPv4 address they carry: so are such networks. */
		addr_normalise(&r->net);
		r->prefix -= 96;
	}
	return 0;
}

static int parse_port_text(const struct entry_ctx *c, const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i = 0;

	for (; s[i] >= '0' && s[i] <= '9' && i < 6; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	if (i == 0 || s[i] != '\0' || v < 1 || v > 65535)
		return entry_error(c, "port must be 1..65535");
	*port = (uint16_t)v;
	return 0;
}

static int parse_host(const struct entry_ctx *c, const char *s, struct egress_rule *r)
{
	if (addr_from_text(s, &r->net)) {
		r->kind = RULE_NET;
		addr_normalise(&r->net);
		r->prefix = (unsigned)addr_len(r->net.family) * 8;
		return 0;
	}
	r->kind = RULE_HOST;
	if (strncmp(s, "*.", 2) == 0) {
		r->kind = RULE_DOMAIN;
		s += 2;
	}
	size_t n = strlen(s);
	if (n == 0 || n > HTTP_MAX_HOST || s[0] == '.' || s[n - 1] == '.')
		return entry_error(c, "not a CIDR, HOST or HOST:PORT");
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		          (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
		if (!ok)
			return entry_error(c, "a host name holds only letters, digits, '-' and "
			                      "'.' (or starts with \"*.\")");
		r->host[i] = (char)((ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch);
	}
	r->host[n] = '\0';
	return 0;
}

/* Fills r from one entry; on error writes err and returns -1. */
static int parse_entry(const struct entry_ctx *c, struct egress_rule *r)
{
	char s[ENTRY_MAX + 1];
	char *colon;

	memset(r, 0, sizeof(*r));
	if (strlen(c->text) > ENTRY_MAX)
		return entry_error(c, "longer than %d characters", ENTRY_MAX);
	strcpy(s, c->text);
	if (strchr(s, '/'))
		return parse_cidr(c, s, r);
	if (s[0] == '[') {
		char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return entry_error(c, "an IPv6 address with a port is [ADDR]:PORT");
		*close = '\0';
		if (!addr_from_text(s + 1, &r->net) || r->net.family != AF_INET6)
			return entry_error(c, "'%s' is not an IPv6 address", s + 1);
		if (parse_port_text(c, close + 2, &r->port) < 0)
			return -1;
		return parse_host(c, s + 1, r);
	}
	colon = strchr(s, ':');
	if (colon && strchr(colon + 1, ':'))
		return parse_host(c, s, r); /* an IPv6 address without a port */
	if (colon) {
		*colon = '\0';
		if (parse_port_text(c, colon + 1, &r->port) < 0)
			return -1;
	}
	return parse_host(c, s, r);
}

static void set_reason(struct egress_rule *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_reason(struct egress_rule *r, const char *fmt, ...)
{
	char buf[ENTRY_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->reason = xstrdup(buf);
}

static int build_list(struct rule_list *l, const struct shoji_strlist *entries, const char *name,
                      char *err, size_t errlen)
{
	size_t n = entries ? entries->n : 0;

	l->v = xcalloc(n, sizeof(*l->v));
	for (size_t i = 0; i < n; i++) {
		struct entry_ctx c = {name, i + 1, entries->items[i], err, errlen};
		if (parse_entry(&c, &l->v[i]) < 0)
			return -1;
		set_reason(&l->v[i], "%s by [egress] %s entry %s",
		           strcmp(name, "allow") == 0 ? "allowed" : "denied", name, c.text);
		l->n = i + 1;
	}
	return 0;
}

static void build_builtin(struct rule_list *l)
{
	l->v = xcalloc(ARRAY_SIZE(builtin_refusals), sizeof(*l->v));
	for (size_t i = 0; i < ARRAY_SIZE(builtin_refusals); i++) {
		struct egress_rule *r = &l->v[i];
		char s[64];
		strcpy(s, builtin_refusals[i].cidr);
		char *slash = strchr(s, '/');
		*slash = '\0';
		addr_from_text(s, &r->net);
		r->prefix = (unsigned)strtoul(slash + 1, NULL, 10);
		r->kind = RULE_NET;
		r->reason = xstrdup(builtin_refusals[i].reason);
		l->n = i + 1;
	}
}

/* The host's own addresses now; failure leaves the list empty (and is not fatal). */
static void read_own_addresses(struct egress_policy *p)
{
	struct ifaddrs *list, *ifa;
	size_t n = 0;

	if (getifaddrs(&list) < 0)
		return;
	for (ifa = list; ifa; ifa = ifa->ifa_next)
		n++;
	p->own = xcalloc(n, sizeof(*p->own));
	for (ifa = list; ifa; ifa = ifa->ifa_next)
		if (ifa->ifa_addr && addr_from_sockaddr(ifa->ifa_addr, &p->own[p->n_own]))
			p->n_own++;
	freeifaddrs(list);
}

struct egress_policy *egress_policy_create(const struct shoji_strlist *allow,
                                           const struct shoji_strlist *deny, char *err,
                                           size_t errlen)
{
	struct egress_policy *p = xcalloc(1, sizeof(*p));

	if (build_list(&p->allow, allow, "allow", err, errlen) < 0)
		goto bad_entry;
	if (build_list(&p->deny, deny, "deny", err, errlen) < 0)
		goto bad_entry;
	build_builtin(&p->builtin);
	read_own_addresses(p);
	return p;

bad_entry:
	egress_policy_destroy(p);
	return NULL;
}

static void free_list(struct rule_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].reason);
	free(l->v);
}

void egress_policy_destroy(struct egress_policy *p)
{
	if (!p)
		return;
	free_list(&p->allow);
	free_list(&p->deny);
	free_list(&p->builtin);
	free(p->own);
	free(p);
}
