package keyring

import (
	"context"
	"fmt"
	"slices"

	"github.com/ddbec/ddbec-go/ddbenc"
)

// BranchKey is one version of a hierarchical keyring's branch key
// (docs/dbesdk-format.md §8.10.4).
type BranchKey struct {
	ID      string // branch key id
	Version string // version UUID, canonical lowercase 8-4-4-4-12 form
	Key     []byte // 32 bytes
}

// BranchKeySource returns branch keys: a key store, a cache in front of one,
// or a static set. Implementations must be safe for concurrent use.
type BranchKeySource interface {
	// ActiveBranchKey returns the version of id to encrypt with.
	ActiveBranchKey(ctx context.Context, id string) (BranchKey, error)
	// BranchKeyVersion returns one version of id, to decrypt with.
	BranchKeyVersion(ctx context.Context, id, version string) (BranchKey, error)
}

// StaticBranchKeys is a BranchKeySource over fixed keys, for tests and test
// vectors: each id has one key, which is both active and the answer to every
// version lookup (the published DB-ESDK vectors' static key store).
type StaticBranchKeys map[string]BranchKey

// NewStaticBranchKeys returns a source holding the given keys.
func NewStaticBranchKeys(keys ...BranchKey) StaticBranchKeys {
	s := StaticBranchKeys{}
	for _, k := range keys {
		s[k.ID] = BranchKey{ID: k.ID, Version: k.Version, Key: slices.Clone(k.Key)}
	}
	return s
}

// ActiveBranchKey implements BranchKeySource.
func (s StaticBranchKeys) ActiveBranchKey(_ context.Context, id string) (BranchKey, error) {
	k, ok := s[id]
	if !ok {
		return BranchKey{}, fmt.Errorf("%w: no branch key %q", ddbenc.ErrWrongKey, id)
	}
	return k, nil
}

// BranchKeyVersion implements BranchKeySource.
func (s StaticBranchKeys) BranchKeyVersion(ctx context.Context, id, _ string) (BranchKey, error) {
	return s.ActiveBranchKey(ctx, id)
}
