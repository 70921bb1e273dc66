#!/usr/bin/env bash
# Installs what confine needs on a fresh Debian host (run as root): bubblewrap, a C compiler (the jail
# agent in native/ and the containment suite's static attack helper), and npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node.js >= 20 is not an apt package on Debian 12 (bookworm ships 18): say so before installing anything.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup: confine needs Node.js >= 20 with npm (found: $(node --version 2>/dev/null || echo none));" \
    "Debian 12's nodejs is 18: install Node 20 from nodejs.org or NodeSource, then run make again" >&2
  exit 1
fi
need=()
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v cc >/dev/null || need+=(gcc libc6-dev)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -f /usr/lib/aarch64-linux-gnu/libc.a ] || need+=(libc6-dev)
command -v ldd >/dev/null || need+=(libc-bin)
# python3 with ctypes: the jail agent's keyring test calls keyctl(2) from a probe script.
/usr/bin/python3 -c 'import ctypes' 2>/dev/null || need+=(python3)
# strace lets the CLI tests prove from outside that a rejected command executes no bwrap at all.
command -v strace >/dev/null || need+=(strace)
# make test-container: rootful podman (runc here, crun in the cgroup v2 guest) and debootstrap for the
# local stand-in of the image's registry base.
command -v podman >/dev/null || need+=(podman buildah crun runc uidmap slirp4netns fuse-overlayfs containernetworking-plugins catatonit)
command -v debootstrap >/dev/null || need+=(debootstrap)
# container/prepare-context.sh downloads the pinned terraform release when the host has none.
command -v curl >/dev/null || need+=(curl ca-certificates)
# make test-v2 boots a User-Mode Linux guest with a pure cgroup v2 hierarchy (scripts/uml/run-guest.sh).
command -v linux.uml >/dev/null || need+=(user-mode-linux)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
# tests/deploy/systemd.test.ts checks the unit with systemd-analyze (verify, security, syscall-filter);
# setpriv (util-linux) reproduces its capability bounding set.
command -v systemd-analyze >/dev/null || need+=(systemd)
# Many hosts (issue 12): the Redis tests start their own redis-server on a loopback port.
command -v redis-server >/dev/null || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# `npm install` rather than `npm ci`: the lock file pins every version, but the registry reachable from
# these machines does not list the other platforms' optional packages (rollup, msgpackr-extract), so npm
# leaves them out of the lock and `npm ci` then refuses it as out of sync.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund
fi
npm run --silent build
