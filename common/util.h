/*
 * Small pure helpers shared by shojid and shoji-render: checked size
 * arithmetic, little-endian access, strings, time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/** a * b into *out; false (and *out untouched) on overflow. */
static inline bool ckd_mul_size(size_t *out, size_t a, size_t b)
{
	return !__builtin_mul_overflow(a, b, out);
}

static inline bool ckd_add_size(size_t *out, size_t a, size_t b)
{
	return !__builtin_add_overflow(a, b, out);
}

static inline uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | ((uint64_t)get_le32(p + 4) << 32);
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/** Monotonic clock in milliseconds. */
uint64_t now_ms(void);

/* Monotonic microseconds, for measuring short intervals. */
uint64_t now_us(void);

/** Wall clock as RFC 3339 UTC with milliseconds into buf (>= 32 bytes). */
void format_time_utc(char *buf, size_t len);

/** Like strdup but aborts on out of memory; NULL in gives NULL out. */
char *xstrdup(const char *s);
void *xcalloc(size_t n, size_t size);

/** Writes all of buf, retrying on EINTR and short writes; 0 or -1. */
int write_all(int fd, const void *buf, size_t len);

/** Sets O_NONBLOCK (on = true) or clears it; 0 or -1. */
int set_nonblock(int fd, bool on);

/** mkdir -p with mode for each created component; 0 or -1. */
int mkdir_p(const char *path, unsigned mode);

/** rm -rf that never follows symlinks and stays on one file system; 0 or -1. */
int remove_tree(const char *path);

/** Fills buf with len random bytes from OpenSSL; 0 or -1. */
int random_bytes(void *buf, size_t len);

/** printf into an error buffer (err may be NULL or errlen 0: then nothing). */
void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/** Writes 2*len lowercase hex chars and a NUL into out. */
void hex_encode(char *out, const uint8_t *in, size_t len);
