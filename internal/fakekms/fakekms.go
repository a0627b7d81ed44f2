// Package fakekms is an in-memory AWS KMS that speaks the KMS JSON 1.1 wire
// protocol (POST /, X-Amz-Target: TrentService.<Op>), so the real
// aws-sdk-go-v2 KMS client talks to it through BaseEndpoint. It models
// multi-Region keys: one server serves every Region, a request's Region comes
// from the SigV4 credential scope of its Authorization header (as DynamoDB
// Local does), and a replica of an MRK has the same key id and key material
// as its primary in another Region.
//
// Operations: CreateKey, ReplicateKey, DescribeKey, ListKeys, GenerateDataKey,
// GenerateDataKeyWithoutPlaintext, Encrypt, Decrypt, ReEncrypt, EnableKey,
// DisableKey, ScheduleKeyDeletion. Not modelled: aliases, grants (grant tokens
// are accepted and recorded), key policies and IAM, asymmetric and HMAC keys,
// key rotation, custom key stores, multiple accounts per server, and the real
// ciphertext format (blobs are this package's own, authenticated with AES-GCM
// over the encryption context and key id).
//
// Tests start one with Start (or serve New's Server on any listener, as
// cmd/fakekms does), talk to it with NewClient, and drive it through the test
// hooks: Calls and Count read the call log, Inject queues throttling, 5xx and
// latency faults, SetLatency delays every call, Reset clears them, SetKeyState forces a key state, and a
// Clock given as Options.Now moves keys past Options.ReplicaDelay.
//
// Files: fakekms.go (Options, Server, New), server.go (HTTP handler and wire
// protocol), keys.go (key model, MRKs and replicas, states, ARNs), blob.go
// (ciphertext blob format), ops_keys.go, ops_crypto.go and ops_state.go (the
// operations), hooks.go (call log, counters, faults, latency), clock.go (Clock),
// client.go (NewClient) and start.go (Start).
package fakekms

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// Account is the account id of every key (default 111122223333).
	Account string
	// Partition of the ARNs (default "aws").
	Partition string
	// Seed makes key ids and key material deterministic; empty means random.
	Seed []byte
	// ReplicaDelay is how long a new replica stays Creating.
	ReplicaDelay time.Duration
	// Now is the clock (default time.Now); tests pass a Clock's Now to move
	// past replica delays.
	Now func() time.Time
}

// Server is a fake KMS. It is safe for concurrent use.
type Server struct {
	opts Options

	mu      sync.Mutex
	keys    map[string]map[string]*key // region → key id → key
	next    int
	calls   []Call
	counts  map[string]int
	faults  []*Fault
	latency time.Duration // SetLatency
	secrets []byte
}

// New returns a server.
func New(opts Options) *Server {
	if opts.Account == "" {
		opts.Account = "111122223333"
	}
	if opts.Partition == "" {
		opts.Partition = "aws"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	seed := opts.Seed
	if len(seed) == 0 {
		seed = make([]byte, 32)
		rand.Read(seed)
	}
	return &Server{opts: opts, keys: map[string]map[string]*key{}, counts: map[string]int{}, secrets: seed}
}

// derive returns HMAC-SHA256(seed, label), the source of key ids and key
// material.
func (s *Server) derive(label string) []byte {
	m := hmac.New(sha256.New, s.secrets)
	m.Write([]byte(label))
	return m.Sum(nil)
}
