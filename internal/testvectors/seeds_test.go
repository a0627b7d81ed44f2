package testvectors_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ddbec/ddbec-go/internal/testvectors"
)

// fatalTB records Fatalf instead of stopping the test.
type fatalTB struct{ msgs []string }

func (*fatalTB) Helper() {}
func (tb *fatalTB) Fatalf(format string, args ...any) {
	tb.msgs = append(tb.msgs, fmt.Sprintf(format, args...))
}

func TestSeedsFailOnEmptyCorpus(t *testing.T) {
	for name, src := range map[string]testvectors.SeedSource{
		"empty":    func(string) ([][]byte, error) { return nil, nil },
		"unusable": func(string) ([][]byte, error) { return nil, errors.New("unreadable") },
	} {
		tb := &fatalTB{}
		if seeds := testvectors.Seeds(tb, src); seeds != nil || len(tb.msgs) != 1 {
			t.Errorf("%s: Seeds = %d seeds, failures %q; want none and one failure", name, len(seeds), tb.msgs)
		}
	}
	tb := &fatalTB{}
	testvectors.Seeds(tb, func(string) ([][]byte, error) { return [][]byte{}, nil })
	if len(tb.msgs) != 1 || !strings.Contains(tb.msgs[0], "empty seed corpus") {
		t.Errorf("empty corpus: failures %q, want one naming the empty seed corpus", tb.msgs)
	}
}

// TestSeedSources: every source gives seeds from the repository's vectors,
// so every fuzz target seeded from them has a corpus.
func TestSeedSources(t *testing.T) {
	for name, src := range map[string]testvectors.SeedSource{
		"ciphertext items":      testvectors.CiphertextItemSeeds,
		"serialized attributes": testvectors.SerializedAttributeSeeds,
		"material descriptions": testvectors.MaterialDescriptionSeeds,
	} {
		tb := &fatalTB{}
		if seeds := testvectors.Seeds(tb, src); len(seeds) == 0 || len(tb.msgs) != 0 {
			t.Errorf("%s: %d seeds, failures %q", name, len(seeds), tb.msgs)
		}
	}
}
