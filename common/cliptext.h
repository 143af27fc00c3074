/*
 * Clipboard text filter: the only form in which clipboard contents cross
 * between the viewer and the browser, in either direction. Whatever comes
 * in (a viewer's cut text, the browser's selection) leaves as plain UTF-8
 * without control characters (tab and newline kept, CRLF and lone CR made
 * LF), invalid UTF-8 dropped, cut at a byte limit on a character boundary.
 * Both shojid's worker and shoji-render run it; the pixel link's parser
 * refuses clipboard text that is not already in this form (cliptext_ok).
 *
 * Handles untrusted input: yes (viewer and browser clipboards). Pure
 * functions over (buf, len); fuzz target tests/fuzz/fuzz-cliptext.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What the input bytes are. Classic RFB cut text is ISO 8859-1; RDP's
 * CF_UNICODETEXT is UTF-16LE, which ends at its first U+0000 (the NUL
 * terminator; anything after it is ignored), has its surrogate pairs
 * joined and lone surrogates (and an odd last byte) dropped.
 */
enum cliptext_charset {
	CLIPTEXT_UTF8,
	CLIPTEXT_LATIN1,
	CLIPTEXT_UTF16LE,
};

/**
 * Length of the UTF-8 sequence at p (1..4) with its scalar value in *cp,
 * or 0 if p does not start a valid, shortest-form sequence of a Unicode
 * scalar value within len bytes. len must be >= 1.
 */
size_t utf8_decode(const uint8_t *p, size_t len, uint32_t *cp);

/** Whether the code point is one the filter removes (C0 but tab and LF, DEL, C1). */
bool cliptext_is_control(uint32_t cp);

/**
 * Filters len bytes of in (in charset cs) into out, writing at most max
 * bytes (out must hold max). Returns the bytes written. Pure. Nothing
 * after the first character that does not fit is written, so the output is
 * always whole characters.
 */
size_t cliptext_filter(const uint8_t *in, size_t len, enum cliptext_charset cs, uint8_t *out,
                       size_t max);

/** Whether p is already filtered: valid UTF-8, no controls, no CR. Pure. */
bool cliptext_ok(const uint8_t *p, size_t len);

/**
 * Bytes cliptext_to_utf16le() may write for len bytes of UTF-8: each byte
 * at most two UTF-16 units (LF becomes CR LF), and the terminator.
 */
#define CLIPTEXT_UTF16_MAX(len) ((len) * 4 + 2)

/**
 * Converts filtered UTF-8 to UTF-16LE for RDP's CF_UNICODETEXT: LF becomes
 * CR LF (what Windows expects), characters beyond the BMP become surrogate
 * pairs, invalid sequences are skipped, and a U+0000 terminator ends it.
 * Writes at most cap bytes, always whole characters and the terminator
 * (cap >= CLIPTEXT_UTF16_MAX(len) fits everything; below 2 nothing is
 * written). Returns the bytes written, terminator included. Pure.
 */
size_t cliptext_to_utf16le(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

/**
 * Converts filtered UTF-8 to ISO 8859-1 for classic RFB cut text: each
 * character above U+00FF becomes '?'. out must hold len bytes (the output
 * is never longer). Returns the bytes written. Pure.
 */
size_t cliptext_to_latin1(const uint8_t *in, size_t len, uint8_t *out);

/** Whether UTF-8 text is valid and has no character above U+00FF (ISO 8859-1 holds it). Pure. */
bool cliptext_is_latin1(const uint8_t *in, size_t len);
