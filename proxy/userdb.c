/*
 * The user database (see userdb.h for the file format): a pure parser over
 * the users file, scrypt password checks, NT hashes for RDP NLA, and the
 * locked, crash-safe rewrite `shojictl user` uses.
 *
 * Handles untrusted input: the users file. Each line is checked on its own
 * and a bad one is reported by file and line and skipped; messages carry
 * user names (already checked to be plain) but never hashes, which are
 * secrets (an NT hash is a password equivalent). Keys and salts are wiped
 * when a db is destroyed.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "userdb.h"
#include "util.h"

struct userdb_user {
	char name[USERDB_MAX_NAME + 1];
	uint8_t log2n, r, p;
	bool has_nt;
	uint8_t salt[USERDB_SALT_LEN];
	uint8_t key[USERDB_KEY_LEN];
	uint8_t nt[USERDB_NT_HASH_LEN];
	unsigned line;
};

struct userdb {
	size_t n, cap;
	struct userdb_user *users; /* in file order */
	uint32_t *slots;           /* open addressing: index + 1, 0 = empty */
	size_t nslots;             /* a power of two, > 2 * n */
};

/* Base64 lengths of the salt and the key, '=' padding included. */
#define B64_LEN(n) (4 * (((n) + 2) / 3))
#define SALT_B64_LEN B64_LEN(USERDB_SALT_LEN)
#define KEY_B64_LEN B64_LEN(USERDB_KEY_LEN)

#define NAME_RULE "1-64 of A-Z a-z 0-9 . _ -, not starting with '-' or '.'"
#define HASH_RULE "scrypt$LOG2N$R$P$SALT$KEY (LOG2N 14-20, R 1-16, P 1-4, base64 salt and key)"

/* The header of a users file userdb_edit() creates. */
static const char file_header[] =
    "# shoji user database, edited with `shojictl user` (keep it mode 0600).\n"
    "#\n"
    "# One user per line: NAME:HASH[:NTHASH]\n"
    "#   NAME    1-64 of A-Z a-z 0-9 . _ -, not starting with '-' or '.'\n"
    "#   HASH    scrypt$LOG2N$R$P$SALT$KEY: scrypt with N = 2^LOG2N, salt and key\n"
    "#           in base64\n"
    "#   NTHASH  optional, 32 hex digits: MD4 of the UTF-16LE password, for RDP NLA.\n"
    "#           It is a PASSWORD EQUIVALENT: whoever reads it can log in as the\n"
    "#           user over NLA. Add it (--nt-hash) only for users who need NLA.\n"
    "# Blank lines and lines whose first non-blank character is '#' are ignored.\n"
    "# A corrupt line is reported and skipped; the first line for a user wins.\n";


/* ---- names, numbers, encodings ------------------------------------------ */

static bool name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static bool valid_name_len(const char *s, size_t len)
{
	if (len < 1 || len > USERDB_MAX_NAME || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

bool userdb_valid_name(const char *name)
{
	return name && valid_name_len(name, strnlen(name, USERDB_MAX_NAME + 1));
}

/* A decimal in [lo, hi] without sign or leading zeros, all of s[0..len). */
static bool parse_small_uint(const char *s, size_t len, unsigned lo, unsigned hi, unsigned *out)
{
	unsigned v = 0;

	if (len < 1 || len > 3 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/*
 * Decodes exactly outlen bytes from canonical base64: the right length, the
 * right padding, no whitespace, zero spare bits. Re-encoding and comparing
 * checks all of that, since EVP_DecodeBlock() itself is lenient.
 */
static bool b64_decode_exact(const char *s, size_t len, uint8_t *out, size_t outlen)
{
	unsigned char tmp[B64_LEN(USERDB_KEY_LEN)];
	char again[B64_LEN(USERDB_KEY_LEN) + 1];
	bool ok = false;

	if (outlen > USERDB_KEY_LEN || len != B64_LEN(outlen))
		return false;
	if (EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len) != (int)(len / 4 * 3))
		goto out;
	EVP_EncodeBlock((unsigned char *)again, tmp, (int)outlen);
	if (memcmp(again, s, len) != 0)
		goto out;
	memcpy(out, tmp, outlen);
	ok = true;
out:
	OPENSSL_cleanse(tmp, sizeof(tmp));
	OPENSSL_cleanse(again, sizeof(again));
	return ok;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool hex_decode_exact(const char *s, size_t len, uint8_t *out, size_t outlen)
{
	if (len != 2 * outlen)
		return false;
	for (size_t i = 0; i < outlen; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/*
 * Decodes one UTF-8 code point at s[*i]; strict (no overlong forms, no
 * surrogates, nothing above U+10FFFF). -1 for invalid input.
 */
static long utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	static const long min_of[5] = {0, 0, 0x80, 0x800, 0x10000};
	unsigned char c = s[*i];
	size_t n = c < 0x80             ? 1
	           : (c & 0xe0) == 0xc0 ? 2
	           : (c & 0xf0) == 0xe0 ? 3
	           : (c & 0xf8) == 0xf0 ? 4
	                                : 0;
	long cp;

	if (n == 0 || len - *i < n)
		return -1;
	cp = n == 1 ? c : c & (0x7f >> n);
	for (size_t k = 1; k < n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[*i + k] & 0x3f);
	}
	if (cp < min_of[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n;
	return cp;
}

/* Code points in s, or -1 if it is not valid UTF-8. */
static long utf8_count(const char *s, size_t len)
{
	long n = 0;

	for (size_t i = 0; i < len; n++)
		if (utf8_next((const unsigned char *)s, len, &i) < 0)
			return -1;
	return n;
}

int userdb_check_password(const char *password, char *err, size_t errlen)
{
	size_t len;
	long chars;

	if (!password || password[0] == '\0') {
		set_err(err, errlen, "empty password");
		return -1;
	}
	len = strnlen(password, USERDB_MAX_PASSWORD + 1);
	if (len > USERDB_MAX_PASSWORD) {
		set_err(err, errlen, "password longer than %d bytes", USERDB_MAX_PASSWORD);
		return -1;
	}
	chars = utf8_count(password, len);
	if (chars < 0) {
		set_err(err, errlen,
		        "password is not valid UTF-8 (is the terminal set to another encoding?)");
		return -1;
	}
	if (chars < USERDB_MIN_PASSWORD_CHARS) {
		set_err(err, errlen, "password too short: at least %d characters are required",
		        USERDB_MIN_PASSWORD_CHARS);
		return -1;
	}
	return 0;
}

/* ---- hashing ------------------------------------------------------------ */

static int scrypt_key(const char *password, size_t len, const struct userdb_user *u,
                      uint8_t key[USERDB_KEY_LEN])
{
	/*
	 * OpenSSL needs 128 * r * (N + 2) bytes for V plus 128 * r * p for B;
	 * with the bounds checked at parse time this is below 2^32, so plain
	 * 64-bit arithmetic cannot overflow. 1 MiB of slack on top.
	 */
	uint64_t n = 1ull << u->log2n;
	uint64_t maxmem = 128ull * u->r * (n + 2) + 128ull * u->r * u->p + (1u << 20);

	return EVP_PBE_scrypt(password, len, u->salt, sizeof(u->salt), n, u->r, u->p, maxmem, key,
	                      USERDB_KEY_LEN) == 1
	           ? 0
	           : -1;
}

int userdb_hash_password(const char *password, char *out, size_t outlen)
{
	struct userdb_user u = {
	    .log2n = USERDB_LOG2N_DEFAULT, .r = USERDB_R_DEFAULT, .p = USERDB_P_DEFAULT};
	char salt64[SALT_B64_LEN + 1], key64[KEY_B64_LEN + 1];
	size_t len = password ? strnlen(password, USERDB_MAX_PASSWORD + 1) : 0;
	int ret = -1;

	if (!password || len > USERDB_MAX_PASSWORD) {
		errno = EINVAL;
		return -1;
	}
	if (outlen < USERDB_HASH_BUF) {
		errno = ERANGE;
		return -1;
	}
	if (random_bytes(u.salt, sizeof(u.salt)) < 0 || scrypt_key(password, len, &u, u.key) < 0) {
		errno = EIO;
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)salt64, u.salt, sizeof(u.salt));
	EVP_EncodeBlock((unsigned char *)key64, u.key, sizeof(u.key));
	snprintf(out, outlen, "scrypt$%u$%u$%u$%s$%s", u.log2n, u.r, u.p, salt64, key64);
	ret = 0;
out:
	OPENSSL_cleanse(&u, sizeof(u));
	OPENSSL_cleanse(key64, sizeof(key64));
	return ret;
}

/* UTF-8 to UTF-16LE; bytes written, or -1 for invalid UTF-8. */
static long utf16le_of(const char *s, size_t len, uint8_t *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		long cp = utf8_next((const unsigned char *)s, len, &i);
		if (cp < 0 || cap - o < (cp >= 0x10000 ? 4u : 2u))
			return -1;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			put_le16(out + o, (uint16_t)(0xd800 | (cp >> 10)));
			o += 2;
			cp = 0xdc00 | (cp & 0x3ff);
		}
		put_le16(out + o, (uint16_t)cp);
		o += 2;
	}
	return (long)o;
}

int userdb_nt_hash_password(const char *password, uint8_t out[USERDB_NT_HASH_LEN], char *err,
                            size_t errlen)
{
	/* Each UTF-8 byte gives at most one UTF-16 unit. */
	uint8_t u16[2 * USERDB_MAX_PASSWORD];
	size_t len = password ? strnlen(password, USERDB_MAX_PASSWORD + 1) : 0;
	long n = len <= USERDB_MAX_PASSWORD ? utf16le_of(password, len, u16, sizeof(u16)) : -1;
	OSSL_LIB_CTX *lctx = NULL;
	OSSL_PROVIDER *legacy = NULL;
	EVP_MD *md4 = NULL;
	int ret = -1;

	if (n < 0) {
		set_err(err, errlen, "NT hash: password is not valid UTF-8 or too long");
		goto out;
	}
	/* A private context, so the process's own provider set stays as it was. */
	lctx = OSSL_LIB_CTX_new();
	legacy = lctx ? OSSL_PROVIDER_load(lctx, "legacy") : NULL;
	md4 = legacy ? EVP_MD_fetch(lctx, "MD4", NULL) : NULL;
	if (!md4) {
		set_err(err, errlen,
		        "NT hash: MD4 is not available: OpenSSL's legacy provider (legacy.so in "
		        "its ossl-modules directory, Debian package libssl3) could not be loaded");
		goto out;
	}
	if (!EVP_Digest(u16, (size_t)n, out, NULL, md4, NULL)) {
		set_err(err, errlen, "NT hash: MD4 failed");
		goto out;
	}
	ret = 0;
out:
	OPENSSL_cleanse(u16, sizeof(u16));
	EVP_MD_free(md4);
	if (legacy)
		OSSL_PROVIDER_unload(legacy);
	OSSL_LIB_CTX_free(lctx);
	return ret;
}

/* ---- one line ------------------------------------------------------------ */

enum line_kind { LINE_SKIP, LINE_USER, LINE_BAD };

/* Splits the next field off *s, up to SEP or END; false when none is left. */
static bool next_field(const char **s, const char *end, char sep, const char **f, size_t *flen)
{
	const char *p;

	if (!*s)
		return false;
	p = memchr(*s, sep, (size_t)(end - *s));
	*f = *s;
	*flen = (size_t)((p ? p : end) - *s);
	*s = p ? p + 1 : NULL;
	return true;
}

/* Parses HASH (all of s[0..len)) into u's parameters, salt and key. */
static bool parse_hash(const char *s, size_t len, struct userdb_user *u)
{
	const char *cur = s, *f[6];
	size_t flen[6];
	unsigned log2n, r, p;

	for (int i = 0; i < 6; i++)
		if (!next_field(&cur, s + len, '$', &f[i], &flen[i]))
			return false;
	if (cur || flen[0] != 6 || memcmp(f[0], "scrypt", 6) != 0)
		return false;
	if (!parse_small_uint(f[1], flen[1], USERDB_LOG2N_MIN, USERDB_LOG2N_MAX, &log2n) ||
	    !parse_small_uint(f[2], flen[2], USERDB_R_MIN, USERDB_R_MAX, &r) ||
	    !parse_small_uint(f[3], flen[3], USERDB_P_MIN, USERDB_P_MAX, &p))
		return false;
	if (!b64_decode_exact(f[4], flen[4], u->salt, sizeof(u->salt)) ||
	    !b64_decode_exact(f[5], flen[5], u->key, sizeof(u->key)))
		return false;
	u->log2n = (uint8_t)log2n;
	u->r = (uint8_t)r;
	u->p = (uint8_t)p;
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Classifies one line (without its '\n') and, for LINE_USER, fills the
 * zeroed *u. For LINE_BAD, `why` says what is wrong, without secrets.
 */
static enum line_kind parse_line(const char *s, size_t len, struct userdb_user *u, char *why,
                                 size_t whylen)
{
	const char *cur = s, *f;
	size_t flen, i = 0;

	if (len > USERDB_MAX_LINE) {
		set_err(why, whylen, "line longer than %d bytes", USERDB_MAX_LINE);
		return LINE_BAD;
	}
	while (len > 0 && (is_blank(s[len - 1]) || s[len - 1] == '\r'))
		len--;
	while (i < len && is_blank(s[i]))
		i++;
	if (i == len || s[i] == '#')
		return LINE_SKIP;
	next_field(&cur, s + len, ':', &f, &flen);
	if (!valid_name_len(f, flen)) {
		set_err(why, whylen, "bad user name; allowed: " NAME_RULE);
		return LINE_BAD;
	}
	memcpy(u->name, f, flen);
	u->name[flen] = '\0';
	if (!next_field(&cur, s + len, ':', &f, &flen) || !parse_hash(f, flen, u)) {
		set_err(why, whylen, "user %s: bad password hash; expected NAME:" HASH_RULE,
		        u->name);
		return LINE_BAD;
	}
	if (cur) {
		if (!hex_decode_exact(cur, (size_t)(s + len - cur), u->nt, sizeof(u->nt))) {
			set_err(why, whylen, "user %s: bad NT hash; expected 32 hex digits",
			        u->name);
			return LINE_BAD;
		}
		u->has_nt = true;
	}
	return LINE_USER;
}

/* ---- the db: users in file order, and a hash index by name -------------- */

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

/* The slot holding NAME, or the empty slot where it would go. */
static size_t find_slot(const struct userdb *db, const char *name)
{
	size_t mask = db->nslots - 1, i = (size_t)name_hash(name) & mask;

	while (db->slots[i] && strcmp(db->users[db->slots[i] - 1].name, name) != 0)
		i = (i + 1) & mask;
	return i;
}

static const struct userdb_user *lookup(const struct userdb *db, const char *name)
{
	size_t i;

	if (!db || !name || db->n == 0)
		return NULL;
	i = find_slot(db, name);
	return db->slots[i] ? &db->users[db->slots[i] - 1] : NULL;
}

static int grow_slots(struct userdb *db)
{
	size_t nslots = db->nslots ? db->nslots : 16;
	uint32_t *old = db->slots;
	size_t oldn = db->nslots;

	while (nslots <= 2 * (db->n + 1))
		if (!ckd_mul_size(&nslots, nslots, 2))
			return -1;
	if (nslots == db->nslots)
		return 0;
	db->slots = calloc(nslots, sizeof(*db->slots));
	if (!db->slots) {
		db->slots = old;
		return -1;
	}
	db->nslots = nslots;
	for (size_t i = 0; i < oldn; i++)
		if (old[i])
			db->slots[find_slot(db, db->users[old[i] - 1].name)] = old[i];
	free(old);
	return 0;
}

/* Appends a user not yet in the db; 0 or -1 when out of memory. */
static int add_user(struct userdb *db, const struct userdb_user *u)
{
	if (db->n == db->cap) {
		size_t cap = db->cap ? db->cap : 16, bytes;
		struct userdb_user *users;
		if (!ckd_mul_size(&cap, cap, 2) || cap > UINT32_MAX ||
		    !ckd_mul_size(&bytes, cap, sizeof(*users)))
			return -1;
		users = realloc(db->users, bytes);
		if (!users)
			return -1;
		db->users = users;
		db->cap = cap;
	}
	if (grow_slots(db) < 0)
		return -1;
	db->users[db->n] = *u;
	db->slots[find_slot(db, u->name)] = (uint32_t)(db->n + 1);
	db->n++;
	return 0;
}

struct parse_ctx {
	const char *file;
	unsigned line;
	userdb_warn_fn warn;
	void *warn_ctx;
};

static void warn_line(const struct parse_ctx *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn_line(const struct parse_ctx *pc, const char *fmt, ...)
{
	char why[256], msg[512];
	va_list ap;

	if (!pc->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s:%u: %s", pc->file, pc->line, why);
	pc->warn(pc->warn_ctx, msg);
}

/* Handles one line; -1 only when out of memory. */
static int parse_one(struct userdb *db, struct parse_ctx *pc, const char *s, size_t len)
{
	struct userdb_user u = {0};
	const struct userdb_user *first;
	char why[256];
	int ret = 0;

	switch (parse_line(s, len, &u, why, sizeof(why))) {
	case LINE_SKIP:
		break;
	case LINE_BAD:
		warn_line(pc, "%s", why);
		break;
	case LINE_USER:
		first = lookup(db, u.name);
		if (first) {
			warn_line(pc, "duplicate user %s (first defined on line %u); line ignored",
			          u.name, first->line);
			break;
		}
		u.line = pc->line;
		ret = add_user(db, &u);
		break;
	}
	OPENSSL_cleanse(&u, sizeof(u));
	return ret;
}

struct userdb *userdb_parse_buf(const char *buf, size_t len, const char *name, userdb_warn_fn warn,
                                void *ctx)
{
	struct parse_ctx pc = {.file = name ? name : "(users)", .warn = warn, .warn_ctx = ctx};
	struct userdb *db = calloc(1, sizeof(*db));
	size_t pos = 0;

	if (!db)
		return NULL;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t linelen = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		pc.line++;
		if (parse_one(db, &pc, buf + pos, linelen) < 0)
			goto err_nomem;
		pos += linelen + (nl ? 1 : 0);
	}
	return db;

err_nomem:
	userdb_destroy(db);
	return NULL;
}

void userdb_destroy(struct userdb *db)
{
	if (!db)
		return;
	if (db->users)
		OPENSSL_cleanse(db->users, db->cap * sizeof(*db->users));
	free(db->users);
	free(db->slots);
	free(db);
}

/* ---- queries ------------------------------------------------------------- */

bool userdb_verify(const struct userdb *db, const char *user, const char *password)
{
	/* Stands in for unknown users: same cost as a new hash, never matches. */
	static const struct userdb_user dummy = {.name = "",
	                                         .log2n = USERDB_LOG2N_DEFAULT,
	                                         .r = USERDB_R_DEFAULT,
	                                         .p = USERDB_P_DEFAULT};
	const struct userdb_user *u = lookup(db, user);
	uint8_t key[USERDB_KEY_LEN];
	size_t len;
	bool ok;

	if (!password)
		password = "";
	len = strnlen(password, USERDB_MAX_PASSWORD + 1);
	if (len > USERDB_MAX_PASSWORD)
		return false;
	ok = scrypt_key(password, len, u ? u : &dummy, key) == 0;
	/* Compared even for the dummy, so both paths do the same work. */
	ok = CRYPTO_memcmp(key, u ? u->key : dummy.key, sizeof(key)) == 0 && ok && u;
	OPENSSL_cleanse(key, sizeof(key));
	return ok;
}

bool userdb_exists(const struct userdb *db, const char *user)
{
	return lookup(db, user) != NULL;
}

size_t userdb_count(const struct userdb *db)
{
	return db ? db->n : 0;
}

const char *userdb_name(const struct userdb *db, size_t i)
{
	return db && i < db->n ? db->users[i].name : NULL;
}

bool userdb_nt_hash(const struct userdb *db, const char *user, uint8_t out[USERDB_NT_HASH_LEN])
{
	const struct userdb_user *u = lookup(db, user);

	if (!u || !u->has_nt)
		return false;
	memcpy(out, u->nt, USERDB_NT_HASH_LEN);
	return true;
}

/* ---- files --------------------------------------------------------------- */

/* Reads all of a regular file open on fd, refusing more than USERDB_MAX_FILE bytes. */
static int read_fd(int fd, const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct stat st;
	size_t cap, len = 0;
	char *buf = NULL, *nbuf;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	cap = st.st_size >= 0 && st.st_size < USERDB_MAX_FILE ? (size_t)st.st_size + 1
	                                                      : (size_t)USERDB_MAX_FILE + 1;
	for (;;) {
		if (len == cap || !buf) {
			if (buf && !ckd_mul_size(&cap, cap, 2))
				goto err_nomem;
			cap = MIN(cap, (size_t)USERDB_MAX_FILE + 1);
			nbuf = realloc(buf, cap);
			if (!nbuf)
				goto err_nomem;
			buf = nbuf;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			goto err_free;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > USERDB_MAX_FILE) {
			set_err(err, errlen, "%s: larger than a users file may be (%d bytes)", path,
			        USERDB_MAX_FILE);
			goto err_free;
		}
	}
	*out = buf;
	*outlen = len;
	return 0;

err_nomem:
	set_err(err, errlen, "%s: out of memory", path);
err_free:
	free(buf);
	return -1;
}

struct userdb *userdb_load(const char *path, userdb_warn_fn warn, void *ctx, char *err,
                           size_t errlen)
{
	struct userdb *db;
	char *buf;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if (read_fd(fd, path, &buf, &len, err, errlen) < 0) {
		close(fd);
		return NULL;
	}
	close(fd);
	db = userdb_parse_buf(buf, len, path, warn, ctx);
	if (!db)
		set_err(err, errlen, "%s: out of memory", path);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return db;
}

bool userdb_changed(const char *path, struct userdb_stamp *stamp)
{
	struct userdb_stamp now = {.known = true};
	struct stat st;
	bool changed;

	if (stat(path, &st) == 0) {
		now.exists = true;
		now.dev = st.st_dev;
		now.ino = st.st_ino;
		now.size = st.st_size;
		now.mtim = st.st_mtim;
	}
	changed =
	    !stamp->known || stamp->exists != now.exists ||
	    (now.exists &&
	     (stamp->dev != now.dev || stamp->ino != now.ino || stamp->size != now.size ||
	      stamp->mtim.tv_sec != now.mtim.tv_sec || stamp->mtim.tv_nsec != now.mtim.tv_nsec));
	*stamp = now;
	return changed;
}

/* ---- editing --------------------------------------------------------------- */

/* A file being edited: the old content and the new one being built. */
struct edit {
	const char *path;
	bool existed;
	struct stat st; /* of the old file, when it existed */
	char *old;
	size_t oldlen;
	char *out;
	size_t outlen, outcap;
};

static void out_put(struct edit *e, const char *s, size_t len)
{
	/* outcap was sized for the worst case by rewrite() */
	memcpy(e->out + e->outlen, s, len);
	e->outlen += len;
}

/* Builds "USER:HASH[:NTHASH]\n" for ADD and PASSWD. */
static int make_line(const char *user, const char *password, bool nt_hash, char *line, size_t cap,
                     char *err, size_t errlen)
{
	char hash[USERDB_HASH_BUF], hex[2 * USERDB_NT_HASH_LEN + 1] = "";
	uint8_t nt[USERDB_NT_HASH_LEN];
	int ret = -1;

	if (userdb_hash_password(password, hash, sizeof(hash)) < 0) {
		set_err(err, errlen, "user %s: cannot hash the password: %s", user,
		        strerror(errno));
		goto out;
	}
	if (nt_hash) {
		if (userdb_nt_hash_password(password, nt, err, errlen) < 0)
			goto out;
		hex_encode(hex, nt, sizeof(nt));
	}
	snprintf(line, cap, "%s:%s%s%s\n", user, hash, nt_hash ? ":" : "", hex);
	ret = 0;
out:
	OPENSSL_cleanse(hash, sizeof(hash));
	OPENSSL_cleanse(hex, sizeof(hex));
	OPENSSL_cleanse(nt, sizeof(nt));
	return ret;
}

/* Whether line s[0..len) is about USER: its name field is USER. */
static bool line_is_about(const char *s, size_t len, const char *user, size_t ulen)
{
	return len > ulen && memcmp(s, user, ulen) == 0 && s[ulen] == ':';
}

/* Whether a valid line defines USER, as userdb_parse_buf() would see it. */
static bool user_defined(const struct edit *e, const char *user)
{
	size_t pos = 0, ulen = strlen(user);
	bool found = false;

	while (pos < e->oldlen && !found) {
		const char *s = e->old + pos, *nl = memchr(s, '\n', e->oldlen - pos);
		size_t len = nl ? (size_t)(nl - s) : e->oldlen - pos;
		struct userdb_user u = {0};
		char why[256];
		found = line_is_about(s, len, user, ulen) &&
		        parse_line(s, len, &u, why, sizeof(why)) == LINE_USER;
		OPENSSL_cleanse(&u, sizeof(u));
		pos += len + 1;
	}
	return found;
}

/*
 * Builds the new content: every line not about USER as it was; the lines
 * about USER replaced by NEWLINE at the first of them (or dropped, for DEL
 * where newline is NULL); NEWLINE appended if no line was about USER.
 */
static int rewrite(struct edit *e, const char *user, const char *newline, char *err, size_t errlen)
{
	size_t pos = 0, ulen = strlen(user), nlen = newline ? strlen(newline) : 0, cap;
	bool placed = false;

	if (!ckd_add_size(&cap, e->oldlen, sizeof(file_header)) ||
	    !ckd_add_size(&cap, cap, nlen + 1) || !(e->out = malloc(cap))) {
		set_err(err, errlen, "%s: out of memory", e->path);
		return -1;
	}
	e->outcap = cap;
	if (e->oldlen == 0 && newline)
		out_put(e, file_header, sizeof(file_header) - 1);
	while (pos < e->oldlen) {
		const char *s = e->old + pos, *nl = memchr(s, '\n', e->oldlen - pos);
		size_t len = nl ? (size_t)(nl - s) : e->oldlen - pos;
		size_t with_nl = len + (nl ? 1 : 0);
		if (!line_is_about(s, len, user, ulen)) {
			out_put(e, s, with_nl);
		} else {
			if (newline && !placed)
				out_put(e, newline, nlen);
			placed = true;
		}
		pos += with_nl;
	}
	if (newline && !placed) {
		if (e->outlen > 0 && e->out[e->outlen - 1] != '\n')
			out_put(e, "\n", 1);
		out_put(e, newline, nlen);
	}
	if (e->outlen > USERDB_MAX_FILE) {
		set_err(err, errlen, "%s: would grow beyond %d bytes", e->path, USERDB_MAX_FILE);
		return -1;
	}
	return 0;
}

/* Reads the current file, if any; a missing one is fine only when may_miss. */
static int read_old(struct edit *e, bool may_miss, char *err, size_t errlen)
{
	int fd;

	if (lstat(e->path, &e->st) < 0) {
		if (errno == ENOENT && may_miss) {
			e->old = NULL;
			e->oldlen = 0;
			return 0;
		}
		set_err(err, errlen, "%s: cannot open: %s", e->path, strerror(errno));
		return -1;
	}
	if (S_ISLNK(e->st.st_mode)) {
		set_err(err, errlen,
		        "%s: is a symbolic link; give the path of the file it points to", e->path);
		return -1;
	}
	fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0) {
		set_err(err, errlen, "%s: cannot open: %s", e->path, strerror(errno));
		return -1;
	}
	if (read_fd(fd, e->path, &e->old, &e->oldlen, err, errlen) < 0 || fstat(fd, &e->st) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	e->existed = true;
	return 0;
}

static int fsync_dir_of(const char *path, char *err, size_t errlen)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = -1;

	if (fd < 0 || fsync(fd) < 0)
		set_err(err, errlen, "%s: cannot sync its directory: %s", path, strerror(errno));
	else
		ret = 0;
	if (fd >= 0)
		close(fd);
	free(copy);
	return ret;
}

/* Fresh PATH.tmp, mode 0600 with the old file's owner; 0 or -1. */
static int open_tmp(const struct edit *e, const char *tmp, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (unlink(tmp) < 0 && errno != ENOENT) {
		set_err(err, errlen, "%s: cannot remove: %s", tmp, strerror(errno));
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		set_err(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) < 0 || fstat(fd, &st) < 0)
		goto err_close;
	if (e->existed && (st.st_uid != e->st.st_uid || st.st_gid != e->st.st_gid) &&
	    fchown(fd, e->st.st_uid, e->st.st_gid) < 0)
		goto err_close;
	return fd;

err_close:
	set_err(err, errlen, "%s: cannot set mode 0600 and the owner of %s: %s", tmp, e->path,
	        strerror(errno));
	close(fd);
	unlink(tmp);
	return -1;
}

/* Writes the new content to PATH.tmp, syncs it and renames it over PATH. */
static int replace_file(const struct edit *e, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", e->path) >= sizeof(tmp)) {
		set_err(err, errlen, "%s: path too long", e->path);
		return -1;
	}
	fd = open_tmp(e, tmp, err, errlen);
	if (fd < 0)
		return -1;
	if (write_all(fd, e->out, e->outlen) < 0 || fsync(fd) < 0) {
		set_err(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto err_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		set_err(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto err_unlink;
	}
	fd = -1;
	if (rename(tmp, e->path) < 0) {
		set_err(err, errlen, "%s: cannot rename %s over it: %s", e->path, tmp,
		        strerror(errno));
		goto err_unlink;
	}
	return fsync_dir_of(e->path, err, errlen);

err_unlink:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* Opens and exclusively locks PATH.lock; the descriptor, or -1. */
static int lock_users_file(const char *path, char *err, size_t errlen)
{
	char lock[PATH_MAX];
	int fd;

	if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >= sizeof(lock)) {
		set_err(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		set_err(err, errlen, "%s: cannot open: %s", lock, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		set_err(err, errlen, "%s: cannot lock: %s", lock, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Checks the arguments and, for ADD and PASSWD, builds the new line. */
static int prepare_edit(enum userdb_op op, const char *user, const char *password, bool nt_hash,
                        char *line, size_t cap, char *err, size_t errlen)
{
	char why[192];

	if (!userdb_valid_name(user)) {
		set_err(err, errlen, "bad user name; allowed: " NAME_RULE);
		return -1;
	}
	if (op != USERDB_ADD && op != USERDB_DEL && op != USERDB_PASSWD) {
		set_err(err, errlen, "user %s: unknown operation", user);
		return -1;
	}
	if (op == USERDB_DEL)
		return 0;
	if (userdb_check_password(password, why, sizeof(why)) < 0) {
		set_err(err, errlen, "user %s: %s", user, why);
		return -1;
	}
	return make_line(user, password, nt_hash, line, cap, err, errlen);
}

int userdb_edit(const char *path, enum userdb_op op, const char *user, const char *password,
                bool nt_hash, char *err, size_t errlen)
{
	struct edit e = {.path = path};
	char line[USERDB_MAX_LINE];
	int lock = -1, ret = -1;
	bool defined;

	line[0] = '\0';
	if (prepare_edit(op, user, password, nt_hash, line, sizeof(line), err, errlen) < 0)
		goto out;
	/* The slow hashing is done; from here on other editors wait. */
	lock = lock_users_file(path, err, errlen);
	if (lock < 0 || read_old(&e, op == USERDB_ADD, err, errlen) < 0)
		goto out;
	defined = user_defined(&e, user);
	if (op == USERDB_ADD && defined) {
		set_err(err, errlen, "user %s: already exists in %s", user, path);
		goto out;
	}
	if (op != USERDB_ADD && !defined) {
		set_err(err, errlen, "user %s: no such user in %s", user, path);
		goto out;
	}
	if (rewrite(&e, user, op == USERDB_DEL ? NULL : line, err, errlen) < 0 ||
	    replace_file(&e, err, errlen) < 0)
		goto out;
	ret = 0;
out:
	OPENSSL_cleanse(line, sizeof(line));
	if (e.old)
		OPENSSL_cleanse(e.old, e.oldlen);
	if (e.out)
		OPENSSL_cleanse(e.out, e.outcap);
	free(e.old);
	free(e.out);
	if (lock >= 0)
		close(lock);
	return ret;
}
