#!/usr/bin/env bash
# Runs on the host (container/test.sh): the image's default command (the entrypoint, then `confine serve`)
# in a detached container with the given podman options; then /health and /ready, a command run over HTTP
# by two tenants, and a stop. Prints `ok <name> <detail>` / `not-ok <name> <detail>` lines.
# Usage: service.sh IMAGE PODMAN_OPTION...
set -uo pipefail
image=$1; shift
name=confine-test-service-$$
cleanup() { podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
# No network: the checks call the service from inside its own network namespace (podman exec).
if ! podman run -d --name "$name" --network=none "$@" -e API_KEYS=tenant-a:key-a-0123456789,tenant-b:key-b-0123456789 -e LOG_LEVEL=warn "$image" >/dev/null; then
  echo "not-ok service_starts podman run failed"; exit 0
fi
call() { # $1 method, $2 path, $3 api key or -, $4 JSON body or -: prints "<status> <body>"
  podman exec "$name" node -e '
    const [method, path, key, body] = process.argv.slice(1);
    const headers = { "content-type": "application/json" };
    if (key !== "-") headers["x-api-key"] = key;
    fetch("http://127.0.0.1:8000" + path, { method, headers, ...(body === "-" ? {} : { body }) })
      .then(async (r) => console.log(r.status, (await r.text()).slice(0, 2000)))
      .catch((e) => { console.log(0, e.cause?.code ?? e.message); });
  ' "$1" "$2" "$3" "$4" 2>&1
}
ready=""
for _ in $(seq 1 120); do
  [ "$(podman inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || break
  ready=$(call GET /ready - -); case $ready in 200*) break ;; esac
  sleep 0.5
done
case $ready in
  200*) echo "ok service_is_ready_through_the_entrypoint /ready: ${ready:0:120}" ;;
  *) echo "not-ok service_is_ready_through_the_entrypoint ${ready:-not running} $(podman logs "$name" 2>&1 | tail -3 | tr '\n' ' ')"; exit 0 ;;
esac
health=$(call GET /health - -)
case $health in 200*) echo "ok health_answers_200" ;; *) echo "not-ok health_answers_200 $health" ;; esac
for tenant in a b; do
  out=$(call POST '/api/v1/runs/commands?wait=true' "key-$tenant-0123456789" '{"command":"echo hello"}')
  if [[ $out == 200* && $out == *'"state":"succeeded"'* && $out == *'hello\n'* ]]; then
    echo "ok tenant_${tenant}_runs_a_command_over_http"
  else
    echo "not-ok tenant_${tenant}_runs_a_command_over_http ${out:0:400}"
  fi
done
anon=$(call POST '/api/v1/runs/commands?wait=true' - '{"command":"echo hello"}')
case $anon in 401*) echo "ok request_without_a_key_is_refused_401" ;; *) echo "not-ok request_without_a_key_is_refused_401 ${anon:0:200}" ;; esac
t=$(date +%s)
podman stop -t 30 "$name" >/dev/null 2>&1
code=$(podman inspect -f '{{.State.ExitCode}}' "$name" 2>/dev/null)
took=$(( $(date +%s) - t ))
# A generous bound: the service drains (SHUTDOWN_GRACE_SECONDS) and removes its cgroups and workspaces.
if [ "$(podman inspect -f '{{.State.Running}}' "$name")" = false ] && [ "$took" -lt 30 ]; then
  echo "ok service_stops_on_sigterm exit code $code after $took s"
else
  echo "not-ok service_stops_on_sigterm still running or killed after $took s (exit code $code)"
fi
errors=$(podman logs "$name" 2>&1 | grep -c '"level":50' || true)
[ "$errors" = 0 ] && echo "ok service_logged_no_error" || echo "not-ok service_logged_no_error $(podman logs "$name" 2>&1 | grep -m2 '"level":50' | cut -c1-300)"
