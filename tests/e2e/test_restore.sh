#!/usr/bin/env bash
# test_restore: a node restored from an old backup holds its chain but is
#   behind what its neighbours hold of it (issue 11, "forks that no one
#   reports"). Nanjing's node dir is copied while it is stopped (the
#   backup); Nanjing signs three more records, Nanchang and Changsha take
#   them; Nanjing stops, the backup is put back and Nanjing starts as a
#   bureau would. A submit in the first moment must not sign a seq the
#   neighbours already hold: it is refused while Nanjing asks them, and the
#   record it signs then continues the true head, with no fork anywhere and
#   verify clean on every node. With no neighbour answering, a node that
#   holds its chain signs after catchup_timeout, and says so.
source "$(dirname "$0")/lib.sh"

BASE=$(e2e_port)
CA="$E2E_TMP/ca"
WAIT=30

dir_of() { echo "$E2E_TMP/$1"; }
port_of() { cat "$E2E_TMP/$1/.port"; }
mknode() {
	local d="$E2E_TMP/$1" port=$((BASE + $3))
	"$HUTONG" init --dir "$d" --name "$1" --region "$2" \
		--listen "tcp://127.0.0.1:$port" >/dev/null &&
	certify "$d" "$CA" && echo "$port" > "$d/.port" && no_receipts "$d" &&
	sed -i 's/^catchup_timeout *=.*/catchup_timeout = 10s/' "$d/hutongd.conf"
}
peer_add() {
	"$HUTONG" peer add --dir "$(dir_of "$1")" --cert "$(dir_of "$2")/node.crt" \
		--endpoint "tcp://127.0.0.1:$(port_of "$2")" >/dev/null
}
link() { peer_add "$1" "$2" && peer_add "$2" "$1"; }
H() { "$HUTONG" -d "$(dir_of "$1")" "${@:2}"; }
status() { H "$1" status --json 2>/dev/null | tr -d '\n '; }
own_chain() { status "$1" | grep -o '"own_chain":{[^}]*}'; }
seq_of() { # seq_of NODE REGION
	status "$1" | grep -o "\"$2\":{[^}]*}" | sed -n 's/.*"seq":\([0-9]*\).*/\1/p'
}
submit() { H "$1" submit intel --author e2e --summary "$2"; }
until_true() {
	local deadline=$((SECONDS + $1)); shift
	while [ "$SECONDS" -lt "$deadline" ]; do "$@" && return 0; sleep 0.2; done
	"$@"
}
seq_is() { [ "$(seq_of "$1" "$2")" = "$3" ]; }
no_forks() { [ "$(H "$1" audit forks 2>/dev/null)" = "no forks" ]; }
fork_count() { status "$1" | grep -o '"forks":[0-9]*' | sed 's/.*://' | sort -n | tail -1; }
logged() { grep -q "$2" "$(dir_of "$1")/hutongd.log"; }
REFUSALS=0
# submit_now NODE SUMMARY: submit at once, again while refused because the
# node is catching up its own chain; any other refusal fails.
submit_now() {
	local err="$E2E_TMP/submit.err" deadline=$((SECONDS + WAIT))
	REFUSALS=0
	while [ "$SECONDS" -lt "$deadline" ]; do
		submit "$1" "$2" >/dev/null 2>"$err" && return 0
		grep -q "is catching up its own chain from its neighbours ([0-9]* of [0-9]* answered); try again shortly" "$err" ||
			{ cat "$err"; return 1; }
		REFUSALS=$((REFUSALS + 1))
		sleep 0.05
	done
	return 1
}
all_clean() {
	for n in nanjing nanchang changsha; do
		check "$1: no fork on $n" no_forks "$n"
		check "$1: no fork counted on $n" [ "$(fork_count "$n")" = 0 ]
		check "$1: verify clean on $n" H "$n" verify
	done
}

make_ca "$CA"
mknode nanjing 320100 0 && mknode nanchang 360100 1 && mknode changsha 430100 2 &&
	link nanjing nanchang && link nanjing changsha && link nanchang changsha ||
	{ not_ok "set-up"; e2e_finish; exit 1; }
for n in nanjing nanchang changsha; do start_daemon "$(dir_of "$n")" || { not_ok "start $n"; e2e_finish; exit 1; }; done
for i in 1 2 3; do submit nanjing "nanjing lead $i" >/dev/null; done
check "nanjing's chain reaches nanchang" until_true $WAIT seq_is nanchang 320100 4
check "... and changsha" until_true $WAIT seq_is changsha 320100 4

# ---- the backup, then more records the backup does not hold ----
stop_daemon "$(dir_of nanjing)"
cp -a "$(dir_of nanjing)" "$E2E_TMP/backup"
start_daemon "$(dir_of nanjing)" || { not_ok "restart nanjing"; e2e_finish; exit 1; }
for i in 4 5 6; do submit nanjing "nanjing lead $i" >/dev/null; done
check "the later records reach nanchang" until_true $WAIT seq_is nanchang 320100 7
check "... and changsha" until_true $WAIT seq_is changsha 320100 7

# ---- restored from the backup ----
stop_daemon "$(dir_of nanjing)"
rm -rf "$(dir_of nanjing)" && cp -a "$E2E_TMP/backup" "$(dir_of nanjing)"
check "the backup holds the old head" [ "$(sqlite3 "$(dir_of nanjing)/ledger.db" "SELECT seq FROM origin WHERE region = '320100'")" = 4 ]
# The neighbours are frozen (SIGSTOP) while Nanjing starts, so that its
# first submit surely comes before any answer; they resume within
# catchup_timeout.
pause() { for n in nanchang changsha; do kill "-$1" "$(cat "$(dir_of "$n")/.e2e.pid")"; done; }
pause STOP
E2E_CATCHUP=1 start_daemon "$(dir_of nanjing)" || { pause CONT; not_ok "start the restored nanjing"; e2e_finish; exit 1; }
(sleep 2; pause CONT) &
check "a submit at once is signed once the chain is back" submit_now nanjing "nanjing lead after the restore"
echo "# refused $REFUSALS time(s) while catching up"
wait "$!"
check "it was refused while the neighbours were frozen" [ "$REFUSALS" -gt 0 ]
check "the start is logged" logged nanjing "confirming own chain origin=320100 seq=4 from=peers peers=2"
check "caught up is logged" logged nanjing "own chain caught up origin=320100 seq=7"
check "the new record continues the true head (seq 8)" seq_is nanjing 320100 8
check "... and reaches nanchang" until_true $WAIT seq_is nanchang 320100 8
check "... and changsha" until_true $WAIT seq_is changsha 320100 8
check "status: own chain ok, confirmed" bash -c "own=\$(\"$HUTONG\" -d '$(dir_of nanjing)' status --json | tr -d '\n '); echo \"\$own\" | grep -q '\"own_chain\":{\"state\":\"ok\",\"confirmed\":true'"
all_clean "restored"

# ---- restarted with no neighbour up: signs after catchup_timeout ----
stop_daemon "$(dir_of nanchang)" && stop_daemon "$(dir_of changsha)"
stop_daemon "$(dir_of nanjing)"
E2E_CATCHUP=1 start_daemon "$(dir_of nanjing)" || { not_ok "start nanjing alone"; e2e_finish; exit 1; }
expect_fail "a submit is refused while it asks" \
	"catching up its own chain from its neighbours \\(0 of 2 answered\\); try again shortly" \
	"$HUTONG" -d "$(dir_of nanjing)" submit intel --author e2e --summary refused
check "status: catching up" bash -c "\"$HUTONG\" -d '$(dir_of nanjing)' status --json | tr -d '\n ' | grep -q '\"own_chain\":{\"state\":\"catching_up\"'"
check "after catchup_timeout it signs anyway" submit_now nanjing "nanjing lead alone"
check "... and says so" logged nanjing "own chain unconfirmed: no neighbour answered within catchup_timeout, signing from the chain held origin=320100 seq=8 peers=2"
check "... seq 9" seq_is nanjing 320100 9
check "status: ok, not confirmed" bash -c "\"$HUTONG\" -d '$(dir_of nanjing)' status --json | tr -d '\n ' | grep -q '\"own_chain\":{\"state\":\"ok\",\"confirmed\":false'"
start_daemon "$(dir_of nanchang)" && start_daemon "$(dir_of changsha)"
check "the neighbours back: nanchang takes seq 9" until_true $WAIT seq_is nanchang 320100 9
check "... changsha too" until_true $WAIT seq_is changsha 320100 9
check "status: confirmed now" until_true $WAIT bash -c "\"$HUTONG\" -d '$(dir_of nanjing)' status --json | tr -d '\n ' | grep -q '\"confirmed\":true'"
all_clean "after the lone start"
check "nanjing stops cleanly" stop_daemon "$(dir_of nanjing)"
e2e_finish
