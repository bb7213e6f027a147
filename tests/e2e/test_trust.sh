#!/usr/bin/env bash
# Trust on one node through the CLI: certs, certificate renewal, key
# rotation (and a restart with the rotated key), revocation records, and a
# CRL reloaded on SIGHUP.
source "$(dirname "$0")/lib.sh"

CA="$E2E_TMP/ca"; N="$E2E_TMP/nanjing"; O="$E2E_TMP/other"
make_ca "$CA"
check "node set up" new_node "$N" nanjing 320100 "$CA"
start_daemon "$N" || { not_ok "daemon start"; e2e_finish; exit 1; }

"$HUTONG" -d "$N" certs --json > "$E2E_TMP/certs.json"
check "certs --json lists the node as valid" grep -q '"state": "valid"' "$E2E_TMP/certs.json"
check "certs names the issuer" grep -q '"issuer": "National Root"' "$E2E_TMP/certs.json"
check "certs text" sh -c "'$HUTONG' -d '$N' certs | grep -q '320100  nanjing'"
serial1=$(grep -o '"serial": "[0-9A-F]*"' "$E2E_TMP/certs.json")

# Renewal: same key, new certificate.
"$HUTONG" ca sign --dir "$CA" "$N/node.csr" --out "$E2E_TMP/renewed.crt" >/dev/null
rid=$("$HUTONG" -d "$N" rotate --cert "$E2E_TMP/renewed.crt")
check "renewal records a rotation" test "${#rid}" -eq 64
check "rotation is in the chain" sh -c "'$HUTONG' -d '$N' list --kind rotation | grep -q '$rid'"
serial2=$("$HUTONG" -d "$N" certs --json | grep -o '"serial": "[0-9A-F]*"')
check "certs shows the renewed certificate" test "$serial1" != "$serial2"

# Key rotation: a new key, a CSR for it, a certificate, rotate.
openssl genpkey -algorithm ed25519 -out "$E2E_TMP/new.key" 2>/dev/null && chmod 600 "$E2E_TMP/new.key"
check "csr for a new key" "$HUTONG" -d "$N" csr --key "$E2E_TMP/new.key" --out "$E2E_TMP/new.csr"
"$HUTONG" ca sign --dir "$CA" "$E2E_TMP/new.csr" --out "$E2E_TMP/new.crt" >/dev/null
expect_fail "rotate refuses a certificate for another key" "wrong key|key" \
	"$HUTONG" -d "$N" rotate --key "$E2E_TMP/new.key" --cert "$E2E_TMP/renewed.crt"
kid=$("$HUTONG" -d "$N" rotate --key "$E2E_TMP/new.key" --cert "$E2E_TMP/new.crt")
check "key rotation" test "${#kid}" -eq 64
check "installed key is the new one" cmp -s "$E2E_TMP/new.key" "$N/node.key"
id=$("$HUTONG" -d "$N" submit intel --author o1 --summary "after rotation")
check "submit after key rotation" test "${#id}" -eq 64
check "verify follows the rotation" "$HUTONG" -d "$N" verify
check "restart" stop_daemon "$N"
start_daemon "$N" && ok "daemon restarts with the rotated key" || not_ok "daemon restarts with the rotated key"
id=$("$HUTONG" -d "$N" submit intel --author o1 --summary "after restart")
check "submit after restart" test "${#id}" -eq 64

# A revocation record: revoke another node's certificate, relay the CRL.
"$HUTONG" init --dir "$O" --name suzhou --region 320500 >/dev/null
"$HUTONG" ca sign --dir "$CA" "$O/node.csr" --out "$O/node.crt" >/dev/null
check "ca revoke" "$HUTONG" ca revoke --dir "$CA" --cert "$O/node.crt" --reason keyCompromise
rev=$("$HUTONG" -d "$N" submit revocation "$CA/crl.pem")
check "submit revocation stores a record" test "${#rev}" -eq 64
check "revocation record listed" sh -c "'$HUTONG' -d '$N' list --kind revocation | grep -q '$rev'"
make_ca "$E2E_TMP/rogue" "Rogue Root"
expect_fail "revocation from a CA outside the bundle refused" "not signed by a CA of the trust bundle" \
	"$HUTONG" -d "$N" submit revocation "$E2E_TMP/rogue/crl.pem"
expect_fail "revocation with a file that is no CRL" "not a CRL" \
	"$HUTONG" -d "$N" submit revocation "$N/hutongd.conf"

# CRL reload on SIGHUP: revoke this node's own certificate. CRL dates have
# one-second resolution: revoke in a later second than the records above.
sleep 1.1
"$HUTONG" ca revoke --dir "$CA" --cert "$N/node.crt" --reason superseded >/dev/null
cp "$CA/crl.pem" "$N/ca.crl"
kill -HUP "$(cat "$N/.e2e.pid")"
for _ in $(seq 50); do grep -q "CRLs reloaded" "$N/hutongd.log" && break; sleep 0.1; done
check "SIGHUP reloads the CRL" grep -q "CRLs reloaded" "$N/hutongd.log"
expect_fail "a revoked node cannot sign" "revoked since" \
	"$HUTONG" -d "$N" submit intel --author o1 --summary "after revocation"
check "certs shows revoked" sh -c "'$HUTONG' -d '$N' certs --json | grep -q '\"state\": \"revoked\"'"
check "verify still clean" "$HUTONG" -d "$N" verify
e2e_finish
