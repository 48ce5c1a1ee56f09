#!/usr/bin/env bash
# Failure drill for the compose stack (deploy/compose.yaml): takes parts of
# the platform away one at a time and checks that cdp notices, keeps
# detecting where it can, and recovers when the part comes back.
#
#   deploy/drill.sh            # against a running stack (docker compose up -d)
#   COMPOSE="docker compose -f deploy/compose.yaml" deploy/drill.sh
#
# Steps (each prints PASS or FAIL; the script exits 1 if any failed):
#   1. every cdp node is live and ready
#   2. stop cdp-compute-1: the others stay ready; Kafka gives its partition
#      to cdp-compute-2; cdp-api still detects a staged conflict
#   3. start cdp-compute-1 again: ready again
#   4. stop PostgreSQL: cdp keeps detecting (it does not need the database to
#      detect; its stores spool while the database is away)
#   5. stop Kafka: nodes turn not ready (/readyz 503) but stay alive, REST
#      ingest still answers; start Kafka: nodes ready again
#   6. Prometheus sees the cdp targets up again
set -uo pipefail
cd "$(dirname "$0")"
COMPOSE=${COMPOSE:-docker compose -f compose.yaml}
TIMEOUT=${TIMEOUT:-120}     # seconds to wait for each recovery
API=${API:-http://localhost:8080}
PROM=${PROM:-http://localhost:9090}
NODES=(cdp-api cdp-compute-1 cdp-compute-2)
failed=0

say()  { printf '\n== %s\n' "$*"; }
pass() { printf 'PASS %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; failed=1; }

# cdp runs `cdp status` inside the API container, which reaches every node by name.
cdp() { $COMPOSE exec -T cdp-api cdp "$@"; }
urls() { for n in "$@"; do printf -- '--server http://%s:8080 ' "$n"; done; }

# wait_for SECONDS DESCRIPTION COMMAND...: retries COMMAND until it succeeds.
wait_for() {
  local t=$1 what=$2; shift 2
  local end=$((SECONDS + t))
  while ((SECONDS < end)); do
    if "$@" >/dev/null 2>&1; then pass "$what"; return 0; fi
    sleep 2
  done
  fail "$what (not within ${t}s)"; "$@" || true
  return 1
}

# conflict posts two drones closing head-on and waits for cdp-api to report
# their risk.
conflict() {
  local id=drill-$RANDOM now
  now=$(date +%s)
  curl -fsS "$API/api/v1/locations" -H 'Content-Type: application/x-ndjson' --data-binary @- >/dev/null <<EOR || return 1
{"id":"$id-a","t":$now,"lat":51.5010,"lon":-0.1200,"alt":80,"vx":12,"vy":0,"vz":0}
{"id":"$id-b","t":$now,"lat":51.5010,"lon":-0.1190,"alt":80,"vx":-12,"vy":0,"vz":0}
EOR
  local end=$((SECONDS + 15))
  while ((SECONDS < end)); do
    curl -fsS "$API/api/v1/risks?limit=1000" | grep -q "$id-a" && return 0
    sleep 1
  done
  return 1
}

say "1. every node live and ready"
# shellcheck disable=SC2046
wait_for "$TIMEOUT" "all cdp nodes ready" cdp status --ready $(urls "${NODES[@]}")
wait_for 30 "cdp-api detects a conflict" conflict

say "2. stop a compute node"
$COMPOSE stop cdp-compute-1
# shellcheck disable=SC2046
wait_for "$TIMEOUT" "cdp-api and cdp-compute-2 stay ready" cdp status --ready $(urls cdp-api cdp-compute-2)
if cdp status --live --quiet --server http://cdp-compute-1:8080 >/dev/null 2>&1; then
  fail "cdp-compute-1 still answers after stop"
else
  pass "cdp status reports cdp-compute-1 gone"
fi
wait_for 30 "detection goes on without cdp-compute-1" conflict

say "3. bring it back"
$COMPOSE start cdp-compute-1
# shellcheck disable=SC2046
wait_for "$TIMEOUT" "cdp-compute-1 ready again" cdp status --ready $(urls cdp-compute-1)

say "4. stop the database"
$COMPOSE stop postgres
wait_for 30 "detection goes on without PostgreSQL" conflict
# shellcheck disable=SC2046
wait_for 30 "nodes stay live without PostgreSQL" cdp status $(urls "${NODES[@]}")
$COMPOSE start postgres
wait_for "$TIMEOUT" "PostgreSQL back" $COMPOSE exec -T postgres pg_isready -U cdp -d cdp

say "5. stop Kafka"
$COMPOSE stop kafka
not_ready() { ! curl -fsS "$API/readyz" >/dev/null; }
wait_for 60 "cdp-api not ready (503) while Kafka is away" not_ready
wait_for 10 "cdp-api stays alive" curl -fsS "$API/healthz"
wait_for 30 "REST ingest and detection go on while Kafka is away" conflict
$COMPOSE start kafka
# shellcheck disable=SC2046
wait_for "$TIMEOUT" "every node ready again with Kafka back" cdp status --ready $(urls "${NODES[@]}")

say "6. monitoring"
prom_up() { curl -fsS "$PROM/api/v1/query?query=sum(up%7Bjob%3D%22cdp%22%7D)" | grep -q '"3"\]'; }
wait_for "$TIMEOUT" "Prometheus sees the 3 cdp targets up" prom_up

echo
if ((failed)); then echo "drill: FAILED"; exit 1; fi
echo "drill: passed"
