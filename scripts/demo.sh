#!/usr/bin/env bash
# A small local demo: install what is missing, build, start a node, submit a
# few records, list them, verify the ledger, stop. Everything runs on this
# machine in a temporary directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/build.sh build
B=$PWD/build

work=$(mktemp -d /tmp/hutong-demo.XXXXXX)
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "create a national root CA and the Nanning node (450100)"
"$B/hutong" ca init --dir "$work/ca" --name "National Root CA"
"$B/hutong" init --dir "$work/nanning" --name nanning --region 450100
"$B/hutong" ca sign --dir "$work/ca" "$work/nanning/node.csr" --out "$work/nanning/node.crt"
cp "$work/ca/ca.crt" "$work/nanning/ca.crt"; cp "$work/ca/crl.pem" "$work/nanning/ca.crl"

say "start hutongd"
"$B/hutongd" -c "$work/nanning/hutongd.conf" 2>"$work/nanning/hutongd.log" &
pid=$!
for _ in $(seq 50); do
	"$B/hutong" -d "$work/nanning" status --json 2>/dev/null | grep -q '"running": true' && break
	sleep 0.1
done

say "submit records"
lead=$("$B/hutong" -d "$work/nanning" submit intel --author officer-017 \
	--summary "Gathering-based scheme recruiting in Qingxiu district; about 40 people" \
	--org "Golden Road Trading" --person "Chen:organizer" --place "450103:Qingxiu" \
	--mode gathering --reliability b --accuracy 2 --handling h1)
echo "intel        $lead"
case=$("$B/hutong" -d "$work/nanning" submit repatriation --author officer-017 \
	--case NN-2026-0042 --step request --from 450100 --to 430100 \
	--person "Liu:participant" --person "Zhao:participant" --time 2026-11-29T09:30:00+08:00)
echo "repatriation $case"
alert=$("$B/hutong" -d "$work/nanning" submit org --author officer-023 --org-id GR-001 \
	--name "Golden Road Trading" --seen-region 450100 --destination 450600 --level high)
echo "alert        $alert"

say "list"
"$B/hutong" -d "$work/nanning" list

say "show the alert"
"$B/hutong" -d "$work/nanning" show "$alert"

say "status"
"$B/hutong" -d "$work/nanning" status

say "verify the ledger"
"$B/hutong" -d "$work/nanning" verify

say "stop"
kill -TERM "$pid"; wait "$pid"; pid=""
echo "hutongd stopped cleanly"
