/*
 * Tests of the user database: scrypt hashes (against strings made by
 * Python's hashlib.scrypt, and fresh ones), NT hashes (known MD4 vectors),
 * the parser on corrupt and duplicate lines, the locked rewrite (bytes of
 * other lines kept, mode 0600, owner kept, four processes editing at once),
 * change detection, and the real shojictl binary with passwords on stdin.
 *
 * scrypt costs tens of milliseconds per hash (more under sanitizers), so
 * most checks parse hashes made beforehand with the cheapest allowed
 * LOG2N, 14; new hashes, made by userdb_edit(), use the default, 15.
 */
#include "autoconfig.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "userdb.h"
#include "util.h"

Suite *suite_userdb(void);

/* hashlib.scrypt(password, salt=bytes(range(16)), n=2**14, r=8, p=1, dklen=32) */
#define HASH_HORSE                                                                                 \
	"scrypt$14$8$1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8="
#define PW_HORSE "correct horse battery"
/* The same with salt bytes([0xa5] * 16). */
#define HASH_JP                                                                                    \
	"scrypt$14$8$1$paWlpaWlpaWlpaWlpaWlpQ==$uZ5P5/SzQMaYymCT7A9mfF+xxoojXDkVNqhJE5h5Wjo="
#define PW_JP "パスワード12345"
/* MD4 of UTF-16LE "password" (the well-known NT hash). */
#define NT_PASSWORD "8846f7eaee8fb117ad06bdd830b7586c"

#define SHOJICTL SHOJI_BUILDDIR "/proxy/shojictl"

static char tmpdir[64];

static void tmp_setup(void)
{
	strcpy(tmpdir, "/tmp/shoji-userdb-XXXXXX");
	if (!mkdtemp(tmpdir))
		abort();
}

static void tmp_teardown(void)
{
	remove_tree(tmpdir);
}

/*
 * A path in the temporary directory; each test uses names of its own. The
 * buffers rotate so that a test can hold a few paths at once.
 */
static const char *tmp_path(const char *name)
{
	static char paths[8][256];
	static unsigned next;
	char *path = paths[next++ % ARRAY_SIZE(paths)];

	snprintf(path, sizeof(paths[0]), "%s/%s", tmpdir, name);
	return path;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static char *read_text(const char *path)
{
	char *buf = xcalloc(USERDB_MAX_FILE + 1, 1);
	int fd = open(path, O_RDONLY);
	size_t len = 0;
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	while ((n = read(fd, buf + len, USERDB_MAX_FILE - len)) > 0)
		len += (size_t)n;
	close(fd);
	return buf;
}

/* Collects warnings, one per line, into a buffer. */
struct warnings {
	char text[4096];
	int n;
};

static void collect(void *ctx, const char *msg)
{
	struct warnings *w = ctx;
	size_t used = strlen(w->text);

	snprintf(w->text + used, sizeof(w->text) - used, "%s\n", msg);
	w->n++;
}

static struct userdb *parse(const char *text, struct warnings *w)
{
	struct userdb *db = userdb_parse_buf(text, strlen(text), "users", collect, w);

	ck_assert_ptr_nonnull(db);
	return db;
}

/* ---- hashing and verifying ------------------------------------------------ */

START_TEST(test_verify_premade)
{
	struct warnings w = {0};
	struct userdb *db = parse("alice:" HASH_HORSE "\nkenji:" HASH_JP "\n", &w);

	ck_assert_int_eq(w.n, 0);
	ck_assert_uint_eq(userdb_count(db), 2);
	ck_assert(userdb_verify(db, "alice", PW_HORSE));
	ck_assert(!userdb_verify(db, "alice", "correct horse batterY"));
	ck_assert(!userdb_verify(db, "alice", ""));
	ck_assert(userdb_verify(db, "kenji", PW_JP));
	/* alice's password is not kenji's */
	ck_assert(!userdb_verify(db, "kenji", PW_HORSE));
	userdb_destroy(db);
}
END_TEST

START_TEST(test_unknown_user)
{
	struct warnings w = {0};
	struct userdb *db = parse("alice:" HASH_HORSE "\n", &w);

	ck_assert(!userdb_verify(db, "bob", PW_HORSE));
	ck_assert(!userdb_verify(db, "Alice", PW_HORSE)); /* names are case-sensitive */
	ck_assert(!userdb_verify(db, NULL, PW_HORSE));
	ck_assert(!userdb_exists(db, "bob"));
	ck_assert(userdb_exists(db, "alice"));
	ck_assert(!userdb_verify(NULL, "alice", PW_HORSE));
	userdb_destroy(db);
}
END_TEST

START_TEST(test_hash_round_trip)
{
	char h1[USERDB_HASH_BUF], h2[USERDB_HASH_BUF], line[256], small[USERDB_HASH_BUF - 1];
	struct warnings w = {0};
	struct userdb *db;

	ck_assert_int_eq(userdb_hash_password("a long passphrase", h1, sizeof(h1)), 0);
	ck_assert_int_eq(userdb_hash_password("a long passphrase", h2, sizeof(h2)), 0);
	/* default parameters, 24 + 44 base64 characters, and a fresh salt each time */
	ck_assert_int_eq(strncmp(h1, "scrypt$15$8$1$", 14), 0);
	ck_assert_uint_eq(strlen(h1), 14 + 24 + 1 + 44);
	ck_assert_str_ne(h1, h2);
	snprintf(line, sizeof(line), "u:%s\n", h1);
	db = parse(line, &w);
	ck_assert_int_eq(w.n, 0);
	ck_assert(userdb_verify(db, "u", "a long passphrase"));
	ck_assert(!userdb_verify(db, "u", "a long passphrase "));
	userdb_destroy(db);

	errno = 0;
	ck_assert_int_eq(userdb_hash_password("x", small, sizeof(small)), -1);
	ck_assert_int_eq(errno, ERANGE);
}
END_TEST

START_TEST(test_nt_hash_vectors)
{
	/* MD4 over UTF-16LE; the emoji needs a surrogate pair */
	static const struct {
		const char *pw, *hex;
	} v[] = {
	    {"password", NT_PASSWORD},
	    {PW_JP, "5093b9713146e21920b10601757c73c6"},
	    {"pass\xf0\x9f\x98\x80word", "aefbbc76409ac1b304353cc19e1795c6"},
	};
	uint8_t nt[USERDB_NT_HASH_LEN];
	char hex[33], err[256];

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		ck_assert_int_eq(userdb_nt_hash_password(v[i].pw, nt, err, sizeof(err)), 0);
		hex_encode(hex, nt, sizeof(nt));
		ck_assert_str_eq(hex, v[i].hex);
	}
	/* the longest password allowed, and one byte more */
	char big[USERDB_MAX_PASSWORD + 2];
	memset(big, 'a', sizeof(big) - 1);
	big[USERDB_MAX_PASSWORD] = '\0';
	ck_assert_int_eq(userdb_nt_hash_password(big, nt, err, sizeof(err)), 0);
	big[USERDB_MAX_PASSWORD] = 'a';
	big[USERDB_MAX_PASSWORD + 1] = '\0';
	ck_assert_int_eq(userdb_nt_hash_password(big, nt, err, sizeof(err)), -1);
	/* invalid UTF-8: a lone continuation byte, an overlong '/', a surrogate */
	ck_assert_int_eq(userdb_nt_hash_password("abc\x80", nt, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "UTF-8"));
	ck_assert_int_eq(userdb_nt_hash_password("\xc0\xaf", nt, err, sizeof(err)), -1);
	ck_assert_int_eq(userdb_nt_hash_password("\xed\xa0\x80", nt, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_password_policy)
{
	char err[256], big[USERDB_MAX_PASSWORD + 2];

	ck_assert_int_eq(userdb_check_password("", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "empty password");
	ck_assert_int_eq(userdb_check_password("seven77", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "at least 8 characters"));
	ck_assert_int_eq(userdb_check_password("eight888", err, sizeof(err)), 0);
	/* characters, not bytes: 5 kana (15 bytes) + 2 digits is 7 characters */
	ck_assert_int_eq(userdb_check_password("パスワード12", err, sizeof(err)), -1);
	ck_assert_int_eq(userdb_check_password(PW_JP, err, sizeof(err)), 0);
	/* Shift_JIS bytes of パス are not UTF-8 */
	ck_assert_int_eq(userdb_check_password("\x83p\x83X12345678", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "UTF-8"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(userdb_check_password(big, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than 1024"));
	big[USERDB_MAX_PASSWORD] = '\0';
	ck_assert_int_eq(userdb_check_password(big, err, sizeof(err)), 0);
}
END_TEST

/* ---- parsing --------------------------------------------------------------- */

START_TEST(test_valid_names)
{
	char n64[65], n65[66];

	memset(n64, 'a', 64);
	n64[64] = '\0';
	memset(n65, 'a', 65);
	n65[65] = '\0';
	ck_assert(userdb_valid_name("alice"));
	ck_assert(userdb_valid_name("t.yamada_01-x"));
	ck_assert(userdb_valid_name("_svc"));
	ck_assert(userdb_valid_name(n64));
	ck_assert(!userdb_valid_name(n65));
	ck_assert(!userdb_valid_name(""));
	ck_assert(!userdb_valid_name(NULL));
	ck_assert(!userdb_valid_name("-alice"));
	ck_assert(!userdb_valid_name(".alice"));
	ck_assert(!userdb_valid_name("a b"));
	ck_assert(!userdb_valid_name("a:b"));
	ck_assert(!userdb_valid_name("山田"));
}
END_TEST

START_TEST(test_corrupt_lines)
{
	char long_line[1200];
	char text[4096];
	struct warnings w = {0};
	struct userdb *db;
	uint8_t nt[USERDB_NT_HASH_LEN];

	memset(long_line, 'a', sizeof(long_line) - 1);
	long_line[sizeof(long_line) - 1] = '\0';
	snprintf(text, sizeof(text),
	         "# users\n"                              /* 1 */
	         "\n"                                     /* 2 */
	         "alice:" HASH_HORSE "\n"                 /* 3 ok */
	         "bad name:" HASH_HORSE "\n"              /* 4 */
	         "carol:scrypt$14$8$1$AAAA$BBBB\n"        /* 5 */
	         "   \t\n"                                /* 6 */
	         "dave:" HASH_HORSE ":1234\n"             /* 7 */
	         "%s\n"                                   /* 8 */
	         "  # indented comment\n"                 /* 9 */
	         "erin:" HASH_JP ":" NT_PASSWORD "  \r\n" /* 10 ok */
	         "frank\n"                                /* 11 */
	         "gina:" HASH_HORSE,                      /* 12 ok, no newline */
	         long_line);
	db = parse(text, &w);
	ck_assert_str_eq(w.text,
	                 "users:4: bad user name; allowed: 1-64 of A-Z a-z 0-9 . _ -, not "
	                 "starting with '-' or '.'\n"
	                 "users:5: user carol: bad password hash; expected NAME:scrypt$LOG2N"
	                 "$R$P$SALT$KEY (LOG2N 14-20, R 1-16, P 1-4, base64 salt and key)\n"
	                 "users:7: user dave: bad NT hash; expected 32 hex digits\n"
	                 "users:8: line longer than 1024 bytes\n"
	                 "users:11: user frank: bad password hash; expected NAME:scrypt$LOG2N"
	                 "$R$P$SALT$KEY (LOG2N 14-20, R 1-16, P 1-4, base64 salt and key)\n");
	ck_assert_uint_eq(userdb_count(db), 3);
	ck_assert_str_eq(userdb_name(db, 0), "alice");
	ck_assert_str_eq(userdb_name(db, 1), "erin");
	ck_assert_str_eq(userdb_name(db, 2), "gina");
	ck_assert_ptr_null(userdb_name(db, 3));
	ck_assert(!userdb_exists(db, "carol"));
	ck_assert(!userdb_nt_hash(db, "alice", nt));
	ck_assert(userdb_nt_hash(db, "erin", nt));
	ck_assert_uint_eq(nt[0], 0x88);
	ck_assert_uint_eq(nt[15], 0x6c);
	/* no warning ever shows hash material */
	ck_assert_ptr_null(strstr(w.text, "AAECAw"));
	userdb_destroy(db);
}
END_TEST

START_TEST(test_bad_hashes)
{
	static const char *const bad[] = {
	    "scrypt$13$8$1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    "scrypt$21$8$1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    "scrypt$014$8$1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    "scrypt$14$0$1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    "scrypt$14$17$1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    "scrypt$14$8$5$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    "scrypt$14$8$+1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    /* padding missing, wrong, or spare bits set */
	    "scrypt$14$8$1$AAECAwQFBgcICQoLDA0ODw$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    "scrypt$14$8$1$AAECAwQFBgcICQoLDA0ODw=A$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    "scrypt$14$8$1$AAECAwQFBgcICQoLDA0ODx==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    "scrypt$14$8$1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny9=",
	    "scrypt$14$8$1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8",
	    "scrypt$14$8$1$AAECAwQFBgcI CQoLDA0ODw=$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    /* salt and key swapped, a field too many, too few, another algorithm */
	    "scrypt$14$8$1$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=$AAECAwQFBgcICQoLDA0ODw==",
	    "scrypt$14$8$1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=$",
	    "scrypt$14$8$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    "bcrypt$14$8$1$AAECAwQFBgcICQoLDA0ODw==$6W7GuoxjojaYIg83x/wEKSXUMMf+reyc6wSvA8q7ny8=",
	    "",
	};
	char line[256];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct warnings w = {0};
		snprintf(line, sizeof(line), "u:%s\n", bad[i]);
		struct userdb *db = parse(line, &w);
		ck_assert_msg(userdb_count(db) == 0 && w.n == 1, "accepted: %s", bad[i]);
		ck_assert_ptr_nonnull(strstr(w.text, "users:1: user u: bad password hash"));
		userdb_destroy(db);
	}
}
END_TEST

START_TEST(test_duplicates)
{
	struct warnings w = {0};
	uint8_t nt[USERDB_NT_HASH_LEN];
	struct userdb *db = parse("alice:" HASH_HORSE "\n"
	                          "bob:" HASH_JP "\n"
	                          "alice:" HASH_JP ":" NT_PASSWORD "\n"
	                          "alice:garbage\n"
	                          "bob:" HASH_JP "\n",
	                          &w);

	ck_assert_str_eq(w.text,
	                 "users:3: duplicate user alice (first defined on line 1); line "
	                 "ignored\n"
	                 "users:4: user alice: bad password hash; expected NAME:scrypt$LOG2N"
	                 "$R$P$SALT$KEY (LOG2N 14-20, R 1-16, P 1-4, base64 salt and key)\n"
	                 "users:5: duplicate user bob (first defined on line 2); line "
	                 "ignored\n");
	ck_assert_uint_eq(userdb_count(db), 2);
	/* the first line wins: it has no NT hash */
	ck_assert(!userdb_nt_hash(db, "alice", nt));
	userdb_destroy(db);
}
END_TEST

START_TEST(test_parse_edge_cases)
{
	struct warnings w = {0};
	struct userdb *db = userdb_parse_buf("", 0, NULL, collect, &w);

	ck_assert_uint_eq(userdb_count(db), 0);
	userdb_destroy(db);
	/* a NUL inside a line makes that line bad, not the rest of the buffer */
	static const char nul[] = "al\0ce:" HASH_HORSE "\nbob:" HASH_HORSE "\n";
	db = userdb_parse_buf(nul, sizeof(nul) - 1, "users", collect, &w);
	ck_assert_uint_eq(userdb_count(db), 1);
	ck_assert_str_eq(userdb_name(db, 0), "bob");
	ck_assert_str_eq(w.text, "users:1: bad user name; allowed: 1-64 of A-Z a-z 0-9 . _ -, not "
	                         "starting with '-' or '.'\n");
	userdb_destroy(db);
	/* many users: the index must grow and still find each */
	char *big = xcalloc(3000, 128);
	size_t len = 0;
	for (int i = 0; i < 3000; i++)
		len += (size_t)sprintf(big + len, "user%d:%s\n", i, HASH_HORSE);
	db = userdb_parse_buf(big, len, "users", NULL, NULL);
	ck_assert_uint_eq(userdb_count(db), 3000);
	ck_assert(userdb_exists(db, "user0") && userdb_exists(db, "user2999"));
	ck_assert(!userdb_exists(db, "user3000"));
	ck_assert_str_eq(userdb_name(db, 1234), "user1234");
	userdb_destroy(db);
	free(big);
	userdb_destroy(NULL);
}
END_TEST

START_TEST(test_load_errors)
{
	char err[512];
	const char *path = tmp_path("load");
	struct warnings w = {0};
	struct userdb *db;

	db = userdb_load(path, NULL, NULL, err, sizeof(err));
	ck_assert_ptr_null(db);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "No such file or directory"));

	ck_assert_ptr_null(userdb_load(tmpdir, NULL, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));

	write_text(path, "x:y\nalice:" HASH_HORSE "\n");
	db = userdb_load(path, collect, &w, err, sizeof(err));
	ck_assert_ptr_nonnull(db);
	ck_assert_uint_eq(userdb_count(db), 1);
	ck_assert_int_eq(w.n, 1);
	ck_assert_ptr_nonnull(strstr(w.text, path));
	ck_assert_ptr_nonnull(strstr(w.text, ":1: user x: bad password hash"));
	userdb_destroy(db);

	/* one byte over 4 MiB */
	ck_assert_int_eq(truncate(path, USERDB_MAX_FILE + 1), 0);
	ck_assert_ptr_null(userdb_load(path, NULL, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "larger than a users file may be"));
	ck_assert_int_eq(truncate(path, USERDB_MAX_FILE), 0);
	db = userdb_load(path, NULL, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(db);
	userdb_destroy(db);
}
END_TEST

/* ---- editing ------------------------------------------------------------------ */

static struct userdb *load_ok(const char *path)
{
	char err[512];
	struct warnings w = {0};
	struct userdb *db = userdb_load(path, collect, &w, err, sizeof(err));

	ck_assert_msg(db != NULL, "%s", err);
	return db;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_mode & 07777;
}

START_TEST(test_edit_cycle)
{
	const char *path = tmp_path("cycle");
	char err[512], *text;
	struct userdb *db;

	ck_assert_int_eq(
	    userdb_edit(path, USERDB_ADD, "alice", "first password", false, err, sizeof(err)), 0);
	ck_assert_uint_eq(mode_of(path), 0600);
	text = read_text(path);
	/* a new file explains its format, and then holds alice */
	ck_assert_ptr_nonnull(strstr(text, "# One user per line: NAME:HASH[:NTHASH]\n"));
	ck_assert_ptr_nonnull(strstr(text, "PASSWORD EQUIVALENT"));
	ck_assert_ptr_nonnull(strstr(text, "\nalice:scrypt$15$8$1$"));
	free(text);
	db = load_ok(path);
	ck_assert_uint_eq(userdb_count(db), 1);
	ck_assert(userdb_verify(db, "alice", "first password"));
	userdb_destroy(db);

	ck_assert_int_eq(
	    userdb_edit(path, USERDB_ADD, "alice", "other password", false, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "user alice: already exists"));

	ck_assert_int_eq(
	    userdb_edit(path, USERDB_PASSWD, "alice", "second password", false, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(mode_of(path), 0600);
	db = load_ok(path);
	ck_assert(userdb_verify(db, "alice", "second password"));
	ck_assert(!userdb_verify(db, "alice", "first password"));
	userdb_destroy(db);

	ck_assert_int_eq(userdb_edit(path, USERDB_DEL, "bob", NULL, false, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "user bob: no such user"));
	ck_assert_int_eq(
	    userdb_edit(path, USERDB_PASSWD, "bob", "some password", false, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "user bob: no such user"));

	ck_assert_int_eq(userdb_edit(path, USERDB_DEL, "alice", NULL, false, err, sizeof(err)), 0);
	db = load_ok(path);
	ck_assert_uint_eq(userdb_count(db), 0);
	userdb_destroy(db);
	/* the lock file stays, private; the temporary file does not */
	ck_assert_uint_eq(mode_of(tmp_path("cycle.lock")), 0600);
	ck_assert_int_eq(access(tmp_path("cycle.tmp"), F_OK), -1);
}
END_TEST

/* What an administrator's file may look like; alice has three lines. */
#define ADMIN_FILE_HEAD                                                                            \
	"# Users of the 3rd floor\r\n"                                                             \
	"\n"                                                                                       \
	"bob:" HASH_JP "\n"                                                                        \
	"alice:" HASH_HORSE ":" NT_PASSWORD "\n"                                                   \
	"  # a corrupt line the admin has not fixed yet:\n"                                        \
	"carol:scrypt$99$oops\n"
#define ADMIN_FILE_TAIL                                                                            \
	"dave:" HASH_HORSE "\r\n"                                                                  \
	"alice:garbage\n"                                                                          \
	"alice:" HASH_JP "\n"                                                                      \
	"# end"

START_TEST(test_edit_preserves_other_lines)
{
	const char *path = tmp_path("admin");
	const char *head = "# Users of the 3rd floor\r\n\nbob:" HASH_JP "\n";
	const char *rest = "  # a corrupt line the admin has not fixed yet:\n"
	                   "carol:scrypt$99$oops\n"
	                   "dave:" HASH_HORSE "\r\n"
	                   "# end\nerin:scrypt$15$";
	char err[512], *text, *alice, *end;
	struct userdb *db;

	write_text(path, ADMIN_FILE_HEAD ADMIN_FILE_TAIL);

	/* ADD appends after a last line without newline, touching nothing else */
	ck_assert_int_eq(
	    userdb_edit(path, USERDB_ADD, "erin", "erin's password", false, err, sizeof(err)), 0);
	text = read_text(path);
	ck_assert_int_eq(strncmp(text, ADMIN_FILE_HEAD ADMIN_FILE_TAIL "\nerin:scrypt$15$",
	                         strlen(ADMIN_FILE_HEAD ADMIN_FILE_TAIL "\nerin:scrypt$15$")),
	                 0);
	ck_assert_ptr_null(strstr(text, "# One user per line")); /* no header for old files */
	ck_assert_int_eq(text[strlen(text) - 1], '\n');
	free(text);

	/* PASSWD: alice's three lines become one, where the first was */
	ck_assert_int_eq(
	    userdb_edit(path, USERDB_PASSWD, "alice", "alice's new one", false, err, sizeof(err)),
	    0);
	text = read_text(path);
	ck_assert_int_eq(strncmp(text, head, strlen(head)), 0);
	alice = text + strlen(head);
	ck_assert_int_eq(strncmp(alice, "alice:scrypt$15$8$1$", 20), 0);
	end = strchr(alice, '\n');
	ck_assert_ptr_nonnull(end);
	/* no NT hash after a passwd without --nt-hash: the old one is stale */
	ck_assert_uint_eq((size_t)(end - alice), strlen("alice:") + 14 + 24 + 1 + 44);
	ck_assert_int_eq(strncmp(end + 1, rest, strlen(rest)), 0);
	ck_assert_ptr_null(strstr(end, "alice"));
	free(text);
	db = load_ok(path);
	ck_assert(userdb_verify(db, "alice", "alice's new one"));
	userdb_destroy(db);

	/* DEL takes bob's line away and leaves the corrupt carol line */
	ck_assert_int_eq(userdb_edit(path, USERDB_DEL, "bob", NULL, false, err, sizeof(err)), 0);
	text = read_text(path);
	ck_assert_ptr_null(strstr(text, "bob:"));
	ck_assert_ptr_nonnull(strstr(text, "# Users of the 3rd floor\r\n\nalice:scrypt$15$"));
	ck_assert_ptr_nonnull(strstr(text, "\ncarol:scrypt$99$oops\ndave:" HASH_HORSE "\r\n"));
	free(text);
}
END_TEST

START_TEST(test_edit_del_leaves_no_old_line)
{
	const char *path = tmp_path("del-all");
	char err[512], *text;

	/* a deleted user must not come back through a duplicate or a fixed typo */
	write_text(path,
	           "alice:" HASH_HORSE "\nbob:" HASH_JP "\nalice:" HASH_JP "\nalice:scrypt$typo\n");
	ck_assert_int_eq(userdb_edit(path, USERDB_DEL, "alice", NULL, false, err, sizeof(err)), 0);
	text = read_text(path);
	ck_assert_str_eq(text, "bob:" HASH_JP "\n");
	free(text);
	/* a user with only a corrupt line does not exist, and its line stays */
	write_text(path, "alice:scrypt$typo\n");
	ck_assert_int_eq(userdb_edit(path, USERDB_DEL, "alice", NULL, false, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no such user"));
	text = read_text(path);
	ck_assert_str_eq(text, "alice:scrypt$typo\n");
	free(text);
}
END_TEST

START_TEST(test_edit_nt_hash)
{
	const char *path = tmp_path("nt");
	char err[512], hex[33], *text;
	uint8_t nt[USERDB_NT_HASH_LEN];
	struct userdb *db;

	ck_assert_int_eq(userdb_edit(path, USERDB_ADD, "rdp", "password", true, err, sizeof(err)),
	                 0);
	db = load_ok(path);
	ck_assert(userdb_nt_hash(db, "rdp", nt));
	hex_encode(hex, nt, sizeof(nt));
	ck_assert_str_eq(hex, NT_PASSWORD);
	userdb_destroy(db);
	text = read_text(path);
	ck_assert_ptr_nonnull(strstr(text, ":" NT_PASSWORD "\n"));
	free(text);

	ck_assert_int_eq(
	    userdb_edit(path, USERDB_PASSWD, "rdp", "password2", false, err, sizeof(err)), 0);
	db = load_ok(path);
	ck_assert(userdb_exists(db, "rdp"));
	ck_assert(!userdb_nt_hash(db, "rdp", nt));
	userdb_destroy(db);
}
END_TEST

START_TEST(test_edit_refusals)
{
	const char *path = tmp_path("refuse");
	char err[512], target[256];
	struct stat st;

	ck_assert_int_eq(
	    userdb_edit(path, USERDB_ADD, "bad name", "long enough", false, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad user name"));
	ck_assert_int_eq(userdb_edit(path, USERDB_ADD, "alice", "short", false, err, sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "at least 8 characters"));
	ck_assert_int_eq(userdb_edit(path, USERDB_ADD, "alice", NULL, false, err, sizeof(err)), -1);
	ck_assert_int_eq(access(path, F_OK), -1); /* nothing was created */
	/* DEL and PASSWD need the file */
	ck_assert_int_eq(userdb_edit(path, USERDB_DEL, "alice", NULL, false, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "No such file or directory"));
	ck_assert_ptr_nonnull(strstr(err, path));

	/* a symlink is refused, not replaced by a file */
	snprintf(target, sizeof(target), "%s", tmp_path("refuse-target"));
	ck_assert_str_ne(target, path);
	write_text(target, "alice:" HASH_HORSE "\n");
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(userdb_edit(path, USERDB_DEL, "alice", NULL, false, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "symbolic link"));
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
}
END_TEST

START_TEST(test_edit_keeps_owner_and_sets_mode)
{
	const char *path = tmp_path("owner");
	char err[512];
	struct stat st;

	write_text(path, "alice:" HASH_HORSE "\n");
	ck_assert_int_eq(chmod(path, 0644), 0);
	if (geteuid() == 0)
		ck_assert_int_eq(chown(path, 4321, 4322), 0);
	/* 0600 whatever the umask */
	mode_t old_umask = umask(0277);
	ck_assert_int_eq(userdb_edit(path, USERDB_DEL, "alice", NULL, false, err, sizeof(err)), 0);
	umask(old_umask);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	if (geteuid() == 0) {
		ck_assert_uint_eq(st.st_uid, 4321);
		ck_assert_uint_eq(st.st_gid, 4322);
	}
}
END_TEST

START_TEST(test_edit_concurrent)
{
	const char *path = tmp_path("concurrent");
	pid_t pids[4];
	struct userdb *db;

	for (int c = 0; c < 4; c++) {
		pids[c] = fork();
		ck_assert_int_ge(pids[c], 0);
		if (pids[c] > 0)
			continue;
		for (int i = 0; i < 5; i++) {
			char name[32], err[512];
			snprintf(name, sizeof(name), "user%d-%d", c, i);
			if (userdb_edit(path, USERDB_ADD, name, "concurrent pw", false, err,
			                sizeof(err)) < 0) {
				fprintf(stderr, "%s\n", err);
				_exit(1);
			}
		}
		_exit(0);
	}
	for (int c = 0; c < 4; c++) {
		int status;
		ck_assert_int_eq(waitpid(pids[c], &status, 0), pids[c]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	db = load_ok(path);
	ck_assert_uint_eq(userdb_count(db), 20);
	for (int c = 0; c < 4; c++)
		for (int i = 0; i < 5; i++) {
			char name[32];
			snprintf(name, sizeof(name), "user%d-%d", c, i);
			ck_assert_msg(userdb_exists(db, name), "%s lost", name);
		}
	userdb_destroy(db);
}
END_TEST

START_TEST(test_changed)
{
	const char *path = tmp_path("stamp");
	struct userdb_stamp stamp = {0};
	char err[512];

	ck_assert(userdb_changed(path, &stamp)); /* first look */
	ck_assert(!userdb_changed(path, &stamp));
	write_text(path, "alice:" HASH_HORSE "\n");
	ck_assert(userdb_changed(path, &stamp)); /* appeared */
	ck_assert(!userdb_changed(path, &stamp));
	ck_assert_int_eq(userdb_edit(path, USERDB_DEL, "alice", NULL, false, err, sizeof(err)), 0);
	ck_assert(userdb_changed(path, &stamp)); /* rewritten */
	ck_assert(!userdb_changed(path, &stamp));
	/* an in-place edit of the same size, as an editor might do */
	{
		struct timespec later[2] = {{0, UTIME_OMIT}, {0, 0}};
		clock_gettime(CLOCK_REALTIME, &later[1]);
		later[1].tv_sec += 5;
		ck_assert_int_eq(utimensat(AT_FDCWD, path, later, 0), 0);
	}
	ck_assert(userdb_changed(path, &stamp));
	ck_assert_int_eq(unlink(path), 0);
	ck_assert(userdb_changed(path, &stamp)); /* gone */
	ck_assert(!userdb_changed(path, &stamp));
}
END_TEST

/* ---- the shojictl binary ------------------------------------------------------- */

struct run {
	int status; /* exit status, or -1 if it did not exit */
	char out[4096], err[4096];
};

static void drain(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
}

/* Runs shojictl with ARGV (NULL-terminated, after the program) and INPUT on stdin. */
static void run_ctl(struct run *r, const char *input, const char *const *args)
{
	int in[2], out[2], err[2], status;
	const char *argv[16] = {SHOJICTL};
	pid_t pid;

	for (size_t i = 0; args[i]; i++)
		argv[i + 1] = args[i];
	ck_assert_int_eq(pipe(in) | pipe(out) | pipe(err), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(in[1]);
		close(out[0]);
		close(err[0]);
		execv(SHOJICTL, (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	signal(SIGPIPE, SIG_IGN);
	if (input)
		write_all(in[1], input, strlen(input));
	close(in[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	drain(out[0], r->out, sizeof(r->out));
	drain(err[0], r->err, sizeof(r->err));
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_shojictl)
{
	char path[256], conf[256], conftext[512];
	struct run r;

	snprintf(path, sizeof(path), "%s", tmp_path("ctl-users"));
	snprintf(conf, sizeof(conf), "%s", tmp_path("ctl.conf"));

	run_ctl(&r, "alice's password\n",
	        (const char *[]){"-u", path, "user", "add", "alice", NULL});
	ck_assert_msg(r.status == 0, "%s", r.err);
	run_ctl(&r, "bob's password\r\n",
	        (const char *[]){"-u", path, "user", "add", "--nt-hash", "bob", NULL});
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "password equivalent"));
	ck_assert_uint_eq(mode_of(path), 0600);

	/* the users file named by the config */
	snprintf(conftext, sizeof(conftext), "[auth]\nusers_file = %s\n", path);
	write_text(conf, conftext);
	run_ctl(&r, NULL, (const char *[]){"-c", conf, "user", "list", NULL});
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "alice\nbob (nt-hash)\n");

	/* the passwords arrived without their line ends */
	{
		char err[256];
		struct userdb *db = userdb_load(path, NULL, NULL, err, sizeof(err));
		ck_assert_ptr_nonnull(db);
		ck_assert(userdb_verify(db, "bob", "bob's password"));
		userdb_destroy(db);
	}

	/* a password on the command line is refused, and not echoed */
	run_ctl(&r, "",
	        (const char *[]){"-u", path, "user", "add", "carol", "Sekret-on-argv", NULL});
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_null(strstr(r.err, "Sekret"));
	run_ctl(
	    &r, "",
	    (const char *[]){"-u", path, "user", "add", "--password=Sekret-opt", "carol", NULL});
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "--password"));
	ck_assert_ptr_null(strstr(r.err, "Sekret"));

	/* weak or missing passwords, and errors of the database */
	run_ctl(&r, "short\n", (const char *[]){"-u", path, "user", "add", "carol", NULL});
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "at least 8 characters"));
	run_ctl(&r, "", (const char *[]){"-u", path, "user", "add", "carol", NULL});
	ck_assert_int_eq(r.status, 1);
	run_ctl(&r, NULL, (const char *[]){"-u", path, "user", "del", "nobody", NULL});
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "no such user"));

	/* usage errors */
	run_ctl(&r, NULL, (const char *[]){"-u", path, "user", "frobnicate", NULL});
	ck_assert_int_eq(r.status, 2);
	run_ctl(&r, NULL, (const char *[]){"-u", path, "user", "del", "--nt-hash", "alice", NULL});
	ck_assert_int_eq(r.status, 2);
	run_ctl(&r, NULL, (const char *[]){"-u", path, "user", "list", "alice", NULL});
	ck_assert_int_eq(r.status, 2);
	run_ctl(&r, NULL, (const char *[]){"-u", path, "user", "add", "-bad", NULL});
	ck_assert_int_eq(r.status, 2);
	run_ctl(&r, NULL, (const char *[]){"-u", path, NULL});
	ck_assert_int_eq(r.status, 2);
	run_ctl(&r, NULL, (const char *[]){"-u", path, "nonsense", NULL});
	ck_assert_int_eq(r.status, 2);
	run_ctl(&r, NULL, (const char *[]){"--help", NULL});
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "user add [--nt-hash] NAME"));

	/* a config that cannot be read is reported */
	run_ctl(&r, NULL, (const char *[]){"-c", tmp_path("missing.conf"), "user", "list", NULL});
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "missing.conf"));

	run_ctl(&r, NULL, (const char *[]){"-u", path, "user", "del", "alice", NULL});
	ck_assert_int_eq(r.status, 0);
	run_ctl(&r, NULL, (const char *[]){"user", "list", "-u", path, NULL});
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "bob (nt-hash)\n");
}
END_TEST

Suite *suite_userdb(void)
{
	Suite *s = suite_create("userdb");
	TCase *hash = tcase_create("hash");
	TCase *parsing = tcase_create("parse");
	TCase *edit = tcase_create("edit");

	/* scrypt is slow on purpose, slower still under sanitizers */
	tcase_set_timeout(hash, 60);
	tcase_add_test(hash, test_verify_premade);
	tcase_add_test(hash, test_unknown_user);
	tcase_add_test(hash, test_hash_round_trip);
	tcase_add_test(hash, test_nt_hash_vectors);
	tcase_add_test(hash, test_password_policy);
	suite_add_tcase(s, hash);

	tcase_add_unchecked_fixture(parsing, tmp_setup, tmp_teardown);
	tcase_add_test(parsing, test_valid_names);
	tcase_add_test(parsing, test_corrupt_lines);
	tcase_add_test(parsing, test_bad_hashes);
	tcase_add_test(parsing, test_duplicates);
	tcase_add_test(parsing, test_parse_edge_cases);
	tcase_add_test(parsing, test_load_errors);
	suite_add_tcase(s, parsing);

	tcase_set_timeout(edit, 180);
	tcase_add_unchecked_fixture(edit, tmp_setup, tmp_teardown);
	tcase_add_test(edit, test_edit_cycle);
	tcase_add_test(edit, test_edit_preserves_other_lines);
	tcase_add_test(edit, test_edit_del_leaves_no_old_line);
	tcase_add_test(edit, test_edit_nt_hash);
	tcase_add_test(edit, test_edit_refusals);
	tcase_add_test(edit, test_edit_keeps_owner_and_sets_mode);
	tcase_add_test(edit, test_edit_concurrent);
	tcase_add_test(edit, test_changed);
	tcase_add_test(edit, test_shojictl);
	suite_add_tcase(s, edit);
	return s;
}
