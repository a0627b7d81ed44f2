package keyring_test

import (
	"errors"
	"strings"
	"testing"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/keyring"
)

// TestKMSMRKCrossRegionRead: an item written with the us-east-1 primary is
// read with the us-west-2 replica's ARN (§8.7), every call of the reader in
// us-west-2 with KeyId = the replica's ARN; and the other way round.
func TestKMSMRKCrossRegionRead(t *testing.T) {
	w := newKMSWorld(t)
	for _, d := range []struct {
		name                string
		fromRegion, fromARN string
		toRegion, toARN     string
	}{
		{"east to west", east, w.primary, west, w.replica},
		{"west to east", west, w.replica, east, w.primary},
	} {
		t.Run(d.name, func(t *testing.T) {
			n := w.mark()
			stored := encryptWith(t, must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(w.client(d.fromRegion), d.fromARN)))
			checkCalls(t, w.since(n), d.fromRegion, d.fromARN, "GenerateDataKey")
			n = w.mark()
			decryptWith(t, must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(w.client(d.toRegion), d.toARN)), stored)
			checkCalls(t, w.since(n), d.toRegion, d.toARN, "Decrypt")
			// The strict keyring needs the exact ARN.
			err := decryptErr(t, must[*keyring.KMS](t)(keyring.NewKMS(w.client(d.toRegion), d.toARN)), stored)
			if !errors.Is(err, ddbenc.ErrWrongKey) {
				t.Errorf("strict keyring on the other replica: %v", err)
			}
		})
	}
}

// TestKMSMRKWrongKey: another MRK or a single-Region key does not MRK-match
// (no KMS call); an MRK whose replica does not exist in the reader's Region
// fails with ErrWrongKey and the SDK's NotFoundException.
func TestKMSMRKWrongKey(t *testing.T) {
	w := newKMSWorld(t)
	stored := encryptWith(t, must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(w.client(east), w.primary)))
	otherMRK := w.fake.CreateKey(east, true)
	for name, arn := range map[string]string{"other MRK": otherMRK, "single-Region key": w.single} {
		n := w.mark()
		err := decryptErr(t, must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(w.client(east), arn)), stored)
		if !errors.Is(err, ddbenc.ErrWrongKey) || !errors.Is(err, keyring.ErrNoMatchingKey) {
			t.Errorf("%s: %v", name, err)
		}
		if c := w.since(n); len(c) != 0 {
			t.Errorf("%s: KMS calls %v", name, c)
		}
	}
	// otherMRK has no us-west-2 replica: the MRK match holds, KMS says NotFound.
	lonely := must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(w.client(east), otherMRK))
	stored = encryptWith(t, lonely)
	westARN := strings.Replace(otherMRK, east, west, 1)
	n := w.mark()
	err := decryptErr(t, must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(w.client(west), westARN)), stored)
	var nf *kmstypes.NotFoundException
	if !errors.Is(err, ddbenc.ErrWrongKey) || !errors.As(err, &nf) {
		t.Errorf("missing replica: %v", err)
	}
	checkCalls(t, w.since(n), west, westARN, "Decrypt")
}
