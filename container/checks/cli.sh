#!/bin/sh
# Runs INSIDE confine's image (container/test.sh mounts container/checks at /checks): the real CLI, one
# check per line on stdout, `ok <name> <detail>` or `not-ok <name> <detail>`; the caller counts them.
# Checks: exec_echo (a benign command), memory (a memory bomb ends memory_limit), pids (a fork bomb ends
# pids_limit), timeout (an endless loop is killed at its timeout), plan (a terraform_data plan succeeds),
# aws (the AWS fixture plans offline from the baked provider mirror; needs /fixtures).
# Usage: cli.sh CHECK...
set -u
summary() { # $1 = JSON file: the fields a reader needs, or the error
  node -e '
    const fs = require("fs"); let r;
    try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch { console.log("(no JSON)"); process.exit(0); }
    const x = r.run ?? {};
    console.log(JSON.stringify({ status: r.status, error: r.error?.type ?? r.error ?? null, message: r.error?.message, exit_reason: x.exit_reason, stdout: x.stdout, add: r.summary?.add }));
  ' "$1"
}
field() { node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = process.argv[2].split(".").reduce((o, k) => o?.[k], r); console.log(v ?? "")' "$1" "$2" 2>/dev/null; }
report() { # $1 name, $2 0=ok, $3 json file, $4 stderr file
  # the most specific line of stderr: a JailSetupError's detail, else the error line itself
  why=$(grep -m1 -E "^ *detail: " "$4" 2>/dev/null || grep -m1 -E '^[A-Za-z]*Error: |^bwrap: |^confine' "$4" 2>/dev/null || grep -m1 -iE 'error|denied|not permitted|failed' "$4" 2>/dev/null)
  detail="$(summary "$3") $(printf '%s' "$why" | sed 's/^ *//' | cut -c1-300)"
  # printf, not echo: dash's echo would turn a "\n" inside the JSON into a line break
  if [ "$2" = 0 ]; then printf 'ok %s %s\n' "$1" "$detail"; else printf 'not-ok %s %s\n' "$1" "$detail"; fi
}
T=$(mktemp -d)
printf 'x=aaaaaaaaaaaaaaaa; while :; do x=$x$x; done\n' > "$T/mem.sh"
printf 'f() { f | f; }; f\n' > "$T/fork.sh" # the catalogue's fork bomb
printf 'while :; do :; done\n' > "$T/spin.sh" # never ends by itself: the service must kill it
mkdir -p "$T/tf" && printf 'resource "terraform_data" "x" {\n  input = "hello"\n}\n' > "$T/tf/main.tf"
for check in "$@"; do
  out=$T/$check.json; err=$T/$check.err
  case $check in
    exec_echo)
      confine exec --json --timeout 30 -- echo hello > "$out" 2> "$err"
      [ "$(field "$out" status)" = succeeded ] && [ "$(field "$out" run.stdout)" = hello ]; report exec_echo_prints_hello $? "$out" "$err" ;;
    memory)
      confine exec --json --memory 64 --pids 16 --timeout 30 --script "$T/mem.sh" > "$out" 2> "$err"
      [ "$(field "$out" run.exit_reason)" = memory_limit ]; report memory_bomb_ends_memory_limit $? "$out" "$err" ;;
    pids)
      confine exec --json --memory 64 --pids 16 --timeout 30 --script "$T/fork.sh" > "$out" 2> "$err"
      [ "$(field "$out" run.exit_reason)" = pids_limit ]; report fork_bomb_ends_pids_limit $? "$out" "$err" ;;
    timeout)
      confine exec --json --timeout 2 --script "$T/spin.sh" > "$out" 2> "$err"
      [ "$(field "$out" run.exit_reason)" = timeout ]; report endless_loop_is_killed_at_its_timeout $? "$out" "$err" ;;
    plan)
      confine plan --json "$T/tf" > "$out" 2> "$err"
      [ "$(field "$out" status)" = succeeded ] && [ "$(field "$out" summary.add)" = 1 ]; report terraform_data_plan_succeeds $? "$out" "$err" ;;
    aws)
      confine plan --json /fixtures/terraform/aws-basic > "$out" 2> "$err"
      [ "$(field "$out" status)" = succeeded ] && [ "$(field "$out" summary.add)" -ge 1 ]; report aws_fixture_plans_offline_from_the_baked_mirror $? "$out" "$err" ;;
    *) echo "not-ok unknown_check_$check" ;;
  esac
done
rm -rf "$T"
