package ddbenc

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/internal/legacy"
)

func TestClassify(t *testing.T) {
	b := &types.AttributeValueMemberB{Value: []byte{1}}
	s := &types.AttributeValueMemberS{Value: "v"}
	const bad ItemFormat = 255 // refused
	for name, c := range map[string]struct {
		item map[string]types.AttributeValue
		want ItemFormat
	}{
		"nil":                 {nil, PlaintextItem},
		"plaintext":           {map[string]types.AttributeValue{"pk": s}, PlaintextItem},
		"plaintext lookalike": {map[string]types.AttributeValue{"pk": s, "aws_dbe": b, "amzn-ddb-map-sig": b, "*amzn-ddb-map-sig": b}, PlaintextItem},
		"only a description":  {map[string]types.AttributeValue{"pk": s, legacy.MaterialDescriptionAttribute: b}, LegacyItem},
		"only a signature":    {map[string]types.AttributeValue{"pk": s, legacy.SignatureAttribute: b}, LegacyItem},
		"legacy":              {map[string]types.AttributeValue{"pk": s, legacy.SignatureAttribute: b, legacy.MaterialDescriptionAttribute: b}, LegacyItem},
		"db-esdk":             {map[string]types.AttributeValue{"pk": s, "aws_dbe_head": b, "aws_dbe_foot": b}, DBESDKItem},
		"only aws_dbe_head":   {map[string]types.AttributeValue{"pk": s, "aws_dbe_head": b}, DBESDKItem},
		"only aws_dbe_foot":   {map[string]types.AttributeValue{"pk": s, "aws_dbe_foot": b}, DBESDKItem},
		"other aws_dbe_ name": {map[string]types.AttributeValue{"pk": s, "aws_dbe_other": b}, PlaintextItem},
		"both":                {map[string]types.AttributeValue{"pk": s, "aws_dbe_head": b, legacy.SignatureAttribute: b}, bad},
		"both (desc, foot)":   {map[string]types.AttributeValue{"pk": s, "aws_dbe_foot": b, legacy.MaterialDescriptionAttribute: b}, bad},
	} {
		got, err := classify(c.item)
		switch {
		case c.want == bad && !errors.Is(err, ErrMalformed):
			t.Errorf("%s: classify = %v, %v; want ErrMalformed", name, got, err)
		case c.want != bad && (err != nil || got != c.want):
			t.Errorf("%s: classify = %v, %v; want %v", name, got, err, c.want)
		}
	}
}

// TestFormatSeam: a table's format decides what is reserved and which
// engine runs; an unknown format is refused before any I/O.
func TestFormatSeam(t *testing.T) {
	if !LegacyFormat.reserved(legacy.SignatureAttribute) || !LegacyFormat.reserved(legacy.MaterialDescriptionAttribute) || LegacyFormat.reserved("aws_dbe_head") {
		t.Error("LegacyFormat reserves the wrong attributes")
	}
	if Format(9).reserved(legacy.SignatureAttribute) || Format(9).valid() {
		t.Error("an unknown format reserves attributes or is valid")
	}
	if got := Format(9).String(); got != "Format(9)" {
		t.Errorf("String() = %q", got)
	}
	cfg := TableConfig{TableName: "T", PartitionKey: "pk", Actions: actions.Map{Default: actions.DoNothing}, Format: 9}
	if _, err := NewEncryptor(cfg); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewEncryptor with an unknown format: %v", err)
	}
	cfg.PartitionKey = ""
	if _, err := NewClient(noDynamoDB{}, []TableConfig{cfg}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewClient with an unknown format: %v", err)
	}
	// The engine dispatches on the format even after construction.
	e, err := NewEncryptor(TableConfig{TableName: "T", PartitionKey: "pk", Actions: actions.Map{Default: actions.DoNothing}})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.Format = 9
	item := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k"}}
	if _, err := e.EncryptItem(context.Background(), item); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("EncryptItem under an unknown format: %v", err)
	}
	if _, err := e.DecryptItem(context.Background(), item); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("DecryptItem under an unknown format: %v", err)
	}
}

// noDynamoDB is a DynamoDBAPI that must not be called.
type noDynamoDB struct{ DynamoDBAPI }
