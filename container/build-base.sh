#!/usr/bin/env bash
# Builds, without any registry, a local image that stands in for the Containerfile's base image
# (docker.io/library/node:20-bookworm-slim): a debootstrap minbase of Debian 12 from the package mirror
# apt already uses, plus this host's node 20 (binary and npm) laid out as the official node image lays
# them out (/usr/local/bin/node, /usr/local/lib/node_modules/npm). `podman build --pull=never` then
# resolves the FROM line to it. Skips the work when the image exists (FORCE=1 rebuilds).
# Usage: container/build-base.sh   (root; needs debootstrap, podman, node 20 on the host)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
BASE=${BASE_IMAGE:-docker.io/library/node:20-bookworm-slim}
if [ -z "${FORCE:-}" ] && podman image exists "$BASE"; then echo "base image $BASE: present"; exit 0; fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" = 20 ] || { echo "build-base: host node is $(node --version), the stand-in must be node 20" >&2; exit 1; }
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "build-base: no Debian mirror found in apt's sources" >&2; exit 1; }
work=$(mktemp -d /var/tmp/confine-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
t=$(date +%s)
# ca-certificates: the build stage's npm talks TLS to the registry, as in the official image.
debootstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
install -m 0755 "$(readlink -f "$(command -v node)")" "$work/rootfs/usr/local/bin/node"
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
mkdir -p "$work/rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$work/rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
printf 'FROM scratch\nADD rootfs.tar /\nENV NODE_VERSION=%s\nCMD ["node"]\n' "$(node --version | tr -d v)" >"$work/Containerfile"
podman build -q --pull=never -t "$BASE" "$work" >/dev/null
chroot_check=$(podman run --rm --network=none "$BASE" node -p 'process.version')
echo "base image $BASE: built in $(( $(date +%s)-t )) s (debootstrap minbase from $mirror, node $chroot_check)"
