#!/usr/bin/env bash
# test_metrics: `hutong metrics` and metrics_file (issue 16, Metrics). Two
#   daemons sync; the text must parse with an independent parser (Debian's
#   python3-prometheus-client) and say what happened: records held equal
#   what was submitted, the peer is connected, bytes and records moved, the
#   histograms counted the commits; metrics_file appears, mode 0644, and is
#   rewritten. No record content reaches the text.
source "$(dirname "$0")/lib.sh"

# Debian's python3 (the package lives in its dist-packages), not a pyenv's.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import prometheus_client' 2>/dev/null ||
	{ not_ok "python3-prometheus-client is not installed (scripts/bootstrap.sh)"; e2e_finish; exit 1; }

BASE=$(e2e_port)
CA="$E2E_TMP/ca"
WAIT=30

dir_of() { echo "$E2E_TMP/$1"; }
mknode() {
	new_node "$(dir_of "$1")" "$1" "$2" "$CA" "tcp://127.0.0.1:$((BASE + $3))" &&
		echo "$((BASE + $3))" > "$(dir_of "$1")/.port"
}
peer_add() {
	"$HUTONG" peer add --dir "$(dir_of "$1")" --cert "$(dir_of "$2")/node.crt" \
		--endpoint "tcp://127.0.0.1:$(cat "$(dir_of "$2")/.port")" >/dev/null
}
H() { "$HUTONG" -d "$(dir_of "$1")" "${@:2}"; }
until_true() {
	local deadline=$((SECONDS + $1)); shift
	while [ "$SECONDS" -lt "$deadline" ]; do "$@" && return 0; sleep 0.2; done
	"$@"
}
# value NODE NAME LABELS: one sample's value, parsed by prometheus_client.
value() {
	H "$1" metrics 2>/dev/null | "$PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
want = dict(kv.split("=") for kv in sys.argv[2].split(",") if kv)
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        if s.name == sys.argv[1] and s.labels == want:
            print(int(s.value) if s.value == int(s.value) else s.value)
' "$2" "$3"
}
is() { [ "$(value "$1" "$2" "$3")" = "$4" ]; }
positive() { local v; v=$(value "$1" "$2" "$3"); [ -n "$v" ] && [ "${v%.*}" -gt 0 ]; }
parses() { # every family typed, counters end in _total, no duplicate sample
	"$PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
seen = set(); fams = 0
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    fams += 1
    assert fam.type in ("gauge", "counter", "histogram"), fam.name
    for s in fam.samples:
        key = (s.name, tuple(sorted(s.labels.items())))
        assert key not in seen, key
        seen.add(key)
        assert s.name.startswith("hutong_"), s.name
assert fams >= 20, fams
' "$1"
}

make_ca "$CA"
MF="$(dir_of nanjing)/metrics.prom"
set_metrics() { # before the [peer] sections: global keys
	local f="$(dir_of nanjing)/hutongd.conf"
	sed -i '/^#* *metrics_file *=/d; /^#* *metrics_interval *=/d' "$f" &&
		printf 'metrics_file = %s\nmetrics_interval = 1s\n' "$MF" >> "$f"
}
mknode nanjing 320100 0 && mknode hefei 340100 1 && set_metrics &&
	peer_add nanjing hefei && peer_add hefei nanjing ||
	{ not_ok "set-up"; e2e_finish; exit 1; }

for n in nanjing hefei; do start_daemon "$(dir_of "$n")" || { not_ok "start $n"; e2e_finish; exit 1; }; done
for i in 1 2 3; do H nanjing submit intel --author e2e --summary "secret-lead-$i" >/dev/null; done

H nanjing metrics > "$E2E_TMP/m1" 2>"$E2E_TMP/m1.err"
check "hutong metrics exits 0" [ -s "$E2E_TMP/m1" ]
check "the text parses with prometheus_client" parses "$E2E_TMP/m1"
check "no record content in the text" bash -c "! grep -q secret-lead '$E2E_TMP/m1'"
check "records held: 3 intel of nanjing" is nanjing hutong_records_held 'origin=320100,kind=intel' 3
check "... and its genesis" is nanjing hutong_records_held 'origin=320100,kind=genesis' 1
check "hefei holds them too" until_true $WAIT is hefei hutong_records_held 'origin=320100,kind=intel' 3
check "hefei stored them from nanjing" is hefei hutong_records_stored_total 'peer=nanjing' 4
check "peer hefei connected=1" until_true $WAIT is nanjing hutong_peer_connected 'peer=hefei' 1
check "hefei is behind 0" until_true $WAIT is nanjing hutong_peer_behind_records 'peer=hefei' 0
check "bytes went to hefei" positive nanjing hutong_peer_sent_bytes_total 'peer=hefei'
check "records went to hefei" positive nanjing hutong_peer_records_sent_total 'peer=hefei'
seen() { [ -n "$(value nanjing hutong_peer_last_seen_age_seconds peer=hefei)" ]; }
check "hefei last seen" until_true $WAIT seen
check "commit histogram counted the submits" positive nanjing hutong_commit_duration_seconds_count ''
check "verify histogram counted hefei's batches" until_true $WAIT positive hefei hutong_verify_batch_duration_seconds_count ''
check "no refusals by hefei" is nanjing hutong_records_refused_by_peer_total 'peer=hefei' 0
check "certificate expiry in the future" positive nanjing hutong_certificate_expiry_timestamp_seconds ''
check "a CRL next update" positive nanjing hutong_crl_next_update_timestamp_seconds 'issuer=National Root'

check "metrics_file appears" until_true $WAIT test -s "$MF"
check "metrics_file is mode 0644" [ "$(stat -c %a "$MF" 2>/dev/null)" = 644 ]
check "metrics_file parses" parses "$MF"
m0=$(stat -c %Y.%N "$MF" 2>/dev/null); sleep 2.2
check "metrics_file is rewritten" [ "$(stat -c %Y.%N "$MF" 2>/dev/null)" != "$m0" ]
check "no temp file left" bash -c "[ \$(ls '$(dir_of nanjing)' | grep -c metrics.prom) -eq 1 ]"
expect_fail "metrics with an argument is refused" "unexpected argument" H nanjing metrics extra
check "metrics --help" bash -c "'$HUTONG' metrics --help | grep -q Prometheus"
for n in nanjing hefei; do check "$n stops cleanly" stop_daemon "$(dir_of "$n")"; done
expect_fail "metrics without a daemon fails" "hutongd running" H nanjing metrics
e2e_finish
