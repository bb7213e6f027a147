#!/usr/bin/env bash
# The checks that keep the tree in the shape STYLE.md describes: formatting,
# where each library header may be included (and the layering of daemon/),
# key=value log lines, function sizes, and repeated logic. Each violation is
# one `FILE:LINE: message` line, each check ends with a summary line, and the
# script exits 1 if any check failed. Takes a few seconds.
#
#   bash scripts/lint.sh            every check
#   bash scripts/lint.sh logs ...   only the named checks
#                                   (format headers logs funcsize duplicates)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

# The C files the formatting check covers (generated protobuf-c code aside).
c_files() {
	find daemon tests -type f \( -name '*.c' -o -name '*.h' \) \
		! -name '*.pb-c.*' | sort
}

# clang-format --dry-run -Werror with the committed .clang-format; one line a
# file it would change, with the first line it would touch and how many of
# the file's lines would change.
check_format() {
	if ! command -v clang-format >/dev/null; then
		echo "format: clang-format not installed (scripts/bootstrap.sh)"
		return 1
	fi
	local files n=0 lines=0 f first changed
	mapfile -t files < <(c_files)
	local report
	report=$(clang-format --style=file --dry-run -Werror "${files[@]}" 2>&1)
	for f in "${files[@]}"; do
		first=$(grep -m1 -oE "^$f:[0-9]+" <<<"$report") || continue
		changed=$(diff "$f" <(clang-format --style=file "$f") | grep -c '^<')
		echo "$first: clang-format would change $changed lines"
		n=$((n + 1))
		lines=$((lines + changed))
	done
	echo "format: $n of ${#files[@]} files would change ($lines lines)"
	[ "$n" -eq 0 ]
}

# Pairs that `duplicates` finds repeated in daemon/. Rows it marks
# boilerplate are left out. A pair of identical lines fails unless
# scripts/duplicates.allow names its two files with the reason it was let
# stand; a pair alike only in shape (other names and values: tables, getopt
# loops, array growth) is listed for review and does not fail. Skipped where
# the tool is not installed.
check_duplicates() {
	if ! command -v duplicates >/dev/null; then
		echo "lint: duplicates not installed, skipped"
		return 0
	fi
	local out rows shape n
	out=$(duplicates --repo daemon --most 200 --seconds 30)
	grep -E '^(incomplete|left out):' <<<"$out" | sed 's/^/duplicates: /'
	rows=$(grep -E '^D[0-9]+ ' <<<"$out" | grep -v 'boilerplate' | dup_rows)
	shape=$(grep ' shape' <<<"$rows")
	rows=$(grep -v ' shape' <<<"$rows" | dup_unallowed)
	[ -n "$shape" ] && sed 's/^/review: /' <<<"$shape"
	[ -n "$rows" ] && echo "$rows"
	n=$(grep -c . <<<"$rows")
	echo "duplicates: $n pairs of identical logic in daemon/ (boilerplate and scripts/duplicates.allow aside), $(grep -c . <<<"$shape") alike in shape to review"
	[ "$n" -eq 0 ]
}

# duplicates' rows as FILE:LINE: messages.
dup_rows() {
	awk '{ split($2, a, ":"); split(a[2], l, "-");
	       printf "daemon/%s:%s: lines %s repeated at daemon/%s (%s",
	              a[1], l[1], a[2], $4, $1;
	       for (i = 5; i <= NF; i++) printf " %s", $i;
	       print ")" }'
}

# Rows whose two files scripts/duplicates.allow does not list together.
dup_unallowed() {
	local line a b
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		a=${line%%:*}
		b=$(sed -E 's/.* repeated at ([^:]*):.*/\1/' <<<"$line")
		grep -qE "^($a $b|$b $a)( |$)" scripts/duplicates.allow 2>/dev/null ||
			echo "$line"
	done
}

check_headers() { python3 scripts/lint_c.py headers; }
check_logs() { python3 scripts/lint_c.py logs; }
check_funcsize() { python3 scripts/funcsize.py --check daemon; }

all=(format headers logs funcsize duplicates)
checks=("$@")
[ ${#checks[@]} -eq 0 ] && checks=("${all[@]}")
failed=()
for c in "${checks[@]}"; do
	if ! declare -F "check_$c" >/dev/null; then
		echo "lint: no check named '$c' (${all[*]})" >&2
		exit 2
	fi
	"check_$c" || failed+=("$c")
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "lint: FAILED: ${failed[*]}"
	exit 1
fi
echo "lint: ok (${checks[*]})"
