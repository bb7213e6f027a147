#!/usr/bin/env bash
# One node end to end: init, daemon, submit (flags, JSON, bulk), list, show,
# status, verify, export, every kind of bad input, tampering, stop.
source "$(dirname "$0")/lib.sh"

N="$E2E_TMP/nanjing"
check "init" "$HUTONG" init --dir "$N" --name nanjing --region 320100
no_receipts "$N" # the record counts below are exact
check "key is 0600" test "$(stat -c %a "$N/node.key")" = 600
check "dir is 0700" test "$(stat -c %a "$N")" = 700
expect_fail "init refuses to overwrite a key" "refusing to overwrite" \
	"$HUTONG" init --dir "$N" --name nanjing --region 320100
expect_fail "init: region must be six digits" "must be six digits, got '32'" \
	"$HUTONG" init --dir "$E2E_TMP/x" --name x --region 32
check "check-config" "$HUTONGD" --check-config -c "$N/hutongd.conf"
expect_fail "daemon refuses to start without a CA bundle" "put your CA's certificates in" \
	"$HUTONGD" -c "$N/hutongd.conf"
make_ca "$E2E_TMP/ca"
cp "$E2E_TMP/ca/ca.crt" "$N/ca.crt"; cp "$E2E_TMP/ca/crl.pem" "$N/ca.crl"
expect_fail "daemon refuses to start without a certificate" "needs a certificate.*hutong ca sign" \
	"$HUTONGD" -c "$N/hutongd.conf"
make_ca "$E2E_TMP/other-ca" "Other Root"
"$HUTONG" ca sign --dir "$E2E_TMP/other-ca" "$N/node.csr" --out "$N/node.crt" >/dev/null
expect_fail "daemon refuses a certificate from another CA" "not valid for this node: .*unknown CA" \
	"$HUTONGD" -c "$N/hutongd.conf"
check "certify" certify "$N" "$E2E_TMP/ca"
start_daemon "$N" || { not_ok "daemon start"; e2e_finish; exit 1; }
ok "daemon start"
check "control socket is owner-only" test "$(stat -c %a "$N/control.sock")" = 600
expect_fail "second daemon refused" "another hutongd" "$HUTONGD" -c "$N/hutongd.conf"

id1=$("$HUTONG" -d "$N" submit intel --author officer7 --summary "聚集型传销 gathering in Jiangning" \
	--org "ABC Trading" --alias "ABC" --person "张三:organizer:320102199001011232:13800000000" \
	--place "320115:Jiangning district" --mode gathering --reliability b --accuracy 2 --handling h1)
check "submit intel prints an id" test "${#id1}" -eq 64
id2=$("$HUTONG" -d "$N" submit repatriation --author officer7 --case NJ-2026-001 --step request \
	--from 320100 --to 450100 --person "李四:participant" --time 2026-11-29T08:00:00+08:00)
check "submit repatriation" test "${#id2}" -eq 64
id3=$("$HUTONG" -d "$N" submit org --author officer8 --org-id ORG-9 --name "ABC Trading" \
	--seen-region 320100 --destination 450600 --level high)
check "submit org" test "${#id3}" -eq 64
id4=$("$HUTONG" -d "$N" submit correction --author officer7 --target "$id1" --retract --reason "duplicate lead")
check "submit correction" test "${#id4}" -eq 64

cat > "$E2E_TMP/one.json" <<'JSON'
{
  "author": "officer9",
  "scope": "SCOPE_PROVINCE",
  "body": {"intelligence": {"summary": "online scheme recruiting via chat groups", "mode": "MODE_ONLINE",
           "people": [{"name": "王五", "role": "ROLE_BACKBONE"}]}}
}
JSON
id5=$("$HUTONG" -d "$N" submit --json "$E2E_TMP/one.json")
check "submit --json (one object)" test "${#id5}" -eq 64
id6=$(echo '{"author":"o1","body":{"fleeingOrganization":{"orgId":"ORG-9","name":"ABC","lastSeenRegion":"450100","sighting":true}}}' \
	| "$HUTONG" -d "$N" submit --json -)
check "submit --json - (stdin)" test "${#id6}" -eq 64

before=$("$HUTONG" -d "$N" status --json | grep -o '"records": [0-9]*' | grep -o '[0-9]*')
# Every bad input: specific error, non-zero exit, nothing stored.
expect_fail "missing author" "author: required" "$HUTONG" -d "$N" submit intel --summary x
expect_fail "missing summary" "summary: required" "$HUTONG" -d "$N" submit intel --author a
expect_fail "region not six digits" "--to: must be six digits, got '4501'" \
	"$HUTONG" -d "$N" submit repatriation --author a --case c --step request --from 320100 --to 4501
expect_fail "unknown kind" "unknown kind 'lead'" "$HUTONG" -d "$N" submit lead --author a
expect_fail "unknown enum value" "--step: unknown value" \
	"$HUTONG" -d "$N" submit repatriation --author a --case c --step teleport --from 320100 --to 450100
expect_fail "invalid UTF-8" "--summary: not valid UTF-8" "$HUTONG" -d "$N" submit intel --author a --summary $'\xff\xfe bad'
expect_fail "oversized text" "longer than 8192 bytes" \
	"$HUTONG" -d "$N" submit intel --author a --summary "$(head -c 9000 /dev/zero | tr '\0' x)"
echo '{"author": "a", "body": {"intelligence": {"summary": "x"}' > "$E2E_TMP/bad.json"
expect_fail "malformed JSON" "line 1" "$HUTONG" -d "$N" submit --json "$E2E_TMP/bad.json"
echo '{"author": "a", "body": {"intelligence": {"summary": "x", "colour": "red"}}}' > "$E2E_TMP/unk.json"
expect_fail "unknown JSON field" "colour" "$HUTONG" -d "$N" submit --json "$E2E_TMP/unk.json"
expect_fail "correction of unknown record" "target: no such record" \
	"$HUTONG" -d "$N" submit correction --author a --target "$(printf '%064d' 0)" --retract --reason r
expect_fail "bad time" "not an RFC 3339 time" \
	"$HUTONG" -d "$N" submit repatriation --author a --case c --step request --from 320100 --to 450100 --time yesterday
after=$("$HUTONG" -d "$N" status --json | grep -o '"records": [0-9]*' | grep -o '[0-9]*')
check "nothing stored by bad input" test "$before" = "$after"

# Bulk import: 300 good lines, 2 bad ones.
{
	for i in $(seq 1 150); do echo "{\"author\":\"bulk\",\"body\":{\"intelligence\":{\"summary\":\"lead $i\"}}}"; done
	echo '{"author":"bulk","body":{"intelligence":{}}}'
	for i in $(seq 151 300); do echo "{\"author\":\"bulk\",\"body\":{\"intelligence\":{\"summary\":\"lead $i\"}}}"; done
	echo 'not json'
} > "$E2E_TMP/bulk.jsonl"
"$HUTONG" -d "$N" submit --json "$E2E_TMP/bulk.jsonl" > "$E2E_TMP/bulk.ids" 2> "$E2E_TMP/bulk.err"
check "bulk exits 1 when lines were refused" test $? -eq 1
check "bulk stored 300" test "$(wc -l < "$E2E_TMP/bulk.ids")" -eq 300
check "bulk names line 151" grep -q "line 151: body.intelligence.summary: required" "$E2E_TMP/bulk.err"
check "bulk names line 302" grep -q "line 302" "$E2E_TMP/bulk.err"
check "bulk reports counts" grep -q "stored 300, refused 2" "$E2E_TMP/bulk.err"

check "list shows the intel" sh -c "'$HUTONG' -d '$N' list | grep -q '$id1'"
check "list --kind repatriation" sh -c "test \$('$HUTONG' -d '$N' list --kind repatriation | wc -l) -eq 1"
check "list --json is one object per line" sh -c "'$HUTONG' -d '$N' list --json --kind org | grep -c '\"kind\":\"org\"' | grep -qx 2"
check "list --since future is empty" sh -c "test -z \"\$('$HUTONG' -d '$N' list --since 2099-01-01)\""
check "show --json" sh -c "'$HUTONG' -d '$N' show '$id2' --json | grep -q '\"caseId\": \"NJ-2026-001\"'"
"$HUTONG" -d "$N" show "$id2" --raw > "$E2E_TMP/raw.bin"
check "show --raw writes the envelope" test "$(sha256sum < "$E2E_TMP/raw.bin" | cut -c1-64)" != ""
expect_fail "show unknown id" "no record" "$HUTONG" -d "$N" show "$(printf '%064d' 1)"
expect_fail "show malformed id" "64 hex digits" "$HUTONG" -d "$N" show xyz
"$HUTONG" -d "$N" status --json > "$E2E_TMP/status.json"
for key in '"node": "nanjing"' '"region": "320100"' '"records": 307' '"digest": "' '"origins": {' '"320100": {' '"seq": 307' '"peers": \['; do
	check "status --json has $key" grep -q "$key" "$E2E_TMP/status.json"
done
check "verify clean" "$HUTONG" -d "$N" verify
check "export jsonl" sh -c "test \$('$HUTONG' -d '$N' export --format jsonl | wc -l) -eq 307"
check "export csv has header + rows" sh -c "test \$('$HUTONG' -d '$N' export --format csv | wc -l) -eq 308"
expect_fail "export needs --format" "format" "$HUTONG" -d "$N" export

check "daemon stops cleanly on SIGTERM" stop_daemon "$N"
check "control socket removed" test ! -e "$N/control.sock"
check "status works with the daemon stopped" sh -c "'$HUTONG' -d '$N' status --json | grep -q '\"running\": false'"
expect_fail "submit without daemon says so" "not running" "$HUTONG" -d "$N" submit intel --author a --summary x

# Tamper with a stored envelope: verify must fail and name the record.
python3 - "$N/ledger.db" "$id2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
env, = db.execute("select envelope from record where id = ?", (bytes.fromhex(sys.argv[2]),)).fetchone()
env = bytearray(env); env[-3] ^= 1
db.execute("update record set envelope = ? where id = ?", (bytes(env), bytes.fromhex(sys.argv[2])))
db.commit()
PY
expect_fail "verify catches a changed byte and names the record" "$id2" "$HUTONG" -d "$N" verify
e2e_finish
