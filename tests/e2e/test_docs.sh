#!/usr/bin/env bash
# test_docs: the manual pages say what the code does.
#   - the key table of man/hutongd.conf.5 (".It Ic KEY Ta DEFAULT Ta ..."
#     rows under "Global keys" and "Peer keys") names exactly the keys of
#     conf.c's table (static const conf_key keys[], G(...) global, P(...)
#     peer), each in its section, and shows conf.c's default where there
#     is one ("required" for a required key without one);
#   - `mandoc -T lint -W warning` passes on every man/*.[1-8] (STYLE
#     messages, such as a cross-reference to a page not installed, are not
#     warnings). mandoc missing is a failure, not a skip.
# Needs no daemon and no build; HUTONG_SOURCE (set by ctest) or this
# checkout is the tree checked.
set -u
src=${HUTONG_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
conf_c=$src/daemon/core/conf.c
page=$src/man/hutongd.conf.5
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# conf.c: "SECTION KEY FLAGS DEFAULT" per entry of the keys[] table, from
# the table joined into one line so that any line wrapping reads the same.
code_keys() {
	sed -n '/^static const conf_key keys\[\] = {/,/^};/p' "$conf_c" |
		tr '\n\t' '  ' | sed -E 's/ +/ /g' |
		grep -oE '\{ ?"[a-z_]+", ?[A-Z_|0 ]+, ?[GP]\([a-z_]+\), ?[a-z_]+, ?[a-z_]+, ?(NULL|"[^"]*")' |
		sed -E 's/^\{ ?"([a-z_]+)", ?([A-Z_|0 ]+), ?([GP])\([a-z_]+\), ?[a-z_]+, ?[a-z_]+, ?(NULL|"([^"]*)")$/\3 \1 \2|\5|\4/' |
		awk -F'|' '{ split($1, a, " "); d = ($3 == "NULL") ? "-" : ($2 == "" ? "none" : $2);
			if (d == "-" && $1 ~ /KEY_REQUIRED/) d = "required";
			print (a[1] == "G" ? "global" : "peer"), a[2], d }'
}

# The man page: "SECTION KEY DEFAULT" per table row.
page_keys() {
	awk '/^\.Ss /{ sec = ($0 ~ /Global keys/) ? "global" : ($0 ~ /Peer keys/) ? "peer" : "" }
		sec != "" && /^\.It Ic [a-z_]+ Ta / {
			line = $0; sub(/ Ta$/, "", line)
			split(line, f, / Ta /); split(f[1], k, " "); n = split(f[2], d, " ")
			print sec, k[3], d[n] }' "$page"
}

[ -f "$conf_c" ] || { echo "FAIL: $conf_c missing"; exit 1; }
[ -f "$page" ] || { echo "FAIL: $page missing"; exit 1; }
code=$(code_keys)
man=$(page_keys)
[ -n "$code" ] || bad "no keys read from conf.c's keys[] table (has its declaration changed?)"
[ -n "$man" ] || bad "no key rows read from $page"

while read -r sec key def; do
	[ -n "$key" ] || continue
	row=$(awk -v s="$sec" -v k="$key" '$1 == s && $2 == k' <<<"$man")
	if [ -z "$row" ]; then
		bad "$sec key '$key' is in conf.c but not in man/hutongd.conf.5"
	elif [ "$def" != "-" ] && [ "$(awk '{print $3}' <<<"$row")" != "$def" ]; then
		bad "$sec key '$key': conf.c's default is '$def', man/hutongd.conf.5 says '$(awk '{print $3}' <<<"$row")'"
	fi
done <<<"$code"
while read -r sec key _; do
	[ -n "$key" ] || continue
	awk -v s="$sec" -v k="$key" '$1 == s && $2 == k {f = 1} END {exit !f}' <<<"$code" ||
		bad "$sec key '$key' is in man/hutongd.conf.5 but not in conf.c's table"
done <<<"$man"
[ $fail -eq 0 ] && echo "ok: $(wc -l <<<"$code") config keys agree between conf.c and man/hutongd.conf.5"

if ! command -v mandoc >/dev/null 2>&1; then
	bad "mandoc is not installed (bash scripts/bootstrap.sh installs it); cannot lint man/"
else
	n=0
	for m in "$src"/man/*.[1-8]; do
		[ -e "$m" ] || continue
		n=$((n + 1))
		out=$(mandoc -T lint -W warning "$m" 2>&1) && [ -z "$out" ] ||
			bad "mandoc -T lint -W warning $m:"$'\n'"$out"
	done
	[ $n -ge 3 ] || bad "expected at least 3 man pages in man/, found $n"
	[ $fail -eq 0 ] && echo "ok: mandoc -T lint clean on $n man pages"
fi
exit $fail
