#!/usr/bin/env bash
# Installs what Sunlight's build, demo and tests need on a Debian machine,
# skipping whatever is already there. Safe to run again.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }
have clickhouse-server || need+=(clickhouse-server)
have clickhouse-client || need+=(clickhouse-client)
have ffmpeg            || need+=(ffmpeg)
# The test cluster (analytics/chcluster): ZooKeeper for ClickHouse's
# replication and distributed DDL, on Java.
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
have java              || need+=(default-jre-headless)
have curl              || need+=(curl ca-certificates)
have ffprobe           || need+=(ffmpeg)
# The web console is built with npm (make web); Debian's packages will do.
have node              || need+=(nodejs)
have npm               || need+=(npm)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need+=(fonts-dejavu-core)
if [ "${SUNLIGHT_NO_BROWSER:-}" = "" ]; then
  have chromium || need+=(chromium)
  # The console is in Chinese first: without a CJK font Chromium draws boxes.
  [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "install-deps: Go is missing: install Go 1.26 (https://go.dev/doc/install) and put it on PATH" >&2
  exit 1
fi
go mod download
