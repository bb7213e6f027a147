#!/usr/bin/env bash
# catchup: a fresh hutongd pulls a whole ledger from one neighbour.
#
#   HUTONG_BUILD=build tests/bench/catchup.sh [N]     (N = 100000)
#
# The source node's ledger gets N intel records (~600-byte envelopes) signed
# with its own key and certificate at core level (bench_catchup gen), before
# its daemon starts. Then the source daemon starts, and a fresh node linked
# to it starts; the clock runs from the fresh daemon's start until its
# ledger holds the source's whole chain (the arrival time is the stored_ms
# of the last record, so the polling interval does not matter). Printed:
# records/s end to end (transport, decode, verify, store), the raw
# single-core Ed25519 verify rate (crypto_sign_verify_detached over
# 110-byte messages) measured in the same run before the daemons start and
# after they stop, the ratio to their mean (the target is >= 0.7), and the
# daemons' CPU time. The machine should be otherwise idle: the fresh node
# uses both cores. BENCH_KEEP=1 keeps the directory; BENCH_LOG=info|debug
# sets the daemons' log level; BENCH_PERF=fresh profiles the fresh daemon.
source "$(dirname "$0")/lib.sh"
N=${1:-100000}
BC="$HUTONG_BUILD/bench/bench_catchup"
[ -x "$BC" ] || die "$BC not built"
TIMEOUT=${BENCH_TIMEOUT:-600}

bench_ca
mknode source 320100 0
mknode fresh 360100 1
link source fresh

gen=$("$BC" gen "$(dir_of source)" "$N") || die "gen failed"
rate_of() { sed -n 's/.*raw_verify_per_s=\([0-9]*\).*/\1/p' <<<"$1"; }
raw1=$(rate_of "$("$BC" verify-rate 100000)") || die "verify-rate failed"

start source
wait_up source
total=$((N + 1)) # and the source's genesis

t0=$(now_ms)
start fresh
# Poll the fresh ledger (read-only) until it holds the source's chain up to
# its head (every 0.25 s: the poll costs a little CPU).
deadline=$((SECONDS + TIMEOUT))
while :; do
	arr=$("$BC" arrival "$(dir_of fresh)" 320100 2>/dev/null) || arr=""
	[[ "$arr" == "head=$total "* ]] && break
	[ "$SECONDS" -lt "$deadline" ] || die "no catch-up within $TIMEOUT s: $arr"
	sleep 0.25
done
first=$(sed -n 's/.*first_ms=\([0-9]*\).*/\1/p' <<<"$arr")
last=$(sed -n 's/.*last_ms=\([0-9]*\).*/\1/p' <<<"$arr")
cpu_fresh=$(cpu_s fresh); cpu_source=$(cpu_s source)
peer=$(status fresh | tr -d '\n ' | sed 's/.*"peers":\[//')
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$peer" | head -1; }
dup=$(field duplicates) bytes=$(field bytes_received)
stop fresh
stop source
# The verify rate again with the daemons gone: the machine may be shared,
# so the ratio is taken against the mean of the two measurements.
raw2=$(rate_of "$("$BC" verify-rate 100000)") || die "verify-rate failed"

echo "$gen"
echo "cpu_s_fresh=$cpu_fresh cpu_s_source=$cpu_source (daemons' user+system time, all threads)"
awk -v n="$total" -v t0="$t0" -v first="$first" -v last="$last" -v r1="$raw1" \
	-v r2="$raw2" -v dup="$dup" -v bytes="$bytes" 'BEGIN {
	wall = (last - t0) / 1000; xfer = (last - first) / 1000
	if (wall <= 0) wall = 0.001; if (xfer <= 0) xfer = 0.001
	rate = n / wall; raw = (r1 + r2) / 2
	printf "records=%d wall_s=%.2f startup_s=%.2f transfer_s=%.2f duplicates=%s bytes_received=%s\n",
		n, wall, (first - t0) / 1000, xfer, dup, bytes
	printf "raw_verify_per_s=%.0f (before %d, after %d; one core, 110-byte messages)\n",
		raw, r1, r2
	printf "catchup_per_s=%.0f transfer_per_s=%.0f ratio=%.2f (target >= 0.70)\n",
		rate, n / xfer, rate / raw
}'
