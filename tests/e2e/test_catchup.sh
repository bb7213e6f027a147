#!/usr/bin/env bash
# test_catchup: a node that lost its ledger takes its own chain back from
#   its neighbours before it signs anything (issue 11, "forks that no one
#   reports"). Nanjing submits, the records reach Nanchang and Changsha;
#   Nanjing stops, its ledger.db is truncated to 0 bytes (-wal, -shm gone)
#   and it starts again as a bureau would (no --new-origin). It must say
#   so, refuse submits while it catches up, get its whole chain back,
#   continue it with a new submit that reaches the others, with no fork on
#   any node and verify clean everywhere. A node whose neighbours are all
#   down signs nothing and says how to start anyway.
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
	sed -i 's/^catchup_timeout *=.*/catchup_timeout = 3s/' "$d/hutongd.conf"
}
peer_add() {
	"$HUTONG" peer add --dir "$(dir_of "$1")" --cert "$(dir_of "$2")/node.crt" \
		--endpoint "tcp://127.0.0.1:$(port_of "$2")" >/dev/null
}
link() { peer_add "$1" "$2" && peer_add "$2" "$1"; }
H() { "$HUTONG" -d "$(dir_of "$1")" "${@:2}"; }
status() { H "$1" status --json 2>/dev/null; }
own_state() { status "$1" | tr -d '\n ' | sed -n 's/.*"own_chain":{"state":"\([a-z_]*\)".*/\1/p'; }
seq_of() { # seq_of NODE REGION
	status "$1" | tr -d '\n ' | grep -o "\"$2\":{[^}]*}" | sed -n 's/.*"seq":\([0-9]*\).*/\1/p'
}
submit() { H "$1" submit intel --author e2e --summary "$2"; }
until_true() {
	local deadline=$((SECONDS + $1)); shift
	while [ "$SECONDS" -lt "$deadline" ]; do "$@" && return 0; sleep 0.2; done
	"$@"
}
seq_is() { [ "$(seq_of "$1" "$2")" = "$3" ]; }
no_forks() { [ "$(H "$1" audit forks 2>/dev/null)" = "no forks" ]; }
logged() { grep -q "$2" "$(dir_of "$1")/hutongd.log"; }
state_is() { [ "$(own_state "$1")" = "$2" ]; }

make_ca "$CA"
mknode nanjing 320100 0 && mknode nanchang 360100 1 && mknode changsha 430100 2 &&
	link nanjing nanchang && link nanjing changsha && link nanchang changsha ||
	{ not_ok "set-up"; e2e_finish; exit 1; }

for n in nanjing nanchang changsha; do start_daemon "$(dir_of "$n")" || { not_ok "start $n"; e2e_finish; exit 1; }; done
for i in 1 2 3 4 5; do submit nanjing "nanjing lead $i" >/dev/null; done
check "nanjing's chain reaches nanchang" until_true $WAIT seq_is nanchang 320100 6
check "... and changsha" until_true $WAIT seq_is changsha 320100 6

# ---- the ledger is lost ----
stop_daemon "$(dir_of nanjing)"
: > "$(dir_of nanjing)/ledger.db"
rm -f "$(dir_of nanjing)/ledger.db-wal" "$(dir_of nanjing)/ledger.db-shm"
check "ledger.db is 0 bytes" test ! -s "$(dir_of nanjing)/ledger.db"
E2E_CATCHUP=1 start_daemon "$(dir_of nanjing)" || { not_ok "restart nanjing"; e2e_finish; exit 1; }
check "the empty ledger is logged" logged nanjing "ledger.db is empty path=.* next=\"catching up own chain from neighbours"
check "catching up is logged" logged nanjing "catching up own chain origin=320100 from=peers"
check "status shows it" until_true 5 bash -c "[ \"\$(\"$HUTONG\" -d '$(dir_of nanjing)' status --json | tr -d '\n ' | grep -o '\"own_chain\":{[^}]*}')\" != '' ]"
check "the chain comes back" until_true $WAIT state_is nanjing ok
check "caught up is logged" logged nanjing "own chain caught up origin=320100 seq=6"
check "nanjing holds its whole chain" seq_is nanjing 320100 6
check "no new genesis signed" bash -c "! grep -q '^.*genesis origin=320100' <(sed -n '/catching up own chain/,\$p' '$(dir_of nanjing)/hutongd.log')"
id=$(submit nanjing "nanjing lead after the loss") || id=
check "a new submit continues the chain" seq_is nanjing 320100 7
check "... and reaches nanchang" until_true $WAIT seq_is nanchang 320100 7
check "... and changsha" until_true $WAIT seq_is changsha 320100 7
for n in nanjing nanchang changsha; do
	check "no fork on $n" no_forks "$n"
	check "verify clean on $n" H "$n" verify
done

# ---- no neighbour answers ----
stop_daemon "$(dir_of nanchang)" && stop_daemon "$(dir_of changsha)"
stop_daemon "$(dir_of nanjing)"
: > "$(dir_of nanjing)/ledger.db"
rm -f "$(dir_of nanjing)/ledger.db-wal" "$(dir_of nanjing)/ledger.db-shm"
E2E_CATCHUP=1 start_daemon "$(dir_of nanjing)" || { not_ok "restart nanjing alone"; e2e_finish; exit 1; }
expect_fail "a submit is refused while catching up" \
	"catching up its own chain from its neighbours \\(0 of 2 answered\\); try again shortly" \
	"$HUTONG" -d "$(dir_of nanjing)" submit intel --author e2e --summary refused
check "no neighbour: it says how to start anyway" until_true 10 logged nanjing \
	"cannot confirm own chain: no neighbour answered; start with --new-origin"
check "status: unconfirmed" state_is nanjing unconfirmed
check "still nothing signed" bash -c "[ -z \"\$(\"$HUTONG\" -d '$(dir_of nanjing)' status --json | tr -d '\n ' | grep -o '\"320100\":{[^}]*}')\" ]"
start_daemon "$(dir_of nanchang)"
check "a neighbour back: the chain comes back" until_true $WAIT state_is nanjing ok
check "... whole" seq_is nanjing 320100 7
check "no fork on nanchang" no_forks nanchang
check "nanjing stops cleanly" stop_daemon "$(dir_of nanjing)"
e2e_finish
