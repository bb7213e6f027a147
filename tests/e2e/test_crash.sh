#!/usr/bin/env bash
# test_crash: a daemon killed with SIGKILL at random moments loses nothing it
# acknowledged.
#   - two certified daemons A (nanjing) and B (changsha), linked both ways,
#     writing receipts every second;
#   - a load generator per node: single submits and bulk `submit --json -`
#     batches, each id a submit printed (an acknowledged record) appended
#     to acked.A / acked.B;
#   - CRASH_CYCLES times (default 50): after a random 50-400 ms, A gets
#     SIGKILL mid-load (submits, sync in both directions, receipts), and is
#     restarted over its stale control socket; then `verify` is clean and
#     every id A acknowledged so far is in A's ledger;
#   - after the load stops: A and B converge to one digest, every id either
#     acknowledged is held by both, both verify, and no origin forked.
# Prints one summary line: cycles, acknowledged ids, records, missing (0).
source "$(dirname "$0")/lib.sh"

CYCLES=${CRASH_CYCLES:-50}
BASE=$(e2e_port)
CA="$E2E_TMP/ca"
A="$E2E_TMP/a"
B="$E2E_TMP/b"
WAIT=60 # seconds allowed for the final convergence

# ---- helpers ----

# link X Y: X adds Y as a peer (Y listens on port file Y/.port).
link() {
	"$HUTONG" peer add --dir "$1" --cert "$2/node.crt" \
		--endpoint "tcp://127.0.0.1:$(cat "$2/.port")" >/dev/null
}
digest() {
	"$HUTONG" -d "$1" status --json 2>/dev/null |
		sed -n 's/^  "digest": "\([0-9a-f]*\)".*/\1/p'
}
# ids_of DIR: every record id DIR holds, sorted.
ids_of() { "$HUTONG" -d "$1" list 2>/dev/null | cut -c1-64 | sort -u; }
# acked NODE: the ids NODE's submits printed so far, sorted (a line still
# being written is skipped; it is checked next time).
acked() { grep -hE '^[0-9a-f]{64}$' "$E2E_TMP/acked.$1" 2>/dev/null | sort -u; }
# missing NODE DIR: acknowledged ids of NODE that DIR does not hold. The
# acknowledged set is read first: each of them was committed before it.
missing() {
	acked "$1" > "$E2E_TMP/want.$$"
	ids_of "$2" > "$E2E_TMP/have.$$"
	comm -23 "$E2E_TMP/want.$$" "$E2E_TMP/have.$$"
}

# gen NODE DIR: submit until $E2E_TMP/stop exists. Every fifth round is a
# bulk batch of 8 JSON lines. A submit to a dead daemon fails (or times
# out) and is simply not acknowledged.
gen() {
	local node=$1 dir=$2 i=0 k
	while [ ! -e "$E2E_TMP/stop" ]; do
		i=$((i + 1))
		if [ $((i % 5)) = 0 ]; then
			for k in 1 2 3 4 5 6 7 8; do
				printf '{"author":"crash","body":{"intelligence":{"summary":"%s bulk %d.%d"}}}\n' \
					"$node" "$i" "$k"
			done | timeout 2 "$HUTONG" -d "$dir" submit --json - 2>/dev/null
		else
			timeout 2 "$HUTONG" -d "$dir" submit intel --author crash \
				--summary "$node load $i" 2>/dev/null
		fi >> "$E2E_TMP/acked.$node"
		[ -S "$dir/control.sock" ] || sleep 0.05
	done
}

# forget_pid PID: drop a dead daemon from the cleanup list, so the exit trap
# never signals a recycled pid.
forget_pid() {
	local p keep=()
	for p in "${E2E_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	E2E_PIDS=("${keep[@]}")
}

# crash_restart: SIGKILL A, reap it, start it again.
crash_restart() {
	local pid
	pid=$(cat "$A/.e2e.pid")
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	forget_pid "$pid"
	start_daemon "$A"
}

# ---- set-up ----

make_ca "$CA" &&
	new_node "$A" nanjing 320100 "$CA" "tcp://127.0.0.1:$BASE" &&
	new_node "$B" changsha 430100 "$CA" "tcp://127.0.0.1:$((BASE + 1))" ||
	{ not_ok "set-up"; e2e_finish; exit 1; }
echo "$BASE" > "$A/.port"
echo "$((BASE + 1))" > "$B/.port"
for d in "$A" "$B"; do
	sed -i 's/^receipt_interval *=.*/receipt_interval = 1s/' "$d/hutongd.conf"
done
link "$A" "$B" && link "$B" "$A" || { not_ok "peer add both ways"; e2e_finish; exit 1; }
start_daemon "$A" && start_daemon "$B" || { not_ok "start A and B"; e2e_finish; exit 1; }
ok "two linked daemons up"

gen A "$A" & E2E_PIDS+=($!); GEN_A=$!
gen B "$B" & E2E_PIDS+=($!); GEN_B=$!

# ---- crash cycles ----

t0=$SECONDS
bad_verify=0 lost=0 restart_fail=0
for c in $(seq "$CYCLES"); do
	sleep "0.$(printf '%03d' $((50 + RANDOM % 351)))"
	if ! crash_restart; then
		restart_fail=$((restart_fail + 1))
		not_ok "cycle $c: A restarts after SIGKILL"
		break
	fi
	if ! "$HUTONG" -d "$A" verify >"$E2E_TMP/verify.out" 2>&1; then
		bad_verify=$((bad_verify + 1))
		not_ok "cycle $c: verify after SIGKILL"
		head -20 "$E2E_TMP/verify.out"
	fi
	m=$(missing A "$A" | wc -l)
	if [ "$m" -ne 0 ]; then
		lost=$((lost + m))
		not_ok "cycle $c: $m acknowledged ids missing at A"
		missing A "$A" | head -5
	fi
done
ok_cycles=$c
check "$CYCLES SIGKILL cycles: A restarted each time" test "$restart_fail" = 0
check "verify clean after every restart" test "$bad_verify" = 0
check "no acknowledged id lost at A in any cycle" test "$lost" = 0
check "the stale control socket never blocked a restart" \
	bash -c "! grep -q 'another hutongd' '$A/hutongd.log'"
crash_secs=$((SECONDS - t0))

# ---- load stops; the pair converges ----

touch "$E2E_TMP/stop"
wait "$GEN_A" "$GEN_B" 2>/dev/null
forget_pid "$GEN_A"; forget_pid "$GEN_B"
na=$(acked A | wc -l) nb=$(acked B | wc -l)
check "load was acknowledged at both nodes ($na at A, $nb at B)" \
	test "$na" -gt 0 -a "$nb" -gt 0

converged() {
	local deadline=$((SECONDS + WAIT))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if [ "$(digest "$A")" = "$(digest "$B")" ] &&
			[ -z "$(missing A "$B")$(missing B "$A")$(missing A "$A")$(missing B "$B")" ]; then
			return 0
		fi
		sleep 0.5
	done
	echo "  A: $(digest "$A")  B: $(digest "$B")"
	echo "  missing at B: $(missing A "$B" | wc -l) of A's, $(missing B "$B" | wc -l) of B's"
	echo "  missing at A: $(missing B "$A" | wc -l) of B's, $(missing A "$A" | wc -l) of A's"
	return 1
}
check "A and B converge: one digest, every acknowledged id at both" converged
check "A verifies after the load" bash -c "'$HUTONG' -d '$A' verify >/dev/null"
check "B verifies after the load" bash -c "'$HUTONG' -d '$B' verify >/dev/null"
check "no origin forked at A" bash -c "! '$HUTONG' -d '$A' status --json | grep -q '\"forked\": true'"
check "no origin forked at B" bash -c "! '$HUTONG' -d '$B' status --json | grep -q '\"forked\": true'"
# Record refusals and forks only: a link torn down mid-handshake when A is
# killed logs "connection closed ... refused by ZAP", which is no refusal
# of a record.
check "B refused nothing from A" bash -c "! grep -Eq ' warn (refused|fork) ' '$B/hutongd.log'"
recs=$(ids_of "$A" | wc -l)
check "A stops cleanly" stop_daemon "$A"
check "B stops cleanly" stop_daemon "$B"

echo "crash: cycles=$ok_cycles acked=$((na + nb)) (A $na, B $nb) records=$recs" \
	"lost=$lost verify_failures=$bad_verify seconds=$crash_secs"
e2e_finish
