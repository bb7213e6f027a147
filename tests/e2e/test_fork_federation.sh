#!/usr/bin/env bash
# test_fork_federation: a node that signs two different records with the
# same seq, in a federation of five honest real daemons linked over
# CurveZMQ:
#
#   dalian -- nanjing -- nanchang -- changsha -- nanning -- xian -- dalian'
#
# dalian' is a clone of dalian (its node directory copied: same key, same
# certificate), as a stolen or restored-twice node would be. dalian and
# its clone each sign a different seq 3 at the same moment; the versions
# meet somewhere in the line; the node that meets both signs a fork report
# that travels to everyone. Then on every honest node: both versions are
# stored (audit forks shows both signed envelopes), the origin is flagged
# (status), verify stays clean; dalian's later records are refused with the
# reason, shown per link by audit peers; `fork resolve` with the wrong
# record is refused, with the node's own chain record it is accepted, and
# dalian's later records flow again. Receipts run (every 2 s) throughout,
# and a record from before the fork shows every honest node's receipt.
source "$(dirname "$0")/lib.sh"

BASE=$(e2e_port)
CA="$E2E_TMP/ca"
WAIT=60
HONEST="nanjing nanchang changsha nanning xian"

dir_of() { echo "$E2E_TMP/$1"; }
port_of() { cat "$E2E_TMP/$1/.port"; }
H() { local n=$1; shift; "$HUTONG" -d "$(dir_of "$n")" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
quiet() { "$@" >/dev/null; }

mknode() {
	local name=$1 region=$2 port=$((BASE + $3)) d="$E2E_TMP/$1"
	"$HUTONG" init --dir "$d" --name "$name" --region "$region" \
		--listen "tcp://127.0.0.1:$port" >/dev/null &&
	certify "$d" "$CA" && echo "$port" > "$d/.port" &&
	sed -i 's/^receipt_interval *=.*/receipt_interval = 2s/' "$d/hutongd.conf"
}

# peer_to A B [ENDPOINT-OF]: A links to B (B's certificate, the endpoint of
# ENDPOINT-OF, default B).
peer_to() {
	"$HUTONG" peer add --dir "$(dir_of "$1")" --cert "$(dir_of "$2")/node.crt" \
		--endpoint "tcp://127.0.0.1:$(port_of "${3:-$2}")" >/dev/null
}
link() { peer_to "$1" "$2" && peer_to "$2" "$1"; }

# origin_field NODE REGION FIELD: from status --json origins.
origin_field() {
	H "$1" status --json 2>/dev/null |
		json "d['origins'].get('$2', {}).get('$3', '')" 2>/dev/null
}

# until_all SECONDS CMD...: CMD NODE succeeds for every honest node in time.
until_all() {
	local deadline=$((SECONDS + $1)) n ok; shift
	while [ "$SECONDS" -lt "$deadline" ]; do
		ok=1
		for n in $HONEST; do "$@" "$n" || { ok=0; break; }; done
		[ "$ok" = 1 ] && return 0
		sleep 0.3
	done
	for n in $HONEST; do "$@" "$n" || echo "  not yet on $n"; done
	return 1
}
until_one() {
	local deadline=$((SECONDS + $1)); shift
	while [ "$SECONDS" -lt "$deadline" ]; do "$@" && return 0; sleep 0.3; done
	return 1
}

dalian_seq_at_least() { [ "$(origin_field "$2" 210200 seq)" -ge "$1" ] 2>/dev/null; }
flagged() { [ "$(origin_field "$1" 210200 forked)" = True ]; }
has_both() {
	H "$1" audit forks --json | json "sorted([f['chain']['id'], f['evidence']['id']] for f in d['forks'] if f['origin']=='210200')" |
		grep -q "'$GENUINE'" &&
	H "$1" audit forks --json | json "sorted([f['chain']['id'], f['evidence']['id']] for f in d['forks'] if f['origin']=='210200')" |
		grep -q "'$CLONE'"
}
verifies() { H "$1" verify >/dev/null 2>&1; }

# ---- set-up: the line, dalian at the west end ----

make_ca "$CA"
i=0
for spec in nanjing:320100 nanchang:360100 changsha:430100 nanning:450100 \
	xian:610100 dalian:210200; do
	mknode "${spec%%:*}" "${spec##*:}" $i || { not_ok "set-up $spec"; e2e_finish; exit 1; }
	i=$((i + 1))
done
sed -i 's/^receipt_interval *=.*/receipt_interval = 1d/' "$(dir_of dalian)/hutongd.conf"
link nanjing nanchang && link nanchang changsha && link changsha nanning &&
	link nanning xian && link dalian nanjing || { not_ok "link"; e2e_finish; exit 1; }
for n in $HONEST dalian; do start_daemon "$(dir_of "$n")" || { not_ok "start $n"; e2e_finish; exit 1; }; done
ok "six daemons up"

BEFORE=$(H nanjing submit intel --author officer-1 --summary "before the fork")
H dalian submit intel --author officer-2 --summary "dalian before the fork" >/dev/null
check "dalian's seq 2 reaches every honest node" until_all $WAIT dalian_seq_at_least 2
covered_by_all() {
	[ "$(H "$1" audit record "$BEFORE" --json | json 'd["held_by"]')" -ge 5 ] 2>/dev/null
}
check "receipts: every honest node signed that it holds nanjing's record" \
	until_all $WAIT covered_by_all

# ---- the clone: dalian's directory copied, linked at the east end ----

check "dalian stops" stop_daemon "$(dir_of dalian)"
C="$(dir_of dalian2)"
cp -r "$(dir_of dalian)" "$C" && rm -f "$C/control.sock" "$C/hutongd.pid" "$C/.e2e.pid"
echo $((BASE + 9)) > "$C/.port"
sed -i "s|^listen *=.*|listen = tcp://127.0.0.1:$((BASE + 9))|" "$C/hutongd.conf"
"$HUTONG" peer remove --dir "$C" nanjing >/dev/null
check "the clone links to xian" peer_to dalian2 xian
check "xian takes 'dalian' at the clone's endpoint" peer_to xian dalian dalian2
kill -HUP "$(cat "$(dir_of xian)/.e2e.pid")"
start_daemon "$(dir_of dalian)" && start_daemon "$C" || { not_ok "start dalian and clone"; e2e_finish; exit 1; }
connected() { # NODE PEER
	H "$1" status --json | json "[p['connected'] for p in d['peers'] if p['name']=='$2'][0]" | grep -q True
}
check "dalian is linked" until_one $WAIT connected nanjing dalian
check "the clone is linked" until_one $WAIT connected xian dalian

# ---- the fork: two records with seq 3, signed at the same moment ----

H dalian submit intel --author officer-2 --summary "genuine seq 3" > "$E2E_TMP/genuine" &
p1=$!
H dalian2 submit intel --author officer-2 --summary "clone seq 3" > "$E2E_TMP/clone" &
p2=$!
wait "$p1" "$p2" # not the daemons
GENUINE=$(cat "$E2E_TMP/genuine") CLONE=$(cat "$E2E_TMP/clone")
check "two different records" test -n "$GENUINE" -a -n "$CLONE" -a "$GENUINE" != "$CLONE"
check "every honest node flags dalian" until_all $WAIT flagged
check "every honest node holds both versions (audit forks)" until_all $WAIT has_both
reported=0
for n in $HONEST; do
	grep -q "fork reported" "$(dir_of "$n")/hutongd.log" && reported=$((reported + 1))
done
check "a node that met both versions signed a fork report ($reported)" test "$reported" -ge 1
check "audit forks: both envelopes in --json" test "$(H xian audit forks --json |
	json "[len(f['chain']['envelope'])>0 and len(f['evidence']['signature'])==128 for f in d['forks']][0]")" = True
check "audit forks: text names the fork" quiet sh -c "'$HUTONG' -d '$(dir_of changsha)' audit forks | grep 'fork: origin 210200'"
check "audit forks: csv has both versions" test "$(H nanning audit forks --format csv | grep -c '^"210200"')" -ge 2
check "status shows FORKED" quiet sh -c "'$HUTONG' -d '$(dir_of nanchang)' status | grep FORKED"
check "verify stays clean on every honest node" until_all 10 verifies

# ---- later records are refused until an operator acts ----

check "the clone stops" stop_daemon "$C"
LATER=$(H dalian submit intel --author officer-2 --summary "after the fork")
refused_on_nanjing() {
	H nanjing audit peers --json |
		json "[x['reason'] for p in d['peers'] if p['peer']=='dalian' for x in p['details'] if x['event']=='refused']" |
		grep -q "origin 210200 is forked; an operator must resolve it"
}
check "nanjing refuses dalian's later record, with the reason" until_one $WAIT refused_on_nanjing
check "audit peers csv shows the refusal" quiet sh -c "'$HUTONG' -d '$(dir_of nanjing)' audit peers --format csv | grep '\"dalian\",\"refused\",\"210200\"'"
check "dalian stays at seq 3 on nanjing" test "$(origin_field nanjing 210200 seq)" = 3

# ---- the operator on nanjing resolves it ----

CHAIN=$(H nanjing audit forks --json | json "[f['chain']['id'] for f in d['forks'] if f['origin']=='210200'][0]")
OTHER=$(H nanjing audit forks --json | json "[f['evidence']['id'] for f in d['forks'] if f['origin']=='210200'][0]")
expect_fail "resolve refuses the evidence" "fork evidence, not this node's chain record" \
	H nanjing fork resolve 210200 --keep "$OTHER"
expect_fail "resolve refuses an unforked origin" "not flagged forked" \
	H nanjing fork resolve 360100 --keep "$CHAIN"
expect_fail "resolve: bad code" "six digits" H nanjing fork resolve "21'0200" --keep "$CHAIN"
check "resolve with nanjing's chain record" quiet H nanjing fork resolve 210200 --keep "$CHAIN" --json
check "nanjing no longer flags dalian" test "$(origin_field nanjing 210200 forked)" = False
check "the decision is in the event log" test "$(H nanjing audit peers --json |
	json "[p['resolved'] for p in d['peers'] if p['peer']=='operator'][0]")" = 1
if [ "$CHAIN" = "$GENUINE" ]; then
	taken() { [ "$(origin_field nanjing 210200 seq)" -ge 4 ] 2>/dev/null; }
	check "dalian's later record is taken after the decision" until_one $WAIT taken
	check "... it is the one dalian signed" quiet H nanjing show "$LATER"
else
	ok "nanjing kept the clone's branch: dalian's later record cannot link (skipped)"
fi
check "the other nodes still refuse until their operators act" flagged nanchang
check "verify on nanjing after the decision" verifies nanjing

for n in $HONEST dalian; do check "$n stops cleanly" stop_daemon "$(dir_of "$n")"; done
e2e_finish
