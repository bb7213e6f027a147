#!/usr/bin/env bash
# Run every libFuzzer target (tests/fuzz/fuzz_*.c) under ASan+UBSan.
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 300)
# New inputs that increase coverage are added to tests/fuzz/corpus/TARGET/;
# crashes are written to build-fuzz/crash-* and make the script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
bash scripts/bootstrap.sh >/dev/null
CC=clang cmake -S . -B build-fuzz -DHUTONG_FUZZ=ON -DHUTONG_SANITIZE=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
status=0
for bin in build-fuzz/fuzz/fuzz_*; do
	t=$(basename "$bin"); t=${t#fuzz_}
	mkdir -p "build-fuzz/new-$t"
	echo "== fuzz $t for ${secs}s"
	if ! "$bin" -max_total_time="$secs" -max_len=70000 -artifact_prefix=build-fuzz/ \
		-print_final_stats=1 "build-fuzz/new-$t" "tests/fuzz/corpus/$t" 2>"build-fuzz/$t.log"; then
		status=1; tail -30 "build-fuzz/$t.log"
	fi
	grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "build-fuzz/$t.log" | tail -2 || true
done
exit $status
