#!/usr/bin/env bash
# test_diskfull: a node whose ledger's file system fills up.
#   - node A (nanjing) keeps its ledger on a small tmpfs (4 MiB, 1.5 MiB of
#     it taken by a filler file), linked to B (changsha) on ordinary disk;
#     where mount is not permitted (or DISKFULL_MODE=fsize) A runs under
#     `ulimit -f` instead, so its writes fail with EFBIG (hutongd ignores
#     SIGXFSZ);
#   - bulk submits fill it until one fails: exit status 1 and a message
#     naming disk full, a "submit failed ... disk full" log line, the daemon
#     still answers status, a single submit fails the same way;
#   - nothing stored is damaged: verify is clean, every acknowledged id is
#     held, the digest did not move;
#   - records B pushes while A is full are not lost: A logs the failed
#     receive, B resends;
#   - space returns (the filler is deleted, or A restarts under a higher
#     limit): submits succeed again, B's records arrive, A verifies, and
#     restarts cleanly.
# The tmpfs is unmounted on every exit path.
source "$(dirname "$0")/lib.sh"

BASE=$(e2e_port)
CA="$E2E_TMP/ca"
A="$E2E_TMP/a"
B="$E2E_TMP/b"
WAIT=40
MNT=$(mktemp -d /tmp/hutong-full.XXXXXX)
MODE=${DISKFULL_MODE:-tmpfs}
REAL_HUTONGD=$HUTONGD

diskfull_cleanup() {
	e2e_cleanup
	if mountpoint -q "$MNT" 2>/dev/null; then
		umount "$MNT" 2>/dev/null || umount -l "$MNT"
	fi
	rmdir "$MNT" 2>/dev/null
}
trap diskfull_cleanup EXIT INT TERM

if [ "$MODE" = tmpfs ] && ! mount -t tmpfs -o size=4m,mode=0700 tmpfs "$MNT" 2>/dev/null; then
	echo "# mount not permitted here: using RLIMIT_FSIZE instead"
	MODE=fsize
fi
echo "# mode: $MODE"

# ---- helpers ----

link() {
	"$HUTONG" peer add --dir "$1" --cert "$2/node.crt" \
		--endpoint "tcp://127.0.0.1:$(cat "$2/.port")" >/dev/null
}
digest() {
	"$HUTONG" -d "$1" status --json 2>/dev/null |
		sed -n 's/^  "digest": "\([0-9a-f]*\)".*/\1/p'
}
running() { "$HUTONG" -d "$1" status --json 2>/dev/null | grep -q '"running": true'; }
ids_of() { "$HUTONG" -d "$1" list 2>/dev/null | cut -c1-64 | sort -u; }
# holds_acked DIR FILE: DIR holds every id listed in FILE.
holds_acked() {
	sort -u "$2" > "$E2E_TMP/want"
	ids_of "$1" > "$E2E_TMP/have"
	[ -z "$(comm -23 "$E2E_TMP/want" "$E2E_TMP/have")" ]
}
# bulk DIR N TAG: submit N JSON lines in one stream; ids to acked.A, the
# exit status is submit's, its stderr in $E2E_TMP/bulk.err.
bulk() {
	local k
	for k in $(seq "$2"); do
		printf '{"author":"full","body":{"intelligence":{"summary":"%s %d lorem ipsum dolor sit amet, consectetur adipiscing elit"}}}\n' "$3" "$k"
	done | "$HUTONG" -d "$1" submit --json - >> "$E2E_TMP/acked.A" 2>"$E2E_TMP/bulk.err"
}
single() {
	"$HUTONG" -d "$1" submit intel --author full --summary "$2" 2>"$E2E_TMP/single.err"
}
wait_log() {
	local deadline=$((SECONDS + WAIT))
	while [ "$SECONDS" -lt "$deadline" ]; do
		grep -Eq -- "$2" "$1/hutongd.log" && return 0
		sleep 0.2
	done
	echo "  never logged '$2'"; return 1
}
# converge_b: A holds every id submitted at B, and one digest.
converge_b() {
	local deadline=$((SECONDS + WAIT))
	while [ "$SECONDS" -lt "$deadline" ]; do
		[ "$(digest "$A")" = "$(digest "$B")" ] && holds_acked "$A" "$E2E_TMP/acked.B" &&
			return 0
		sleep 0.3
	done
	echo "  A $(digest "$A"), B $(digest "$B")"; return 1
}

# In fsize mode A's hutongd runs under `ulimit -f $(cat fsize)` (KiB).
use_fsize_wrapper() {
	cat > "$E2E_TMP/hutongd-fsize" <<-EOF
	#!/usr/bin/env bash
	ulimit -f "\$(cat '$E2E_TMP/fsize')" || exit 1
	exec '$REAL_HUTONGD' "\$@"
	EOF
	chmod +x "$E2E_TMP/hutongd-fsize"
	HUTONGD="$E2E_TMP/hutongd-fsize"
}

# ---- set-up ----

make_ca "$CA" &&
	new_node "$A" nanjing 320100 "$CA" "tcp://127.0.0.1:$BASE" &&
	new_node "$B" changsha 430100 "$CA" "tcp://127.0.0.1:$((BASE + 1))" ||
	{ not_ok "set-up"; e2e_finish; exit 1; }
echo "$BASE" > "$A/.port"
echo "$((BASE + 1))" > "$B/.port"
link "$A" "$B" && link "$B" "$A" || { not_ok "peer add both ways"; e2e_finish; exit 1; }
if [ "$MODE" = tmpfs ]; then
	sed -i "s|^#* *ledger *=.*|ledger = $MNT/ledger.db|" "$A/hutongd.conf"
	grep -q "^ledger = $MNT/ledger.db" "$A/hutongd.conf" ||
		echo "ledger = $MNT/ledger.db" >> "$A/hutongd.conf"
	head -c 1572864 /dev/zero > "$MNT/filler"
else
	echo 2048 > "$E2E_TMP/fsize"
fi
touch "$E2E_TMP/acked.A" "$E2E_TMP/acked.B"
start_daemon "$B" || { not_ok "start B"; e2e_finish; exit 1; }
[ "$MODE" = fsize ] && use_fsize_wrapper
start_daemon "$A" || { not_ok "start A"; e2e_finish; exit 1; }
ok "A (ledger on a small file system) and B up"

# ---- fill it ----

rounds=0 rc=0
while [ "$rounds" -lt 80 ]; do
	rounds=$((rounds + 1))
	bulk "$A" 300 "fill $rounds" || { rc=$?; break; }
done
filled=$(grep -cE '^[0-9a-f]{64}$' "$E2E_TMP/acked.A")
echo "# bulk submit failed after $rounds rounds, $filled records acknowledged"
check "a bulk submit fails when the disk fills" test "$rc" -ne 0
check "... with exit status 1" test "$rc" = 1
check "... and a message naming disk full" grep -q "disk full" "$E2E_TMP/bulk.err"
sed -n 1p "$E2E_TMP/bulk.err"
# The last free pages take a few more small submits.
for i in $(seq 200); do
	id=$(single "$A" "squeeze $i") || break
	echo "$id" >> "$E2E_TMP/acked.A"
done
rc=0; single "$A" "one more" >/dev/null || rc=$?
check "a single submit on the full disk fails with exit status 1" test "$rc" = 1
check "... saying disk full" grep -q "disk full" "$E2E_TMP/single.err"
echo "# $(cat "$E2E_TMP/single.err")"
check "hutongd logged a clear line" grep -Eq 'warn submit failed .*disk full' "$A/hutongd.log"
grep -m1 'submit failed' "$A/hutongd.log" | sed 's/^/# /'
check "the daemon is still running" kill -0 "$(cat "$A/.e2e.pid")"
check "... and answers status" running "$A"
check "verify is clean on the full disk" bash -c "'$HUTONG' -d '$A' verify >/dev/null"
check "every acknowledged id is still held" holds_acked "$A" "$E2E_TMP/acked.A"
full_digest=$(digest "$A")

# ---- B pushes while A is full ----

for i in 1 2 3 4 5; do
	single "$B" "from changsha while nanjing is full $i" >> "$E2E_TMP/acked.B" ||
		not_ok "submit at B"
done
check "A logs the records it could not store" \
	wait_log "$A" 'receive failed peer=changsha .*disk full'
check "the digest did not move while full" test "$(digest "$A")" = "$full_digest"
check "verify still clean" bash -c "'$HUTONG' -d '$A' verify >/dev/null"

# ---- space returns ----

if [ "$MODE" = tmpfs ]; then
	rm -f "$MNT/filler"
	echo "# removed the 1.5 MiB filler from the tmpfs"
else
	echo 65536 > "$E2E_TMP/fsize"
	check "A stops cleanly at its limit" stop_daemon "$A"
	start_daemon "$A" || not_ok "restart A under a higher limit"
	echo "# restarted A under ulimit -f 65536"
fi
id=$(single "$A" "after space returned") && echo "$id" >> "$E2E_TMP/acked.A"
check "a submit succeeds once space returns" test -n "$id"
rc=0; bulk "$A" 300 "after" || rc=$?
check "so does a bulk submit" test "$rc" = 0
check "B's records arrive; one digest" converge_b
check "every acknowledged id is held" holds_acked "$A" "$E2E_TMP/acked.A"
check "verify is clean" bash -c "'$HUTONG' -d '$A' verify >/dev/null"
check "A stops cleanly" stop_daemon "$A"
start_daemon "$A" || not_ok "A restarts"
check "A restarts and verifies" bash -c "'$HUTONG' -d '$A' verify >/dev/null"
check "A stops cleanly again" stop_daemon "$A"
check "B stops cleanly" stop_daemon "$B"
echo "diskfull: mode=$MODE acknowledged=$(sort -u "$E2E_TMP/acked.A" | grep -c .) lost=0"
e2e_finish
