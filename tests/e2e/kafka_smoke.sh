#!/usr/bin/env bash
# Smoke test of scripts/kafka against a real broker, with kcat (librdkafka, as the service uses):
# start, create the service's topics, produce plain and compressed messages, consume, commit group
# offsets, stop, start again (same port, data and offsets kept), crash and restart, destroy.
#
#   tests/e2e/kafka_smoke.sh            (KAFKA_SMOKE_DOWNTIME=20 to keep the broker down longer)
#
# Uses its own state dir, so a broker in <repo>/var/kafka is left alone.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KAFKA="$REPO/scripts/kafka"
export KAFKA_STATE_DIR="${KAFKA_SMOKE_STATE_DIR:-$(mktemp -d /tmp/kafka-smoke.XXXXXX)}"
trap '"$KAFKA" destroy >/dev/null 2>&1 || true' EXIT

fail() { echo "FAIL: $*" >&2; "$KAFKA" logs 40 >&2 || true; exit 1; }
step() { echo "--- $*" >&2; }

command -v kcat >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q kcat >&2

bootstrap() { "$KAFKA" start | sed -n 's/^KAFKA_BOOTSTRAP_SERVERS=//p'; }
consume_all() { kcat -b "$B" -C -t "$1" -o beginning -e -q -f '%k=%s\n' | sort; }
# Consumes what group g has not committed yet; kcat commits the offsets when it exits at EOF.
consume_group() { timeout 30 kcat -b "$B" -G "$1" -e -q -f '%k=%s\n' -X auto.offset.reset=earliest "$2" | sort; }

step "start"
B="$(bootstrap)"
[[ "$B" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "bad bootstrap line: $B"
[ "$("$KAFKA" start | wc -l)" -eq 1 ] || fail "second start should print exactly one line"

step "topics"
"$KAFKA" topics settlement.events trade.events trade.events.dlq
"$KAFKA" topics trade.events # idempotent
n="$(kcat -b "$B" -L -t trade.events | grep -c 'partition ')"
[ "$n" -eq "${KAFKA_PARTITIONS:-3}" ] || fail "trade.events has $n partitions"

step "produce plain and compressed"
printf 'k1:plain\n' | kcat -b "$B" -P -t trade.events -K: -X acks=all
for z in gzip lz4 snappy zstd; do
  printf 'k-%s:%s\n' "$z" "$z" | kcat -b "$B" -P -t trade.events -K: -z "$z" -X acks=all || fail "produce -z $z"
done
want=$'k-gzip=gzip\nk-lz4=lz4\nk-snappy=snappy\nk-zstd=zstd\nk1=plain'
[ "$(consume_all trade.events)" = "$want" ] || fail "consume: $(consume_all trade.events)"

step "consumer group commits offsets"
[ "$(consume_group g1 trade.events)" = "$want" ] || fail "group first pass"
printf 'k2:second\n' | kcat -b "$B" -P -t trade.events -K: -z lz4
[ "$(consume_group g1 trade.events)" = "k2=second" ] || fail "group did not resume from committed offsets"

step "auto-created topic"
printf 'x:y\n' | kcat -b "$B" -P -t auto.created -K:
[ "$(consume_all auto.created)" = "x=y" ] || fail "auto-created topic"

step "stop, ${KAFKA_SMOKE_DOWNTIME:-2}s down, start again"
"$KAFKA" stop
"$KAFKA" stop # idempotent
"$KAFKA" status >/dev/null && fail "status says running after stop"
sleep "${KAFKA_SMOKE_DOWNTIME:-2}"
t0=$SECONDS
[ "$(bootstrap)" = "$B" ] || fail "restart changed the bootstrap address"
echo "restart took $((SECONDS - t0))s" >&2
[ "$(consume_all trade.events | wc -l)" -eq 6 ] || fail "data lost across restart"
printf 'k3:third\n' | kcat -b "$B" -P -t trade.events -K: -z gzip
[ "$(consume_group g1 trade.events)" = "k3=third" ] || fail "group offsets lost across restart"

step "kill -9 and start again"
kill -9 "$(cat "$KAFKA_STATE_DIR/kafka.pid")"
[ "$(bootstrap)" = "$B" ] || fail "restart after crash changed the bootstrap address"
[ "$(consume_all trade.events | wc -l)" -eq 7 ] || fail "data lost across crash"

step "destroy"
"$KAFKA" destroy
[ ! -e "$KAFKA_STATE_DIR" ] || fail "state dir still there"
echo "kafka smoke: OK" >&2
