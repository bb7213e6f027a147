#!/usr/bin/env bash
# A local federation on 127.0.0.1 from a topology file.
#
#   scripts/federation.sh up TOPOLOGY DIR [BASEPORT]   create CA, nodes, certificates, peers; start
#   scripts/federation.sh down DIR                      stop every daemon started in DIR
#   scripts/federation.sh digests DIR                   print each node's ledger digest
#
# Topology files (scripts/topologies/*.topo): '#' comments, and lines
#   node NAME REGION     a node (NAME as in 'hutong init', REGION six digits)
#   link NAME NAME       neighbours: each gets a [peer] section for the other
# Node n (in file order) listens on tcp://127.0.0.1:BASEPORT+n. The CA is a
# national root with one provincial CA per province present (the node's
# certificate comes from its province's CA). Logs: DIR/NAME/hutongd.log.
set -euo pipefail
B=${HUTONG_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
H="$B/hutong"; HD="$B/hutongd"

die() { echo "federation: $*" >&2; exit 1; }

# Read the topology into NODES (name region port) and LINKS (a b).
parse() {
	local file=$1 base=$2 n=0 kw a b
	NODES=(); LINKS=()
	while read -r kw a b _; do
		case "$kw" in
		""|\#*) ;;
		node) [[ "$b" =~ ^[0-9]{6}$ ]] || die "$file: node $a: region must be six digits, got '$b'"
		      n=$((n + 1)); NODES+=("$a $b $((base + n))") ;;
		link) LINKS+=("$a $b") ;;
		*) die "$file: unknown keyword '$kw' (node, link)" ;;
		esac
	done < "$file"
	[ ${#NODES[@]} -gt 0 ] || die "$file: no nodes"
}

field() { # field NAME INDEX: region (1) or port (2) of NAME
	local e; for e in "${NODES[@]}"; do set -- $e; [ "$1" = "$NAME_Q" ] && { eval echo "\${$((IDX + 1))}"; return; }; done
	die "link names unknown node '$NAME_Q'"
}
region_of() { NAME_Q=$1 IDX=1 field; }
port_of() { NAME_Q=$1 IDX=2 field; }

make_pki() {
	local dir=$1 e name region p
	mkdir -p "$dir/ca"
	"$H" ca init --dir "$dir/ca/root" --name "National Root CA" >/dev/null
	cp "$dir/ca/root/crl.pem" "$dir/ca/crls.pem"
	cp "$dir/ca/root/ca.crt" "$dir/ca/bundle.pem"
	for e in "${NODES[@]}"; do
		set -- $e; p=${2:0:2}
		[ -d "$dir/ca/p$p" ] && continue
		"$H" ca init --dir "$dir/ca/p$p" --parent "$dir/ca/root" --province "$p" --name "Province $p CA" >/dev/null
		cat "$dir/ca/p$p/ca.crt" >> "$dir/ca/bundle.pem"
		cat "$dir/ca/p$p/crl.pem" >> "$dir/ca/crls.pem"
	done
}

make_nodes() {
	local dir=$1 e
	for e in "${NODES[@]}"; do
		set -- $e
		"$H" init --dir "$dir/$1" --name "$1" --region "$2" --listen "tcp://127.0.0.1:$3" >/dev/null
		"$H" ca sign --dir "$dir/ca/p${2:0:2}" "$dir/$1/node.csr" --out "$dir/$1/node.crt" >/dev/null
		cp "$dir/ca/bundle.pem" "$dir/$1/ca.crt"; cp "$dir/ca/crls.pem" "$dir/$1/ca.crl"
	done
}

make_links() {
	local dir=$1 l a b
	for l in "${LINKS[@]}"; do
		set -- $l; a=$1; b=$2
		"$H" peer add --dir "$dir/$a" --cert "$dir/$b/node.crt" --endpoint "tcp://127.0.0.1:$(port_of "$b")" >/dev/null
		"$H" peer add --dir "$dir/$b" --cert "$dir/$a/node.crt" --endpoint "tcp://127.0.0.1:$(port_of "$a")" >/dev/null
	done
}

start_all() {
	local dir=$1 e
	for e in "${NODES[@]}"; do
		set -- $e
		"$HD" -c "$dir/$1/hutongd.conf" 2>>"$dir/$1/hutongd.log" &
		echo $! > "$dir/$1/hutongd.run"
	done
	for e in "${NODES[@]}"; do
		set -- $e
		for _ in $(seq 100); do
			"$H" -d "$dir/$1" status --json 2>/dev/null | grep -q '"running": true' && continue 2
			sleep 0.1
		done
		die "$1 did not start: $(tail -3 "$dir/$1/hutongd.log")"
	done
	# A node with peers signs its genesis once its neighbours have said
	# they do not know its origin (hutongd(8), --new-origin): wait for it.
	for e in "${NODES[@]}"; do
		set -- $e
		for _ in $(seq 300); do
			"$H" -d "$dir/$1" status --json 2>/dev/null |
				tr -d ' \n' | grep -q '"own_chain":{"state":"ok"' && continue 2
			sleep 0.1
		done
		die "$1 did not sign its genesis: $(tail -3 "$dir/$1/hutongd.log")"
	done
}

cmd_up() {
	local topo=$1 dir=$2 base=${3:-27400}
	parse "$topo" "$base"
	[ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ] && die "$dir is not empty"
	mkdir -p "$dir"
	make_pki "$dir"; make_nodes "$dir"; make_links "$dir"; start_all "$dir"
	echo "federation: ${#NODES[@]} nodes, ${#LINKS[@]} links up in $dir"
}

cmd_down() {
	local dir=$1 f pid
	for f in "$dir"/*/hutongd.run; do
		[ -e "$f" ] || continue
		pid=$(cat "$f"); kill -TERM "$pid" 2>/dev/null || true
	done
	for f in "$dir"/*/hutongd.run; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		rm -f "$f"
	done
}

cmd_digests() {
	local dir=$1 d
	for d in "$dir"/*/hutongd.conf; do
		d=$(dirname "$d")
		printf '%-16s %s\n' "$(basename "$d")" \
			"$("$H" -d "$d" status --json | sed -n 's/.*"digest": "\([0-9a-f]*\)".*/\1/p')"
	done
}

case "${1:-}" in
up) [ $# -ge 3 ] || die "usage: federation.sh up TOPOLOGY DIR [BASEPORT]"; cmd_up "$2" "$3" "${4:-}" ;;
down) [ $# -eq 2 ] || die "usage: federation.sh down DIR"; cmd_down "$2" ;;
digests) [ $# -eq 2 ] || die "usage: federation.sh digests DIR"; cmd_digests "$2" ;;
*) die "usage: federation.sh up TOPOLOGY DIR [BASEPORT] | down DIR | digests DIR" ;;
esac
