#!/usr/bin/env bash
# test_pki_openssl: `hutong ca` and the plain `openssl` command line, both
# ways, with the commands certs/README.md documents.
#   - hutong's CAs sign an openssl-made CSR; the result passes
#     `openssl verify -crl_check[_all]` and `hutong ca verify`;
#   - a provincial CA refuses another province's CSR (hutong ca sign), and
#     when `openssl ca` signs one anyway both verifiers refuse it;
#   - a whole openssl-made PKI is accepted by `hutong ca verify`;
#   - revocation by hutong is seen by openssl verify, and vice versa;
#   - --at shows expired / not yet valid; usage errors exit 2.
# Needs HUTONG_BUILD and HUTONG_SOURCE (set by ctest); HUTONG_CLI overrides
# the hutong binary. Temporary files are removed on every exit.
set -euo pipefail

: "${HUTONG_BUILD:?HUTONG_BUILD must name the build directory}"
: "${HUTONG_SOURCE:?HUTONG_SOURCE must name the source directory}"
HUTONG=${HUTONG_CLI:-$HUTONG_BUILD/hutong}
T=$(mktemp -d /tmp/test_pki_openssl.XXXXXX)
trap 'rm -rf "$T"' EXIT

export CNF=$HUTONG_SOURCE/certs/openssl.cnf
export HUTONG_CA_DIR=. HUTONG_PROVINCE=00 HUTONG_REGION=000000 HUTONG_LINK_PK=00

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# expect CODE PATTERN CMD...: CMD exits with CODE and its stderr has PATTERN.
expect() {
	local code=$1 pattern=$2; shift 2
	local rc=0
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = "$code" ] || { cat "$T/err" >&2; fail "'$*' exited $rc, want $code"; }
	[ -z "$pattern" ] || grep -q -- "$pattern" "$T/err" "$T/out" ||
		{ cat "$T/err" >&2; fail "'$*' does not say '$pattern'"; }
}

"$HUTONG" ca --help >/dev/null 2>&1 || fail "'$HUTONG ca --help' does not work"

# The README's steps.
ossl_ca_dir() { mkdir -p "$1/issued" && touch "$1/index.txt" && echo 01 >"$1/serial" && echo 01 >"$1/crlnumber"; }
ossl_root() {
	ossl_ca_dir "$1"
	openssl genpkey -algorithm ed25519 -out "$1/ca.key" && chmod 600 "$1/ca.key"
	openssl req -x509 -new -key "$1/ca.key" -subj "/CN=$2" \
		-config "$CNF" -extensions root_ca -days 7300 -out "$1/ca.crt"
	HUTONG_CA_DIR=$1 openssl ca -batch -config "$CNF" -gencrl -out "$1/crl.pem"
}
ossl_province() { # DIR PARENT PP NAME
	ossl_ca_dir "$1"
	openssl genpkey -algorithm ed25519 -out "$1/ca.key" && chmod 600 "$1/ca.key"
	openssl req -new -key "$1/ca.key" -subj "/CN=$4" -config "$CNF" -out "$1/ca.csr"
	HUTONG_CA_DIR=$2 HUTONG_PROVINCE=$3 openssl ca -batch -notext -config "$CNF" \
		-extensions province_ca -days 3650 -in "$1/ca.csr" -out "$1/ca.crt"
	HUTONG_CA_DIR=$1 openssl ca -batch -config "$CNF" -gencrl -out "$1/crl.pem"
}
ossl_node_csr() { # DIR NAME REGION
	mkdir -p "$1"
	openssl genpkey -algorithm ed25519 -out "$1/node.key"
	openssl genpkey -algorithm x25519 -out "$1/link.key"
	chmod 600 "$1/node.key" "$1/link.key"
	LINK=$(openssl pkey -in "$1/link.key" -pubout -outform DER | tail -c 32 | od -An -v -tx1 | tr -d ' \n')
	echo "$LINK" >"$1/link.hex"
	HUTONG_REGION=$3 HUTONG_PROVINCE=${3:0:2} HUTONG_LINK_PK=$LINK \
		openssl req -new -key "$1/node.key" -subj "/CN=$2" -config "$CNF" \
		-reqexts node_req -out "$1/node.csr"
}
ossl_sign() { # CADIR NODEDIR
	openssl req -in "$2/node.csr" -noout -verify >/dev/null 2>&1
	local region link
	region=$(openssl req -in "$2/node.csr" -noout -text | sed -n 's/.*DNS:\([0-9]\{6\}\)\.p.*/\1/p')
	link=$(openssl asn1parse -in "$2/node.csr" -inform PEM |
		awk '/2.25.167838213686746949268345895283859279670.1/{getline; print}' |
		sed 's/.*\[HEX DUMP\]://' | cut -c5-)
	HUTONG_CA_DIR=$1 HUTONG_REGION=$region HUTONG_PROVINCE=${region:0:2} HUTONG_LINK_PK=$link \
		openssl ca -batch -notext -config "$CNF" -extensions node_cert -days 365 \
		-in "$2/node.csr" -out "$2/node.crt"
}
ossl_verify() { # ROOTDIR PROVDIR CERT
	cat "$1/crl.pem" "$2/crl.pem" >"$T/ocrls.pem"
	openssl verify -CAfile "$1/ca.crt" -untrusted "$2/ca.crt" \
		-CRLfile "$T/ocrls.pem" -crl_check_all "$3"
}
hverify() { # ROOTDIR PROVDIR CERT [--at T]
	local r=$1 p=$2 c=$3; shift 3
	cat "$r/ca.crt" "$p/ca.crt" >"$T/hbundle.pem"
	"$HUTONG" ca verify --bundle "$T/hbundle.pem" --crl "$r/crl.pem" --crl "$p/crl.pem" "$@" "$c"
}

# 1. hutong CAs sign an openssl CSR; openssl verify and hutong ca verify agree
H=$T/h; mkdir -p "$H"
expect 0 "" "$HUTONG" ca init --dir "$H/root" --name "National Root CA"
expect 0 "" "$HUTONG" ca init --dir "$H/p11" --parent "$H/root" --province 11 --name "Beijing CA"
[ "$(stat -c %a "$H/root/ca.key")" = 600 ] || fail "ca.key is not 0600"
ossl_node_csr "$T/n1" node-a 110105 2>/dev/null
expect 0 "" "$HUTONG" ca sign --dir "$H/p11" "$T/n1/node.csr" --out "$T/n1/node.crt"
expect 0 "OK" ossl_verify "$H/root" "$H/p11" "$T/n1/node.crt"
expect 0 "OK" openssl verify -CAfile "$H/root/ca.crt" -untrusted "$H/p11/ca.crt" \
	-CRLfile "$H/p11/crl.pem" -crl_check "$T/n1/node.crt"
expect 0 "region    110105" hverify "$H/root" "$H/p11" "$T/n1/node.crt"
grep -q "link key  $(cat "$T/n1/link.hex")" "$T/out" || fail "link key differs"
expect 0 "issuer    Beijing CA" "$HUTONG" ca show "$T/n1/node.crt"
pass "hutong CA, openssl CSR, both verifiers accept"

# 2. out of province: hutong refuses to sign; openssl ca signs, both refuse
ossl_node_csr "$T/n2" node-b 130102 2>/dev/null
expect 1 "hutong ca sign: region: region 130102 is outside province 11 of CA 'Beijing CA'" \
	"$HUTONG" ca sign --dir "$H/p11" "$T/n2/node.csr" --out "$T/n2/node.crt"
[ ! -e "$T/n2/node.crt" ] || fail "refused sign left a certificate"
ossl_sign "$H/p11" "$T/n2" 2>/dev/null
expect 2 "permitted subtree violation" ossl_verify "$H/root" "$H/p11" "$T/n2/node.crt"
expect 1 "out of province" hverify "$H/root" "$H/p11" "$T/n2/node.crt"
pass "out-of-province certificate refused by hutong and openssl"

# 3. an openssl-made PKI, accepted by hutong
O=$T/o
{ ossl_root "$O/root" "Openssl Root" && ossl_province "$O/p44" "$O/root" 44 "Guangdong CA"; } 2>/dev/null
ossl_node_csr "$T/n3" node-c 440106 2>/dev/null
ossl_sign "$O/p44" "$T/n3" 2>/dev/null
expect 0 "OK" ossl_verify "$O/root" "$O/p44" "$T/n3/node.crt"
expect 0 "issuer    Guangdong CA" hverify "$O/root" "$O/p44" "$T/n3/node.crt"
grep -q "link key  $(cat "$T/n3/link.hex")" "$T/out" || fail "link key differs"
pass "openssl PKI accepted by hutong ca verify"

# 4. time: expired and not yet valid
expect 1 "expired: 'node-c'" hverify "$O/root" "$O/p44" "$T/n3/node.crt" --at "$(date -u -d '+400 days' +%Y-%m-%dT%H:%M:%SZ)"
expect 1 "not yet valid" hverify "$O/root" "$O/p44" "$T/n3/node.crt" --at 2020-01-01
pass "expired and not yet valid refused"

# 5. revocation both ways
expect 0 "" "$HUTONG" ca revoke --dir "$H/p11" --cert "$T/n1/node.crt" --reason keyCompromise
expect 2 "certificate revoked" ossl_verify "$H/root" "$H/p11" "$T/n1/node.crt"
expect 1 "reason keyCompromise" hverify "$H/root" "$H/p11" "$T/n1/node.crt"
expect 1 "already revoked" "$HUTONG" ca revoke --dir "$H/p11" --cert "$T/n1/node.crt"
HUTONG_CA_DIR=$O/p44 openssl ca -config "$CNF" -revoke "$T/n3/node.crt" -crl_reason superseded 2>/dev/null
HUTONG_CA_DIR=$O/p44 openssl ca -config "$CNF" -gencrl -out "$O/p44/crl.pem" 2>/dev/null
expect 1 "reason superseded" hverify "$O/root" "$O/p44" "$T/n3/node.crt"
expect 0 "" "$HUTONG" ca crl --dir "$H/root" --days 7
pass "revocation seen by both"

# 6. unknown CA, missing CRL, usage
expect 1 "unknown CA" hverify "$O/root" "$O/p44" "$T/n1/node.crt"
expect 1 "no CRL from CA 'Beijing CA'" "$HUTONG" ca verify --bundle "$H/root/ca.crt" \
	--crl "$H/root/crl.pem" "$T/n1/node.crt"
expect 2 "--dir is required" "$HUTONG" ca sign "$T/n1/node.csr" --out "$T/x.crt"
expect 2 "--days" "$HUTONG" ca crl --dir "$H/root" --days 0
expect 2 "unknown command" "$HUTONG" ca frobnicate
expect 0 "" "$HUTONG" ca sign --help
pass "unknown CA, missing CRL and usage errors"
echo "test_pki_openssl: all passed"
