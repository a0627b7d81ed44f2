// Package ddbenctest runs, on one machine and without AWS, what a test of
// an application that uses client-side encryption of DynamoDB items needs:
// DynamoDB Local, an in-memory fake AWS KMS with multi-Region keys, and a
// two-Region global table replicated through DynamoDB Streams. It is to
// DynamoDB and KMS what net/http/httptest is to HTTP servers.
//
// Each piece has a one-call helper for tests, which stops it when the test
// ends (t.Cleanup), and a plain constructor returning a value to Close, for
// main programs and TestMain:
//
//	test helper          plain constructor      what
//	StartDynamoDB(t)     NewDynamoDB(ctx)       DynamoDB Local (or DDBEC_DYNAMODB_ENDPOINT)
//	StartKMS(t, opts)    NewKMSServer(opts)     the fake KMS on a loopback port
//	StartEnv(t)          NewEnv(ctx, opts)      both, with an MRK in us-east-1 and its replica in us-west-2
//	Env.StartGlobalTable Env.CreateGlobalTable  a table in both Regions, replicated both ways
//
// When DynamoDB Local cannot start (no Java, no npm to fetch it once, no
// DDBEC_DYNAMODB_ENDPOINT), the test helpers skip the test with the reason,
// or fail it when the environment has CI=true, so a CI run never passes by
// skipping.
//
// # DynamoDB Local
//
// NewDynamoDB uses DDBEC_DYNAMODB_ENDPOINT when it is set (docker-compose
// users, or an instance already running). Otherwise it finds DynamoDB Local
// in a cache directory ($DDBEC_CACHE_DIR, else the user cache directory +
// /ddbec), fetching it once with `npm pack amplify-dynamodb-simulator@2.9.30`
// (which ships DynamoDB Local 1.25.1), and starts it with Java on a free
// 127.0.0.1 port, in memory. Clients signing for different Regions see
// separate tables: that is how two Regions of a global table live in one
// process.
//
// # The fake KMS
//
// KMS is an in-memory AWS KMS that speaks the KMS JSON 1.1 wire protocol
// (POST /, X-Amz-Target: TrentService.<Op>), so the real aws-sdk-go-v2 KMS
// client talks to it through BaseEndpoint. It models multi-Region keys: one
// server serves every Region, a request's Region comes from the SigV4
// credential scope of its Authorization header (as DynamoDB Local does), and
// a replica of an MRK has the same key id and key material as its primary in
// another Region.
//
// Operations: CreateKey, ReplicateKey, DescribeKey, ListKeys, GenerateDataKey,
// GenerateDataKeyWithoutPlaintext, Encrypt, Decrypt, ReEncrypt, EnableKey,
// DisableKey, ScheduleKeyDeletion. Not modelled: aliases, grants (grant tokens
// are accepted and recorded), key policies and IAM, asymmetric and HMAC keys,
// key rotation, custom key stores, multiple accounts per server, and the real
// ciphertext format (blobs are this package's own, authenticated with AES-GCM
// over the encryption context and key id).
//
// Tests drive it through its hooks: Calls and Count read the call log
// (each KMSCall has the Region it was sent to), Inject queues throttling,
// 5xx and latency faults, Reset clears them, SetKeyState forces a key state,
// and a Clock given as KMSOptions.Now moves keys past KMSOptions.ReplicaDelay.
// cmd/fakekms serves the same fake as a standalone binary.
//
// # Replication
//
// DynamoDB Local has no global tables. A Replicator reads a table's stream
// in one Region and writes each new image, byte for byte, into the
// same-named table of the other Region (and deletes removed items); it never
// decrypts anything. Env.CreateGlobalTable runs one each way.
//
// Files: doc.go, dynamodb.go (DynamoDB Local), kms.go (KMSOptions, KMS),
// kms_server.go (wire protocol), kms_keys.go (key model, MRKs, replicas,
// states, ARNs), kms_blob.go (ciphertext blobs), kms_ops_*.go (operations),
// kms_hooks.go (call log, counters, faults), kms_client.go, kms_start.go
// (KMSServer), clock.go (Clock), replicator.go, env.go (the two-Region Env)
// and tb.go (how helpers fail or skip).
package ddbenctest
