#!/usr/bin/env bash
# The whole test suite: install what is missing, lint (scripts/lint.sh), build,
# run ctest on a normal build and on an AddressSanitizer + UndefinedBehavior-
# Sanitizer build, then every libFuzzer target for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

echo "== lint (format, headers, logs, function size, duplicates)"
bash scripts/lint.sh

echo "== normal build"
bash scripts/build.sh build
echo "== checking proto/ with Google's protoc"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
protoc --cpp_out="$tmp" -Iproto proto/*.proto
echo "== ctest (normal build)"
(cd build && ctest --output-on-failure -j2)

echo "== sanitizer build (ASan + UBSan)"
bash scripts/build.sh build-asan -DHUTONG_SANITIZE=ON
echo "== ctest (ASan + UBSan)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j2)

# Each libFuzzer target for a bounded time (HUTONG_FUZZ_SECONDS, default 20)
# on a clang ASan+UBSan build; the committed corpus is only read. A crash
# fails the run; scripts/fuzz.sh without an argument runs 300 s per target.
echo "== fuzz (libFuzzer, ASan + UBSan): ${HUTONG_FUZZ_SECONDS:-20}s per target"
bash scripts/fuzz.sh "${HUTONG_FUZZ_SECONDS:-20}"
