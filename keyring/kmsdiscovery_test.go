package keyring_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/keyring"
)

// TestKMSMRKDiscovery: the discovery keyring in us-west-2 reads an item
// written with the us-east-1 primary through the us-west-2 replica (§8.8
// step 5), every call in us-west-2; the filter skips other accounts and
// partitions; single-Region keys of other Regions are skipped.
func TestKMSMRKDiscovery(t *testing.T) {
	w := newKMSWorld(t)
	ourAccount := &keyring.DiscoveryFilter{Partition: "aws", Accounts: []string{"444455556666", "111122223333"}}
	mrkItem := encryptWith(t, must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(w.client(east), w.primary)))
	singleItem := encryptWith(t, must[*keyring.KMS](t)(keyring.NewKMS(w.client(east), w.single)))

	for name, filter := range map[string]*keyring.DiscoveryFilter{"no filter": nil, "filter": ourAccount} {
		westKR := must[*keyring.KMSMRKDiscovery](t)(keyring.NewKMSMRKDiscovery(w.client(west), west, filter))
		n := w.mark()
		decryptWith(t, westKR, mrkItem)
		checkCalls(t, w.since(n), west, w.replica, "Decrypt")

		n = w.mark()
		if err := decryptErr(t, westKR, singleItem); !errors.Is(err, ddbenc.ErrWrongKey) {
			t.Errorf("%s: single-Region key of another Region: %v", name, err)
		}
		if c := w.since(n); len(c) != 0 {
			t.Errorf("%s: KMS calls %v for a single-Region key of another Region", name, c)
		}

		eastKR := must[*keyring.KMSMRKDiscovery](t)(keyring.NewKMSMRKDiscovery(w.client(east), "", filter))
		n = w.mark()
		decryptWith(t, eastKR, singleItem)
		checkCalls(t, w.since(n), east, w.single, "Decrypt")
	}

	for name, filter := range map[string]*keyring.DiscoveryFilter{
		"other account":   {Partition: "aws", Accounts: []string{"444455556666"}},
		"other partition": {Partition: "aws-cn", Accounts: []string{"111122223333"}},
	} {
		kr := must[*keyring.KMSMRKDiscovery](t)(keyring.NewKMSMRKDiscovery(w.client(west), west, filter))
		n := w.mark()
		if err := decryptErr(t, kr, mrkItem); !errors.Is(err, ddbenc.ErrWrongKey) || !errors.Is(err, keyring.ErrNoMatchingKey) {
			t.Errorf("%s: %v", name, err)
		}
		if c := w.since(n); len(c) != 0 {
			t.Errorf("%s: KMS calls %v", name, c)
		}
	}

	// Discovery cannot encrypt.
	kr := must[*keyring.KMSMRKDiscovery](t)(keyring.NewKMSMRKDiscovery(w.client(west), west, nil))
	if err := kr.OnEncrypt(context.Background(), &ddbenc.KeyringMaterials{EncryptionContext: map[string]string{}}); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("OnEncrypt: %v", err)
	}
	if w.fake.Count("GenerateDataKey") != 2 {
		t.Errorf("GenerateDataKey calls %d, want 2 (the two writers)", w.fake.Count("GenerateDataKey"))
	}
}

func TestKMSMRKDiscoveryConfig(t *testing.T) {
	w := newKMSWorld(t)
	for name, filter := range map[string]*keyring.DiscoveryFilter{
		"no partition":  {Accounts: []string{"111122223333"}},
		"no accounts":   {Partition: "aws"},
		"empty account": {Partition: "aws", Accounts: []string{""}},
	} {
		if _, err := keyring.NewKMSMRKDiscovery(w.client(west), west, filter); !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := keyring.NewKMSMRKDiscovery(nil, west, nil); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("nil client: %v", err)
	}
	if _, err := keyring.NewKMSMRKDiscovery(&recKMS{KMSAPI: w.client(west)}, "", nil); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("no Region anywhere: %v", err)
	}
	// The keyring's Region differs from the client's.
	if _, err := keyring.NewKMSMRKDiscovery(w.client(east), west, nil); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("Region mismatch: %v", err)
	}
	kr := must[*keyring.KMSMRKDiscovery](t)(keyring.NewKMSMRKDiscovery(w.client(east), west, nil, func(o *keyring.KMSOptions) {
		o.AllowCrossRegion = true
		o.GrantTokens = []string{"gt"}
	}))
	stored := encryptWith(t, must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(w.client(east), w.primary)))
	n := w.mark()
	decryptWith(t, kr, stored)
	calls := w.since(n)
	checkCalls(t, calls, west, w.replica, "Decrypt")
	if len(calls) == 1 && (len(calls[0].GrantTokens) != 1 || calls[0].GrantTokens[0] != "gt") {
		t.Errorf("grant tokens %v", calls[0].GrantTokens)
	}
}
