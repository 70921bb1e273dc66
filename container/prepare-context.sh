#!/usr/bin/env bash
# Fills container/context/ (the parts of the image that do not come from this repository) before
# `podman build`: the terraform binary (pinned: container/terraform.version, verified again inside the
# build against container/terraform.sha256) and, optionally, the provider filesystem mirror.
#   TERRAFORM_BIN   binary to take (default: `terraform` on PATH); when absent the official release zip
#                   of the pinned version is downloaded from releases.hashicorp.com
#   TF_PROVIDER_MIRROR  unpacked provider mirror to bake in (default /opt/tf-plugins when present);
#                   PROVIDERS=none leaves the image without providers (a shell-only image: Terraform
#                   still plans configurations that need no provider, e.g. terraform_data)
# Hard links when on the same file system as the mirror: a 700 MB mirror costs no copy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ctx=$here/context
version=$(cat "$here/terraform.version")
mkdir -p "$ctx"
rm -f "$ctx/terraform"
bin=${TERRAFORM_BIN:-$(command -v terraform || true)}
if [ -n "$bin" ] && [ "$("$bin" version 2>/dev/null | sed -n 1p)" = "Terraform v$version" ]; then
  cp "$(readlink -f "$bin")" "$ctx/terraform"
else
  echo "prepare-context: no terraform $version on this host; downloading the official release" >&2
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  curl -fsSLo "$tmp/tf.zip" "https://releases.hashicorp.com/terraform/$version/terraform_${version}_linux_amd64.zip"
  (cd "$tmp" && python3 -c 'import sys,zipfile; zipfile.ZipFile("tf.zip").extract("terraform")')
  install -m 0755 "$tmp/terraform" "$ctx/terraform"
fi
(cd "$ctx" && sha256sum -c --quiet "$here/terraform.sha256") \
  || { echo "prepare-context: terraform does not match the pinned checksum (container/terraform.sha256)" >&2; exit 1; }
mirror=${TF_PROVIDER_MIRROR:-/opt/tf-plugins}
rm -rf "$ctx/providers"; mkdir -p "$ctx/providers"
if [ "${PROVIDERS:-mirror}" = none ]; then
  echo "prepare-context: terraform $version; no provider mirror (PROVIDERS=none)"
elif [ -d "$mirror" ]; then
  cp -al "$mirror/." "$ctx/providers/" 2>/dev/null || cp -a "$mirror/." "$ctx/providers/"
  echo "prepare-context: terraform $version; provider mirror from $mirror ($(du -sh "$ctx/providers" | cut -f1))"
else
  echo "prepare-context: no provider mirror at $mirror: set TF_PROVIDER_MIRROR, or PROVIDERS=none for a shell-only image" >&2
  exit 1
fi
