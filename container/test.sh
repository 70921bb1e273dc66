#!/usr/bin/env bash
# make test-container: builds confine's image without a registry and proves, with rootful podman, that it
# works with exactly the documented privileges and that each of them is needed:
#   1. base image (a local stand-in for the registry base, container/build-base.sh; cached), build of the
#      test and runtime images with --pull=never; terraform in the image is the pinned binary;
#   2. with the documented privileges (container/privileges.sh): the CLI (benign command, memory bomb,
#      fork bomb, terraform_data plan, the AWS fixture offline), the service (entrypoint + `confine serve`,
#      /health, /ready, a command run over HTTP, a clean stop), the containment catalogue
#      (tests/jail/containment.test.ts inside the image);
#   3. one privilege fewer, for each: the entrypoint refuses with a message naming it, and with the
#      entrypoint's checks off the CLI itself fails (the message is recorded: container/.last-matrix.txt);
#   4. cgroup v2: the same image under crun in the UML guest (container/guest-v2.sh; CONTAINER_V2=0 skips).
# Prints `N passed, N failed`; exits non-zero on any failure. Cannot run (not root, no podman, podman cannot
# start a container): says so loudly and exits 1, unless CONFINE_ALLOW_NO_CONTAINER=1.
# Seccomp: security/seccomp.json (the service profile) when the repository has it, else podman's default;
# the run says which.
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
repo=$(cd "$here/.." && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
# shellcheck source=container/privileges.sh
. "$here/privileges.sh"
started=$(date +%s)
passed=0; failed=0
IMAGE=localhost/confine:latest
TEST_IMAGE=localhost/confine:test
matrix=$here/.last-matrix.txt

skip() {
  echo "" >&2
  echo "!!! make test-container SKIPPED: $* !!!" >&2
  if [ "${CONFINE_ALLOW_NO_CONTAINER:-0}" = 1 ]; then
    echo "0 passed, 0 failed (container leg skipped; CONFINE_ALLOW_NO_CONTAINER=1)"; exit 0
  fi
  echo "0 passed, 1 failed (container leg could not run; set CONFINE_ALLOW_NO_CONTAINER=1 to accept that)"; exit 1
}
ok() { passed=$((passed + 1)); echo "  PASS $1${2:+  ($2)}"; }
not_ok() { failed=$((failed + 1)); echo "  FAIL $1${2:+  ($2)}"; }
# Counts the `ok name detail` / `not-ok name detail` lines an in-container check script prints.
tally() { # $1 = prefix for names; stdin = the lines
  local verdict name detail seen=0
  while read -r verdict name detail; do
    case $verdict in
      ok) ok "$1$name" "$detail"; seen=1 ;;
      not-ok) not_ok "$1$name" "$detail"; seen=1 ;;
      info) echo "  info $name $detail" ;;
      skipped) echo "  !!! SKIPPED $1$name: $detail"; seen=1 ;;
    esac
  done
  return $((1 - seen))
}

[ "$(id -u)" = 0 ] || skip "needs root (rootful podman: the service is root in its container)"
command -v podman >/dev/null || skip "podman is not installed (make setup installs it)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (make setup installs it)"
podman info >/dev/null 2>&1 || skip "podman cannot work on this machine: $(podman info 2>&1 | tail -1)"

echo "== confine container leg ($(podman --version), runtime $(podman info --format '{{.Host.OCIRuntime.Name}}'), cgroup v$(podman info --format '{{.Host.CgroupsVersion}}' | tr -dc 0-9))"
echo "   privileges: ${PRIVILEGES[*]}"
echo "   seccomp: $SECCOMP_LABEL"

# --- 1. build ---------------------------------------------------------------------------------------------
if out=$("$here/build-base.sh" 2>&1); then ok base_image_stands_in_for_the_registry_image "$out"; else not_ok base_image_stands_in_for_the_registry_image "$out"; fi
"$here/prepare-context.sh" >/dev/null || { not_ok build_context_prepared; echo "$passed passed, $failed failed"; exit 1; }
# The 700 MB provider mirror (hard links) leaves the tree after the build: other harnesses copy the tree.
trap 'rm -rf "$here/context"' EXIT
secret=()
[ -s "${NODE_EXTRA_CA_CERTS:-}" ] && secret=(--secret "id=npm_ca,src=$NODE_EXTRA_CA_CERTS")
t=$(date +%s)
if podman build -q --pull=never "${secret[@]}" --target test -t "$TEST_IMAGE" "$repo" >/tmp/confine-container-build.log 2>&1 \
  && podman build -q --pull=never "${secret[@]}" -t "$IMAGE" "$repo" >>/tmp/confine-container-build.log 2>&1; then
  ok image_builds_without_a_registry "$(( $(date +%s) - t )) s, $(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%d MB", $1/1e6}')"
else
  not_ok image_builds_without_a_registry "$(tail -5 /tmp/confine-container-build.log)"
  echo "$passed passed, $failed failed"; exit 1
fi
# A terraform that is not the pinned binary (one byte appended) must stop the build.
cp "$here/context/terraform" "$here/context/terraform.good" && printf '\0' >> "$here/context/terraform"
out=$(podman build --pull=never --no-cache --target terraform -t localhost/confine-tampered:check "$repo" 2>&1); rc=$?
mv -f "$here/context/terraform.good" "$here/context/terraform"
podman rmi localhost/confine-tampered:check >/dev/null 2>&1
if [ $rc != 0 ] && grep -q 'terraform: FAILED' <<<"$out"; then ok a_terraform_other_than_the_pinned_one_fails_the_build
else not_ok a_terraform_other_than_the_pinned_one_fails_the_build "rc=$rc $(tail -2 <<<"$out")"; fi
rm -rf "$here/context"
pinned=$(awk '{print $1}' "$here/terraform.sha256")
actual=$(podman run --rm --network=none --entrypoint sha256sum "$IMAGE" /usr/local/bin/terraform | awk '{print $1}')
if [ "$actual" = "$pinned" ]; then ok terraform_in_the_image_is_the_pinned_binary; else not_ok terraform_in_the_image_is_the_pinned_binary "$actual"; fi

run_cli() { # $1.. podman options, then -- and the checks
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done; shift
  timeout 300 podman run --rm --network=none "${opts[@]}" -v "$here/checks:/checks:ro" -v "$repo/tests/fixtures:/fixtures:ro" \
    "$IMAGE" sh /checks/cli.sh "$@" 2>&1
}

# --- 2. with exactly the documented privileges -----------------------------------------------------------
echo "-- the CLI in the container, documented privileges"
# (process substitution, not a pipe: tally must count in this shell)
tally "documented_privileges: " < <(run_cli "${PRIVILEGES[@]}" -- exec_echo memory pids timeout plan aws) \
  || not_ok "documented_privileges: cli_ran" "no check output"

echo "-- the service in the container, documented privileges"
tally "service: " < <("$here/checks/service.sh" "$IMAGE" "${PRIVILEGES[@]}") || not_ok "service: ran" "no check output"

echo "-- the containment catalogue in the container, documented privileges"
t=$(date +%s)
out=$(timeout 900 podman run --rm --network=none "${PRIVILEGES[@]}" "$TEST_IMAGE" \
  npx vitest run tests/jail/containment.test.ts 2>&1); rc=$?
summary=$(echo "$out" | grep -E '^ +Tests +' | tr -s ' ')
if [ $rc = 0 ]; then ok containment_catalogue_passes_in_the_container "$summary, $(( $(date +%s) - t )) s"
else not_ok containment_catalogue_passes_in_the_container "rc=$rc $summary"; echo "$out" | grep -E '×|FAIL|Error' | head -20; fi

echo "-- the rest of the jail suite in the container, documented privileges"
# Not cgroup-detect.test.ts: it asserts the layout of the host it runs on (a container on a hybrid host has
# no cgroup2 mount at all).
t=$(date +%s)
out=$(timeout 900 podman run --rm --network=none "${PRIVILEGES[@]}" "$TEST_IMAGE" \
  npx vitest run tests/jail --exclude tests/jail/containment.test.ts --exclude tests/jail/cgroup-detect.test.ts 2>&1); rc=$?
summary=$(echo "$out" | grep -E '^ +Tests +' | tr -s ' ')
if [ $rc = 0 ]; then ok jail_suite_passes_in_the_container "$summary, $(( $(date +%s) - t )) s"
else not_ok jail_suite_passes_in_the_container "rc=$rc $summary"; echo "$out" | grep -E '^ FAIL|Error' | head -20; fi

# --- 3. one privilege fewer ------------------------------------------------------------------------------
echo "-- one privilege fewer (entrypoint refusal, then what the service itself hits)"
: > "$matrix"
for cap in "${CAPABILITIES[@]}"; do
  fewer=(); for c in "${CAPABILITIES[@]}"; do [ "$c" = "$cap" ] || fewer+=("$c"); done
  opts=(--cgroupns=private --cap-drop=ALL "--cap-add=$(IFS=,; echo "${fewer[*]}")" --security-opt no-new-privileges "${SECCOMP_OPTS[@]}")
  out=$(timeout 120 podman run --rm --network=none "${opts[@]}" "$IMAGE" confine --help 2>&1); rc=$?
  if [ $rc = 78 ] && grep -q "missing capabilities: $cap" <<<"$out"; then ok "without_${cap}_the_entrypoint_refuses_naming_it"
  else not_ok "without_${cap}_the_entrypoint_refuses_naming_it" "rc=$rc $(tail -1 <<<"$out")"; fi
  out=$(run_cli "${opts[@]}" -e CONFINE_ENTRYPOINT_CHECKS=warn -- exec_echo pids timeout)
  if grep -q '^not-ok' <<<"$out"; then
    why=$(grep -m1 '^not-ok' <<<"$out" | cut -d' ' -f2-)
    ok "without_${cap}_a_jail_fails" "$why"; echo "without $cap: $why" >> "$matrix"
  else
    not_ok "without_${cap}_a_jail_fails" "everything passed without $cap: it is not needed, drop it"
  fi
done
for step in cgroups proc_sys_user; do
  out=$(run_cli "${PRIVILEGES[@]}" -e "CONFINE_ENTRYPOINT_SKIP=$step" -- exec_echo)
  if grep -q '^not-ok' <<<"$out"; then
    why=$(grep -m1 '^not-ok' <<<"$out" | cut -d' ' -f2-)
    ok "without_the_entrypoint_step_${step}_a_jail_fails" "$why"; echo "without entrypoint step $step: $why" >> "$matrix"
  else
    not_ok "without_the_entrypoint_step_${step}_a_jail_fails" "passed without it"
  fi
done

# Options that harden rather than enable: on this cgroup v1 host the jails work without them (what the
# README says of them). On v2 the guest job shows --cgroupns=private is needed there.
privileges_without() { # $1 = one option word to leave out (with its --security-opt when it has one)
  local o prev=""
  for o in "${PRIVILEGES[@]}"; do
    if [ "$o" = "$1" ]; then [ "$prev" = --security-opt ] && unset 'reduced[${#reduced[@]}-1]'; prev=""; continue; fi
    reduced+=("$o"); prev=$o
  done
}
for option in --cgroupns=private no-new-privileges; do
  reduced=(); privileges_without "$option"
  out=$(run_cli "${reduced[@]}" -- exec_echo timeout)
  name="without_${option#--}_the_jails_still_work"; name=${name//[=-]/_}
  if grep -q '^not-ok' <<<"$out" || ! grep -q '^ok' <<<"$out"; then not_ok "$name" "$(grep -m1 '^not-ok' <<<"$out")"
  else ok "$name" "hardening only"; echo "without $option: works (hardening only)" >> "$matrix"; fi
done

# --- 4. cgroup v2 (UML guest, crun) ----------------------------------------------------------------------
if [ "${CONTAINER_V2:-1}" = 1 ]; then
  echo "-- cgroup v2: the image under crun in a UML guest"
  tally "v2_guest: " < <("$here/test-v2.sh") || not_ok "v2_guest: ran" "no check output"
else
  echo "!!! cgroup v2 container checks SKIPPED (CONTAINER_V2=0) !!!"
fi

echo "container leg: $(( $(date +%s) - started )) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
