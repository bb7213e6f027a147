#!/usr/bin/env bash
# The views on one real node (Nanning, 450100): repatriation steps checked at
# submit (the refusal names the state and the allowed steps), case list/show
# and --overdue, organizations with trail and duplicate suggestions, linking,
# alerts for this region and its neighbours, the on_alert command (its argv
# written to a file: the record id, no shell), intel search with corrections,
# the view digests, and --help and --json of each command.
source "$(dirname "$0")/lib.sh"

N="$E2E_TMP/nanning"
make_ca "$E2E_TMP/ca"
new_node "$N" nanning 450100 "$E2E_TMP/ca" || { not_ok "new_node"; e2e_finish; exit 1; }
cat > "$E2E_TMP/on-alert" <<EOF
#!/bin/sh
# argv, one per line, then a marker: no shell ever parsed them
for a in "\$0" "\$@"; do printf '%s\n' "\$a"; done >> "$E2E_TMP/alerts.out"
echo --- >> "$E2E_TMP/alerts.out"
EOF
chmod +x "$E2E_TMP/on-alert"
sed -i "s|^on_alert *=.*|on_alert = $E2E_TMP/on-alert|" "$N/hutongd.conf"
start_daemon "$N" || { not_ok "daemon start"; e2e_finish; exit 1; }
ok "daemon start"
H=("$HUTONG" -d "$N")

# ---- repatriation cases ----
req=$("${H[@]}" submit repatriation --author o1 --case NN-1 --step request --from 450100 --to 430100 \
	--person "张三::450102199001011231" --person "李四" --time 2026-11-29T08:00:00+08:00)
check "request stored" test "${#req}" -eq 64
expect_fail "accept by the requester refused, naming state and allowed steps" \
	"case NN-1: accept must come from 430100 \(their home region\), not 450100; state requested; allowed steps: accept \(by 430100\), reject \(by 430100\), cancel \(by 450100\)" \
	"${H[@]}" submit repatriation --author o1 --case NN-1 --step accept --from 450100 --to 430100
expect_fail "depart before accept refused" "case NN-1: depart not allowed; state requested" \
	"${H[@]}" submit repatriation --author o1 --case NN-1 --step depart --from 450100 --to 430100
expect_fail "a second request refused" "case NN-1: already requested" \
	"${H[@]}" submit repatriation --author o1 --case NN-1 --step request --from 450100 --to 430100
expect_fail "other regions refused" "names 450100 to 440100, the case is 450100 to 430100" \
	"${H[@]}" submit repatriation --author o1 --case NN-1 --step cancel --from 450100 --to 440100
expect_fail "a request for people found elsewhere refused" \
	"case CS-1: request must come from 430100 \(where the people were found\), not 450100; state none" \
	"${H[@]}" submit repatriation --author o1 --case CS-1 --step request --from 430100 --to 450100
echo '{"author":"o1","body":{"repatriation":{"caseId":"NN-1","step":"STEP_RECEIVE","fromRegion":"450100","toRegion":"430100"}}}' \
	> "$E2E_TMP/bad-step.json"
expect_fail "the check covers submit --json too" "case NN-1: receive not allowed; state requested" \
	"${H[@]}" submit --json "$E2E_TMP/bad-step.json"
"${H[@]}" submit repatriation --author o1 --case NN-2 --step request --from 450100 --to 430100 --person "王五" >/dev/null
can=$("${H[@]}" submit repatriation --author o1 --case NN-2 --step cancel --from 450100 --to 430100)
check "cancel by the requester" test "${#can}" -eq 64
expect_fail "nothing after a final state" "allowed steps: none \(the case is closed\)" \
	"${H[@]}" submit repatriation --author o1 --case NN-2 --step request --from 450100 --to 430100

out=$("${H[@]}" case list)
check "case list shows both cases" grep -q "^NN-1 .*requested.*450100 -> 430100" <<<"$out"
check "case list: cancelled case" grep -q "^NN-2 .*cancelled" <<<"$out"
check "case list --state" test "$("${H[@]}" case list --state cancelled | wc -l)" -eq 1
check "case list --region (province covers the city)" test "$("${H[@]}" case list --region 430000 | wc -l)" -eq 2
check "case list --region elsewhere" test "$("${H[@]}" case list --region 110000 | wc -l)" -eq 0
sleep 1.1
check "case list --overdue 1s: the open case" test "$("${H[@]}" case list --overdue 1s | grep -c NN-1)" -eq 1
check "case list --overdue: final states never overdue" test "$("${H[@]}" case list --overdue 1s | grep -c NN-2)" -eq 0
check "case list --overdue 1h: none" test "$("${H[@]}" case list --overdue 1h | wc -l)" -eq 0
check "case list --json: one object per line" \
	test "$("${H[@]}" case list --json | grep -c '"case":"NN-[12]"')" -eq 2
expect_fail "case list --state unknown" "unknown state 'lost'" "${H[@]}" case list --state lost
expect_fail "case list --overdue bad" "not a duration" "${H[@]}" case list --overdue soon
show=$("${H[@]}" case show NN-1)
check "case show: state and next steps" grep -q "^next *accept (by 430100), reject (by 430100), cancel (by 450100)" <<<"$show"
check "case show: people" grep -q "张三 450102199001011231" <<<"$show"
check "case show: timeline with who" grep -q "request .*by 450100 nanning *o1 .*applied -> requested" <<<"$show"
check "case show: time in states" grep -q "requested .*(current)" <<<"$show"
js=$("${H[@]}" case show NN-1 --json)
check "case show --json: state" grep -q '"state": "requested"' <<<"$js"
check "case show --json: step id" grep -q "\"id\": \"$req\"" <<<"$js"
check "case show --json: states" grep -q '"current": true' <<<"$js"
expect_fail "case show unknown" "no case 'NN-404'" "${H[@]}" case show NN-404

# ---- organizations and alerts ----
a1=$("${H[@]}" submit org --author o2 --org-id ORG-A --name "鑫源互助会有限公司" --alias "XY Huzhu" \
	--leader "赵六:organizer" --seen-region 450100 --destination 430100 --level high)
check "alert for a neighbouring province stored" test "${#a1}" -eq 64
s1=$("${H[@]}" submit org --author o2 --org-id ORG-A --name "鑫源互助会" --seen-region 450600 \
	--seen-time 2026-11-29T12:00:00+08:00 --sighting)
"${H[@]}" submit org --author o3 --org-id ORG-B --name "鑫源 互助会" --seen-region 450100 --destination 650100 >/dev/null
"${H[@]}" submit org --author o3 --org-id ORG-C --name "北方商行" --alias "ＸＹ　Ｈｕｚｈｕ Co." \
	--seen-region 450100 --destination 450200 >/dev/null
far=$("${H[@]}" submit org --author o3 --org-id ORG-D --name "远方" --seen-region 450100 --destination 650100)
out=$("${H[@]}" org list)
check "org list" test "$(grep -c '^ORG-[ABCD] ' <<<"$out")" -eq 4
show=$("${H[@]}" org show ORG-A)
check "org show: trail in order" test "$(grep -cE '^  .*(alert|sighting) +in (450100|450600)' <<<"$show")" -eq 2
check "org show: leaders" grep -q "赵六" <<<"$show"
check "org show: destinations" grep -q "^dest *430100" <<<"$show"
check "org show: duplicate by normalized name" grep -q 'ORG-B  "鑫源 互助会" (name key 鑫源互助会)' <<<"$show"
check "org show: duplicate by full-width alias" grep -q 'ORG-C .*name key xyhuzhu' <<<"$show"
lk=$("${H[@]}" org link ORG-A ORG-B --author o2 --reason "same leader")
check "org link stores a record" test "${#lk}" -eq 64
show=$("${H[@]}" org show ORG-A --json | tr -d ' \n')
check "org show --json: linked" grep -q '"linked":\[{"org":"ORG-B","by":"'"$lk"'"}\]' <<<"$show"
check "org show --json: no longer a duplicate" \
	grep -q '"likely_duplicates":\[{"org":"ORG-C","name":"北方商行","key":"xyhuzhu"}\]' <<<"$show"
check "org show --json: trail with the sighting" grep -q "\"kind\":\"sighting\",\"id\":\"$s1\"" <<<"$show"
expect_fail "org show unknown" "no organization 'ORG-404'" "${H[@]}" org show ORG-404
out=$("${H[@]}" alerts)
check "alerts: a destination in a bordering province" grep -q "ORG-A .*dest 430100 (adjacent province)" <<<"$out"
check "alerts: same province" grep -q "ORG-C .*dest 450200 (same province)" <<<"$out"
check "alerts: a far destination is not listed" test "$(grep -c 'ORG-[BD]' <<<"$out")" -eq 0
check "alerts: newest first" test "$(grep -oE 'ORG-[AC]' <<<"$out" | head -1)" = "ORG-C"
check "alerts --json" test "$("${H[@]}" alerts --json | grep -c '"relation"')" -eq 2

# on_alert ran for the two alerts concerning 450100, with the id as argv[1]
for _ in $(seq 30); do [ "$(grep -c -- --- "$E2E_TMP/alerts.out" 2>/dev/null)" -ge 2 ] && break; sleep 0.1; done
check "on_alert ran twice" test "$(grep -c -- --- "$E2E_TMP/alerts.out")" -eq 2
check "on_alert got the alert's id as its argument" grep -qx "$a1" "$E2E_TMP/alerts.out"
check "on_alert: argv is exactly {command, id}" \
	test "$(head -3 "$E2E_TMP/alerts.out" | tail -1)" = "---"
check "on_alert not run for a far destination" test "$(grep -c "$far" "$E2E_TMP/alerts.out")" -eq 0
check "daemon logs the alert" grep -q "alert id=$a1 org=\"ORG-A\" .*relation=\"adjacent province\"" "$N/hutongd.log"
check "daemon logs the command's end" grep -q "on_alert done pid=.* id=$a1" "$N/hutongd.log"
# A name that tries to end its quoted value stays inside it, escaped.
q=$("${H[@]}" submit org --author o3 --org-id ORG-E --name 'L"; rm -rf / #' \
	--seen-region 450100 --destination 450200)
for _ in $(seq 30); do grep -q "alert id=$q" "$N/hutongd.log" && break; sleep 0.1; done
check "a quote in a logged value is escaped" \
	grep -qF "alert id=$q org=\"ORG-E\" name=\"L\\\"; rm -rf / #\" kind=alert" "$N/hutongd.log"

# ---- leads ----
l1=$("${H[@]}" submit intel --author o4 --summary "gathering in Qingxiu" --org "鑫源互助会" \
	--person "张三:organizer:450102199001011231:13800000000" --place 450103)
l2=$("${H[@]}" submit intel --author o4 --summary "recruiting online" --org "Ｆｕｌｌ Ｗｉｄｔｈ Ltd" --person "Li Si")
cat > "$E2E_TMP/repl.json" <<'JSON'
{"intelligence": {"summary": "gathering in Qingxiu, two organizers", "organization": "鑫源互助会",
 "people": [{"name": "张三", "role": "ROLE_ORGANIZER"}, {"name": "钱七", "role": "ROLE_ORGANIZER"}]}}
JSON
fx=$("${H[@]}" submit correction --author o4 --target "$l1" --reason "second organizer" --replacement "$E2E_TMP/repl.json")
"${H[@]}" submit correction --author o4 --target "$l2" --retract --reason "wrong group" >/dev/null
check "intel search by person (after normalization)" \
	test "$("${H[@]}" intel list --person "张 三" | grep -c "$l1")" -eq 1
check "intel search finds what an amendment added" \
	test "$("${H[@]}" intel list --person "钱七" | grep -c "$l1")" -eq 1
check "intel search by idno" test "$("${H[@]}" intel list --idno 450102199001011231 | wc -l)" -eq 1
check "intel search by phone" test "$("${H[@]}" intel list --phone 13800000000 | wc -l)" -eq 1
check "intel search by region" test "$("${H[@]}" intel list --region 450103 | wc -l)" -eq 1
check "intel search by org (full-width, suffix)" \
	grep -q "RETRACTED" <<<"$("${H[@]}" intel list --org "full width")"
check "intel search: terms intersect" test "$("${H[@]}" intel list --person 张三 --phone 000 | wc -l)" -eq 0
out=$("${H[@]}" intel list)
check "intel list: the current version" grep -q "$l1 .*amended .*two organizers" <<<"$out"
check "intel list: a retracted lead is listed, marked" grep -q "$l2 .*RETRACTED" <<<"$out"
show=$("${H[@]}" intel show "$fx")
check "intel show by a correction's id shows the lead" grep -q "^lead *$l1" <<<"$show"
check "intel show: its corrections" grep -q "amendment .*second organizer" <<<"$show"
check "intel show --json" grep -q '"retracted": true' <<<"$("${H[@]}" intel show "$l2" --json)"
expect_fail "intel show: not a lead" "no such lead" "${H[@]}" intel show "$req"
expect_fail "intel list --region bad" "must be six digits" "${H[@]}" intel list --region 45

# ---- digests, help ----
d1=$("${H[@]}" views --json)
check "views --json" grep -q '"cases":{"count":2,"digest":"[0-9a-f]\{64\}"}' <<<"$d1"
check "views stable" test "$d1" = "$("${H[@]}" views --json)"
check "views text" grep -q "^leads  *[0-9]" <<<"$("${H[@]}" views)"
for c in "case list" "case show" "org list" "org show" "org link" "alerts" "intel list" "intel show" "views"; do
	# shellcheck disable=SC2086
	check "$c --help" bash -c "'$HUTONG' $c --help | grep -q usage"
done
check "case --help lists the subcommands" bash -c "'$HUTONG' case --help | grep -q 'case show CASE'"
expect_fail "unknown subcommand" "unknown subcommand 'frob'" "${H[@]}" case frob

# the views read the ledger without the daemon, with the same digests
check "stop" stop_daemon "$N"
check "views without the daemon" test "$d1" = "$("${H[@]}" views --json)"
check "case show without the daemon" bash -c "'$HUTONG' -d '$N' case show NN-1 | grep -q requested"
e2e_finish
