#!/usr/bin/env bash
# Encrypts one item with the ddbec CLI, shows what is stored and what inspect
# reveals, then decrypts it. Uses the legacy vectors' keys (never use them for
# real data).
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-testdata/vectors/legacy/encrypted_item/keys.json}
BIN=${BIN:-bin/ddbec}
ACTIONS='{"default":"encrypt_and_sign","attributes":{"plan":"sign"}}'
ITEM='{"customer_id":{"S":"c-42"},"email":{"S":"ada@example.com"},"plan":{"S":"pro"}}'
common=(--table Customers --partition-key customer_id --actions "$ACTIONS" --keys "$KEYS" --provider wrapped)

echo "plaintext: $ITEM"
stored=$(echo "$ITEM" | "$BIN" encrypt "${common[@]}" --wrapping-key rsaEncPub --signing-key rsaSignPriv)
echo "stored:    ${stored:0:160}..."
echo "inspect:   $(echo "$stored" | "$BIN" inspect --partition-key customer_id --actions "$ACTIONS")"
echo "decrypted: $(echo "$stored" | "$BIN" decrypt "${common[@]}" --unwrapping-key rsaEncPriv --verification-key rsaSignPub)"
