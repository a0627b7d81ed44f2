package provider

import (
	"encoding/hex"
	"testing"

	"github.com/ddbec/ddbec-go/internal/awsarn"
)

func TestHKDFVector(t *testing.T) {
	// Spec §6.5: IKM = 00 01 … 1f.
	ikm := make([]byte, 32)
	for i := range ikm {
		ikm[i] = byte(i)
	}
	enc, mac, err := deriveKeys(ikm, 256, 256)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(enc), "781ddf3715c39edff39465b0bdc122575ccc03d55a2bb23a3c2abadc853f0a78"; got != want {
		t.Errorf("Encryption key = %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(mac), "1ce18b7e6ba3388e72a987d0c3b7993222c321f3cd78aefc2c846699a325a157"; got != want {
		t.Errorf("Signing key = %s, want %s", got, want)
	}
}

// The ARN parser itself is tested in internal/awsarn.
func TestSameOrRelatedMRK(t *testing.T) {
	east, _ := awsarn.ParseKMSKey("arn:aws:kms:us-east-1:111122223333:key/mrk-1")
	west, _ := awsarn.ParseKMSKey("arn:aws:kms:us-west-2:111122223333:key/mrk-1")
	other, _ := awsarn.ParseKMSKey("arn:aws:kms:us-west-2:999999999999:key/mrk-1")
	single1, _ := awsarn.ParseKMSKey("arn:aws:kms:us-east-1:111122223333:key/1")
	single2, _ := awsarn.ParseKMSKey("arn:aws:kms:us-west-2:111122223333:key/1")
	cn, _ := awsarn.ParseKMSKey("arn:aws-cn:kms:us-west-2:111122223333:key/mrk-1")
	for _, c := range []struct {
		want, got awsarn.KMSKey
		ok        bool
	}{{west, east, true}, {east, west, true}, {west, other, false}, {single1, single2, false}, {single1, single1, true}, {west, cn, false}} {
		if sameOrRelatedMRK(c.want, c.got) != c.ok {
			t.Errorf("sameOrRelatedMRK(%s, %s) != %v", c.want, c.got, c.ok)
		}
	}
}
