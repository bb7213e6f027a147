# Shared helpers for the federation benchmarks (catchup.sh, propagation.sh,
# partition.sh): certified nodes on 127.0.0.1 in a temporary directory, real
# daemons, and a trap that stops every daemon started and removes the
# directory on every exit path (BENCH_KEEP=1 keeps the directory). Source
# it; it reads HUTONG_BUILD (default: build/ of this checkout) and TMPDIR.
set -u
BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HUTONG_BUILD=${HUTONG_BUILD:-$BENCH_SRC/build}
HUTONG="$HUTONG_BUILD/hutong"
HUTONGD="$HUTONG_BUILD/hutongd"
for f in "$HUTONG" "$HUTONGD"; do
	[ -x "$f" ] || { echo "bench: $f not built (set HUTONG_BUILD)" >&2; exit 1; }
done
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/hutong-bench.XXXXXX")
BENCH_KEEP=${BENCH_KEEP:-0}
BENCH_BASE=$((20000 + (RANDOM % 20000)))

# The pids to stop for node directory $1: the one started (.bench.pid: the
# daemon, or a wrapper such as perf), and the daemon's own from its lock
# file (hutongd.pid) if that process still runs on this directory's config.
bench_pids() {
	local pid
	[ -s "$1/.bench.pid" ] && cat "$1/.bench.pid"
	pid=$(head -1 "$1/hutongd.pid" 2>/dev/null) || return 0
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
		tr '\0' ' ' <"/proc/$pid/cmdline" |
		grep -qF -- "${1%/}/hutongd.conf" && echo "$pid"
	return 0
}

bench_cleanup() {
	local d pid
	for d in "$BENCH_TMP"/*/; do
		for pid in $(bench_pids "$d"); do kill -TERM "$pid" 2>/dev/null; done
	done
	for d in "$BENCH_TMP"/*/; do
		for pid in $(bench_pids "$d"); do
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -KILL "$pid" 2>/dev/null
		done
		rm -f "$d/.bench.pid"
	done
	if [ "$BENCH_KEEP" = 1 ]; then
		echo "bench: kept $BENCH_TMP" >&2
	else
		rm -rf "$BENCH_TMP"
	fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "bench: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
dir_of() { echo "$BENCH_TMP/$1"; }
port_of() { cat "$BENCH_TMP/$1/.port"; }

# bench_ca: a national root CA in BENCH_TMP/ca.
bench_ca() { "$HUTONG" ca init --dir "$BENCH_TMP/ca" --name "Bench Root" >/dev/null; }

# mknode NAME REGION N: a certified node listening on BASE+N, no receipts
# (benchmarks count records).
mknode() {
	local d="$BENCH_TMP/$1" port=$((BENCH_BASE + $3))
	"$HUTONG" init --dir "$d" --name "$1" --region "$2" \
		--listen "tcp://127.0.0.1:$port" >/dev/null &&
	"$HUTONG" ca sign --dir "$BENCH_TMP/ca" "$d/node.csr" --out "$d/node.crt" >/dev/null &&
	cp "$BENCH_TMP/ca/ca.crt" "$d/ca.crt" && cp "$BENCH_TMP/ca/crl.pem" "$d/ca.crl" &&
	sed -i 's/^receipt_interval *=.*/receipt_interval = 1d/' "$d/hutongd.conf" &&
	echo "$port" > "$d/.port" || die "cannot create node $1"
}

# link A B: each adds the other as a peer.
link() {
	"$HUTONG" peer add --dir "$(dir_of "$1")" --cert "$(dir_of "$2")/node.crt" \
		--endpoint "tcp://127.0.0.1:$(port_of "$2")" >/dev/null &&
	"$HUTONG" peer add --dir "$(dir_of "$2")" --cert "$(dir_of "$1")/node.crt" \
		--endpoint "tcp://127.0.0.1:$(port_of "$1")" >/dev/null ||
		die "cannot link $1 and $2"
}

status() { "$HUTONG" -d "$(dir_of "$1")" status --json 2>/dev/null; }
digest() { status "$1" | sed -n 's/^  "digest": "\([0-9a-f]*\)".*/\1/p'; }

# start NAME: start its daemon (no wait), logging at BENCH_LOG (default
# warn) to NAME/hutongd.log. With BENCH_PERF=NAME that daemon
# runs under `perf record -g` (data in BENCH_PERF_OUT, default
# ./perf.NAME.data; perf_event_paranoid may need to be <= 2); with
# BENCH_WRAP_NAME="CMD ARGS" (NAME upper-cased) under that command, e.g.
# BENCH_WRAP_FRESH="strace -f -c -e trace=fdatasync -o /tmp/st".
start() {
	local d wrap=() var; d=$(dir_of "$1"); var="BENCH_WRAP_${1^^}"
	[ "${BENCH_PERF:-}" = "$1" ] &&
		wrap=(perf record -q ${BENCH_PERF_ARGS:--g} -o "${BENCH_PERF_OUT:-$PWD/perf.$1.data}" --)
	[ -n "${!var:-}" ] && read -r -a wrap <<<"${!var}"
	"${wrap[@]}" "$HUTONGD" -c "$d/hutongd.conf" --log-level "${BENCH_LOG:-warn}" 2>>"$d/hutongd.log" &
	echo $! > "$d/.bench.pid"
}

# wait_up NAME: its daemon answers on the control socket (10 s).
wait_up() {
	local d; d=$(dir_of "$1")
	for _ in $(seq 200); do
		status "$1" | grep -q '"running": true' && return 0
		kill -0 "$(cat "$d/.bench.pid")" 2>/dev/null || die "$1 died: $(tail -3 "$d/hutongd.log")"
		sleep 0.05
	done
	die "$1 did not come up: $(tail -3 "$d/hutongd.log")"
}

# stop NAME: SIGTERM and wait for it to exit.
stop() {
	local d pid; d=$(dir_of "$1")
	for pid in $(bench_pids "$d"); do
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$pid" 2>/dev/null
	done
	rm -f "$d/.bench.pid"
}

# cpu_s NAME: CPU seconds (user + system, all threads) its daemon used so
# far, from /proc.
cpu_s() {
	local pid; pid=$(cat "$(dir_of "$1")/.bench.pid")
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$pid/stat"
}

# converge TIMEOUT_S NAME...: every node shows one digest. Returns 1 on
# timeout.
converge() {
	local deadline=$((SECONDS + $1)) first n ok; shift
	while [ "$SECONDS" -lt "$deadline" ]; do
		first=$(digest "$1") ok=1
		[ -n "$first" ] || ok=0
		for n in "$@"; do [ "$(digest "$n")" = "$first" ] || { ok=0; break; }; done
		[ "$ok" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}
