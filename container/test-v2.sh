#!/usr/bin/env bash
# The container leg's cgroup v2 part (container/test.sh calls it): builds the shell-only image (no provider
# mirror: it is saved and loaded into the guest), and runs container/guest-v2.sh in a User-Mode Linux guest
# (scripts/uml/run-guest.sh) with rootful podman + crun. Prints the guest's `ok`/`not-ok` lines. When no
# guest can boot it says so loudly and prints a not-ok line, unless CONFINE_ALLOW_NO_V2=1 (then `skipped`).
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
repo=$(cd "$here/.." && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
. "$here/privileges.sh"
run=${RUNDIR:-/var/tmp/confine-container-v2}
cannot() {
  echo "!!! cgroup v2 container checks CANNOT RUN: $* !!!" >&2
  if [ "${CONFINE_ALLOW_NO_V2:-0}" = 1 ]; then echo "skipped v2_guest $*"; else echo "not-ok v2_guest_runs $*"; fi
  exit 0
}
[ -x "$repo/scripts/uml/run-guest.sh" ] || cannot "scripts/uml/run-guest.sh missing"
command -v linux.uml >/dev/null || cannot "linux.uml missing (make setup installs user-mode-linux)"
mkdir -p "$run/checks"
t=$(date +%s)
secret=(); [ -s "${NODE_EXTRA_CA_CERTS:-}" ] && secret=(--secret "id=npm_ca,src=$NODE_EXTRA_CA_CERTS")
PROVIDERS=none "$here/prepare-context.sh" >/dev/null || cannot "prepare-context failed"
if ! podman build -q --pull=never "${secret[@]}" -t localhost/confine:shell "$repo" > "$run/build.log" 2>&1; then
  rm -rf "$here/context"; echo "not-ok v2_shell_image_builds $(tail -3 "$run/build.log" | tr '\n' ' ')"; exit 0
fi
rm -rf "$here/context"
# The guest's podman storage (RUNDIR/disk.img) is kept between runs: when it already holds this very image
# (same id), the guest skips `podman load` (about a minute under UML). Anything else: a fresh disk.
id=$(podman image inspect -f '{{.Id}}' localhost/confine:shell)
if [ -f "$run/disk.img" ] && [ "$(cat "$run/image.id" 2>/dev/null)" = "$id" ]; then
  keep=1; rm -f "$run/confine.tar"
  echo "ok v2_shell_image_builds $(( $(date +%s) - t )) s, unchanged since the last run: the guest's storage has it"
else
  keep=0; rm -f "$run/disk.img" "$run/image.id"
  podman save -q -o "$run/confine.tar" localhost/confine:shell || { echo "not-ok v2_image_saved"; exit 0; }
  echo "ok v2_shell_image_builds_and_saves $(( $(date +%s) - t )) s, $(du -m "$run/confine.tar" | cut -f1) MB"
fi
cp "$here"/checks/*.sh "$run/checks/"
# seccomp: the guest sees the host's / read-only, but not a checkout under /tmp (a tmpfs there): the profile
# travels in the run directory (/run/tb in the guest).
privileges="${PRIVILEGES[*]}"
if [ -f "$_confine_repo/security/seccomp.json" ]; then
  cp "$_confine_repo/security/seccomp.json" "$run/seccomp.json"
  privileges=${privileges//"$_confine_repo/security/seccomp.json"/\/run\/tb\/seccomp.json}
fi
echo "$privileges" > "$run/privileges"
cat > "$run/guest-containers.conf" <<'CONF'
# podman inside the cgroup v2 guest: no systemd there, so cgroupfs and file events; crun handles v2.
[containers]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "crun"
CONF
t=$(date +%s)
echo "$id" > "$run/image.want"
KEEP_DISK=$keep NO_REPO=1 DISK_MB=${DISK_MB:-3072} TIMEOUT=${TIMEOUT:-600} "$repo/scripts/uml/run-guest.sh" "$here/guest-v2.sh" "$run" >"$run/harness.log" 2>&1
rc=$?
# The guest loaded (or still had) the image only if it said so.
if grep -qE '^ok image_(loads|present)_in_the_guest' "$run/job.log" 2>/dev/null; then mv "$run/image.want" "$run/image.id"; else rm -f "$run/image.want" "$run/image.id" "$run/disk.img"; fi
[ "$rc" = 3 ] && cannot "the UML guest did not boot or died: $(tail -3 "$run/harness.log" | tr '\n' ' ')"
grep -E '^(ok|not-ok|info) ' "$run/job.log"
echo "info v2 guest: $(( $(date +%s) - t )) s (job rc $rc)"
rm -f "$run/confine.tar"
