/*
 * The user database: who may log in, and how their passwords are checked.
 *
 * Handles untrusted input: the users file (an administrator's, edited by
 * `shojictl user` or by hand). userdb_parse_buf() is pure and never fails
 * on content: a corrupt line is reported through the warn callback and
 * skipped, so one typo locks out one user, not everyone.
 *
 * File format (UTF-8 text, one user per line):
 *
 *     # comment
 *     NAME:HASH[:NTHASH]
 *
 *   NAME    1..USERDB_MAX_NAME characters of A-Z a-z 0-9 . _ - , not
 *           starting with '-' or '.'; compared byte for byte (case matters).
 *   HASH    scrypt$LOG2N$R$P$SALT$KEY: scrypt with N = 2^LOG2N (14..20),
 *           block size R (1..16) and parallelism P (1..4), decimal without
 *           leading zeros; SALT (16 bytes) and KEY (32 bytes) in standard
 *           base64 with its '=' padding. New hashes use N = 2^15, R = 8,
 *           P = 1 (32 MiB and some tens of milliseconds per check).
 *   NTHASH  optional: 32 hex digits, the MD4 of the UTF-16LE password, for
 *           RDP NLA (CredSSP/NTLM needs it). It is a PASSWORD EQUIVALENT:
 *           whoever reads it can log in as that user over NLA without
 *           knowing the password. Store it only for users who need NLA.
 *
 * Blank lines (spaces and tabs only) and comment lines (first character
 * other than a space or tab is '#') are ignored; spaces, tabs and a CR at
 * the end of a line are allowed. A line
 * longer than USERDB_MAX_LINE bytes, a bad name, a bad hash, a bad NT hash
 * and a second line for a user already defined are reported and skipped
 * (the first definition wins). The file is at most USERDB_MAX_FILE bytes.
 *
 * Ownership: a struct userdb owns all its memory; names returned by
 * userdb_name() live as long as the db. A db is read-only after parsing,
 * so one may be shared between threads.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define USERDB_MAX_NAME 64
#define USERDB_MAX_LINE 1024
#define USERDB_MAX_FILE (4 * 1024 * 1024)
/* Longest password accepted, in bytes (of UTF-8). */
#define USERDB_MAX_PASSWORD 1024
/* Shortest password userdb_edit() stores, in characters (code points). */
#define USERDB_MIN_PASSWORD_CHARS 8
/* Room for any hash string userdb_hash_password() writes, with its NUL. */
#define USERDB_HASH_BUF 128

#define USERDB_SALT_LEN 16
#define USERDB_KEY_LEN 32
#define USERDB_NT_HASH_LEN 16

#define USERDB_LOG2N_MIN 14
#define USERDB_LOG2N_MAX 20
#define USERDB_R_MIN 1
#define USERDB_R_MAX 16
#define USERDB_P_MIN 1
#define USERDB_P_MAX 4
/* Parameters of new hashes. */
#define USERDB_LOG2N_DEFAULT 15
#define USERDB_R_DEFAULT 8
#define USERDB_P_DEFAULT 1

struct userdb;

/* Receives one message "FILE:LINE: problem" per skipped line; no secrets. */
typedef void (*userdb_warn_fn)(void *ctx, const char *msg);

/**
 * Parses a users file held in memory. `name` is the file name used in
 * messages; `warn` (may be NULL) is called for each skipped line, in line
 * order. Pure: no I/O. Returns NULL only when out of memory; content that
 * holds no valid user gives an empty db.
 */
struct userdb *userdb_parse_buf(const char *buf, size_t len, const char *name, userdb_warn_fn warn,
                                void *ctx);

/**
 * Reads and parses PATH. NULL with "PATH: problem" in err when the file
 * cannot be opened or read (a missing file is an error), is not a regular
 * file, or is larger than USERDB_MAX_FILE. Warnings as userdb_parse_buf().
 */
struct userdb *userdb_load(const char *path, userdb_warn_fn warn, void *ctx, char *err,
                           size_t errlen);

/* Frees the db and wipes the hashes it held; NULL is fine. */
void userdb_destroy(struct userdb *db);

/**
 * Checks a password (NUL-terminated UTF-8). Compares keys in constant time,
 * and for an unknown user still computes a hash of the same cost against a
 * fixed dummy, so the time taken does not tell which users exist.
 *
 * Slow by design (tens of milliseconds, 32 MiB with default parameters):
 * do not call it from an event-loop callback.
 */
bool userdb_verify(const struct userdb *db, const char *user, const char *password);

bool userdb_exists(const struct userdb *db, const char *user);

/* Users in file order: userdb_name(db, i) for i < userdb_count(db), else NULL. */
size_t userdb_count(const struct userdb *db);
const char *userdb_name(const struct userdb *db, size_t i);

/** Copies USER's NT hash into out; false when the user has none or is unknown. */
bool userdb_nt_hash(const struct userdb *db, const char *user, uint8_t out[USERDB_NT_HASH_LEN]);

/**
 * Writes a new hash string for PASSWORD (fresh random salt, default
 * parameters) into out. 0, or -1 with errno: EINVAL for a password longer
 * than USERDB_MAX_PASSWORD, ERANGE when outlen < USERDB_HASH_BUF, EIO when
 * OpenSSL fails.
 */
int userdb_hash_password(const char *password, char *out, size_t outlen);

/**
 * The NT hash of PASSWORD: MD4 over its UTF-16LE form. MD4 lives in OpenSSL
 * 3's legacy provider, loaded here into a private library context only for
 * this call. 0, or -1 with a message in err: the password is not valid
 * UTF-8, or the legacy provider is not installed.
 */
int userdb_nt_hash_password(const char *password, uint8_t out[USERDB_NT_HASH_LEN], char *err,
                            size_t errlen);

/**
 * The password policy of userdb_edit(): not empty, at most
 * USERDB_MAX_PASSWORD bytes, valid UTF-8 (what viewers send; a password
 * typed on a Shift_JIS terminal would never match), at least
 * USERDB_MIN_PASSWORD_CHARS characters. 0, or -1 with the reason in err.
 */
int userdb_check_password(const char *password, char *err, size_t errlen);

/* Whether NAME is allowed as a user name (see the format above). */
bool userdb_valid_name(const char *name);

enum userdb_op {
	USERDB_ADD,    /* fails if the user exists */
	USERDB_DEL,    /* fails if the user does not exist */
	USERDB_PASSWD, /* fails if the user does not exist */
};

/**
 * Changes the users file PATH safely against concurrent editors and
 * crashes: takes an exclusive flock on PATH.lock (created 0600), reads PATH
 * (a missing file is fine for ADD and is created with a comment explaining
 * the format), writes the new content to PATH.tmp (mode 0600, the old
 * file's owner and group), fsyncs it, renames it over PATH and fsyncs the
 * directory. PATH must not be a symbolic link.
 *
 * Every line not about USER stays byte for byte, corrupt ones included.
 * "Lines about USER" are all lines whose name field is USER (its valid line
 * and any duplicate or corrupt ones): DEL removes them all, so no old line
 * can bring the user back; ADD and PASSWD put the one new line where the
 * first of them was (ADD appends when there was none). A user "exists"
 * when a valid line defines it, as userdb_parse_buf() sees it.
 *
 * PASSWORD is used by ADD and PASSWD (NULL for DEL) and must pass
 * userdb_check_password(). With nt_hash the line
 * also gets the password's NT hash; PASSWD without nt_hash drops an NT
 * hash the user had, since it belonged to the old password.
 *
 * 0, or -1 with one line "PATH: problem" (or "user NAME: problem") in err.
 */
int userdb_edit(const char *path, enum userdb_op op, const char *user, const char *password,
                bool nt_hash, char *err, size_t errlen);

/* What userdb_changed() remembers of the file; zero it before first use. */
struct userdb_stamp {
	bool known;  /* a stat was taken */
	bool exists; /* and the file was there */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
};

/**
 * Stats PATH and tells whether it differs from STAMP (device, inode, size,
 * modification time, or appearing/disappearing), then updates STAMP. A
 * zeroed stamp always gives true. Take the stamp before userdb_load(), so
 * a change that races with the load is seen at the next check.
 */
bool userdb_changed(const char *path, struct userdb_stamp *stamp);
