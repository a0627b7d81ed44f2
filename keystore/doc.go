// Package keystore is the branch key store of the hierarchical keyring
// (docs/dbesdk-format.md §8.10.4): a DynamoDB table of branch keys, each
// protected by AWS KMS, in the layout of the AWS key store, so that a store
// created by AWS's libraries is read here and the other way round.
//
// Table layout (CreateTable): partition key "branch-key-id" (S), sort key
// "type" (S), on-demand billing. Each branch key has one item per version
// (type "branch:version:<uuid>"), the active version's copy (type
// "branch:ACTIVE", with "version" = "branch:version:<uuid>") and a beacon key
// (type "beacon:ACTIVE"). Every item has "enc" (B, the KMS ciphertext of the
// 32-byte key), "kms-arn" (S), "create-time" (S, ISO 8601 UTC with
// microseconds), "hierarchy-version" (N 1) and, optionally, custom context
// attributes "aws-crypto-ec:<key>" (S).
//
// The KMS encryption context of an item is every attribute but "enc", as
// strings, plus "tablename" = the key store's logical name
// (Config.LogicalName, default: the table name). It binds every attribute:
// an item whose create-time, kms-arn, version or custom context was changed
// in the table no longer decrypts (ErrDecryption with ddbenc.ErrSignature).
// The logical name must be the same for every reader and writer of one
// store, also across Regions of a replicated store: AWS's libraries require
// it explicitly; here it defaults to the table name.
//
// KMS configuration (Config.KMSMode):
//
//   - KMSStrict: one key ARN; an item's kms-arn must be exactly that ARN.
//   - KMSMRK: one key ARN, normally a multi-Region key's replica in the
//     reader's Region; an item's kms-arn must MRK-match it (§8.11: equal, or
//     the same multi-Region key in another Region) and Decrypt is sent with
//     the configured ARN, to its Region. A store created in us-east-1 under
//     the primary and replicated to us-west-2 is read there with the
//     us-west-2 replica without a cross-Region call.
//   - KMSDiscovery (read only): any key ARN; Decrypt goes to the stored ARN.
//   - KMSMRKDiscovery (read only): any key ARN; a multi-Region key's ARN is
//     moved to Config.Region before Decrypt, a single-Region key of another
//     Region is refused.
//
// Aliases are never accepted: neither as the configured key (a key id or an
// alias cannot be used for Decrypt) nor as a stored kms-arn.
//
// Reads (GetActiveBranchKey, GetBranchKeyVersion, GetBeaconKey) use GetItem
// without consistent read, check every attribute's presence and type, check
// kms-arn against the configuration, send Decrypt with an explicit KeyId and
// require KMS to report that key and a 32-byte plaintext. A KeyStore is a
// keyring.BranchKeySource; put a keyring.BranchKeyCache in front of it so
// that KMS is called once per branch key version per TTL, not per item.
//
// Writes (CreateKey, VersionKey) follow AWS: GenerateDataKeyWithoutPlaintext
// (32 bytes) under the version item's context, ReEncrypt to the active
// item's context, and one conditional TransactWriteItems, so that a key is
// never overwritten and a rotation that raced another one fails
// (ErrConcurrentModification) instead of losing a version. Plaintext key
// bytes never leave KMS on writes.
//
// Errors wrap the ddbenc sentinels (ddbenc.ErrWrongKey, ErrDecryption,
// ErrMalformed, ErrInvalidConfig, ErrKeyUnavailable) and this package's own
// (ErrNotFound, ErrExists, ErrConcurrentModification, ErrTableSchema), name
// the table, branch key id and attribute, and never contain key bytes.
package keystore
