#!/bin/sh
# Generates ./configure from configure.ac and the Makefile.in files.
set -e
cd "$(dirname "$0")"
autoreconf --install --force
