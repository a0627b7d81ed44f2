package dbesdk_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/testvectors"
	"github.com/ddbec/ddbec-go/keyring"
)

// vectorReader is the Encryptor of one DB-ESDK vector test's config
// (docs/dbesdk-format.md §12.3 defaults), with the item it reads.
type vectorReader struct {
	name     string
	enc      *ddbenc.Encryptor
	item     map[string]types.AttributeValue
	raw      []byte
	positive bool
	keys     []string
}

type keyDesc struct {
	Type          string            `json:"type"`
	Algorithm     string            `json:"encryption-algorithm"`
	ProviderID    string            `json:"provider-id"`
	Key           string            `json:"key"`
	Generator     json.RawMessage   `json:"generator"`
	ChildKeyrings []json.RawMessage `json:"childKeyrings"`
}

// vectorKeyring builds the keyring of a config.key description: the
// hierarchical keyring (absent), raw AES and multi-keyrings. Raw RSA is left
// out (ok false): a 4096-bit decryption per input would slow the fuzzer by
// orders of magnitude, and the RSA items still serve as seeds for the other
// readers.
func vectorKeyring(tb testing.TB, raw json.RawMessage, keys map[string]testvectors.DBESDKKey) (ddbenc.Keyring, bool) {
	d := keyDesc{Type: "aws-kms-hierarchy", Key: "static-branch-key-1"}
	if len(raw) > 0 && string(raw) != "null" {
		d = keyDesc{}
		if err := json.Unmarshal(raw, &d); err != nil {
			tb.Fatal(err)
		}
	}
	switch {
	case d.Type == "multi-keyring":
		var gen ddbenc.Keyring
		if len(d.Generator) > 0 {
			g, ok := vectorKeyring(tb, d.Generator, keys)
			if !ok {
				return nil, false
			}
			gen = g
		}
		var children []ddbenc.Keyring
		for _, c := range d.ChildKeyrings {
			k, ok := vectorKeyring(tb, c, keys)
			if !ok {
				return nil, false
			}
			children = append(children, k)
		}
		m, err := keyring.NewMulti(gen, children...)
		if err != nil {
			tb.Fatal(err)
		}
		return m, true
	case d.Type == "aws-kms-hierarchy":
		k := keys[d.Key]
		bk, err := base64.StdEncoding.DecodeString(k.BranchKey)
		if err != nil {
			tb.Fatal(err)
		}
		h, err := keyring.NewHierarchical(k.KeyID, keyring.NewStaticBranchKeys(keyring.BranchKey{ID: k.KeyID, Version: k.BranchKeyVersion, Key: bk}))
		if err != nil {
			tb.Fatal(err)
		}
		return h, true
	case d.Type == "raw" && d.Algorithm == "aes":
		k := keys[d.Key]
		m, err := base64.StdEncoding.DecodeString(k.Material)
		if err != nil {
			tb.Fatal(err)
		}
		a, err := keyring.NewRawAES(d.ProviderID, k.KeyID, m)
		if err != nil {
			tb.Fatal(err)
		}
		return a, true
	}
	return nil, false
}

// vectorReaders returns a reader for every vector test whose keyring
// vectorKeyring supports. It fails tb on an empty set.
func vectorReaders(tb testing.TB) []vectorReader {
	root, err := testvectors.DBESDKRoot()
	if err != nil {
		tb.Fatal(err)
	}
	tests, err := testvectors.DBESDKTests(root)
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := testvectors.DBESDKKeys(root)
	if err != nil {
		tb.Fatal(err)
	}
	var out []vectorReader
	for _, tc := range tests {
		kr, ok := vectorKeyring(tb, tc.Config.Key, keys)
		if !ok {
			continue
		}
		c := tc.Config
		cfg := ddbenc.TableConfig{
			TableName: "GazelleVectorTable", PartitionKey: "RecNum", SortKey: c.SortKey, Format: ddbenc.DBESDKFormat, Keyring: kr,
			Actions:                   actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{}},
			AllowedUnsignedAttributes: c.Unsigned, AllowedUnsignedAttributePrefix: c.UnsignedPrefix,
		}
		if c.Table != "" {
			cfg.TableName = c.Table
		}
		if c.PartitionKey != "" {
			cfg.PartitionKey = c.PartitionKey
		}
		for n, a := range c.Actions {
			act, err := actions.Parse(a)
			if err != nil {
				tb.Fatal(err)
			}
			cfg.Actions.Attributes[n] = act
		}
		enc, err := ddbenc.NewEncryptor(cfg)
		if err != nil {
			tb.Fatalf("%s/%s: %v", tc.File, tc.ID, err)
		}
		item, err := ddbjson.UnmarshalItem(tc.Encrypted)
		if err != nil {
			tb.Fatalf("%s/%s: %v", tc.File, tc.ID, err)
		}
		keyNames := []string{cfg.PartitionKey}
		if cfg.SortKey != "" {
			keyNames = append(keyNames, cfg.SortKey)
		}
		out = append(out, vectorReader{name: tc.File + "/" + tc.ID, enc: enc, item: item, raw: tc.Encrypted, positive: tc.Type == "positive-decrypt", keys: keyNames})
	}
	if len(out) == 0 {
		tb.Fatal("no DB-ESDK vector test with a supported keyring")
	}
	return out
}

var sentinels = []error{ddbenc.ErrSignature, ddbenc.ErrDecryption, ddbenc.ErrMissingAttribute, ddbenc.ErrWrongKey, ddbenc.ErrMalformed}

// checkDecrypt is the contract of every decrypt: a value or an error, never
// both; errors wrap a sentinel; a result has no aws_dbe_ attribute, keeps
// the key attributes and every other attribute name of the input.
func checkDecrypt(t *testing.T, r vectorReader, item, got map[string]types.AttributeValue, err error) {
	t.Helper()
	if err != nil {
		if got != nil {
			t.Fatalf("%s: plaintext returned with error %v", r.name, err)
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("%s: error wraps no decrypt sentinel: %v", r.name, err)
	}
	if got == nil {
		t.Fatalf("%s: nil item without an error", r.name)
	}
	for n := range got {
		if strings.HasPrefix(n, "aws_dbe_") {
			t.Fatalf("%s: decrypted item has %s", r.name, n)
		}
		if _, ok := item[n]; !ok {
			t.Fatalf("%s: decrypted item has an attribute the stored item has not", r.name)
		}
	}
	for n := range item {
		if _, ok := got[n]; !ok && !strings.HasPrefix(n, "aws_dbe_") {
			t.Fatalf("%s: decrypted item lost an attribute", r.name)
		}
	}
	for _, k := range r.keys {
		if _, ok := got[k]; !ok {
			t.Fatalf("%s: decrypted item has no key attribute %s", r.name, k)
		}
	}
}

// TestVectorReaders: the positive tests that the fuzz readers cover decrypt,
// the negative ones do not, so the fuzzers start from items that reach every
// check.
func TestVectorReaders(t *testing.T) {
	pos := 0
	for _, r := range vectorReaders(t) {
		got, err := r.enc.DecryptItem(context.Background(), r.item)
		checkDecrypt(t, r, r.item, got, err)
		if r.positive != (err == nil) {
			t.Errorf("%s: positive=%v, err=%v", r.name, r.positive, err)
		}
		if r.positive {
			pos++
		}
	}
	if pos == 0 {
		t.Fatal("no positive vector among the fuzz readers")
	}
}

// FuzzDecryptItem decrypts arbitrary DynamoDB JSON items with the reader of
// a vector test (its config and keyring; seeds: the vector items, each with
// its own reader). It must never panic or return plaintext with an error.
func FuzzDecryptItem(f *testing.F) {
	readers := vectorReaders(f)
	seeds := testvectors.DBESDKSeeds(f, testvectors.DBESDKItemSeeds)
	for i, r := range readers {
		f.Add(uint8(i), r.raw)
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, raw []byte) {
		item, err := ddbjson.UnmarshalItem(raw)
		if err != nil {
			return
		}
		r := readers[int(which)%len(readers)]
		got, err := r.enc.DecryptItem(context.Background(), item)
		checkDecrypt(t, r, item, got, err)
	})
}

// FuzzFooter replaces the footer of a positive vector item that its reader
// decrypts (docs/dbesdk-format.md §6.6, §6.7): any footer must fail with
// ErrSignature, unless it carries, at a tag position, the recipient tag of
// the original (and, for 0x6701, a valid signature).
func FuzzFooter(f *testing.F) {
	var bases []vectorReader
	for _, r := range vectorReaders(f) {
		if r.positive {
			bases = append(bases, r)
		}
	}
	if len(bases) == 0 {
		f.Fatal("no positive vector item")
	}
	for i, s := range testvectors.DBESDKSeeds(f, testvectors.DBESDKFooterSeeds) {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, foot []byte) {
		r := bases[int(which)%len(bases)]
		orig := r.item["aws_dbe_foot"].(*types.AttributeValueMemberB).Value
		item := make(map[string]types.AttributeValue, len(r.item))
		for k, v := range r.item {
			item[k] = v
		}
		item["aws_dbe_foot"] = &types.AttributeValueMemberB{Value: foot}
		got, err := r.enc.DecryptItem(context.Background(), item)
		checkDecrypt(t, r, item, got, err)
		if err != nil {
			if !errors.Is(err, ddbenc.ErrSignature) {
				t.Fatalf("%s: footer error %v, want ErrSignature", r.name, err)
			}
			return
		}
		for i := 0; i+48 <= len(foot); i += 48 {
			for j := 0; j+48 <= len(orig); j += 48 {
				if bytes.Equal(foot[i:i+48], orig[j:j+48]) {
					return
				}
			}
		}
		t.Fatalf("%s: footer %x accepted without the original tag", r.name, foot)
	})
}
