# The least privilege confine's container needs, measured by container/test.sh (each one removed in turn
# makes a jail fail; the messages are in the README "Run it in a container"). Sourced by bash scripts.
#   SYS_ADMIN     mount: per-workspace tmpfs (size/inode quota), the entrypoint's remounts of the
#                 container's own cgroups and of /proc/sys/user, bwrap's namespaces as root
#   SETUID/SETGID each jail runs as its own leased host uid/gid (setresuid/setgroups in the jail agent)
#   SETPCAP       bwrap drops the capability bounding set of the jail
#   CHOWN         the workspace is chowned to the jail's uid
#   DAC_OVERRIDE  the service (root) creates and removes directories inside workspaces owned by jail uids
#   KILL          the service kills jails (timeouts, limits, cancellation) running under other uids
# --cgroupns=private  the container sees only its own cgroup, as the root of its hierarchy
# no-new-privileges   nothing in the container gains privileges through exec (setuid binaries, file caps)
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
