/*
 * Input injection with XTest: keys by keysym (mapped onto a spare keycode
 * when the keymap lacks the keysym), Unicode characters, pointer, buttons
 * and wheel. Keeps track of what is held so everything can be released
 * when a viewer goes away, and nothing sticks.
 *
 * Values come from shojid over the pixel link, already parsed and checked;
 * this module still clamps coordinates to the screen.
 */
#pragma once

#include <X11/Xlib.h>
#include <stdbool.h>
#include <stdint.h>

struct input;

struct input *input_create(Display *dpy);
void input_destroy(struct input *in);

void input_key(struct input *in, uint32_t keysym, bool down);
/**
 * A key by PC/AT set-1 scancode (0xe0xx for extended keys), for viewers
 * that send scancodes only (RDP): pressed as the keymap's key at that
 * position, so the sandbox's layout and IME decide what it types.
 */
void input_scancode(struct input *in, uint32_t scancode, bool down);
void input_unicode(struct input *in, uint32_t codepoint);
void input_pointer(struct input *in, int x, int y, uint32_t buttons);
void input_wheel(struct input *in, int dx, int dy);

/** Releases every key and button this module holds pressed. */
void input_release_all(struct input *in);
