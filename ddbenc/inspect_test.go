package ddbenc_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/keyring"
)

func TestInspectHeader(t *testing.T) {
	kr, err := keyring.NewRawAES("ns-inspect", "aes-256", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := ddbenc.NewEncryptor(ddbenc.TableConfig{
		TableName: "T", PartitionKey: "pk", Format: ddbenc.DBESDKFormat, Keyring: kr, Suite: ddbenc.SuiteSymmetricOnly,
		Actions: actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
			"pk": actions.SignAndIncludeInEncryptionContext, "tenant": actions.SignAndIncludeInEncryptionContext, "note": actions.DoNothing,
		}},
		AllowedUnsignedAttributes: []string{"note"},
	})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := enc.EncryptItem(context.Background(), map[string]types.AttributeValue{
		"pk":     &types.AttributeValueMemberS{Value: "a"},
		"tenant": &types.AttributeValueMemberS{Value: "t1"},
		"secret": &types.AttributeValueMemberS{Value: "s"},
		"note":   &types.AttributeValueMemberS{Value: "n"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := ddbenc.InspectItemHeader(stored)
	if err != nil {
		t.Fatal(err)
	}
	raw := stored[ddbenc.HeaderAttribute].(*types.AttributeValueMemberB).Value
	// Signed fields in §3.2 order (UTF-16 length, then bytes): pk, secret, tenant.
	if h.Version != 2 || h.Suite != ddbenc.SuiteSymmetricOnly || h.Legend != "cec" || h.Bytes != len(raw) {
		t.Errorf("header = version %d, suite %v, legend %q, %d bytes; want 2, %v, \"cec\", %d", h.Version, h.Suite, h.Legend, h.Bytes, ddbenc.SuiteSymmetricOnly, len(raw))
	}
	if len(h.EncryptedDataKeys) != 1 || h.EncryptedDataKeys[0].ProviderID != "ns-inspect" || h.EncryptedDataKeys[0].CiphertextBytes == 0 {
		t.Errorf("EDKs = %+v, want one of provider ns-inspect", h.EncryptedDataKeys)
	}

	if _, err := ddbenc.InspectHeader(raw[:len(raw)-1]); !errors.Is(err, ddbenc.ErrMalformed) {
		t.Errorf("truncated header: %v, want ErrMalformed", err)
	}
	if _, err := ddbenc.InspectItemHeader(map[string]types.AttributeValue{"pk": stored["pk"]}); !errors.Is(err, ddbenc.ErrMissingAttribute) {
		t.Errorf("item without header: %v, want ErrMissingAttribute", err)
	}
	if _, err := ddbenc.InspectItemHeader(map[string]types.AttributeValue{ddbenc.HeaderAttribute: &types.AttributeValueMemberS{Value: "x"}}); !errors.Is(err, ddbenc.ErrMalformed) {
		t.Errorf("string header: %v, want ErrMalformed", err)
	}
}
