#!/usr/bin/env bash
# propagation: how long a record takes to cross each hop of a line of
# daemons.
#
#   HUTONG_BUILD=build tests/bench/propagation.sh [K] [SPACING_MS] [NODES]
#                                              (200 records, 50 ms, 10 nodes)
#
# NODES daemons on 127.0.0.1 linked in a line n1 - n2 - ... - nNODES. K
# intel records are submitted at n1 with `hutong submit`, one every
# SPACING_MS (after the previous submit returned). When nNODES holds them
# all, bench_propagation reads every ledger: per hop h, the time from the
# record's arrival at n(h-1) to its arrival at nh (stored_ms); hop 0 is the
# submit at n1 (from the record's creation to its commit there). Printed per
# hop and over all hops: p50, p99, max, and the time from the submit (the
# target is p99 under 5 ms per hop). stored_ms has 1 ms resolution.
# BENCH_KEEP=1 keeps the directory; BENCH_LOG=info|debug the daemons' logs.
source "$(dirname "$0")/lib.sh"
K=${1:-200}
SPACING=${2:-50}
NODES=${3:-10}
BP="$HUTONG_BUILD/bench/bench_propagation"
[ -x "$BP" ] || die "$BP not built"
ORIGIN=320100

bench_ca
names=()
for i in $(seq "$NODES"); do
	mknode "n$i" "$(printf '32%02d00' "$i")" "$i"
	names+=("n$i")
	[ "$i" -gt 1 ] && link "n$((i - 1))" "n$i"
done
for n in "${names[@]}"; do start "$n"; done
for n in "${names[@]}"; do wait_up "$n"; done
# Every node holds every genesis: the links are up and idle.
converge 60 "${names[@]}" || die "the line did not converge at start"

first=$(( $("$BP" head "$(dir_of n1)" $ORIGIN) + 1 ))
pause=$(awk -v ms="$SPACING" 'BEGIN { printf "%.3f", ms / 1000 }')
for k in $(seq "$K"); do
	"$HUTONG" -d "$(dir_of n1)" submit intel --author bench \
		--summary "propagation probe $k" >/dev/null || die "submit $k failed"
	sleep "$pause"
done
last=$("$BP" head "$(dir_of n1)" $ORIGIN)
deadline=$((SECONDS + 60))
while [ "$("$BP" head "$(dir_of "n$NODES")" $ORIGIN)" -lt "$last" ]; do
	[ "$SECONDS" -lt "$deadline" ] || die "n$NODES did not get every record within 60 s"
	sleep 0.1
done
dirs=(); for n in "${names[@]}"; do dirs+=("$(dir_of "$n")"); done
echo "nodes=$NODES records=$((last - first + 1)) spacing_ms=$SPACING"
"$BP" report $ORIGIN "$first" "$last" "${dirs[@]}"
