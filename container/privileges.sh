# The least privilege confine's container needs, measured by container/test.sh (each one removed in turn
# makes a jail fail; the messages are in the README "Run it in a container"). Sourced by bash scripts.
#   SYS_ADMIN     mount(2): per-workspace tmpfs (size/inode quota), the entrypoint's remounts of the container's
#                 own cgroups and of /proc/sys/user, bwrap's mounts; without it: `ENOENT: mkdir
#                 '/sys/fs/cgroup/memory/confine'` (the container's cgroups stay read-only)
#   SETUID        each jail runs as its own leased host uid: `setresuid: Operation not permitted`
#   SETGID        ... and gid, with no supplementary groups: `setgroups: Operation not permitted`
#   SETPCAP       the jail's capability bounding set is emptied: `drop bounding set: Operation not permitted`
#   CHOWN         the workspace is handed to the jail's uid: `EPERM: lchown '.../workspace'`
#   DAC_OVERRIDE  the service (root) creates the workspace inside the tmpfs root that is already the jail
#                 uid's (mode 0700), and writes input files there: `EACCES: mkdir '.../workspace'`
#   KILL          the service kills jails (timeout, limits, cancellation) running under other uids:
#                 `Error: kill EPERM` (FOWNER, NET_*, MKNOD, SYS_CHROOT... are not needed)
# --cgroupns=private  the container sees only its own cgroup, as the root of its hierarchy; required on
#                 cgroup v2 (the entrypoint refuses to make a view of the host's hierarchy writable), on v1
#                 it only hides the host's cgroup paths
# no-new-privileges   nothing in the container gains privileges through exec (hardening; jails set it too)
CAPABILITIES=(SYS_ADMIN SETUID SETGID CHOWN SETPCAP DAC_OVERRIDE KILL)
_confine_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -f "$_confine_repo/security/seccomp.json" ]; then
  SECCOMP_OPTS=(--security-opt "seccomp=$_confine_repo/security/seccomp.json")
  SECCOMP_LABEL="the service profile security/seccomp.json"
else
  SECCOMP_OPTS=()
  SECCOMP_LABEL="podman's default profile (security/seccomp.json is not in this checkout)"
fi
PRIVILEGES=(--cgroupns=private --cap-drop=ALL "--cap-add=$(IFS=,; echo "${CAPABILITIES[*]}")"
  --security-opt no-new-privileges "${SECCOMP_OPTS[@]}")
