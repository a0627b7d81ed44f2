package ddbenc_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/ddbenc"
)

// TestWriteFormat checks that WriteFormat is the format ReadItem reports
// for an item EncryptItem wrote, under every migration policy that writes,
// and that KeyNames are the table's key names.
func TestWriteFormat(t *testing.T) {
	ctx := context.Background()
	item := map[string]types.AttributeValue{
		pk: &types.AttributeValueMemberS{Value: "p"}, sk: &types.AttributeValueMemberN{Value: "1"},
		"secret": &types.AttributeValueMemberS{Value: "s"},
	}
	for _, c := range []struct {
		lp   ddbenc.LegacyPolicy
		pp   ddbenc.PlaintextPolicy
		want ddbenc.ItemFormat
	}{
		{noLegacy, ddbenc.ForbidPlaintextWriteForbidPlaintextRead, ddbenc.DBESDKItem},
		{ddbenc.ForbidLegacyEncryptAllowLegacyDecrypt, ddbenc.ForbidPlaintextWriteAllowPlaintextRead, ddbenc.DBESDKItem},
		{ddbenc.ForceLegacyEncryptAllowLegacyDecrypt, ddbenc.ForbidPlaintextWriteForbidPlaintextRead, ddbenc.LegacyItem},
		{noLegacy, ddbenc.ForcePlaintextWriteAllowPlaintextRead, ddbenc.PlaintextItem},
	} {
		e := migEncryptor(t, c.lp, c.pp)
		if got := e.WriteFormat(); got != c.want {
			t.Errorf("%v/%v: WriteFormat %v, want %v", c.lp, c.pp, got, c.want)
		}
		enc, err := e.EncryptItem(ctx, item)
		if err != nil {
			t.Fatal(err)
		}
		if _, f, err := e.ReadItem(ctx, enc); err != nil || f != e.WriteFormat() {
			t.Errorf("%v/%v: ReadItem of a written item: %v %v, WriteFormat %v", c.lp, c.pp, f, err, e.WriteFormat())
		}
		if got := e.KeyNames(); !slices.Equal(got, []string{pk, sk}) {
			t.Errorf("KeyNames %v", got)
		}
	}
}
