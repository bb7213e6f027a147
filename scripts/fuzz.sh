#!/usr/bin/env bash
# Run every libFuzzer target (tests/fuzz/fuzz_*.c) under ASan+UBSan, the core
# library instrumented for coverage (HUTONG_FUZZ compiles every object with
# -fsanitize=fuzzer-no-link; only the targets link libFuzzer).
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 300; CI runs 20)
#
# The committed seeds (tests/fuzz/corpus/TARGET/) are read, never written:
# new inputs go to build-fuzz/new-TARGET/. To keep the good ones:
#   build-fuzz/fuzz/fuzz_TARGET -merge=1 tests/fuzz/corpus/TARGET build-fuzz/new-TARGET
# A crash, leak or UB report is written to build-fuzz/crash-* (or leak-*,
# timeout-*) and makes the script fail, as does a target whose coverage stays
# under 100 edges (60 for seal; the core library was not instrumented).
# Prints one line per target (executions, rate, coverage, corpus) and keeps
# them in build-fuzz/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
bash scripts/bootstrap.sh >/dev/null
CC=clang cmake -S . -B build-fuzz -DHUTONG_FUZZ=ON -DHUTONG_SANITIZE=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for src in tests/fuzz/fuzz_*.c; do
	t=$(basename "$src" .c)
	targets+=("$t")
done
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}" >/dev/null

# stat NAME LOG: a -print_final_stats=1 figure.
stat() { sed -n "s/^stat::$1: *\([0-9]*\).*/\1/p" "$2" | tail -1; }
# progress FIELD LOG: cov/ft/corp from libFuzzer's last progress line.
progress() { grep -E '^#[0-9]+' "$2" | grep -o "$1: [0-9]*" | tail -1 | cut -d' ' -f2; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
: > build-fuzz/summary.txt
for t in "${targets[@]}"; do
	name=${t#fuzz_}
	log="build-fuzz/$name.log"
	mkdir -p "build-fuzz/new-$name"
	verdict=ok
	if ! "build-fuzz/fuzz/$t" -max_total_time="$secs" -max_len=70000 \
		-timeout=25 -artifact_prefix=build-fuzz/ -print_final_stats=1 \
		"build-fuzz/new-$name" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
		verdict=FAILED
		status=1
		grep -E 'ERROR|SUMMARY|artifact|deadly|Test unit written' "$log" | head -20
		tail -30 "$log"
	fi
	cov=$(progress cov "$log")
	min=100
	# seal.c is small and libsodium is not instrumented: ~80 edges in all.
	if [ "$name" = seal ]; then min=60; fi
	if [ "$verdict" = ok ] && [ "${cov:-0}" -lt "$min" ]; then
		verdict="FAILED (coverage ${cov:-0} < $min: core not instrumented?)"
		status=1
	fi
	line=$(printf 'fuzz %-7s %9s executions in %ss (%s/s), cov %s, ft %s, corpus %s (%s new): %s' \
		"$name" "$(stat number_of_executed_units "$log")" "$secs" \
		"$(stat average_exec_per_sec "$log")" "${cov:-?}" \
		"$(progress ft "$log")" "$(progress corp "$log")" \
		"$(stat new_units_added "$log")" "$verdict")
	echo "$line"
	echo "$line" >> build-fuzz/summary.txt
done
exit $status
