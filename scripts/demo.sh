#!/usr/bin/env bash
# The story without DynamoDB (the global-table demo with DynamoDB Local comes
# with issue 4): a writer in us-east-1 encrypts an item with the primary of a
# multi-Region KMS key, a reader in us-west-2 decrypts it with the replica, and
# the fake KMS shows that the reader never called us-east-1. Then the same with
# the static vector keys and inspect.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
KEYS=${KEYS:-testdata/vectors/legacy/encrypted_item/keys.json}
ACTIONS='{"default":"encrypt_and_sign","attributes":{"plan":"sign"}}'
ITEM='{"customer_id":{"S":"c-42"},"email":{"S":"ada@example.com"},"plan":{"S":"pro"}}'
table=(--table Customers --partition-key customer_id --actions "$ACTIONS")

# Fake KMS with one MRK: primary in us-east-1, replica in us-west-2.
tmp=$(mktemp -d)
trap 'kill $kms_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
echo '[{"region":"us-east-1","multi_region":true,"replicas":["us-west-2"]}]' > "$tmp/keys.json"
"$BIN/fakekms" -seed demo -keys "$tmp/keys.json" > "$tmp/ready" &
kms_pid=$!
for _ in $(seq 50); do [ -s "$tmp/ready" ] && break; sleep 0.1; done
endpoint=$(sed -E 's/.*"endpoint":"([^"]+)".*/\1/' "$tmp/ready")
primary=$(sed -E 's/.*"keys":\["([^"]+)","([^"]+)".*/\1/' "$tmp/ready")
replica=$(sed -E 's/.*"keys":\["([^"]+)","([^"]+)".*/\2/' "$tmp/ready")
export AWS_ACCESS_KEY_ID=fake AWS_SECRET_ACCESS_KEY=fake AWS_EC2_METADATA_DISABLED=true
kms=(--provider kms --kms-endpoint "$endpoint")

echo "== multi-Region key: write in us-east-1, read in us-west-2 (fake KMS at $endpoint)"
echo "plaintext:           $ITEM"
stored=$(echo "$ITEM" | "$BIN/ddbec" encrypt "${table[@]}" "${kms[@]}" --kms-key-arn "$primary")
echo "stored (us-east-1):  ${stored:0:150}..."
echo "read with replica:   $(echo "$stored" | "$BIN/ddbec" decrypt "${table[@]}" "${kms[@]}" --kms-key-arn "$replica")"
echo "  writer key: $primary"
echo "  reader key: $replica"

echo
echo "== the same in the DB-ESDK format: KMS MRK keyring, us-east-1 writer, us-west-2 reader"
dbe=(--format dbesdk --table Customers --partition-key customer_id --actions "$ACTIONS" --keyring kms-mrk --kms-endpoint "$endpoint")
stored=$(echo "$ITEM" | "$BIN/ddbec" encrypt "${dbe[@]}" --kms-key-arn "$primary")
echo "stored (us-east-1):  ${stored:0:150}..."
echo "read with replica:   $(echo "$stored" | "$BIN/ddbec" decrypt "${dbe[@]}" --kms-key-arn "$replica")"

echo
echo "== static vector keys, RSA-wrapped content key, and inspect"
stored=$(echo "$ITEM" | "$BIN/ddbec" encrypt "${table[@]}" --keys "$KEYS" --provider wrapped --wrapping-key rsaEncPub --signing-key rsaSignPriv)
echo "inspect:   $(echo "$stored" | "$BIN/ddbec" inspect --partition-key customer_id --actions "$ACTIONS")"
echo "decrypted: $(echo "$stored" | "$BIN/ddbec" decrypt "${table[@]}" --keys "$KEYS" --provider wrapped --unwrapping-key rsaEncPriv --verification-key rsaSignPub)"
