#!/usr/bin/env bash
# test_links: CurveZMQ links between real daemons on 127.0.0.1.
#   - hutong peer add/remove/list, and what add refuses;
#   - two nodes exchange records (one digest);
#   - SIGHUP adds and removes a peer without dropping the other link;
#   - a line of five: a record crosses four hops; a node that was down
#     catches up; a partition (middle node stopped) heals to one digest;
#   - ZAP: an unknown CURVE key, an unconfigured node's real key and a plain
#     NULL client get nothing, with a "zap refused" log line; a peer whose
#     certificate is from another CA is refused; a revoked peer's links are
#     closed on SIGHUP and its reconnections refused;
#   - without a ZAP handler a CURVE server under ZAP_ENFORCE_DOMAIN admits no
#     one (curve_probe noauth).
# Convergence (one digest, and every record submitted in the group held by
# every node) is awaited by polling with a deadline. Record counts are not
# compared: nodes also originate receipts of their own.
source "$(dirname "$0")/lib.sh"

PROBE="$HUTONG_BUILD/tests/curve_probe"
BASE=$(e2e_port)
CA="$E2E_TMP/ca"
WAIT=40 # seconds allowed for convergence

# ---- helpers ----

port_of() { cat "$E2E_TMP/$1/.port"; }
dir_of() { echo "$E2E_TMP/$1"; }

# mknode NAME REGION N [CADIR]: node directory with a certificate from CADIR
# (default the root CA), the CA bundle and CRL in place, listening on BASE+N.
mknode() {
	local name=$1 region=$2 port=$((BASE + $3)) ca=${4:-$CA} d="$E2E_TMP/$1"
	"$HUTONG" init --dir "$d" --name "$name" --region "$region" \
		--listen "tcp://127.0.0.1:$port" >/dev/null &&
	"$HUTONG" ca sign --dir "$ca" "$d/node.csr" --out "$d/node.crt" >/dev/null &&
	cp "$ca/ca.crt" "$d/ca.crt" && cp "$ca/crl.pem" "$d/ca.crl" &&
	echo "$port" > "$d/.port" && no_receipts "$d"
}

# link A B: each adds the other as a peer.
link() {
	"$HUTONG" peer add --dir "$(dir_of "$1")" --cert "$(dir_of "$2")/node.crt" \
		--endpoint "tcp://127.0.0.1:$(port_of "$2")" >/dev/null &&
	"$HUTONG" peer add --dir "$(dir_of "$2")" --cert "$(dir_of "$1")/node.crt" \
		--endpoint "tcp://127.0.0.1:$(port_of "$1")" >/dev/null
}

status() { "$HUTONG" -d "$(dir_of "$1")" status --json 2>/dev/null; }
digest() { status "$1" | sed -n 's/^  "digest": "\([0-9a-f]*\)".*/\1/p'; }
records() { status "$1" | sed -n 's/^  "records": \([0-9]*\).*/\1/p'; }
submit() { "$HUTONG" -d "$(dir_of "$1")" submit intel --author e2e --summary "$2"; }
has() { "$HUTONG" -d "$(dir_of "$1")" show "$2" >/dev/null 2>&1; }

# add NODE TEXT GROUP...: submit at NODE; every node of each GROUP must
# come to hold the record.
add() {
	local node=$1 text=$2 id g; shift 2
	id=$(submit "$node" "$text") || { echo "  submit at $node failed"; return 1; }
	for g in "$@"; do echo "$id" >> "$E2E_TMP/ids.$g"; done
}
hup() { kill -HUP "$(cat "$(dir_of "$1")/.e2e.pid")"; }
logf() { echo "$(dir_of "$1")/hutongd.log"; }
link_key() { "$HUTONG" ca show "$(dir_of "$1")/node.crt" | sed -n 's/^link key  *//p'; }

# holds_all NODE GROUP: NODE has every record of GROUP.
holds_all() {
	local id
	while read -r id; do has "$1" "$id" || return 1; done < "$E2E_TMP/ids.$2"
}

# converge GROUP NODE...: all nodes show one digest and hold every record of
# GROUP, within WAIT seconds. Prints the state on failure.
converge() {
	local group=$1; shift
	local deadline=$((SECONDS + WAIT)) first n ok
	touch "$E2E_TMP/ids.$group"
	while [ "$SECONDS" -lt "$deadline" ]; do
		first=$(digest "$1") ok=1
		for n in "$@"; do
			[ "$(digest "$n")" = "$first" ] || { ok=0; break; }
		done
		if [ "$ok" = 1 ]; then
			for n in "$@"; do holds_all "$n" "$group" || { ok=0; break; }; done
			[ "$ok" = 1 ] && return 0
		fi
		sleep 0.2
	done
	for n in "$@"; do echo "  $n: $(records "$n") records, digest $(digest "$n")"; done
	return 1
}

# wait_log NODE PATTERN: the node's log matches PATTERN within WAIT seconds.
wait_log() {
	local deadline=$((SECONDS + WAIT))
	while [ "$SECONDS" -lt "$deadline" ]; do
		grep -Eq -- "$2" "$(logf "$1")" && return 0
		sleep 0.2
	done
	echo "  $1 never logged '$2'"; return 1
}

# peer_field NODE PEER FIELD: a scalar from NODE's status peers[] entry.
peer_field() {
	status "$1" | tr -d '\n' | sed 's/},/}\n/g' | grep "\"name\": \"$2\"" |
		sed -n "s/.*\"$3\": \"\{0,1\}\([^\",}]*\).*/\1/p" | head -1
}

quiet() { "$@" >/dev/null; }
start_all() { local n; for n in "$@"; do start_daemon "$(dir_of "$n")" || return 1; done; }

# ---- set-up ----

"$HUTONG" ca init --dir "$CA" --name root >/dev/null
"$HUTONG" ca init --dir "$E2E_TMP/ca2" --name other-root >/dev/null
mknode nanjing 320100 0 && mknode nanchang 360100 1 && mknode changsha 430100 2 ||
	{ not_ok "set-up"; e2e_finish; exit 1; }
mknode stranger 610100 3 && mknode foreign 210200 4 "$E2E_TMP/ca2" ||
	{ not_ok "set-up"; e2e_finish; exit 1; }

# ---- the peer command ----

check "peer --help" quiet "$HUTONG" peer --help
check "peer add --help" quiet "$HUTONG" peer add --help
check "link nanjing <-> nanchang with peer add" link nanjing nanchang
check "peer cert copied to peers/NAME.crt" test -s "$(dir_of nanjing)/peers/nanchang.crt"
check "config has the section" grep -q '^\[peer nanchang\]' "$(dir_of nanjing)/hutongd.conf"
check "peer list shows it verified" \
	bash -c "'$HUTONG' -d '$(dir_of nanjing)' peer list --json | grep -q '\"certificate\": \"ok\"'"
expect_fail "peer add refuses a certificate from another CA" "certificate refused" \
	"$HUTONG" peer add --dir "$(dir_of nanjing)" --cert "$(dir_of foreign)/node.crt" \
	--endpoint "tcp://127.0.0.1:$(port_of foreign)"
check "nothing written for the refused peer" test ! -e "$(dir_of nanjing)/peers/foreign.crt"
expect_fail "peer add refuses the node's own certificate" "own certificate" \
	"$HUTONG" peer add --dir "$(dir_of nanjing)" --cert "$(dir_of nanjing)/node.crt" \
	--endpoint tcp://127.0.0.1:1
expect_fail "peer add refuses a duplicate" "already" \
	"$HUTONG" peer add --dir "$(dir_of nanjing)" --cert "$(dir_of nanchang)/node.crt" \
	--endpoint "tcp://127.0.0.1:$(port_of nanchang)" --name nc2
expect_fail "peer add refuses a bad endpoint" "endpoint" \
	"$HUTONG" peer add --dir "$(dir_of nanjing)" --cert "$(dir_of changsha)/node.crt" \
	--endpoint "udp://x"
expect_fail "peer remove of an unknown peer" "no peer 'nobody'" \
	"$HUTONG" peer remove --dir "$(dir_of nanjing)" nobody
expect_fail "peer add without --endpoint is a usage error" "required" \
	"$HUTONG" peer add --dir "$(dir_of nanjing)" --cert "$(dir_of changsha)/node.crt"

# ---- two nodes ----

start_all nanjing nanchang || { not_ok "start pair"; e2e_finish; exit 1; }
ok "start pair"
for i in 1 2 3; do add nanjing "nanjing lead $i" pair; done
for i in 1 2; do add nanchang "nanchang lead $i" pair; done
check "pair converges" converge pair nanjing nanchang
check "status: peer connected" test "$(peer_field nanjing nanchang connected)" = true
check "status: peer region" test "$(peer_field nanjing nanchang region)" = 360100
check "status: last_seen is RFC 3339" bash -c "[[ '$(peer_field nanjing nanchang last_seen)' == 20*Z ]]"
check "status: records sent" test "$(peer_field nanjing nanchang sent)" -ge 3
check "status: records received" test "$(peer_field nanjing nanchang received)" -ge 2
check "status: nothing behind" test "$(peer_field nanjing nanchang behind)" = 0
check "ZAP admitted the peer by name" grep -q "zap admitted peer=nanchang" "$(logf nanjing)"

# ---- SIGHUP: add a peer, then remove it; the other link stays ----

ups=$(grep -c "link up peer=nanchang" "$(logf nanjing)")
check "link changsha to nanjing (running)" link nanjing changsha
hup nanjing
start_all changsha || not_ok "start changsha"
add changsha "changsha lead" pair
check "SIGHUP-added peer converges" converge pair nanjing nanchang changsha
check "reload logged the added peer" grep -q "reload: peer added peer=changsha" "$(logf nanjing)"
"$HUTONG" peer remove --dir "$(dir_of nanjing)" changsha >/dev/null
hup nanjing
check "reload closed the removed peer" wait_log nanjing "reload: peer removed, links closed peer=changsha"
add nanjing "after removal" pair
check "the other link still works" converge pair nanjing nanchang
check "the other link was not dropped" \
	test "$(grep -c "link up peer=nanchang" "$(logf nanjing)")" = "$ups"
check "changsha stops cleanly" stop_daemon "$(dir_of changsha)"

# ---- ZAP refusals ----

server_key=$(link_key nanjing)
ep="tcp://127.0.0.1:$(port_of nanjing)"
out=$("$PROBE" curve "$ep" "$server_key")
check "a random CURVE key gets nothing ($out)" test $? -eq 0
fp=$(echo "$out" | sed -n 's/^key=\([0-9a-f]*\) .*/\1/p')
check "... and is logged as refused" \
	wait_log nanjing "zap refused key=$fp address=127\.0\.0\.1 reason=\"unknown key"
fp=$(link_key stranger | cut -c1-16)
check "an unconfigured node's real key gets nothing" \
	quiet "$PROBE" curve "$ep" "$server_key" "$(dir_of stranger)/link.key"
check "... logged with its fingerprint" wait_log nanjing "zap refused key=$fp "
check "a plain ZMTP NULL client gets nothing" quiet "$PROBE" null "$ep"
check "refusals are counted" \
	bash -c "'$HUTONG' -d '$(dir_of nanjing)' status --json | grep -Eq '\"zap_refused\": [1-9]'"
check "without a ZAP handler nobody is admitted" quiet "$PROBE" noauth

# A peer with a certificate from another CA, configured by hand (peer add
# refuses it); it connects with its real link key.
printf '\n[peer foreign]\nendpoint = tcp://127.0.0.1:%s\ncert = %s\n' \
	"$(port_of foreign)" "$(dir_of foreign)/node.crt" >> "$(dir_of nanjing)/hutongd.conf"
hup nanjing
check "another CA's peer is not linked" wait_log nanjing "peer not linked peer=foreign"
check "another CA's peer gets nothing" \
	quiet "$PROBE" curve "$ep" "$server_key" "$(dir_of foreign)/link.key"
fp=$(link_key foreign | cut -c1-16)
check "... refused by ZAP with the reason" wait_log nanjing "zap refused key=$fp .*peer 'foreign': "
check "nothing from it was stored (no origin 210200)" \
	bash -c "! '$HUTONG' -d '$(dir_of nanjing)' status --json | grep -q '^    \"210200\": {'"

# ---- revocation ----

"$HUTONG" ca revoke --dir "$CA" --cert "$(dir_of nanchang)/node.crt" --reason keyCompromise >/dev/null
cp "$CA/crl.pem" "$(dir_of nanjing)/ca.crl"
hup nanjing
check "revoked peer's links are closed" wait_log nanjing "peer certificate refused, links closed peer=nanchang reason=\".*revoked"
check "its reconnection is refused" wait_log nanjing "zap refused key=$(link_key nanchang | cut -c1-16) .*revoked"
id=$(submit nanchang "from a revoked node")
sleep 3 # a bounded wait for something that must not happen
check "nothing more arrives from the revoked peer" bash -c "! '$HUTONG' -d '$(dir_of nanjing)' show $id >/dev/null 2>&1"
check "status shows it disconnected" test "$(peer_field nanjing nanchang connected)" = false
check "nanjing stops cleanly" stop_daemon "$(dir_of nanjing)"
check "nanchang stops cleanly" stop_daemon "$(dir_of nanchang)"

# ---- a line of five ----

L="xian dalian qinhuangdao nanning fangchenggang"
mknode xian 610100 5 && mknode dalian 210200 6 && mknode qinhuangdao 130300 7 &&
	mknode nanning 450100 8 && mknode fangchenggang 450600 9 ||
	{ not_ok "set-up line"; e2e_finish; exit 1; }
link xian dalian && link dalian qinhuangdao && link qinhuangdao nanning &&
	link nanning fangchenggang || not_ok "link the line"
start_all $L || { not_ok "start line"; e2e_finish; exit 1; }
add xian "crosses four hops" line
check "a record crosses four hops" converge line $L
check "it is there at the far end" holds_all fangchenggang line

check "fangchenggang stops cleanly" stop_daemon "$(dir_of fangchenggang)"
for i in 1 2 3 4 5; do add xian "while fangchenggang is down $i" line; done
check "the rest converge while one is down" converge line xian dalian qinhuangdao nanning
start_all fangchenggang || not_ok "restart fangchenggang"
check "the node that was down catches up" converge line $L

check "qinhuangdao stops cleanly" stop_daemon "$(dir_of qinhuangdao)"
for i in 1 2 3; do add xian "west $i" west line; done
for i in 1 2; do add fangchenggang "east $i" east line; done
check "west side converges" converge west xian dalian
check "east side converges" converge east nanning fangchenggang
check "the sides differ during the partition" test "$(digest xian)" != "$(digest nanning)"
check "east's records are not in the west" bash -c "! '$HUTONG' -d '$(dir_of xian)' show $(tail -1 "$E2E_TMP/ids.east") >/dev/null 2>&1"
start_all qinhuangdao || not_ok "restart qinhuangdao"
check "the partition heals to one digest" converge line $L
for n in $L; do check "$n stops cleanly" stop_daemon "$(dir_of "$n")"; done

e2e_finish
