#!/usr/bin/env bash
# Install every Debian 12 package hutong needs to build, test and run.
# A no-op when everything is present; otherwise runs apt-get update first.
set -euo pipefail

packages=(
	build-essential cmake pkg-config git
	libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
	libsodium-dev libssl-dev openssl libsqlite3-dev sqlite3 libjansson-dev
	protobuf-compiler   # Google's protoc: checks that proto/ compiles there too
	python3-zmq python3-protobuf python3-cryptography # tests/e2e/hostile.py: the Python hostile peer
	clang               # libFuzzer targets (tests/fuzz)
	clang-format python3  # scripts/lint.sh: formatting and the source checks
	libclang-rt-14-dev  # clang's libFuzzer and sanitizer runtimes (only recommended by clang)
	procps psmisc       # ps/pkill/fuser used by the end-to-end tests
	iproute2            # ss: e2e_port picks a block of ports with no listener
	mandoc              # mandoc -T lint over man/ (tests/e2e/test_docs.sh)
	python3-prometheus-client # tests/e2e/test_metrics.sh: an independent parser
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "bootstrap: all packages present"
	exit 0
fi

echo "bootstrap: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
