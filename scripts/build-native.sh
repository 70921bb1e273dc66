#!/usr/bin/env bash
# Builds the jail agent (native/jail-agent.c) into dist/native/. Part of `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p dist/native
out=dist/native/confine-jail-agent
cc -O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong -o "$out.tmp" native/jail-agent.c
chmod 0755 "$out.tmp"
mv -f "$out.tmp" "$out"
