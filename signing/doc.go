// Package signing holds the keys that sign and verify items: the [Signer]
// and [Verifier] interfaces that materials providers hand to the item
// encryptor, and their HMAC and RSASSA-PKCS1-v1_5 implementations.
//
// What is signed — the string to sign of the legacy format — is built by the
// item encryptor (docs/legacy-format.md §4); these types only see its bytes.
package signing
