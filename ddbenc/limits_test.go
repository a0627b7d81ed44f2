package ddbenc_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
)

func TestSetsDynamoDBWouldReject(t *testing.T) {
	ctx := context.Background()
	e := newEncryptor(t, providers(t)["static-hmac"], testActions)
	cases := map[string]types.AttributeValue{
		"empty SS":            &types.AttributeValueMemberSS{Value: []string{}},
		"empty NS":            &types.AttributeValueMemberNS{},
		"empty BS":            &types.AttributeValueMemberBS{Value: [][]byte{}},
		"duplicate SS":        &types.AttributeValueMemberSS{Value: []string{"a", "a"}},
		"duplicate NS forms":  &types.AttributeValueMemberNS{Value: []string{"1", "1.0"}},
		"duplicate BS":        &types.AttributeValueMemberBS{Value: [][]byte{{1}, {1}}},
		"nested empty in map": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"x": &types.AttributeValueMemberSS{}}},
		"nested in list":      &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNS{}}},
	}
	for name, v := range cases {
		for _, attr := range []string{"secret", "signed", "ignored"} {
			item := map[string]types.AttributeValue{pk: &types.AttributeValueMemberS{Value: "k"}, sk: &types.AttributeValueMemberN{Value: "1"}, attr: v}
			_, err := e.EncryptItem(ctx, item)
			var de *ddbenc.Error
			if !errors.Is(err, ddbenc.ErrInvalidItem) || !errors.As(err, &de) || de.Attribute != attr {
				t.Errorf("%s in %s: %v, want ErrInvalidItem naming %s", name, attr, err, attr)
			}
		}
	}
}

func TestEncryptedItemOverDynamoDBLimit(t *testing.T) {
	ctx := context.Background()
	e := newEncryptor(t, providers(t)["static-hmac"], actions.Map{Default: actions.EncryptAndSign})
	// 409,500 bytes of plaintext fit under 400 KB; encrypted they do not.
	item := map[string]types.AttributeValue{
		pk:     &types.AttributeValueMemberS{Value: "k"},
		sk:     &types.AttributeValueMemberN{Value: "1"},
		"blob": &types.AttributeValueMemberB{Value: bytes.Repeat([]byte{1}, ddbenc.MaxItemSize-100)},
	}
	_, err := e.EncryptItem(ctx, item)
	if !errors.Is(err, ddbenc.ErrInvalidItem) || !strings.Contains(err.Error(), "item limit") {
		t.Fatalf("item over the limit once encrypted: %v", err)
	}
	item["blob"] = &types.AttributeValueMemberB{Value: bytes.Repeat([]byte{1}, ddbenc.MaxItemSize-400)}
	if _, err := e.EncryptItem(ctx, item); err != nil {
		t.Fatalf("item under the limit: %v", err)
	}
}

func TestUnicodeAttributeNames(t *testing.T) {
	ctx := context.Background()
	for _, p := range providers(t) {
		e := newEncryptor(t, p, actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"名前😀": actions.SignOnly}})
		item := map[string]types.AttributeValue{
			pk: &types.AttributeValueMemberS{Value: "k"}, sk: &types.AttributeValueMemberN{Value: "1"},
			"名前😀": &types.AttributeValueMemberS{Value: "sign"}, "\uFFFD": &types.AttributeValueMemberS{Value: "enc"},
			"é": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"😁": &types.AttributeValueMemberN{Value: "1"}, "\uE000": &types.AttributeValueMemberN{Value: "2"}}},
		}
		out, err := e.EncryptItem(ctx, item)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.DecryptItem(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := got["名前😀"]; !ok || len(got) != len(item) {
			t.Errorf("unicode names lost: %v", got)
		}
	}
}
