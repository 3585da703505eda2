#!/usr/bin/env bash
# make demo: a managed ClickHouse, the server and a simulated three-tier hall
# with a month of history, all under .demo/. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# DEMO_DIR, SUNLIGHT_BIN and the DEMO_*_PORT variables let a test run the
# demo as it is, beside another demo or on free ports.
demo="${DEMO_DIR:-$root/.demo}"
bin="${SUNLIGHT_BIN:-$root/bin/sunlight}"
http_port=${DEMO_HTTP_PORT:-8080}
rtsp_port=${DEMO_RTSP_PORT:-8554}
mkdir -p "$demo"

# The demo config is the documented example (a city hall of 12 windows, a
# district center and a community station) with its state under .demo/.
if [ ! -f "$demo/sunlight.yaml" ]; then
  # A demo keeps one day of recordings (18 cameras write ~8 GB an hour;
  # retention also deletes the oldest when the disk runs short).
  sed -e 's/^  retention_days: 30 /  retention_days: 1  /' \
    -e "s/^listen: 127.0.0.1:8080/listen: 127.0.0.1:$http_port/" \
    -e "s|rtsp://127.0.0.1:8554/|rtsp://127.0.0.1:$rtsp_port/|" \
    -e "s/tcp_port: 19000 /tcp_port: ${DEMO_CLICKHOUSE_PORT:-19000} /" \
    -e "s/http_port: 18123 /http_port: ${DEMO_CLICKHOUSE_HTTP_PORT:-18123} /" \
    -e "s/udp_port: 8189 /udp_port: ${DEMO_WEBRTC_PORT:-8189} /" \
    deploy/sunlight.example.yaml >"$demo/sunlight.yaml"
fi
if [ ! -f "$demo/users.yaml" ]; then
  for role in admin inspector manager auditor; do
    echo "sunlight-$role" | "$bin" user add --users "$demo/users.yaml" --username "$role" --role "$role" >/dev/null
  done
fi
listen=$(sed -n 's/^listen: *\([^ #]*\).*/\1/p' "$demo/sunlight.yaml")
listen=${listen:-127.0.0.1:8080}

# DEMO_TLS=1 serves the console over HTTPS with a self-signed certificate
# for 127.0.0.1 and localhost, made by `sunlight selfsigned` (Go's crypto,
# no openssl needed) under .demo/tls. Off by default: the demo listens on
# loopback only, where nobody can listen in, and a self-signed certificate
# makes every browser show a warning first. Once on, the demo's config
# keeps it (empty tls.cert_file and key_file in .demo/sunlight.yaml to go
# back).
tls_on() { grep -Eq '^  cert_file: *[^ "#]' "$demo/sunlight.yaml"; }
if [ "${DEMO_TLS:-}" = 1 ] && ! tls_on; then
  [ -f "$demo/tls/cert.pem" ] || "$bin" selfsigned --cert "$demo/tls/cert.pem" --key "$demo/tls/key.pem" --hosts 127.0.0.1,localhost
  sed -i -e 's|^  cert_file: "".*|  cert_file: ./tls/cert.pem|' -e 's|^  key_file: "".*|  key_file: ./tls/key.pem|' "$demo/sunlight.yaml"
  tls_on || { echo "demo: could not turn on tls in $demo/sunlight.yaml"; exit 1; }
fi
scheme=http
curl_tls=()
if tls_on; then
  scheme=https
  curl_tls=(--cacert "$demo/tls/cert.pem")
fi
url="$scheme://$listen"
tls_note=""
[ "$scheme" = https ] && tls_note="    TLS:      self-signed ($demo/tls/cert.pem): the browser warns once"

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
# Ctrl-C is how a demo ends: stop everything and exit 0. Any other exit
# (a step that failed) stops everything and keeps its status.
trap 'stop; exit 0' INT TERM
trap stop EXIT

# The simulated cameras first, so that the server finds them up (no screen
# of "camera offline" at start); the simulator's backfill waits for the
# server's managed ClickHouse.
backfill=()
[ -f "$demo/.backfilled" ] || backfill=(--backfill 30d)
"$bin" simulate --config "$demo/sunlight.yaml" --api-key demo-queue-key --always-open "${backfill[@]}" \
  --rtsp-listen "127.0.0.1:$rtsp_port" \
  >"$demo/simulate.log" 2>&1 &
pids+=($!)
echo "demo: starting the simulated hall's cameras (log: $demo/simulate.log)"
for i in $(seq 1 300); do
  grep -q 'cameras serving' "$demo/simulate.log" 2>/dev/null && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "demo: the simulator stopped:"; tail -20 "$demo/simulate.log"; exit 1; }
  sleep 1
done

"$bin" serve --config "$demo/sunlight.yaml" >"$demo/serve.log" 2>&1 &
pids+=($!)
echo "demo: starting the server and its ClickHouse (log: $demo/serve.log)"
for i in $(seq 1 120); do
  if curl -fsS "${curl_tls[@]}" "$url/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "${pids[1]}" 2>/dev/null; then echo "demo: the server stopped:"; tail -20 "$demo/serve.log"; exit 1; fi
  sleep 1
done
curl -fsS "${curl_tls[@]}" "$url/healthz" >/dev/null || { echo "demo: the server did not become healthy in 120 s"; tail -20 "$demo/serve.log"; exit 1; }

if [ ${#backfill[@]} -gt 0 ]; then
  echo "demo: writing 30 days of history"
  for i in $(seq 1 300); do
    grep -q '^backfill done' "$demo/simulate.log" 2>/dev/null && { touch "$demo/.backfilled"; break; }
    kill -0 "${pids[0]}" 2>/dev/null || { echo "demo: the simulator stopped:"; tail -20 "$demo/simulate.log"; exit 1; }
    sleep 1
  done
  grep "^backfill done" "$demo/simulate.log" || true
fi

cat <<TXT

  Sunlight is running: $url/
    health:   $url/healthz
$tls_note
    cameras:  rtsp://127.0.0.1:$rtsp_port/window/A01 ... (one per window)

  Demo logins (user / password):
    admin     / sunlight-admin
    inspector / sunlight-inspector
    manager   / sunlight-manager
    auditor   / sunlight-auditor

  Event producer key: demo-queue-key   (X-API-Key for POST /api/v1/events)
  Logs: $demo/serve.log, $demo/simulate.log
  Ctrl-C stops everything.
TXT
wait "${pids[1]}"
