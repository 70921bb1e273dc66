#!/usr/bin/env bash
# Boots a throw-away User-Mode Linux guest with a pure cgroup v2 hierarchy, runs ONE job script in it as
# root, and powers it off. This is confine's cgroup v2 CI harness (make test-v2); the container and
# deployment legs run their own jobs through it too.
#
# Interface (keep it stable: other legs call it):
#   scripts/uml/run-guest.sh JOB.sh RUNDIR
#     JOB.sh  a POSIX sh script, run by the guest's PID 1 as root (cwd /run/tb), in the ROOT cgroup of a
#             pure cgroup2 hierarchy mounted at /sys/fs/cgroup (nsdelegate; controllers cpu io memory pids).
#             It may `. /run/tb/uml/lib.sh` for helpers (systemd-like placement of a unit, a session scope...).
#     RUNDIR  a host directory (created if missing; plain path characters only), mounted read-write in the
#             guest at /run/tb. The guest sees:
#               /run/tb/repo     a copy of REPO (the repository, without .git), writable, made once per RUNDIR
#                                (an existing RUNDIR/repo is reused; delete it to refresh)
#               /run/tb/uml      this directory (scripts/uml) as of the run
#               /run/tb/job.sh   the job
#   env: MEM      guest memory (default 3G)
#        TIMEOUT  seconds before the guest is killed (default 900)
#        DISK_MB  N: a fresh ext4 image RUNDIR/disk.img of N MiB, /dev/ubda in the guest (podman's overlay
#                 storage refuses tmpfs and hostfs); KEEP_DISK=1 reuses the one a previous run left
#        REPO     the checkout to copy (default: the repository holding this script); NO_REPO=1 skips it
#   Result: RUNDIR/job.log (the job's stdout+stderr), RUNDIR/job.rc ("<exit code> <milliseconds>"),
#           RUNDIR/console.log (the guest kernel's console).
#   Exit status: the job's exit code; 3 when no guest could be booted (no linux.uml, or the guest died
#   before the job finished: job.rc missing), with the reason on stderr. Callers decide whether that is
#   fatal (make test-v2: fatal unless CONFINE_ALLOW_NO_V2=1).
#
# The guest's root is this host's / read-only (UML hostfs); /tmp, /run and /var/lib/confine are tmpfs
# there; /var/lib/confine must exist on the host as a mount point (created here).
# CPU quota (cpu.max) is accounted but NOT enforced in wall terms under UML: never assert it in a guest.
# Needs: apt-get install user-mode-linux (scripts/setup.sh installs it).
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
job=$(readlink -f "${1:?usage: run-guest.sh JOB.sh RUNDIR}")
run=${2:?usage: run-guest.sh JOB.sh RUNDIR}
MEM=${MEM:-3G}; TIMEOUT=${TIMEOUT:-900}
case "$run" in *[!A-Za-z0-9_./-]*) echo "run-guest: RUNDIR must be a plain path (letters, digits, _ . / -)" >&2; exit 2;; esac
[ -f "$job" ] || { echo "run-guest: no job script $1" >&2; exit 2; }
if ! command -v linux.uml >/dev/null; then
  echo "run-guest: CANNOT BOOT a cgroup v2 guest: linux.uml missing (apt-get install user-mode-linux, or make setup)" >&2
  exit 3
fi
mkdir -p "$run"; run=$(readlink -f "$run")
mkdir -p /var/lib/confine
cp "$here/guest-init.sh" "$run/guest-init.sh"; chmod +x "$run/guest-init.sh"
cp "$job" "$run/job.sh"; rm -f "$run/job.rc" "$run/job.log"
rm -rf "$run/uml"; cp -r "$here" "$run/uml"
if [ "${NO_REPO:-0}" != 1 ] && [ ! -d "$run/repo" ]; then
  src=$(readlink -f "${REPO:-$here/../..}")
  mkdir -p "$run/repo.tmp"
  # Not .git (large, and no job needs history) nor earlier harness runs kept inside the tree.
  # tar exits 1 when a file changed while it was read (others edit the tree meanwhile): still a usable copy.
  # container/context holds the image build's hard-linked provider mirror (~700 MB) while an image builds.
  tar -C "$src" --exclude=./.git --exclude=./.uml-runs --exclude=./container/context --warning=no-file-changed --ignore-failed-read -cf - . \
    | tar -C "$run/repo.tmp" -xf - || [ "${PIPESTATUS[0]}" = 1 ]
  mv "$run/repo.tmp" "$run/repo"
fi
disk=""
if [ -n "${DISK_MB:-}" ]; then
  if [ "${KEEP_DISK:-0}" != 1 ] || [ ! -f "$run/disk.img" ]; then
    rm -f "$run/disk.img"; truncate -s "${DISK_MB}M" "$run/disk.img"; mkfs.ext4 -q -F "$run/disk.img"
  fi
  disk="ubd0=$run/disk.img"
fi
t0=$(date +%s%N)
# con0 on fd:1 -> console.log; the job's own output goes to job.log through /run/tb.
timeout "$TIMEOUT" linux.uml mem="$MEM" $disk quiet rootfstype=hostfs rootflags=/ ro init="$run/guest-init.sh" \
  con=null con0=null,fd:1 < /dev/null > "$run/console.log" 2>&1 || echo "run-guest: linux.uml exit $? (timeout $TIMEOUT s?)" >&2
t1=$(date +%s%N)
if [ ! -f "$run/job.rc" ]; then
  echo "run-guest: CANNOT BOOT or the guest died before the job ended (no $run/job.rc); console tail:" >&2
  tail -n 20 "$run/console.log" >&2 || true
  exit 3
fi
echo "run-guest: $run; wall (boot + job + power-off) $(( (t1-t0)/1000000 )) ms; job.rc: $(cat "$run/job.rc")"
exit "$(cut -d' ' -f1 "$run/job.rc")"
