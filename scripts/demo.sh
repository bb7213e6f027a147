#!/usr/bin/env bash
# A local federation demo on 127.0.0.1: install what is missing, build, then
# start the eight key cities of the 2019 notice with their provincial hubs
# (scripts/topologies/keycities.topo: 18 nodes, a CA per province under a
# national root), submit an alert at Nanning about an organization fleeing
# towards Fangchenggang, show it arriving at every node, print every node's
# ledger digest (all equal), and stop everything. All state lives in a
# temporary directory that is removed at the end, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/build.sh build
export HUTONG_BUILD=$PWD/build
H=$HUTONG_BUILD/hutong

work=$(mktemp -d /tmp/hutong-demo.XXXXXX)
cleanup() { bash scripts/federation.sh down "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "start the federation: 8 key cities, 10 provincial hubs, one CA per province"
base=$(( 27000 + (RANDOM % 2000) ))
bash scripts/federation.sh up scripts/topologies/keycities.topo "$work" "$base"
grep -E '^(node|link)' scripts/topologies/keycities.topo | sed 's/^/  /'

say "Nanning (450100) raises an alert: Golden Road Trading is fleeing towards Fangchenggang"
id=$("$H" -d "$work/nanning" submit org --author officer-017 --org-id GR-2026-001 \
	--name "金路商贸 Golden Road Trading" --alias "Golden Road" --leader "Chen Wei:organizer" \
	--members 120 --seen-region 450100 --seen-time "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	--destination 450600 --level high)
echo "record $id"

say "the alert arrives at every node (hop by hop, no central server)"
nodes=$(awk '$1 == "node" {print $2}' scripts/topologies/keycities.topo)
start=$(date +%s%N)
for n in $nodes; do
	for _ in $(seq 200); do
		"$H" -d "$work/$n" show "$id" >/dev/null 2>&1 && break
		sleep 0.05
	done
	if "$H" -d "$work/$n" show "$id" >/dev/null 2>&1; then
		src=$("$H" -d "$work/$n" show "$id" --json | sed -n 's/.*"source": "\(.*\)".*/\1/p')
		printf '  %-14s has it (from %s) after %d ms\n' "$n" "$src" $(( ($(date +%s%N) - start) / 1000000 ))
	else
		echo "  $n: NOT RECEIVED"; exit 1
	fi
done

say "Fangchenggang sees it among the alerts that concern its region"
"$H" -d "$work/fangchenggang" alerts | head -5

say "every node's ledger digest"
for _ in $(seq 100); do
	[ "$(bash scripts/federation.sh digests "$work" | awk '{print $2}' | sort -u | wc -l)" -eq 1 ] && break
	sleep 0.1
done
bash scripts/federation.sh digests "$work"
n=$(bash scripts/federation.sh digests "$work" | awk '{print $2}' | sort -u | wc -l)
[ "$n" -eq 1 ] && echo "all $(echo "$nodes" | wc -w) digests equal" || { echo "digests differ"; exit 1; }

say "Nanning's view of its links"
"$H" -d "$work/nanning" status

say "stop everything"
bash scripts/federation.sh down "$work"
echo "all daemons stopped"
