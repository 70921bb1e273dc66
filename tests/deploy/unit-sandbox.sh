#!/usr/bin/env bash
# Starts a command in an approximation of the environment systemd gives deploy/systemd/confine.service, for
# hosts without systemd as PID 1 (this CI machine; the cgroup v2 guest, whose PID 1 is a shell script).
# Read from the unit file, so an edit to it is what gets tested:
#   cgroup placement   the process enters CGROUP_DIR first (systemd: the unit's cgroup, before exec)
#   Environment=       exported; then UNIT_ENV_FILE (stands for EnvironmentFile=, whose entries win as in systemd)
#   StateDirectory=    /var/lib/<name>, mode StateDirectoryMode=
#   ProtectSystem=strict  every mount read-only except /proc, /sys, /dev and the state directory
#   PrivateTmp=        fresh /tmp and /var/tmp      ProtectHome=yes  empty, mode-000 /home, /root, /run/user
#   PrivateDevices=    a /dev with only null zero full random urandom tty
#   CapabilityBoundingSet=, AmbientCapabilities=, NoNewPrivileges=   through setpriv
#   ProtectKernelTunables=, ProtectControlGroups=   (left out of the unit) /proc/sys, /sys/fs/cgroup read-only
# Not reproduced (seccomp filters systemd compiles): SystemCallFilter=, RestrictAddressFamilies=,
# SystemCallArchitectures=, LockPersonality=, RestrictRealtime=, RestrictSUIDSGID=, ProtectClock=;
# tests/deploy/systemd.test.ts checks those against what the service was traced calling instead.
# Usage: unit-sandbox.sh UNIT_FILE CGROUP_DIR|- COMMAND [ARG...]   (as root)
set -euo pipefail
unit=$1; cg=$2; shift 2

# Read once, before any mount hides the file (PrivateTmp covers a unit copy kept in /tmp).
unit_text=$(cat "$unit")
get() { # last value of KEY= in [Service]
  printf '%s\n' "$unit_text" | awk -v k="$1" '/^\[/ { s = ($0 == "[Service]") } s && index($0, k "=") == 1 { v = substr($0, length(k) + 2) } END { print v }'
}

if [ "$cg" != "--inner" ]; then
  # systemd puts the forked child into the unit's cgroup before anything else happens.
  [ "$cg" = - ] || echo $$ > "$cg/cgroup.procs"
  exec unshare -m --propagation private "$0" "$unit" --inner "$@"
fi

for assignment in $(get Environment); do export "${assignment?}"; done
if [ -n "${UNIT_ENV_FILE:-}" ]; then set -a; . "$UNIT_ENV_FILE"; set +a; fi
state=/var/lib/$(get StateDirectory)
mkdir -p "$state"; chmod "$(get StateDirectoryMode)" "$state"

# A real installation lives outside what the unit hides (/opt/confine); a checkout under /tmp, /var/tmp,
# /home or /root (where a CI clone may sit) is bound aside into the state directory (which every step leaves
# writable) just before it is hidden, and bound back at its own path, read-only (hide below).
repo=$(cd "$(dirname "$0")/../.." && pwd)
aside="$state/.unit-checkout"

if [ "$(get PrivateDevices)" = yes ]; then
  pd=$(mktemp -d /tmp/.unit-dev.XXXXXX)
  mount -t tmpfs -o mode=0755,nosuid,noexec tmpfs "$pd"
  for node in null zero full random urandom tty; do touch "$pd/$node"; mount --bind "/dev/$node" "$pd/$node"; done
  mkdir "$pd/shm" "$pd/pts"; ln -s /proc/self/fd "$pd/fd"
  for i in 0 1 2; do ln -s "/proc/self/fd/$i" "$pd/$(echo stdin stdout stderr | cut -d' ' -f$((i + 1)))"; done
  mount --move "$pd" /dev
  rmdir "$pd"
fi

if [ "$(get ProtectSystem)" = strict ]; then
  mount --bind "$state" "$state"
  # Each mount keeps its own flags (nosuid, nodev, noexec may be locked) and only gains ro.
  awk '{ print $5, $6 }' /proc/self/mountinfo | while read -r point options; do
    case "$point" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|"$state"|"$state"/*) continue ;; esac
    case "$point" in *\\*) continue ;; esac # escaped names (spaces): none that matter here
    # (grep finds nothing for a plain "rw" mount: with pipefail that must not end the script)
    flags=$(echo "$options" | tr ',' '\n' | { grep -E '^(nosuid|nodev|noexec|relatime|noatime|nodiratime|strictatime)$' || true; } | paste -sd, -)
    mount -o "remount,bind,ro${flags:+,$flags}" "$point" 2>/dev/null || true
  done
  # A mount that stayed writable would make this an approximation of nothing.
  if touch /usr/.unit-sandbox-probe 2>/dev/null; then rm -f /usr/.unit-sandbox-probe; echo "unit-sandbox: /usr is still writable" >&2; exit 1; fi
fi

# Two directives the unit leaves out, reproduced so a test can show what each would break.
if [ "$(get ProtectKernelTunables)" = yes ]; then
  mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
fi
if [ "$(get ProtectControlGroups)" = yes ]; then
  awk '$5 ~ "^/sys/fs/cgroup" { print $5 }' /proc/self/mountinfo | while read -r point; do
    mount -o remount,bind,ro "$point" 2>/dev/null || mount -o remount,ro "$point"
  done
fi

hide() { # hide DIR with a tmpfs (OPTIONS); a checkout below DIR is bound back at its own path, read-only
  local dir=$1 options=$2
  case "$repo/" in "$dir"/*) mkdir -p "$aside" && mount --bind "$repo" "$aside" ;; esac
  mount -t tmpfs -o "$options" tmpfs "$dir"
  case "$repo/" in
    "$dir"/*)
      mount -o remount,rw "$dir"
      mkdir -p "$repo"
      mount --bind "$aside" "$repo"
      mount -o remount,bind,ro "$repo"
      case ",$options," in *,ro,*) mount -o remount,ro "$dir" ;; esac
      ;;
  esac
}

if [ "$(get PrivateTmp)" = yes ]; then
  hide /tmp mode=1777,nosuid,nodev
  [ -d /var/tmp ] && hide /var/tmp mode=1777,nosuid,nodev
fi

if [ "$(get ProtectHome)" = yes ]; then
  for dir in /home /root /run/user; do
    [ -d "$dir" ] && hide "$dir" mode=000,ro,nosuid,nodev,noexec
  done
fi

caps=$(get CapabilityBoundingSet | tr 'A-Z' 'a-z' | sed 's/cap_//g; s/ /,+/g')
nnp=()
[ "$(get NoNewPrivileges)" = yes ] && nnp=(--no-new-privs)
[ -z "$(get AmbientCapabilities)" ] || { echo "unit-sandbox: AmbientCapabilities= is not reproduced" >&2; exit 1; }
exec setpriv --bounding-set "-all,+$caps" --inh-caps=-all "${nnp[@]}" -- "$@"
