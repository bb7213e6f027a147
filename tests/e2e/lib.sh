# Shared helpers for end-to-end tests: real daemons on 127.0.0.1, every
# process started is stopped on every exit path (trap), temp dirs removed.
# Source it; then call e2e_finish at the end.
set -u
: "${HUTONG_BUILD:?HUTONG_BUILD must point at the build directory}"
HUTONG="$HUTONG_BUILD/hutong"
HUTONGD="$HUTONG_BUILD/hutongd"
E2E_TMP=$(mktemp -d /tmp/hutong-e2e.XXXXXX)
E2E_PIDS=()
E2E_PASS=0
E2E_FAIL=0

e2e_cleanup() {
	local pid
	for pid in "${E2E_PIDS[@]:-}"; do
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${E2E_PIDS[@]:-}"; do
		[ -n "$pid" ] || continue
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	done
	rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT INT TERM

ok() { E2E_PASS=$((E2E_PASS + 1)); echo "ok - $*"; }
not_ok() { E2E_FAIL=$((E2E_FAIL + 1)); echo "not ok - $*"; }

# check NAME COMMAND...: passes when the command exits 0.
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

# expect_fail NAME PATTERN COMMAND...: passes when the command exits non-zero
# and its stderr matches PATTERN (grep -E).
expect_fail() {
	local name=$1 pat=$2; shift 2
	local err="$E2E_TMP/stderr.$$"
	if "$@" >/dev/null 2>"$err"; then
		not_ok "$name (exit 0, expected failure)"
	elif grep -Eq -- "$pat" "$err"; then
		ok "$name"
	else
		not_ok "$name (stderr: $(head -c 300 "$err"))"
	fi
}

# A TCP port base for this test: a block of 100 ports (tests use base+0 to
# base+99) with no listener in it, below the kernel's ephemeral range
# (32768 and up on Debian), so that no outgoing connection of another test
# holds one of our ports ("Address already in use").
e2e_port() {
	local base _
	for _ in $(seq 50); do
		base=$((10000 + (RANDOM % 220) * 100))
		ss -ltnH 2>/dev/null | awk -v b="$base" '{ n = split($4, a, ":");
			if (a[n] >= b && a[n] < b + 100) f = 1 } END { exit !f }' ||
			break
	done
	echo "$base"
}

# e2e_own_ok DIR: the daemon signs submits (status own_chain.state "ok").
e2e_own_ok() {
	"$HUTONG" -d "$1" status --json 2>/dev/null | tr -d '\n ' |
		grep -q '"own_chain":{"state":"ok"'
}

# start_daemon DIR: start hutongd for DIR, wait until it answers and (with
# peers configured) until it has confirmed its own chain with them, so that
# a submit right after it is not refused: a restarted node waits for its
# neighbours' answers, or catchup_timeout when none answers.
# A node started for the first time signs its genesis at once
# (--new-origin), as tests build new federations whose nodes start one by
# one; E2E_CATCHUP=1 starts it as a bureau would, asking its neighbours,
# and returns as soon as it answers (the test watches own_chain itself).
start_daemon() {
	local dir=$1 flags=()
	[ -e "$dir/ledger.db" ] || [ -n "${E2E_CATCHUP:-}" ] || flags=(--new-origin)
	"$HUTONGD" -c "$dir/hutongd.conf" "${flags[@]}" 2>>"$dir/hutongd.log" &
	local pid=$!
	E2E_PIDS+=("$pid")
	echo "$pid" > "$dir/.e2e.pid"
	for _ in $(seq 100); do
		if "$HUTONG" -d "$dir" status --json 2>/dev/null | grep -q '"running": true'; then
			[ -n "${E2E_CATCHUP:-}" ] && return 0
			e2e_wait_own "$dir" "$pid"
			return
		fi
		kill -0 "$pid" 2>/dev/null || { echo "hutongd for $dir died:"; cat "$dir/hutongd.log"; return 1; }
		sleep 0.1
	done
	echo "hutongd for $dir did not come up"; cat "$dir/hutongd.log"; return 1
}

# e2e_wait_own DIR PID: until own_chain is "ok" (catchup_timeout is at
# most 60 s in the tests' configs: `hutong init`'s default).
e2e_wait_own() {
	local deadline=$((SECONDS + 75))
	while [ "$SECONDS" -lt "$deadline" ]; do
		e2e_own_ok "$1" && return 0
		kill -0 "$2" 2>/dev/null || { echo "hutongd for $1 died:"; cat "$1/hutongd.log"; return 1; }
		sleep 0.1
	done
	echo "hutongd for $1 did not confirm its own chain"; return 1
}

# stop_daemon DIR: SIGTERM and wait for a clean exit (returns its status).
stop_daemon() {
	local dir=$1 pid
	pid=$(cat "$dir/.e2e.pid")
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
}

# make_ca CADIR [NAME]: a national root CA.
make_ca() { "$HUTONG" ca init --dir "$1" --name "${2:-National Root}" >/dev/null; }

# certify NODEDIR CADIR: sign the node's CSR and install CA bundle and CRL.
certify() {
	local dir=$1 ca=$2
	"$HUTONG" ca sign --dir "$ca" "$dir/node.csr" --out "$dir/node.crt" >/dev/null &&
	cp "$ca/ca.crt" "$dir/ca.crt" && cp "$ca/crl.pem" "$dir/ca.crl"
}

# no_receipts DIR: the node writes no receipt records (receipt_interval
# 1d), for tests that count records; test_audit sets its own interval.
no_receipts() {
	sed -i 's/^receipt_interval *=.*/receipt_interval = 1d/' "$1/hutongd.conf"
}

# new_node DIR NAME REGION CADIR [LISTEN]: init + certify, no receipts.
new_node() {
	local listen=()
	[ -n "${5:-}" ] && listen=(--listen "$5")
	"$HUTONG" init --dir "$1" --name "$2" --region "$3" "${listen[@]}" >/dev/null &&
		certify "$1" "$4" && no_receipts "$1"
}

e2e_finish() {
	echo "$E2E_PASS passed, $E2E_FAIL failed"
	[ "$E2E_FAIL" -eq 0 ]
}
