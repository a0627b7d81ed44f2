package ddbenctest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// KMSOptions configure a KMS.
type KMSOptions struct {
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

// KMS is a fake KMS. It is safe for concurrent use.
type KMS struct {
	opts KMSOptions

	mu      sync.Mutex
	keys    map[string]map[string]*key // region → key id → key
	next    int
	calls   []KMSCall
	counts  map[string]int
	faults  []*KMSFault
	latency time.Duration // SetLatency
	secrets []byte
}

// NewKMS returns a fake KMS with no listener: serve it (it is an
// http.Handler) on any server, as cmd/fakekms does, or use NewKMSServer or
// StartKMS.
func NewKMS(opts KMSOptions) *KMS {
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
	return &KMS{opts: opts, keys: map[string]map[string]*key{}, counts: map[string]int{}, secrets: seed}
}

// derive returns HMAC-SHA256(seed, label), the source of key ids and key
// material.
func (s *KMS) derive(label string) []byte {
	m := hmac.New(sha256.New, s.secrets)
	m.Write([]byte(label))
	return m.Sum(nil)
}
