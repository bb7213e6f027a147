#!/usr/bin/env bash
# test_files: files and permissions (StrictModes, see hutongd(8)), init that
# checks before it writes, and a damaged or unusable ledger at start.
#   - init: a bad --listen writes nothing (a second run then works); a
#     directory owned by another user, or writable by group, or below a
#     group-writable directory, is refused with the path and the fix;
#   - ledger.db, -wal and -shm are 0600;
#   - hutongd refuses to start on a config, key, ledger, node directory or
#     on_alert that another user owns or could change (or, for keys and the
#     ledger, read), and --check-config says the same, plus a missing or
#     non-executable on_alert; a SIGHUP with such a file keeps the old config;
#   - a ledger with 8 bytes flipped in a middle page is refused at start
#     (quick_check), --skip-check starts anyway; a ledger in a missing
#     directory, or one this user cannot read, is refused with the reason.
# Runs as root (as the other e2e tests); "another user" is nobody.
source "$(dirname "$0")/lib.sh"

BASE=$(e2e_port)
CA="$E2E_TMP/ca"
A="$E2E_TMP/a"
NOBODY=$(id -u nobody)

# refuses NAME PATTERN: hutongd -c A/hutongd.conf fails with PATTERN.
refuses() { expect_fail "$1" "$2" "$HUTONGD" -c "$A/hutongd.conf"; }
# reports NAME PATTERN: --check-config fails with PATTERN.
reports() { expect_fail "$1" "$2" "$HUTONGD" --check-config -c "$A/hutongd.conf"; }
setkey() { sed -i "s|^#* *$1 *=.*|$1 = $2|" "$A/hutongd.conf"; }
re() { printf '%s' "$1" | sed 's/[][\.*^$(){}+?|]/\\&/g'; }

# ---- init checks everything before it writes ----

expect_fail "init: a bad --listen is refused" "--listen: must be tcp://HOST:PORT" \
	"$HUTONG" init --dir "$A" --name nanjing --region 320100 --listen bogus
check "init: a bad --listen wrote nothing" test ! -e "$A"
check "init: the same init then works" \
	"$HUTONG" init --dir "$A" --name nanjing --region 320100 --listen "tcp://127.0.0.1:$BASE"
mkdir "$E2E_TMP/theirs" && chown nobody "$E2E_TMP/theirs"
expect_fail "init: a directory another user owns is refused" \
	"^hutong init: $(re "$E2E_TMP/theirs"): owned by uid $NOBODY \(nobody\), not by this user or root" \
	"$HUTONG" init --dir "$E2E_TMP/theirs" --name x --region 320100
check "init: nothing written into it" test ! -e "$E2E_TMP/theirs/node.key"
mkdir -m 0770 "$E2E_TMP/shared"
expect_fail "init: a group-writable directory is refused" \
	"$(re "$E2E_TMP/shared"): writable by group; run chmod g-w $(re "$E2E_TMP/shared")" \
	"$HUTONG" init --dir "$E2E_TMP/shared" --name x --region 320100
expect_fail "init: a directory below a group-writable one is refused" \
	"$(re "$E2E_TMP/shared"): writable by group; run chmod g-w" \
	"$HUTONG" init --dir "$E2E_TMP/shared/node" --name x --region 320100
check "init: nothing created there" test ! -e "$E2E_TMP/shared/node"

# ---- a running node: the ledger's files are the owner's only ----

make_ca "$CA" && certify "$A" "$CA" && no_receipts "$A" || { not_ok "set-up"; e2e_finish; exit 1; }
printf '#!/bin/sh\nexit 0\n' > "$E2E_TMP/on-alert" && chmod 755 "$E2E_TMP/on-alert"
setkey on_alert "$E2E_TMP/on-alert"
start_daemon "$A" || { not_ok "start"; e2e_finish; exit 1; }
"$HUTONG" -d "$A" submit intel --author o1 --summary "first" >/dev/null
for f in ledger.db ledger.db-wal ledger.db-shm; do
	check "$f is 0600" test "$(stat -c %a "$A/$f")" = 600
done

# SIGHUP with a group-writable config: the running config is kept.
chmod g+w "$A/hutongd.conf"
kill -HUP "$(cat "$A/.e2e.pid")"
for _ in $(seq 50); do grep -q "reload: file permission" "$A/hutongd.log" && break; sleep 0.1; done
check "reload: an unsafe config is not applied" \
	grep -q "reload: unsafe file problem=\"$(re "$A/hutongd.conf"): writable by group" "$A/hutongd.log"
check "reload: the running config is kept" \
	grep -q "reload: file permission problems, running config kept" "$A/hutongd.log"
check "reload: and not applied" bash -c "! grep -q 'reload: config applied' '$A/hutongd.log'"
chmod g-w "$A/hutongd.conf"
check "daemon still serves" bash -c "\"$HUTONG\" -d \"$A\" status >/dev/null"
stop_daemon "$A"
check "check-config: a clean node passes" bash -c "\"$HUTONGD\" --check-config -c \"$A/hutongd.conf\" >/dev/null"

# ---- StrictModes at start, and --check-config ----

chmod g+w "$A/hutongd.conf"
refuses "a group-writable config" \
	"^hutongd: $(re "$A/hutongd.conf"): writable by group; run chmod g-w $(re "$A/hutongd.conf")$"
reports "check-config: a group-writable config" "$(re "$A/hutongd.conf"): writable by group"
chmod g-w "$A/hutongd.conf"
chown nobody "$A/hutongd.conf"
refuses "a config owned by another user" \
	"$(re "$A/hutongd.conf"): owned by uid $NOBODY \(nobody\), not by this user or root"
chown root "$A/hutongd.conf"
chmod o+r "$A/node.key"
refuses "a node.key readable by others" "$(re "$A/node.key"): readable by others; run chmod o-r"
chmod 600 "$A/node.key"
chmod g+r "$A/link.key"
refuses "a link.key readable by group" "$(re "$A/link.key"): readable by group; run chmod g-r"
chmod 600 "$A/link.key"
chmod 644 "$A/ledger.db"
refuses "a ledger readable by group and others" \
	"$(re "$A/ledger.db"): readable by group and others; run chmod go-r"
chmod 600 "$A/ledger.db"
chown nobody "$A"
refuses "a node directory owned by another user" "$(re "$A"): owned by uid $NOBODY \(nobody\)"
chown root "$A"
chmod g+w "$E2E_TMP"
refuses "a group-writable directory above the node" "$(re "$E2E_TMP"): writable by group; run chmod g-w"
chmod g-w "$E2E_TMP"
chmod o+w "$E2E_TMP/on-alert"
refuses "an on_alert writable by others" "$(re "$E2E_TMP/on-alert"): writable by others; run chmod o-w"
chmod o-w "$E2E_TMP/on-alert"
chown nobody "$E2E_TMP/on-alert"
refuses "an on_alert owned by another user" "$(re "$E2E_TMP/on-alert"): owned by uid $NOBODY"
chown root "$E2E_TMP/on-alert"
chmod 644 "$E2E_TMP/on-alert"
reports "check-config: a non-executable on_alert" "on_alert is not executable; run chmod u\+x"
chmod 755 "$E2E_TMP/on-alert"
setkey on_alert "$E2E_TMP/no-such-program"
reports "check-config: a missing on_alert" "$(re "$E2E_TMP/no-such-program"): on_alert does not exist"
setkey on_alert ""
mkdir -m 0777 "$E2E_TMP/open"
setkey ledger "$E2E_TMP/open/ledger.db"
refuses "a ledger directory writable by others" "$(re "$E2E_TMP/open"): writable by group and others"
setkey ledger "$E2E_TMP/gone/ledger.db"
refuses "a ledger in a missing directory" "$(re "$E2E_TMP/gone"): does not exist"
setkey ledger ledger.db
check "check-config: clean again" bash -c "\"$HUTONGD\" --check-config -c \"$A/hutongd.conf\" >/dev/null"

# ---- a damaged ledger is refused at start ----

start_daemon "$A" || { not_ok "restart"; e2e_finish; exit 1; }
for k in $(seq 300); do
	printf '{"author":"o1","body":{"intelligence":{"summary":"bulk %d lorem ipsum dolor sit amet"}}}\n' "$k"
done | "$HUTONG" -d "$A" submit --json - >/dev/null
stop_daemon "$A"
check "the WAL is folded into ledger.db on stop" test ! -s "$A/ledger.db-wal"
cp "$A/ledger.db" "$E2E_TMP/ledger.good"
pages=$(($(stat -c %s "$A/ledger.db") / 4096))
check "ledger has pages to damage ($pages)" test "$pages" -gt 20
# 8 bytes at the start of a middle page: its b-tree page header.
printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' |
	dd of="$A/ledger.db" bs=1 seek=$(((pages / 2) * 4096)) conv=notrunc status=none
refuses "a damaged ledger is refused" \
	"$(re "$A/ledger.db") is damaged \(quick_check: .*\); restore it from a backup or move it aside"
# --skip-check skips the check; it cannot mend what start-up itself reads,
# so damage a page start-up does not read: the event index's root (no
# peers, no events).
cp "$E2E_TMP/ledger.good" "$A/ledger.db"
root=$(sqlite3 "$A/ledger.db" "SELECT rootpage FROM sqlite_master WHERE name = 'event_time'")
printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' |
	dd of="$A/ledger.db" bs=1 seek=$(((root - 1) * 4096)) conv=notrunc status=none
refuses "damage in an index is refused too" "is damaged \(quick_check: .*$root"
"$HUTONGD" -c "$A/hutongd.conf" --skip-check 2>>"$A/hutongd.log" &
pid=$!
E2E_PIDS+=("$pid")
for _ in $(seq 100); do "$HUTONG" -d "$A" status --json 2>/dev/null | grep -q '"running": true' && break; sleep 0.1; done
check "--skip-check starts on it anyway" bash -c "\"$HUTONG\" -d \"$A\" status --json | grep -q '\"running\": true'"
check "--skip-check is logged" grep -q "ledger check skipped (--skip-check)" "$A/hutongd.log" || tail -3 "$A/hutongd.log"
kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
cp "$E2E_TMP/ledger.good" "$A/ledger.db"
rm -f "$A/ledger.db-wal" "$A/ledger.db-shm"
start_daemon "$A" && ok "the restored ledger starts" || not_ok "the restored ledger starts"
check "start logs the check" grep -q "ledger checked ledger=.* ms=" "$A/hutongd.log"
stop_daemon "$A"

# ---- a ledger this user cannot read ----
# As nobody, in a directory of nobody's below a world-readable one, with
# a ledger.db that is root's own (0600).
U=$(mktemp -d /tmp/hutong-e2e-user.XXXXXX)
chmod 755 "$U"
cleanup_user() { rm -rf "$U"; }
trap 'cleanup_user; e2e_cleanup' EXIT INT TERM
"$HUTONG" init --dir "$U/n" --name changsha --region 430100 >/dev/null && certify "$U/n" "$CA"
chown -R nobody "$U/n"
cp "$E2E_TMP/ledger.good" "$U/n/ledger.db" && chmod 600 "$U/n/ledger.db"
expect_fail "an unreadable ledger is refused with the reason" \
	"$(re "$U/n/ledger.db"): cannot be read by this user: Permission denied" \
	setpriv --reuid "$NOBODY" --regid "$(id -g nobody)" --clear-groups \
	"$HUTONGD" -c "$U/n/hutongd.conf"

e2e_finish
