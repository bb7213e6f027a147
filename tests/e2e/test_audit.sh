#!/usr/bin/env bash
# test_audit: the audit commands and tamper evidence on one real node.
#   - receipts: hutongd writes them on its timer (receipt_interval = 1s
#     here), and no more once nothing but receipts changed;
#   - audit record/origin/author/peers/forks answer in text, --json and
#     --format csv; hostile arguments (quotes, SQL fragments, bad codes,
#     reversed ranges, overlong ids) get an answer or a clear error;
#   - tamper evidence: a stored envelope changed by hand in the SQLite
#     file, a record deleted, a record's arrival time rewritten, a row of
#     the receipt index deleted: `verify` exits 1 and names each;
#   - history: an arrival rewritten and the chain recomputed (one node has
#     no link events; the event chain is tested in unit/test_audit): verify
#     fails on the heads the node's receipts committed, and
#     `verify --against` a neighbour's copy names the disagreement.
source "$(dirname "$0")/lib.sh"

CA="$E2E_TMP/ca"
N="$E2E_TMP/nanjing"
H() { "$HUTONG" -d "$N" "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

make_ca "$CA"
new_node "$N" nanjing 320100 "$CA" || exit 1
sed -i 's/^receipt_interval *=.*/receipt_interval = 1s/' "$N/hutongd.conf"
check "config takes receipt_interval" \
	"$HUTONGD" --check-config -c "$N/hutongd.conf" >/dev/null
start_daemon "$N" || exit 1

ID1=$(H submit intel --author "o'brien" --summary "gathering near the station")
ID2=$(H submit intel --author 'x"; DROP TABLE record; --' --summary "second")
ID3=$(H submit intel --author officer-7 --summary "third")
ID4=$(H submit intel --author officer-7 --summary "fourth")

# ---- receipts ----
receipts() { H list --kind receipt --json | wc -l; }
for _ in $(seq 50); do
	H audit record "$ID4" --json | grep -q '"held": true' && break
	sleep 0.1
done
check "a receipt covers the last record" \
	sh -c "\"$HUTONG\" -d \"$N\" audit record $ID4 --json | grep -q '\"held\": true'"
sleep 2.5
R1=$(receipts)
sleep 2.5
R2=$(receipts)
check "no new receipt while nothing changed ($R1 then $R2)" test "$R1" -eq "$R2"
H submit intel --author officer-8 --summary "fifth" >/dev/null
sleep 2.5
check "a change brings one more receipt" test "$(receipts)" -eq $((R2 + 1))

# ---- audit record ----
OUT=$(H audit record "$ID1" --json)
check "record: origin" test "$(echo "$OUT" | json 'd["origin"]')" = 320100
check "record: node" test "$(echo "$OUT" | json 'd["node"]')" = nanjing
check "record: author with a quote" test "$(echo "$OUT" | json 'd["author"]')" = "o'brien"
check "record: created" test "$(echo "$OUT" | json 'd["created"][:2]')" = 20
check "record: arrival from local" test "$(echo "$OUT" | json 'd["arrival"]["source"]')" = local
check "record: held by 1 of 1" test "$(echo "$OUT" | json '(d["held_by"], d["nodes"])')" = "(1, 1)"
check "record: receipt time" test "$(echo "$OUT" | json 'd["receipts"][0]["receipt"][:2]')" = 20
check "record: text" sh -c "\"$HUTONG\" -d \"$N\" audit record $ID1 | grep -q 'held by   1 of 1 nodes'"
check "record: csv" test "$(H audit record "$ID1" --format csv | head -1 | tr -d '\r')" = '"node","name","held","receipt"'
expect_fail "record: not hex" "must be a record id or a unique prefix of it, 8 to 64 hex digits" H audit record "'; DROP TABLE record; --"
expect_fail "record: unknown id" "no record" H audit record "$(printf '%064d' 7)"
expect_fail "record: --json and csv" "exclude each other" H audit record "$ID1" --json --format csv
expect_fail "record: no id" "expected 1 argument" H audit record

# ---- audit origin ----
OUT=$(H audit origin 320100 --json)
check "origin: counts by kind" test "$(echo "$OUT" | json 'd["kinds"]["intel"]')" = 5
check "origin: by author" test "$(echo "$OUT" | json '[r["count"] for r in d["rows"] if r["author"]=="officer-7"][0]')" = 2
check "origin: csv header" test "$(H audit origin 320100 --format csv | head -1 | tr -d '\r')" = '"kind","author","count","first","last"'
check "origin: csv rows" test "$(H audit origin 320100 --format csv | grep -c '"intel"')" = 4
check "origin: huge range" test "$(H audit origin 320100 --since 0001-01-01 --until 9999-12-31 --json | json 'd["records"]')" -ge 7
check "origin: empty range" test "$(H audit origin 320100 --since 2001-01-01 --until 2001-01-02 --json | json 'd["records"]')" = 0
expect_fail "origin: reversed range" "must be before --until" H audit origin 320100 --since 2030-01-01 --until 2020-01-01
expect_fail "origin: SQL in the code" "origin: must be six digits" H audit origin "320100' OR '1'='1"
expect_fail "origin: unknown" "not in this ledger" H audit origin 999999
expect_fail "origin: bad time" "not an RFC 3339 time" H audit origin 320100 --since "'; DROP TABLE record; --"
expect_fail "origin: flag of another" "does not apply" H audit origin 320100 --origin 320100

# ---- audit author ----
check "author: quote" test "$(H audit author "o'brien" --json | json 'd["count"]')" = 1
check "author: SQL fragment is just a name" test "$(H audit author 'x"; DROP TABLE record; --' --json | json 'd["count"]')" = 1
check "author: injection finds nothing" test "$(H audit author "x' OR '1'='1" --json | json 'd["count"]')" = 0
check "author: wildcard finds nothing" test "$(H audit author "%" --json | json 'd["count"]')" = 0
check "author: csv" test "$(H audit author officer-7 --format csv | wc -l)" = 3
check "author: --origin" test "$(H audit author officer-7 --origin 320100 --json | json 'd["count"]')" = 2
expect_fail "author: overlong" "at most 128" H audit author "$(printf 'a%.0s' $(seq 300))"
expect_fail "author: empty" "author: required" H audit author ""

# ---- audit peers and forks (one node: empty, but well-formed) ----
check "peers: json" test "$(H audit peers --json | json 'len(d["peers"])')" = 0
check "peers: csv header" test "$(H audit peers --format csv | head -1 | tr -d '\r')" = '"peer","event","origin","reason","records","events","first","last"'
check "peers: since far future" test "$(H audit peers --since 9999-12-31 --json | json 'len(d["peers"])')" = 0
check "forks: none" sh -c "\"$HUTONG\" -d \"$N\" audit forks | grep -q 'no forks'"
check "forks: json" test "$(H audit forks --json | json 'd["count"]')" = 0
expect_fail "audit: unknown subcommand" "unknown subcommand" H audit everything
check "verify: clean" H verify >/dev/null
check "verify: --json ok" test "$(H verify --json | json 'd["ok"]')" = True

check "daemon stops" stop_daemon "$N"
check "audit works with the daemon down" H audit record "$ID1" >/dev/null

# ---- tamper evidence: one copy of the node per case ----
tampered() { # NAME SQL-or-python -> a copy of the node with it applied
	local d="$E2E_TMP/t-$1"
	cp -r "$N" "$d" && rm -f "$d/control.sock" && echo "$d"
}
# has_problem DIR PATTERN: verify --json lists a problem matching PATTERN
# (as "ORIGIN/SEQ ID PROBLEM").
has_problem() {
	"$HUTONG" -d "$1" verify --json 2>/dev/null |
		json "'\\n'.join(p['origin']+'/'+str(p['seq'])+' '+p['id']+' '+p['problem'] for p in d['problems'])" |
		grep -E -- "$2" >/dev/null
}
seq_of() { "$HUTONG" -d "$N" show "$1" --json | json 'd["seq"]'; }

# a byte of a stored envelope changed by hand
D=$(tampered envelope)
python3 - "$D/ledger.db" "$ID2" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
env, = db.execute("SELECT envelope FROM record WHERE id = ?", (bytes.fromhex(sys.argv[2]),)).fetchone()
env = bytearray(env); env[len(env) - 3] ^= 0x20   # in the body: the summary
db.execute("UPDATE record SET envelope = ? WHERE id = ?", (bytes(env), bytes.fromhex(sys.argv[2])))
db.commit()
EOF
expect_fail "verify: changed envelope fails" "BAD .*seq=$(seq_of "$ID2")" "$HUTONG" -d "$D" verify
check "verify: names the changed record" has_problem "$D" "$ID2"

# a record deleted
D=$(tampered delete)
sqlite3 "$D/ledger.db" "DELETE FROM record WHERE id = x'$ID3'"
expect_fail "verify: deleted record fails" "rows deleted|records missing" "$HUTONG" -d "$D" verify
S3=$(seq_of "$ID3")
check "verify: names the gap at the deleted seq" has_problem "$D" "seq $((S3 + 1)) follows seq $((S3 - 1))"

# a record's arrival time rewritten
D=$(tampered arrival)
sqlite3 "$D/ledger.db" "UPDATE record SET stored_ms = stored_ms - 3600000 WHERE id = x'$ID1'"
expect_fail "verify: rewritten arrival fails" "arrival record altered" "$HUTONG" -d "$D" verify
check "verify: names the rewritten record" has_problem "$D" "$ID1 arrival record altered"

# a row of the receipt index deleted
D=$(tampered receipt)
sqlite3 "$D/ledger.db" "DELETE FROM receipt WHERE rowid = (SELECT max(rowid) FROM receipt)"
expect_fail "verify: receipt index fails" "receipt index lacks the row" "$HUTONG" -d "$D" verify

# history: an arrival time and source rewritten and the arrival chain
# recomputed with the sqlite3 command line (what verify used to accept);
# the heads in the node's own signed receipts give it away
D=$(tampered history)
sqlite3 "$D/ledger.db" "UPDATE record SET stored_ms = stored_ms - 3600000, source = 'elsewhere' WHERE id = x'$ID1'"
python3 - "$D/ledger.db" <<'EOF2'
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
prev = bytes(32)
for n, id_, ms, src in db.execute("SELECT n, id, stored_ms, source FROM record ORDER BY n").fetchall():
    prev = hashlib.sha256(prev + n.to_bytes(8, "big") + id_ + ms.to_bytes(8, "big") + src.encode()).digest()
    db.execute("UPDATE record SET arrival = ? WHERE n = ?", (prev, n))
db.commit()
EOF2
expect_fail "verify: rechained arrival log fails" "says the arrival log at n=.*arrival log rewritten after the receipt was signed" "$HUTONG" -d "$D" verify
# --against: the honest node against its own backup agrees; the rechained
# copy against the honest one (standing in for a neighbour's copy) not
check "verify --against a clean copy" H verify --against "$E2E_TMP/t-envelope/ledger.db"
expect_fail "verify --against a divergent copy" "this node's arrival log at [0-9]+ is [0-9a-f]+, but the receipt held by $N says" "$HUTONG" -d "$D" verify --against "$N"
expect_fail "verify --against: no such peer" "against|ledger" H verify --against "$E2E_TMP/nowhere"

check "the original still verifies" H verify >/dev/null
e2e_finish
