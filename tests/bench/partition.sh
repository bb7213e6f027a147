#!/usr/bin/env bash
# partition: bytes on the wire while a partition heals, against the size of
# the records that were missing.
#
#   HUTONG_BUILD=build tests/bench/partition.sh [N] [M]     (1000 and 1000)
#
# A line a - b - c. With every genesis everywhere, b is stopped (a and c
# are cut off from each other), N intel records (~600-byte envelopes) are
# submitted at a and M at c, and b is started again. From just before b's
# start until all three hold one digest (and the last acks are in), the
# SyncMessage bytes on both links are counted by a's and c's sessions with
# b (status --json, peers[].bytes_sent + bytes_received; a and c run
# throughout, and every frame of the two links starts or ends at one of
# them). The records that had to move: b lacked N + M, a lacked M, c lacked
# N, so each missing record crosses each link once at best. Printed: the
# wire bytes, those needed, their ratio (the target is within 10% plus a
# small fixed cost per origin), the frames, and the overhead beyond the
# records. CurveZMQ adds about 40 bytes per frame (not counted here).
# BENCH_KEEP=1 keeps the directory; BENCH_LOG=info|debug the daemons' logs.
source "$(dirname "$0")/lib.sh"
N=${1:-1000}
M=${2:-1000}
BPT="$HUTONG_BUILD/bench/bench_partition"
[ -x "$BPT" ] || die "$BPT not built"

# peer_field NODE PEER FIELD: a number from NODE's status peers[] entry.
peer_field() {
	status "$1" | tr -d '\n' | sed 's/},/}\n/g' | grep "\"name\": \"$2\"" |
		sed -n "s/.*\"$3\": \([0-9]*\).*/\1/p" | head -1
}
# wire NODE: bytes (sent + received) and frames on NODE's link to b.
wire() {
	echo "$(( $(peer_field "$1" b bytes_sent) + $(peer_field "$1" b bytes_received) ))" \
		"$(( $(peer_field "$1" b frames_sent) + $(peer_field "$1" b frames_received) ))"
}
# bulk NODE COUNT: COUNT intel records of ~600 bytes in one bulk submit.
bulk() {
	local pad; pad=$(printf 'organizer collects entry fees; %.0s' $(seq 14))
	for i in $(seq "$2"); do
		printf '{"author":"bench","body":{"intelligence":{"summary":"%s %d: %s"}}}\n' \
			"$1" "$i" "$pad"
	done | "$HUTONG" -d "$(dir_of "$1")" submit --json - >/dev/null 2>&1 ||
		die "bulk submit at $1 failed"
}

bench_ca
mknode a 320100 0
mknode b 360100 1
mknode c 430100 2
link a b
link b c
for n in a b c; do start "$n"; done
for n in a b c; do wait_up "$n"; done
converge 60 a b c || die "no convergence at start"

stop b
a0=$("$BPT" head "$(dir_of a)" 320100)
c0=$("$BPT" head "$(dir_of c)" 430100)
bulk a "$N"
bulk c "$M"
a1=$("$BPT" head "$(dir_of a)" 320100)
c1=$("$BPT" head "$(dir_of c)" 430100)
read -r bytes_a0 frames_a0 <<<"$(wire a)"
read -r bytes_c0 frames_c0 <<<"$(wire c)"

t0=$(now_ms)
start b
converge 120 a b c || die "no convergence after the heal"
t1=$(now_ms)
sleep 0.5 # the last acks
read -r bytes_a1 frames_a1 <<<"$(wire a)"
read -r bytes_c1 frames_c1 <<<"$(wire c)"

sa=$("$BPT" bytes "$(dir_of a)" 320100 $((a0 + 1)) "$a1")
sc=$("$BPT" bytes "$(dir_of c)" 430100 $((c0 + 1)) "$c1")
ra=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$sa")
rc=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$sc")
# records that arrived twice: at a and c from b, at b (restarted) from both
dup=$(( $(peer_field a b duplicates) + $(peer_field c b duplicates) +
	$(peer_field b a duplicates) + $(peer_field b c duplicates) ))
awk -v n="$((a1 - a0))" -v m="$((c1 - c0))" -v ra="$ra" -v rc="$rc" \
	-v wa="$((bytes_a1 - bytes_a0))" -v wc="$((bytes_c1 - bytes_c0))" \
	-v fa="$((frames_a1 - frames_a0))" -v fc="$((frames_c1 - frames_c0))" \
	-v heal="$((t1 - t0))" -v dup="$dup" 'BEGIN {
	need = 2 * (ra + rc); wire = wa + wc
	printf "missing: a=%d records (%d bytes) c=%d records (%d bytes); each crosses 2 links\n",
		n, ra, m, rc
	printf "heal_ms=%d wire_bytes=%d (a-b %d, b-c %d) frames=%d needed_bytes=%d\n",
		heal, wire, wa, wc, fa + fc, need
	moved = 2 * (n + m)
	printf "ratio=%.3f (target <= 1.10 + a small fixed cost) overhead_bytes=%d (%.1f per record moved) duplicates=%d\n",
		wire / need, wire - need, (wire - need) / moved, dup
}'
