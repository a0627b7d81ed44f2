package ddbenc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sort"
	"testing"
	"unicode/utf16"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/keyring"
)

// testKeyrings returns one keyring of every kind, and the EDK ciphertext
// lengths each writes (docs/dbesdk-format.md §8.4, §8.5, §8.10.1).
func testKeyrings(t *testing.T) (map[string]ddbenc.Keyring, map[string][]int) {
	t.Helper()
	must := func(k ddbenc.Keyring, err error) ddbenc.Keyring {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	key := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	hier := must(keyring.NewHierarchical("branch-1", keyring.NewStaticBranchKeys(keyring.BranchKey{ID: "branch-1", Version: "e9ce18a3-edb5-4272-9f86-1cacb7997ff6", Key: key(32)})))
	aes256 := must(keyring.NewRawAES("ns-aes", "aes-256", key(32)))
	rsaOAEP := must(keyring.NewRawRSA("ns-rsa", "rsa-2048", nil, priv, keyring.OAEPSHA256))
	krs := map[string]ddbenc.Keyring{
		"hierarchical":    hier,
		"aes-128":         must(keyring.NewRawAES("ns-aes", "aes-128", key(16))),
		"aes-192":         must(keyring.NewRawAES("ns-ü-aes", "aes-192", key(24))),
		"aes-256":         aes256,
		"rsa-pkcs1":       must(keyring.NewRawRSA("ns-rsa", "rsa-2048", nil, priv, keyring.PKCS1)),
		"rsa-oaep-sha1":   must(keyring.NewRawRSA("ns-rsa", "rsa-2048", nil, priv, keyring.OAEPSHA1)),
		"rsa-oaep-sha256": rsaOAEP,
		"rsa-oaep-sha384": must(keyring.NewRawRSA("ns-rsa", "rsa-2048", nil, priv, keyring.OAEPSHA384)),
		"rsa-oaep-sha512": must(keyring.NewRawRSA("ns-rsa", "rsa-2048", nil, priv, keyring.OAEPSHA512)),
		"multi":           must(keyring.NewMulti(aes256, rsaOAEP, hier)),
	}
	lens := map[string][]int{"hierarchical": {140}, "multi": {96, 48 + 256, 140}}
	for n := range krs {
		switch {
		case n[:3] == "aes":
			lens[n] = []int{96}
		case n[:3] == "rsa":
			lens[n] = []int{48 + 256}
		}
	}
	return krs, lens
}

// dropEmptyKeys removes empty map keys, which the format cannot store
// (docs/dbesdk-format.md §2.2).
func dropEmptyKeys(av types.AttributeValue) types.AttributeValue {
	switch v := av.(type) {
	case *types.AttributeValueMemberM:
		m := map[string]types.AttributeValue{}
		for k, e := range v.Value {
			if k != "" {
				m[k] = dropEmptyKeys(e)
			}
		}
		return &types.AttributeValueMemberM{Value: m}
	case *types.AttributeValueMemberL:
		l := make([]types.AttributeValue, len(v.Value))
		for i, e := range v.Value {
			l[i] = dropEmptyKeys(e)
		}
		return &types.AttributeValueMemberL{Value: l}
	}
	return av
}

// dbeAllTypes is an item attribute of every type, nested.
func dbeAllTypes() map[string]types.AttributeValue {
	leaf := map[string]types.AttributeValue{
		"s": &types.AttributeValueMemberS{Value: "x𐀂｡"}, "n": &types.AttributeValueMemberN{Value: "-012.50"},
		"b": &types.AttributeValueMemberB{Value: []byte{0, 0xff}}, "bool": &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true}, "ss": &types.AttributeValueMemberSS{Value: []string{"b", "a", "｡", "𐀂"}},
		"ns": &types.AttributeValueMemberNS{Value: []string{"10", "9", "1e2", "-1"}}, "bs": &types.AttributeValueMemberBS{Value: [][]byte{{0x80}, {1}, {1, 2}}},
	}
	l := []types.AttributeValue{}
	for _, v := range leaf {
		l = append(l, v)
	}
	nested := map[string]types.AttributeValue{"m": &types.AttributeValueMemberM{Value: leaf}, "l": &types.AttributeValueMemberL{Value: l}}
	out := map[string]types.AttributeValue{}
	for k, v := range leaf {
		out["t_"+k] = v
	}
	out["t_m"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"deep": &types.AttributeValueMemberM{Value: nested}, "list": &types.AttributeValueMemberL{Value: l}}}
	out["t_l"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberM{Value: nested}, &types.AttributeValueMemberL{Value: l}}}
	return out
}

// TestDBESDKRoundTrip encrypts random items of every attribute type with
// every keyring, both suites, v1 and v2 configurations, decrypts them back
// and checks each stored item's structure.
func TestDBESDKRoundTrip(t *testing.T) {
	krs, lens := testKeyrings(t)
	r := mrand.New(mrand.NewPCG(1, 2))
	ctx := context.Background()
	for _, krName := range slices.Sorted(func(y func(string) bool) {
		for k := range krs {
			if !y(k) {
				return
			}
		}
	}) {
		for _, suite := range []ddbenc.AlgorithmSuite{ddbenc.SuiteSymmetricOnly, ddbenc.SuiteECDSAP384} {
			for _, v2 := range []bool{false, true} {
				name := fmt.Sprintf("%s/%04x/v%d", krName, uint16(suite), map[bool]int{false: 1, true: 2}[v2])
				t.Run(name, func(t *testing.T) {
					for i := range 6 {
						item := avtest.RandomItem(r, "pk", "sk", 8)
						for k, v := range dbeAllTypes() {
							if r.IntN(2) == 0 || i == 0 {
								item[k] = v
							}
						}
						for k, v := range item {
							item[k] = dropEmptyKeys(v)
						}
						acts := map[string]actions.Action{}
						var unsigned []string
						keyAct := actions.SignOnly
						if v2 {
							keyAct = actions.SignAndIncludeInEncryptionContext
						}
						acts["pk"], acts["sk"] = keyAct, keyAct
						for k := range item {
							if k == "pk" || k == "sk" {
								continue
							}
							switch r.IntN(5) {
							case 0, 1:
								acts[k] = actions.EncryptAndSign
							case 2:
								acts[k] = actions.SignOnly
							case 3:
								acts[k] = actions.DoNothing
								unsigned = append(unsigned, k)
							default:
								acts[k] = actions.SignOnly
								if v2 {
									acts[k] = actions.SignAndIncludeInEncryptionContext
								}
							}
						}
						cfg := ddbenc.TableConfig{TableName: "Tablé-𐀂", PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat,
							Keyring: krs[krName], Suite: suite, Actions: actions.Map{Default: actions.DoNothing, Attributes: acts},
							AllowedUnsignedAttributes: unsigned}
						enc, err := ddbenc.NewEncryptor(cfg)
						if err != nil {
							t.Fatal(err)
						}
						stored, err := enc.EncryptItem(ctx, item)
						if err != nil {
							t.Fatal(err)
						}
						checkDBESDKStructure(t, stored, acts, suite, lens[krName])
						got, err := enc.DecryptItem(ctx, stored)
						if err != nil {
							t.Fatal(err)
						}
						if d := avtest.DiffItems(item, got); d != "" {
							t.Fatalf("round trip differs (-want +got):\n%s", d)
						}
						// Tampering with any signed attribute fails.
						for k, a := range acts {
							if a == actions.DoNothing || k == "pk" {
								continue
							}
							bad := avtest.Clone(stored)
							bad[k] = &types.AttributeValueMemberB{Value: []byte("0123456789abcdefghijk")}
							if _, err := enc.DecryptItem(ctx, bad); err == nil {
								t.Fatalf("tampered %q decrypted", k)
							}
							break
						}
					}
				})
			}
		}
	}
}

// fieldOrder sorts names per docs/dbesdk-format.md §3.2, computed
// independently: UTF-16 length, then UTF-8 bytes.
func fieldOrder(names []string) {
	sort.Slice(names, func(i, j int) bool {
		a, b := len(utf16.Encode([]rune(names[i]))), len(utf16.Encode([]rune(names[j])))
		if a != b {
			return a < b
		}
		return names[i] < names[j]
	})
}

// checkDBESDKStructure checks a written item against the structure rules of
// docs/dbesdk-format.md §6 with a parser independent of the engine's.
func checkDBESDKStructure(t *testing.T, stored map[string]types.AttributeValue, acts map[string]actions.Action, suite ddbenc.AlgorithmSuite, edkLens []int) {
	t.Helper()
	head := stored["aws_dbe_head"].(*types.AttributeValueMemberB).Value
	foot := stored["aws_dbe_foot"].(*types.AttributeValueMemberB).Value
	var signed []string
	hasC := false
	for k := range stored {
		if a, ok := acts[k]; ok && a != actions.DoNothing {
			signed = append(signed, k)
			hasC = hasC || a == actions.SignAndIncludeInEncryptionContext
		}
	}
	fieldOrder(signed)
	fail := func(f string, args ...any) { t.Helper(); t.Fatalf("structure: "+f, args...) }
	p := head
	take := func(n int) []byte {
		if n > len(p) {
			fail("header too short")
		}
		v := p[:n]
		p = p[n:]
		return v
	}
	u16 := func() int { return int(binary.BigEndian.Uint16(take(2))) }
	wantVersion := byte(1)
	if hasC {
		wantVersion = 2
	}
	if v := take(1)[0]; v != wantVersion {
		fail("version %d, want %d", v, wantVersion)
	}
	if f := take(1)[0]; f != byte(suite&0xff) {
		fail("flavor %d for suite %04x", f, uint16(suite))
	}
	take(32)
	legend := take(u16())
	if len(legend) != len(signed) {
		fail("legend of %d bytes for %d signed attributes", len(legend), len(signed))
	}
	for i, n := range signed {
		want := map[actions.Action]byte{actions.EncryptAndSign: 'e', actions.SignOnly: 's', actions.SignAndIncludeInEncryptionContext: 'c'}[acts[n]]
		if legend[i] != want {
			fail("legend[%d] = %c for %q, want %c", i, legend[i], n, want)
		}
		if want == 'e' {
			b, ok := stored[n].(*types.AttributeValueMemberB)
			if !ok || len(b.Value) < 18 {
				fail("encrypted %q is not a B of at least 18 bytes", n)
			}
		}
	}
	nctx := u16()
	if suite == ddbenc.SuiteECDSAP384 {
		if nctx != 1 || string(take(u16())) != "aws-crypto-public-key" {
			fail("stored context must be exactly the public key")
		}
		pk, err := base64.StdEncoding.DecodeString(string(take(u16())))
		if err != nil || len(pk) != 49 || (pk[0] != 2 && pk[0] != 3) {
			fail("public key is not a compressed P-384 point")
		}
	} else if nctx != 0 {
		fail("stored context of %d entries for suite 0x6700", nctx)
	}
	nedk := int(take(1)[0])
	if nedk != len(edkLens) {
		fail("%d EDKs, want %d", nedk, len(edkLens))
	}
	for i := range nedk {
		take(u16())
		take(u16())
		if ct := take(u16()); len(ct) != edkLens[i] {
			fail("EDK %d ciphertext %d bytes, want %d", i, len(ct), edkLens[i])
		}
	}
	if len(p) != 32 {
		fail("%d bytes after the EDKs, want the 32-byte commitment", len(p))
	}
	wantFoot := 48 * nedk
	if suite == ddbenc.SuiteECDSAP384 {
		wantFoot += 103
		sig := foot[48*nedk:]
		if !bytes.HasPrefix(sig, []byte{0x30, 0x65}) {
			fail("signature is not 103-byte DER")
		}
	}
	if len(foot) != wantFoot {
		fail("footer %d bytes, want %d", len(foot), wantFoot)
	}
}

// TestDBESDKItemRules checks the per-item rules of docs/dbesdk-format.md §1.7.
func TestDBESDKItemRules(t *testing.T) {
	krs, _ := testKeyrings(t)
	enc, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: "pk", Format: ddbenc.DBESDKFormat, Keyring: krs["aes-256"],
		Actions: actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{"a": actions.EncryptAndSign}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pkv := &types.AttributeValueMemberS{Value: "p"}
	for name, c := range map[string]struct {
		item map[string]types.AttributeValue
		want error
	}{
		"missing key":   {map[string]types.AttributeValue{"a": pkv}, ddbenc.ErrMissingAttribute},
		"unconfigured":  {map[string]types.AttributeValue{"pk": pkv, "b": pkv}, ddbenc.ErrInvalidItem},
		"reserved":      {map[string]types.AttributeValue{"pk": pkv, "aws_dbe_x": pkv}, ddbenc.ErrInvalidItem},
		"bad number":    {map[string]types.AttributeValue{"pk": pkv, "a": &types.AttributeValueMemberN{Value: "1e200"}}, ddbenc.ErrInvalidItem},
		"duplicate set": {map[string]types.AttributeValue{"pk": pkv, "a": &types.AttributeValueMemberNS{Value: []string{"1", "1.0"}}}, ddbenc.ErrInvalidItem},
	} {
		if _, err := enc.EncryptItem(ctx, c.item); !errors.Is(err, c.want) {
			t.Errorf("%s: EncryptItem = %v, want %v", name, err, c.want)
		}
	}
}
