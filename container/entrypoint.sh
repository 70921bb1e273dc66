#!/bin/sh
# Entrypoint of confine's image: makes the container's own cgroup usable by the service, then execs the
# command (default `confine serve`). Refuses to start, with what to do, when it cannot:
#   - root in the container, with the 7 capabilities the jails need (README "Run it in a container");
#   - cgroup v1: each controller the service uses (memory pids cpu cpuacct freezer) writable: container
#     engines bind the container's own cgroup read-only, so it is remounted read-write (a per-mount flag:
#     only this container's subtree becomes writable, and only in this mount namespace);
#   - cgroup v2: the container's cgroup writable, every process in it moved into a leaf
#     (confine-supervisor) first, because v2 refuses controllers for the children of a cgroup that holds
#     processes; then memory, pids and cpu enabled for its children;
#   - /proc/sys/user writable, and nothing else of /proc/sys: bwrap --disable-userns writes
#     user.max_user_namespaces inside each jail's own user namespace.
# For measuring what each privilege is for (container/test.sh), not for deployments:
#   CONFINE_ENTRYPOINT_CHECKS=warn   every refusal becomes a warning: the service then fails at its first
#                                    jail instead, with its own message;
#   CONFINE_ENTRYPOINT_SKIP="cgroups proc_sys_user"   leaves that step out.
set -eu
mode=${CONFINE_ENTRYPOINT_CHECKS:-enforce}
refuse() {
  echo "confine entrypoint: $*" >&2
  [ "$mode" = warn ] && return 0
  echo "confine entrypoint: refusing to start (README: Run it in a container)" >&2
  exit 78 # EX_CONFIG: a deployment mistake, not a crash; restarting will not help
}

CAPS_HINT="--cap-drop=ALL --cap-add=SYS_ADMIN,SETUID,SETGID,CHOWN,SETPCAP,DAC_OVERRIDE,KILL"

check_root() {
  [ "$(id -u)" = 0 ] || refuse "running as uid $(id -u): the service must be root in the container (its jail agent mounts workspaces and switches each jail to its own uid); the capabilities bound that root"
}

check_capabilities() {
  eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
  missing=""
  # bit numbers from linux/capability.h
  for pair in CHOWN:0 DAC_OVERRIDE:1 KILL:5 SETGID:6 SETUID:7 SETPCAP:8 SYS_ADMIN:21; do
    bit=${pair#*:}
    [ $(( (0x$eff >> bit) & 1 )) -eq 1 ] || missing="$missing ${pair%%:*}"
  done
  [ -z "$missing" ] || refuse "missing capabilities:$missing (run with $CAPS_HINT)"
}

writable_dir() { # can this process create a cgroup here?
  probe="$1/confine-entrypoint-probe.$$"
  mkdir "$probe" 2>/dev/null && rmdir "$probe"
}

prepare_v1() {
  for c in memory pids cpu cpuacct freezer; do
    mnt=$(awk -v c="$c" '$3 == "cgroup" { n = split($4, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $2; exit } }' /proc/self/mounts)
    [ -n "$mnt" ] || { refuse "cgroup v1: no $c controller mounted in the container"; continue; }
    if ! writable_dir "$mnt"; then
      # Only ever make the container's own subtree writable: if this mount shows the host's whole
      # hierarchy (its root is / while this process's cgroup is not), remounting it would hand the host's
      # cgroups to the container.
      root=$(awk -v m="$mnt" '$5 == m { r = $4 } END { print r }' /proc/self/mountinfo)
      own=$(awk -F: -v c="$c" '{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) print $3 }' /proc/self/cgroup)
      if [ "$root" = / ] && [ "$own" != / ]; then
        refuse "cgroup v1: $mnt shows the host's whole $c hierarchy (this container's cgroup is $own): run with --cgroupns=private"; continue
      fi
      mount -o remount,rw,bind "$mnt" 2>/dev/null || true
      writable_dir "$mnt" || refuse "cgroup v1: $mnt is read-only and could not be remounted read-write (needs CAP_SYS_ADMIN; with --cgroupns=private only the container's own cgroup is exposed)"
    fi
  done
}

prepare_v2() {
  self=$(sed -n 's/^0:://p' /proc/self/cgroup)
  # In a private cgroup namespace the container's cgroup is its root (/; /confine-supervisor after a
  # restart in place). Anything else means the host's hierarchy is in view: never make that writable.
  case $self in
    / | /confine-supervisor) ;;
    *) refuse "cgroup v2: this container shares the host's cgroup namespace (its cgroup is $self): run with --cgroupns=private"; return 0 ;;
  esac
  [ "$self" = / ] || self=/
  dir=/sys/fs/cgroup${self%/}
  [ -d "$dir" ] || { refuse "cgroup v2: this process's cgroup ($self) is not visible at $dir: run with --cgroupns=private"; return 0; }
  if ! writable_dir "$dir"; then
    mount -o remount,rw,bind /sys/fs/cgroup 2>/dev/null || mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
    writable_dir "$dir" || { refuse "cgroup v2: $dir is read-only and could not be remounted read-write (needs CAP_SYS_ADMIN and --cgroupns=private)"; return 0; }
  fi
  have=$(cat "$dir/cgroup.controllers")
  for c in memory pids cpu; do
    case " $have " in *" $c "*) ;; *) refuse "cgroup v2: controller $c is not delegated to the container's cgroup (available: ${have:-none}); on a systemd host use Delegate=yes for the engine's unit, and --cgroupns=private"; return 0 ;; esac
  done
  mkdir -p "$dir/confine-supervisor"
  # Every process of the container's cgroup leaves it (an init such as catatonit included), else v2
  # refuses to enable controllers for its children (EBUSY).
  for pid in $(cat "$dir/cgroup.procs"); do
    echo "$pid" > "$dir/confine-supervisor/cgroup.procs" 2>/dev/null || true
  done
  echo "+memory +pids +cpu" > "$dir/cgroup.subtree_control" 2>/dev/null \
    || refuse "cgroup v2: cannot enable memory, pids and cpu for the children of $dir (processes left in it: $(tr '\n' ' ' < "$dir/cgroup.procs"))"
}

# The mount's own flags (the last mount at that point wins), not access(2): user.* sysctls look read-only
# to anyone without CAP_SYS_RESOURCE in their user namespace, which the container's root rightly lacks
# and each jail's root (in its own user namespace) has.
proc_sys_user_rw() {
  case $(awk '$5 == "/proc/sys/user" { o = $6 } END { print o }' /proc/self/mountinfo) in rw*) return 0 ;; esac
  case $(awk '$5 == "/proc/sys" { o = $6 } END { print o }' /proc/self/mountinfo) in rw*) return 0 ;; esac
  return 1
}

prepare_proc_sys_user() {
  proc_sys_user_rw && return 0
  { mount --bind /proc/sys/user /proc/sys/user && mount -o remount,rw,bind /proc/sys/user; } 2>/dev/null || true
  proc_sys_user_rw || refuse "/proc/sys/user is read-only and could not be made writable (needs CAP_SYS_ADMIN; bwrap --disable-userns writes user.max_user_namespaces inside each jail)"
}

skipped() { case " ${CONFINE_ENTRYPOINT_SKIP:-} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
check_root
check_capabilities
if ! skipped cgroups; then
  if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then prepare_v2; else prepare_v1; fi
fi
skipped proc_sys_user || prepare_proc_sys_user
[ "$(awk '/^NoNewPrivs:/ {print $2}' /proc/self/status)" = 1 ] \
  || echo "confine entrypoint: note: no-new-privileges is off (--security-opt no-new-privileges is recommended; the jails set it themselves)" >&2
exec "$@"
