#!/usr/bin/env bash
# test_hostile: a node under attack by one of its own, authorized neighbours.
#   Nanjing (the target) is linked to Nanchang (honest) and to "hostile", a
#   peer whose certificate is as good as anyone's: tests/e2e/hostile_peer.c
#   plays it from the core library. For each scenario Nanjing must stay up
#   (process alive, status answers), keep syncing with Nanchang both ways,
#   log a specific line and move the matching counter (status --json:
#   peers[].bad_frames/refused/duplicates/gaps/dropped/forks/inbound_lost,
#   links.unknown_frames/handshake_failed, refusals.*), and keep its peak
#   RSS (VmHWM) bounded.
#   Unauthenticated: plain TCP garbage, an HTTP request, a silent TCP
#   connection (curve_probe in test_links covers NULL and unknown CURVE
#   clients). Authorized: random, multipart, truncated and oversized frames,
#   records before Hello, a receiver's message from a sender, bad
#   signatures, forged records, a revoked origin, replays, out-of-order and
#   gap-making records, a fork, a record from the future and a lying
#   receipt (refused; kept as a dispute, verify clean), floods faster than verification (small
#   records, records near the size limit in 8 MB frames, 8 MB frames of
#   junk), a session that stalls and a process that freezes.
#   Then: a slow receiver gets every record in order within the window; a
#   peer that refused us (ZAP) and re-admits us is redialled without a
#   restart; a ring of ten converges.
source "$(dirname "$0")/lib.sh"
# A common default soft limit: the connections scenario needs more
# descriptors, which hutongd must take up to the hard limit itself.
ulimit -Sn 1024 2>/dev/null || true

HP="$HUTONG_BUILD/tests/hostile_peer"
BASE=$(e2e_port)
CA="$E2E_TMP/ca"
WAIT=20 # seconds allowed for anything that must happen
# Peak RSS bound for the target. Its ledger's SQLite page cache alone may
# take 128 MiB (LEDGER_CACHE_KIB); then LINK_RCVHWM frames of up to 8 MiB
# queued per connection and the batch being verified.
RSS_MAX_MB=300
if grep -q '^HUTONG_SANITIZE:BOOL=ON' "$HUTONG_BUILD/CMakeCache.txt" 2>/dev/null; then
	RSS_MAX_MB=1200 # ASan's shadow memory and quarantine (256 MiB)
fi

# ---- helpers (as in test_links.sh) ----

port_of() { cat "$E2E_TMP/$1/.port"; }
dir_of() { echo "$E2E_TMP/$1"; }
mknode() {
	local name=$1 region=$2 port=$((BASE + $3)) d="$E2E_TMP/$1"
	"$HUTONG" init --dir "$d" --name "$name" --region "$region" \
		--listen "tcp://127.0.0.1:$port" >/dev/null &&
	"$HUTONG" ca sign --dir "$CA" "$d/node.csr" --out "$d/node.crt" >/dev/null &&
	cp "$CA/ca.crt" "$d/ca.crt" && cp "$CA/crl.pem" "$d/ca.crl" &&
	echo "$port" > "$d/.port" && no_receipts "$d"
}
peer_add() { # peer_add NODE PEER: NODE lists PEER
	"$HUTONG" peer add --dir "$(dir_of "$1")" --cert "$(dir_of "$2")/node.crt" \
		--endpoint "tcp://127.0.0.1:$(port_of "$2")" >/dev/null
}
link() { peer_add "$1" "$2" && peer_add "$2" "$1"; }
status() { "$HUTONG" -d "$(dir_of "$1")" status --json 2>/dev/null; }
digest() { status "$1" | sed -n 's/^  "digest": "\([0-9a-f]*\)".*/\1/p'; }
submit() { "$HUTONG" -d "$(dir_of "$1")" submit intel --author e2e --summary "$2"; }
has() { "$HUTONG" -d "$(dir_of "$1")" show "$2" >/dev/null 2>&1; }
hup() { kill -HUP "$(cat "$(dir_of "$1")/.e2e.pid")"; }
logf() { echo "$(dir_of "$1")/hutongd.log"; }
quiet() { "$@" >/dev/null; }

# peer_field NODE PEER FIELD: a scalar from NODE's status peers[] entry.
peer_field() {
	status "$1" | tr -d '\n' | sed 's/},/}\n/g' | grep "\"name\": \"$2\"" |
		sed -n "s/.*\"$3\": \"\{0,1\}\([^\",}]*\).*/\1/p" | head -1
}
# obj_field NODE OBJECT KEY: a number from a top-level status object
# ("links", "refusals").
obj_field() {
	status "$1" | tr -d '\n ' | grep -o "\"$2\":{[^}]*}" |
		sed -n "s/.*\"$3\":\([0-9]*\).*/\1/p"
}
origin_seq() { # origin_seq NODE REGION
	status "$1" | tr -d '\n ' | grep -o "\"$2\":{[^}]*}" | sed -n 's/.*"seq":\([0-9]*\).*/\1/p'
}

# until_true DEADLINE_S COMMAND...: poll until the command succeeds.
until_true() {
	local deadline=$((SECONDS + $1)); shift
	while [ "$SECONDS" -lt "$deadline" ]; do "$@" && return 0; sleep 0.2; done
	"$@"
}
holds() { has "$1" "$2"; }
log_has() { grep -Eq -- "$2" "$(logf "$1")"; }
wait_log() { until_true "$WAIT" log_has "$@" || { echo "  $1 never logged '$2'"; return 1; }; }
# above GETTER...: the getter's number is above BEFORE; at_least N GETTER...
# and equals V GETTER...: likewise (for until_true, which re-runs them).
above() { local v; v=$("$@"); [ "${v:-0}" -gt "$BEFORE" ]; }
at_least() { local n=$1 v; shift; v=$("$@"); [ "${v:-0}" -ge "$n" ]; }
equals() { local want=$1; shift; [ "$("$@")" = "$want" ]; }

T=nanjing H=hostile
harness_args() {
	HARGS=(--dir "$(dir_of $H)" --endpoint "tcp://127.0.0.1:$(port_of $T)"
		--server-cert "$(dir_of $T)/node.crt")
}
harness() { "$HP" "${HARGS[@]}" "$@"; }
pid_of() { cat "$(dir_of "$1")/.e2e.pid"; }
hwm_mb() { awk '/^VmHWM:/ { print int($2 / 1024) }' "/proc/$(pid_of $T)/status"; }
alive() { kill -0 "$(pid_of $T)" 2>/dev/null && status $T | grep -q '"running": true'; }

# both_ways TAG: a record submitted at Nanchang reaches Nanjing and one
# submitted at Nanjing reaches Nanchang, within WAIT seconds.
both_ways() {
	local a b
	a=$(submit nanchang "from nanchang $1") && b=$(submit $T "from nanjing $1") || return 1
	until_true "$WAIT" holds $T "$a" && until_true "$WAIT" holds nanchang "$b"
}

# after NAME: what every scenario must leave: the target up, syncing with
# Nanchang, and its peak RSS so far (printed) within the bound.
after() {
	local mb
	check "$1: nanjing still up" alive
	check "$1: nanchang and nanjing still sync both ways" both_ways "$1"
	mb=$(hwm_mb)
	echo "  $1: nanjing peak RSS ${mb} MB ($((SECONDS - LAST)) s)"
	LAST=$SECONDS
	check "$1: peak RSS ${mb} MB under ${RSS_MAX_MB} MB" test "$mb" -lt "$RSS_MAX_MB"
}

# moved NAME GETTER...: the counter rises above BEFORE within 5 s.
moved() { local name=$1; shift; check "$name" until_true 5 above "$@"; }

# ---- set-up ----

t0=$SECONDS LAST=$SECONDS
"$HUTONG" ca init --dir "$CA" --name root >/dev/null
mknode nanjing 320100 0 && mknode nanchang 360100 1 && mknode hostile 440100 2 &&
	mknode forker 450100 3 && mknode revoked 510100 4 ||
	{ not_ok "set-up"; e2e_finish; exit 1; }
link nanjing nanchang && peer_add nanjing hostile || { not_ok "link"; e2e_finish; exit 1; }
start_daemon "$(dir_of nanjing)" && start_daemon "$(dir_of nanchang)" ||
	{ not_ok "start"; e2e_finish; exit 1; }
check "nanjing and nanchang sync" both_ways start
echo "  nanjing peak RSS at start: $(hwm_mb) MB"

# ---- unauthenticated: plain TCP ----

BEFORE=$(obj_field $T links handshake_failed)
admitted=$(obj_field $T links zap_admitted); closed=$(obj_field $T links closed_unlinked)
harness_args
out=$(harness plain-tcp); rc=$?
echo "  $out"
check "plain TCP garbage, HTTP and silence are all closed" test $rc -eq 0
check "... logged as failed handshakes" wait_log $T "link server: handshake failed"
moved "... and counted (links.handshake_failed)" obj_field $T links handshake_failed
check "all three closed before becoming links, logged" \
	wait_log $T "link server: connection closed before it became a link"
check "... and counted (links.closed_unlinked)" \
	until_true 5 at_least $((closed + 3)) obj_field $T links closed_unlinked
check "... before ZAP: nothing admitted" test "$(obj_field $T links zap_admitted)" = "$admitted"
after plain-tcp

# ---- authorized: more connections than descriptors ----
# 1,100 connections with the hostile peer's own key, at once: the target
# raised its fd limit, ZAP refuses those over max_connections_per_peer (4),
# each refusal is counted, one line is logged, and the control socket keeps
# answering (the original attack: EMFILE, then an abort at `hutong status`).

refused=$(obj_field $T links connections_refused)
out=$(harness connections); rc=$?
echo "  $out"
check "connections: the harness opened them all, some were refused" test $rc -eq 0
check "connections: nanjing answers status meanwhile and after" alive
check "connections: refusals counted (links.connections_refused)" \
	until_true 5 at_least $((${refused:-0} + 1000)) obj_field $T links connections_refused ||
	echo "  links: $(status $T | tr -d '\n ' | grep -o '"links":{[^}]*}')"
refusal_logged() {
	grep -Fq 'connection refused peer=hostile reason="too many connections from this peer (limit 4)"' "$(logf $T)"
}
check "connections: logged once per interval" until_true 5 refusal_logged ||
	grep 'connection refused' "$(logf $T)" | head -3
check "connections: the fd limit was raised and logged" wait_log $T "fd limit soft="
check "connections: not one line per refusal" \
	test "$(grep -c 'connection refused peer=hostile' "$(logf $T)")" -lt 5
after connections

# ---- authorized, bad frames (each mutes the peer for 5 s) ----

BEFORE=$(peer_field $T $H bad_frames); uf=$(obj_field $T links unknown_frames)
out=$(harness garbage); echo "  $out"
check "garbage: logged" wait_log $T "bad frame peer=hostile reason=\"frame: not a SyncMessage"
moved "garbage: peers[].bad_frames" peer_field $T $H bad_frames
check "garbage: multipart logged" wait_log $T "link frame dropped user=hostile reason=\"a multipart message\""
BEFORE=$uf; moved "garbage: links.unknown_frames" obj_field $T links unknown_frames
after garbage

BEFORE=$(obj_field $T refusals decode); bf=$(peer_field $T $H bad_frames)
out=$(harness truncated); echo "  $out"
check "truncated envelope: logged" wait_log $T "refused peer=hostile bytes=[0-9]+ reason=\"envelope: not a valid protobuf Envelope"
moved "truncated envelope: refusals.decode" obj_field $T refusals decode
check "truncated frame: logged" wait_log $T "bad frame peer=hostile reason=\"frame: not a SyncMessage \\($(sed -n 's/.*frame_bytes=\([0-9]*\).*/\1/p' <<<"$out") bytes"
BEFORE=$bf; moved "truncated frame: peers[].bad_frames" peer_field $T $H bad_frames
after truncated

BEFORE=$(peer_field $T $H inbound_lost); bf=$(peer_field $T $H bad_frames); dec=$(obj_field $T refusals decode)
out=$(harness oversized); rc=$?; echo "  $out"
check "oversized: the frame over 8 MiB cut the connection" test $rc -eq 0
check "oversized envelope: logged" wait_log $T "refused peer=hostile bytes=[0-9]+ reason=\"envelope: [0-9]+ bytes \\(limit"
check "oversized batch: logged" wait_log $T "bad frame peer=hostile reason=\"records: 257 envelopes, limit 256\""
check "oversized frame: logged" wait_log $T "link inbound connection lost peer=hostile"
moved "oversized frame: peers[].inbound_lost" peer_field $T $H inbound_lost
BEFORE=$bf; moved "oversized batch: peers[].bad_frames" peer_field $T $H bad_frames
BEFORE=$dec; moved "oversized envelope: refusals.decode" obj_field $T refusals decode
after oversized

BEFORE=$(peer_field $T $H bad_frames)
out=$(harness misplaced); echo "  $out"
check "misplaced: logged" wait_log $T "bad frame peer=hostile reason=\"ack: not expected from a sender\""
moved "misplaced: peers[].bad_frames" peer_field $T $H bad_frames
BEFORE=$(peer_field $T $H bad_frames)
out=$(harness before-hello); rc=$?; echo "  $out"
check "records before hello: not acknowledged" test $rc -eq 0
check "records before hello: logged" wait_log $T "bad frame peer=hostile reason=\"records: before hello\""
moved "records before hello: peers[].bad_frames" peer_field $T $H bad_frames
after misplaced

# ---- authorized, valid frames with bad records ----

BEFORE=$(obj_field $T refusals signature)
out=$(harness --count 200 bad-signature); rc=$?; echo "  $out"
check "bad signatures: the valid record after them is still taken" test $rc -eq 0
check "bad signatures: logged" wait_log $T "refused peer=hostile origin=440100 seq=[0-9]+ id=[0-9a-f]+ reason=\"signature: does not verify with origin 440100's key\""
check "bad signatures: refusals.signature moved by 200" \
	until_true 5 at_least $((BEFORE + 200)) obj_field $T refusals signature
after bad-signature

sig=$(obj_field $T refusals signature); BEFORE=$(obj_field $T refusals trust)
out=$(harness forged); echo "  $out"
victim=$(sed -n 's/.*victim=\([0-9]*\).*/\1/p' <<<"$out")
check "forged record of origin $victim: logged" \
	wait_log $T "refused peer=hostile origin=$victim seq=[0-9]+ .*does not verify with origin $victim's key"
check "forged genesis: logged" wait_log $T "refused peer=hostile origin=110000 seq=1 .*region mismatch"
moved "forged genesis: refusals.trust" obj_field $T refusals trust
check "forged: refusals.signature" test "$(obj_field $T refusals signature)" -gt "$sig"
check "forged: no origin 110000 at nanjing" test -z "$(origin_seq $T 110000)"
after forged

out=$(harness --origin "$(dir_of revoked)" --count 3 records); echo "  $out"
check "revoked origin: records made before the revocation are taken" until_true 5 equals 3 origin_seq $T 510100
"$HUTONG" ca revoke --dir "$CA" --cert "$(dir_of revoked)/node.crt" --reason keyCompromise >/dev/null
cp "$CA/crl.pem" "$(dir_of $T)/ca.crl"; hup $T
check "revoked origin: nanjing reloads the CRL" wait_log $T "reload: CRLs reloaded"
sleep 1.1 # CRL dates have one-second resolution
BEFORE=$(obj_field $T refusals trust)
out=$(harness --origin "$(dir_of revoked)" --count 2 records); echo "  $out"
check "revoked origin: records made after it are logged as refused" \
	wait_log $T "refused peer=hostile origin=510100 seq=4 .*revoked"
moved "revoked origin: refusals.trust" obj_field $T refusals trust
check "revoked origin: not stored" test "$(origin_seq $T 510100)" = 3
after revoked

BEFORE=$(peer_field $T $H duplicates)
out=$(harness --count 32 replay); rc=$?; echo "  $out"
check "replay: the records were stored once" test $rc -eq 0
check "replay: logged" wait_log $T "duplicates peer=hostile count=1024: records already held"
check "replay: peers[].duplicates moved by 1280" \
	until_true 5 at_least $((BEFORE + 1280)) peer_field $T $H duplicates
after replay

BEFORE=$(peer_field $T $H gaps); dr=$(peer_field $T $H dropped); ng=$(obj_field $T refusals gaps)
out=$(harness gap); rc=$?; echo "  $out"
check "gap: out of order and gap-making records all end up stored" test $rc -eq 0
check "gap: logged, with a Want" wait_log $T "gap peer=hostile origin=440100 seq=[0-9]+ reason=\"records ahead of this seq wait; asked for them"
moved "gap: peers[].gaps" peer_field $T $H gaps
check "gap: beyond the gap buffer logged" wait_log $T "gap buffer full peer=hostile origin=440100 dropped="
BEFORE=$dr; moved "gap: peers[].dropped" peer_field $T $H dropped
BEFORE=$ng; moved "gap: refusals.gaps" obj_field $T refusals gaps
after gap

BEFORE=$(obj_field $T refusals forks); fk=$(peer_field $T $H forks); hb=$(obj_field $T refusals held_back)
out=$(harness --origin "$(dir_of forker)" fork); echo "  $out"
fseq=$(sed -n 's/.*seq=\([0-9]*\).*/\1/p' <<<"$out")
check "fork: logged" wait_log $T "fork peer=hostile origin=450100 seq=$fseq"
moved "fork: refusals.forks" obj_field $T refusals forks
BEFORE=$fk; moved "fork: peers[].forks" peer_field $T $H forks
check "fork: the origin is flagged" bash -c "'$HUTONG' -d '$(dir_of $T)' status | grep -q '450100 .*FORKED'"
check "fork: a record beyond it is held back, logged" \
	wait_log $T "refused peer=hostile origin=450100 seq=$((fseq + 1)) .*origin 450100 is forked"
BEFORE=$hb; moved "fork: refusals.held_back" obj_field $T refusals held_back
check "fork: nanchang learns of the fork too" \
	until_true "$WAIT" bash -c "'$HUTONG' -d '$(dir_of nanchang)' status | grep -q '450100 .*FORKED'"
after fork

# ---- time and receipts are claims ----

# A record 300 days ahead: refused, logged with its reason, counted; then
# a receipt naming a head that contradicts the target's chain: stored, a
# dispute against its signer, shown by audit disputes; verify stays clean.
BEFORE=$(obj_field $T refusals clock_skew); dp=$(obj_field $T refusals disputes)
out=$(harness claims); rc=$?; echo "  $out"
check "claims: the lying receipt is stored" test $rc -eq 0
check "claims: the future record is refused with its reason" \
	wait_log $T "refused peer=hostile origin=440100 seq=[0-9]+ .*is 300d ahead of this node's clock \\(max_clock_skew 5m\\)"
moved "claims: refusals.clock_skew" obj_field $T refusals clock_skew
check "claims: the dispute is logged" \
	wait_log $T "dispute origin=[0-9]{6} signer=440100 seq=1 peer=hostile reason=\"receipt names eeeeeeee"
BEFORE=$dp; moved "claims: refusals.disputes" obj_field $T refusals disputes
check "claims: audit disputes shows it" \
	bash -c "'$HUTONG' -d '$(dir_of $T)' audit disputes --json | grep -q '\"signer\": \"440100\"'"
check "claims: verify on the target exits 0" quiet "$HUTONG" -d "$(dir_of $T)" verify
check "claims: verify prints the dispute as a dispute" \
	bash -c "'$HUTONG' -d '$(dir_of $T)' verify 2>&1 | grep -q '^DISPUTE against 440100'"
after claims

# ---- floods ----

# Small records as fast as the socket takes them, while the neighbours
# keep syncing.
out_file="$E2E_TMP/flood.out"
"$HP" "${HARGS[@]}" --count 20000 flood > "$out_file" 2>&1 & fpid=$!; E2E_PIDS+=("$fpid")
check "flood: nanchang and nanjing sync during the flood" both_ways during-flood
wait "$fpid"; rc=$?; echo "  $(cat "$out_file")"
check "flood: all 20000 stored" test $rc -eq 0
after flood

# Records near the size limit, 120 to an 8 MB frame: verifying and storing
# them is slower than sending; the sender's backlog must stay on its side.
out=$(harness --count 2000 --big --frame-bytes 8000000 flood); rc=$?; echo "  $out"
check "big flood: all stored" test $rc -eq 0
after big-flood

# 8 MB frames of junk envelopes: each refused and logged.
BEFORE=$(obj_field $T refusals decode)
out=$(harness --count 40 bigflood); rc=$?; echo "  $out"
check "junk flood: the target answers after it" test $rc -eq 0
check "junk flood: refusals.decode moved by 4800" \
	until_true 10 at_least $((BEFORE + 4800)) obj_field $T refusals decode
after junk-flood

# ---- stalls ----

BEFORE=$(peer_field $T $H inbound_lost)
"$HP" "${HARGS[@]}" stall > "$E2E_TMP/stall.out" 2>&1 & spid=$!; E2E_PIDS+=("$spid")
check "stall: the harness said Hello and froze" until_true 10 grep -qs "scenario=stall" "$E2E_TMP/stall.out"
check "stall: nanchang and nanjing sync while it is frozen" both_ways during-stall
check "stall: nanjing drops it after the heartbeat timeout, logged" \
	until_true "$WAIT" above peer_field $T $H inbound_lost
check "stall: ... with the line" wait_log $T "link inbound connection lost peer=hostile"
kill -KILL "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
after stall

# ---- a slow receiver loses nothing ----

# Nanjing's [peer hostile] points at the harness's port: the harness binds
# there as a receiver with a window of 64, acks 8 records every 250 ms for
# 3 s, then promptly; every record must come in chain order, none lost,
# never more than 64 unacknowledged.
d=$(digest $T); n=$(status $T | sed -n 's/^  "records": \([0-9]*\).*/\1/p')
"$HP" --dir "$(dir_of $H)" --listen "tcp://127.0.0.1:$(port_of $H)" --window 64 \
	--slow-ms 3000 --expect-digest "$d" --timeout 60 slow-receiver > "$E2E_TMP/slow.out" 2>&1 &
rpid=$!; E2E_PIDS+=("$rpid")
wait "$rpid"; rc=$?; out=$(cat "$E2E_TMP/slow.out"); echo "  $out"
check "slow receiver: every record ($n) in order, nothing lost, window kept" test $rc -eq 0
check "slow receiver: it was slow (at most 64 in flight while acking 8 per 250 ms)" \
	grep -Eq "slow_max_in_flight=([1-9]|[1-5][0-9]|6[0-4]) " <<<"$out"
after slow-receiver

# ---- a peer that refused us re-admits us: we redial by ourselves ----

ups=$(grep -c "link up peer=nanjing" "$(logf nanchang)")
"$HUTONG" peer remove --dir "$(dir_of $T)" nanchang >/dev/null; hup $T
check "redial: nanjing refuses nanchang (ZAP)" wait_log nanchang "link refused by the peer.* peer=nanjing "
sleep 2 # the refusal is not a one-off: nanchang keeps being refused
rm -f "$(dir_of $T)/peers/nanchang.crt"; peer_add $T nanchang; hup $T
redialled() { [ "$(grep -c "link up peer=nanjing" "$(logf nanchang)")" -gt "$ups" ]; }
check "redial: nanchang's link to nanjing comes back without a restart" until_true 30 redialled
check "redial: and syncs" both_ways redial
check "nanjing stops cleanly" stop_daemon "$(dir_of $T)"
check "nanchang stops cleanly" stop_daemon "$(dir_of nanchang)"
check "no sanitizer reports in their logs" \
	bash -c "! grep -El 'runtime error|AddressSanitizer|LeakSanitizer' '$(logf $T)' '$(logf nanchang)'"
echo "  attacks, slow receiver and redial: $((SECONDS - t0)) s"

# ---- a ring of ten ----

t1=$SECONDS
RING=(r0 r1 r2 r3 r4 r5 r6 r7 r8 r9)
REGIONS=(320100 360100 430100 450100 610100 210200 130300 450600 440100 330100)
for i in "${!RING[@]}"; do mknode "${RING[$i]}" "${REGIONS[$i]}" $((10 + i)) || not_ok "set-up ${RING[$i]}"; done
for i in "${!RING[@]}"; do link "${RING[$i]}" "${RING[$(((i + 1) % 10))]}" || not_ok "link ring $i"; done
for r in "${RING[@]}"; do start_daemon "$(dir_of "$r")" || not_ok "start $r"; done
id0=$(submit r0 "ring from r0"); id5=$(submit r5 "ring from r5")
all_hold() { local r; for r in "${RING[@]}"; do has "$r" "$id0" && has "$r" "$id5" || return 1; done; }
one_digest() { local r d0; d0=$(digest r0); for r in "${RING[@]}"; do [ "$(digest "$r")" = "$d0" ] || return 1; done; }
check "ring of ten: records from r0 and r5 reach every node" until_true 30 all_hold
check "ring of ten: one digest" until_true "$WAIT" one_digest
echo "  ring digest $(digest r0) in $((SECONDS - t1)) s"
for r in "${RING[@]}"; do stop_daemon "$(dir_of "$r")" || not_ok "$r stops cleanly"; done

echo "  total $((SECONDS - t0)) s"
e2e_finish
