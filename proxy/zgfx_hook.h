/*
 * shojid's replacement for FreeRDP 2's ZGFX compressor of graphics
 * pipeline PDUs (see zgfx_hook.c for how it takes FreeRDP's place).
 */
#pragma once

#include <stdint.h>

/** The next PDU starts a new history: call before opening a graphics channel. */
void zgfx_hook_reset(void);

/** Bytes of PDUs compressed so far in this process, and what they became. */
void zgfx_hook_totals(uint64_t *in, uint64_t *out);
