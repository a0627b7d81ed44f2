package ddbenc_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/provider"
	"github.com/ddbec/ddbec-go/signing"
)

const (
	pk = "pk"
	sk = "sk"
)

var (
	aesKey  = bytes.Repeat([]byte{0x11}, 32)
	macKey  = bytes.Repeat([]byte{0x22}, 32)
	rsaOnce sync.Once
	rsaKeys [2]*rsa.PrivateKey
)

func testRSA(t testing.TB) (wrap, sign *rsa.PrivateKey) {
	t.Helper()
	rsaOnce.Do(func() {
		for i := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[i] = k
		}
	})
	return rsaKeys[0], rsaKeys[1]
}

func mustHMAC(t testing.TB, key []byte) *signing.HMAC {
	t.Helper()
	h, err := signing.NewHMAC("HmacSHA256", key)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// providers returns one provider of each kind.
func providers(t testing.TB) map[string]ddbenc.MaterialsProvider {
	t.Helper()
	wrapKey, signKey := testRSA(t)
	hm := mustHMAC(t, macKey)
	rsaSigner, err := signing.NewRSASigner(signKey, "")
	if err != nil {
		t.Fatal(err)
	}
	static, err := provider.NewStatic(aesKey, hm, nil)
	if err != nil {
		t.Fatal(err)
	}
	staticRSA, err := provider.NewStatic(aesKey, rsaSigner, nil)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := provider.AESWrappingKey(bytes.Repeat([]byte{0x33}, 16))
	if err != nil {
		t.Fatal(err)
	}
	wrappedAES, err := provider.NewWrapped(kek, hm, nil)
	if err != nil {
		t.Fatal(err)
	}
	wrappedRSA, err := provider.NewAsymmetricStatic(wrapKey, rsaSigner, nil)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]ddbenc.MaterialsProvider{
		"static-hmac": static, "static-rsa": staticRSA, "wrapped-aes": wrappedAES, "wrapped-rsa": wrappedRSA,
	}
}

func newEncryptor(t testing.TB, p ddbenc.MaterialsProvider, acts actions.Map, optFns ...func(*ddbenc.TableConfig)) *ddbenc.Encryptor {
	t.Helper()
	cfg := ddbenc.TableConfig{TableName: "T", PartitionKey: pk, SortKey: sk, Actions: acts, Provider: p}
	for _, fn := range optFns {
		fn(&cfg)
	}
	e, err := ddbenc.NewEncryptor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// randomActions gives some random attributes sign-only and do-nothing actions.
func randomActions(r *mrand.Rand, item map[string]types.AttributeValue) actions.Map {
	m := actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{}}
	for name := range item {
		if name == pk || name == sk {
			continue
		}
		switch r.IntN(4) {
		case 0:
			m.Attributes[name] = actions.SignOnly
		case 1:
			m.Attributes[name] = actions.DoNothing
		}
	}
	return m
}

// flipBit flips one random bit in a random leaf of a value; it returns false
// when the value has no bytes to flip (NULL, empty strings, empty lists).
func flipBit(r *mrand.Rand, av types.AttributeValue) (types.AttributeValue, bool) {
	flip := func(b []byte) ([]byte, bool) {
		if len(b) == 0 {
			return nil, false
		}
		b = bytes.Clone(b)
		i := r.IntN(len(b) * 8)
		b[i/8] ^= 1 << (i % 8)
		return b, true
	}
	switch v := av.(type) {
	case *types.AttributeValueMemberB:
		b, ok := flip(v.Value)
		return &types.AttributeValueMemberB{Value: b}, ok
	case *types.AttributeValueMemberS:
		b, ok := flip([]byte(v.Value))
		return &types.AttributeValueMemberS{Value: string(b)}, ok
	case *types.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: !v.Value}, true
	case *types.AttributeValueMemberN:
		// A flipped bit can give an equal number ("-0" and "+0"); append a
		// digit instead, which always changes the value.
		return &types.AttributeValueMemberN{Value: v.Value + "1"}, true
	case *types.AttributeValueMemberSS:
		i := r.IntN(len(v.Value))
		b, ok := flip([]byte(v.Value[i]))
		ss := append([]string{}, v.Value...)
		ss[i] = string(b)
		return &types.AttributeValueMemberSS{Value: ss}, ok
	case *types.AttributeValueMemberBS:
		i := r.IntN(len(v.Value))
		b, ok := flip(v.Value[i])
		bs := append([][]byte{}, v.Value...)
		bs[i] = b
		return &types.AttributeValueMemberBS{Value: bs}, ok
	case *types.AttributeValueMemberNS:
		ns := append([]string{}, v.Value...)
		ns[0] += "1"
		return &types.AttributeValueMemberNS{Value: ns}, true
	case *types.AttributeValueMemberL:
		if len(v.Value) == 0 {
			return nil, false
		}
		i := r.IntN(len(v.Value))
		e, ok := flipBit(r, v.Value[i])
		l := append([]types.AttributeValue{}, v.Value...)
		l[i] = e
		return &types.AttributeValueMemberL{Value: l}, ok
	case *types.AttributeValueMemberM:
		for k, e := range v.Value {
			if fe, ok := flipBit(r, e); ok {
				m := avtest.Clone(v.Value)
				m[k] = fe
				return &types.AttributeValueMemberM{Value: m}, true
			}
		}
	}
	return nil, false
}

func TestRoundTripRandomItems(t *testing.T) {
	ctx := context.Background()
	r := mrand.New(mrand.NewPCG(1, 2))
	flips := 0
	for name, p := range providers(t) {
		for _, o := range []ddbenc.Ordering{ddbenc.JavaOrdering, ddbenc.PythonOrdering} {
			for i := range 60 {
				item := avtest.RandomItem(r, pk, sk, 8)
				if _, err := legacy.StringToSign("T", map[string]types.AttributeValue{sk: item[sk]}, signedPlain, legacy.PythonOrdering); o == ddbenc.PythonOrdering && err != nil {
					item[sk] = &types.AttributeValueMemberN{Value: "28"} // key numbers are signed; see TestPythonOrderingRefusesImpreciseSignedNumbers
				}
				acts := randomActions(r, item)
				e := newEncryptor(t, p, acts, func(opts *ddbenc.TableConfig) { opts.Ordering = o })
				before := avtest.Clone(item)
				stored, err := e.EncryptItem(ctx, item)
				// Under the Python ordering, sign-only numbers with more than
				// 28 significant digits are refused; encrypt those instead.
				var de *ddbenc.Error
				for o == ddbenc.PythonOrdering && errors.Is(err, ddbenc.ErrInvalidItem) && errors.As(err, &de) && acts.Attributes[de.Attribute] == actions.SignOnly {
					acts.Attributes[de.Attribute] = actions.EncryptAndSign
					e = newEncryptor(t, p, acts, func(opts *ddbenc.TableConfig) { opts.Ordering = o })
					stored, err = e.EncryptItem(ctx, item)
				}
				if err != nil {
					t.Fatalf("%s/%s/%d: EncryptItem: %v", name, o, i, err)
				}
				if diff := avtest.DiffItems(before, item); diff != "" {
					t.Fatalf("%s/%s/%d: EncryptItem mutated its input:\n%s", name, o, i, diff)
				}
				// A reader configured with the other ordering reads it too.
				reader := newEncryptor(t, p, acts, func(opts *ddbenc.TableConfig) { opts.Ordering = o.Other() })
				for _, d := range []*ddbenc.Encryptor{e, reader} {
					storedBefore := avtest.Clone(stored)
					got, err := d.DecryptItem(ctx, stored)
					if err != nil {
						t.Fatalf("%s/%s/%d: DecryptItem: %v", name, o, i, err)
					}
					if diff := avtest.DiffItems(item, got); diff != "" {
						t.Fatalf("%s/%s/%d: round trip (-want +got):\n%s", name, o, i, diff)
					}
					if diff := avtest.DiffItems(storedBefore, stored); diff != "" {
						t.Fatalf("%s/%s/%d: DecryptItem mutated its input:\n%s", name, o, i, diff)
					}
				}
				// Bit flips in every encrypted value, signed value and the
				// signature are rejected as signature failures.
				for attr := range stored {
					act := e.Action(attr)
					if attr == legacy.MaterialDescriptionAttribute || act == actions.DoNothing && attr != legacy.SignatureAttribute {
						continue
					}
					bad, ok := flipBit(r, stored[attr])
					if !ok {
						continue
					}
					tampered := avtest.Clone(stored)
					tampered[attr] = bad
					got, err := e.DecryptItem(ctx, tampered)
					if !errors.Is(err, ddbenc.ErrSignature) || got != nil {
						t.Fatalf("%s/%s/%d: bit flip in %q (%v) %v -> %v: DecryptItem = %v, %v; want ErrSignature", name, o, i, attr, act, avtest.Normalize(stored[attr]), avtest.Normalize(bad), got != nil, err)
					}
					flips++
				}
			}
		}
	}
	t.Logf("%d bit flips rejected", flips)
}

func TestEncryptedValuesAreCiphertext(t *testing.T) {
	ctx := context.Background()
	for name, p := range providers(t) {
		e := newEncryptor(t, p, actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"plain": actions.SignOnly}})
		item := map[string]types.AttributeValue{
			pk:       &types.AttributeValueMemberS{Value: "k"},
			sk:       &types.AttributeValueMemberN{Value: "1"},
			"secret": &types.AttributeValueMemberS{Value: "s3cr3t-value-of-some-length"},
			"plain":  &types.AttributeValueMemberS{Value: "visible"},
		}
		a, err := e.EncryptItem(ctx, item)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := e.EncryptItem(ctx, item)
		ct, ok := a["secret"].(*types.AttributeValueMemberB)
		if !ok || len(ct.Value) < 32 || len(ct.Value)%16 != 0 {
			t.Fatalf("%s: secret is not B of 16+16k bytes", name)
		}
		if bytes.Contains(ct.Value, []byte("s3cr3t")) {
			t.Fatalf("%s: plaintext visible in ciphertext", name)
		}
		if bytes.Equal(ct.Value, b["secret"].(*types.AttributeValueMemberB).Value) {
			t.Fatalf("%s: two encryptions of the same value are equal (IV reuse)", name)
		}
		if a["plain"].(*types.AttributeValueMemberS).Value != "visible" {
			t.Fatalf("%s: sign-only attribute changed", name)
		}
		desc, err := legacy.ParseDescription(a[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB).Value)
		if err != nil || desc[legacy.SymMode] != legacy.SymModeCBC {
			t.Fatalf("%s: description %v, %v", name, desc, err)
		}
	}
}

func storedItem(t *testing.T, e *ddbenc.Encryptor) map[string]types.AttributeValue {
	t.Helper()
	out, err := e.EncryptItem(context.Background(), map[string]types.AttributeValue{
		pk:        &types.AttributeValueMemberS{Value: "k"},
		sk:        &types.AttributeValueMemberN{Value: "7"},
		"secret":  &types.AttributeValueMemberS{Value: "TOPSECRET"},
		"signed":  &types.AttributeValueMemberS{Value: "SIGNEDVALUE"},
		"ignored": &types.AttributeValueMemberS{Value: "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var testActions = actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
	"signed": actions.SignOnly, "ignored": actions.DoNothing,
}}

func TestDecryptErrors(t *testing.T) {
	ctx := context.Background()
	ps := providers(t)
	e := newEncryptor(t, ps["wrapped-aes"], testActions)
	good := storedItem(t, e)
	if _, err := e.DecryptItem(ctx, good); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]types.AttributeValue)) map[string]types.AttributeValue {
		m := avtest.Clone(good)
		f(m)
		return m
	}
	otherTable, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "Other", PartitionKey: pk, SortKey: sk, Actions: testActions, Provider: ps["wrapped-aes"]})
	if err != nil {
		t.Fatal(err)
	}
	desc, _ := legacy.ParseDescription(good[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB).Value)
	withDesc := func(f func(d map[string]string)) map[string]types.AttributeValue {
		d := map[string]string{}
		for k, v := range desc {
			d[k] = v
		}
		f(d)
		return edit(func(m map[string]types.AttributeValue) {
			m[legacy.MaterialDescriptionAttribute] = &types.AttributeValueMemberB{Value: legacy.SerializeDescription(d)}
		})
	}
	cases := []struct {
		name string
		enc  *ddbenc.Encryptor
		item map[string]types.AttributeValue
		want error
		attr string
	}{
		{"no signature", e, edit(func(m map[string]types.AttributeValue) { delete(m, legacy.SignatureAttribute) }), ddbenc.ErrMissingAttribute, legacy.SignatureAttribute},
		{"no description", e, edit(func(m map[string]types.AttributeValue) { delete(m, legacy.MaterialDescriptionAttribute) }), ddbenc.ErrMissingAttribute, legacy.MaterialDescriptionAttribute},
		{"no partition key", e, edit(func(m map[string]types.AttributeValue) { delete(m, pk) }), ddbenc.ErrMissingAttribute, pk},
		{"no sort key", e, edit(func(m map[string]types.AttributeValue) { delete(m, sk) }), ddbenc.ErrMissingAttribute, sk},
		{"signature not binary", e, edit(func(m map[string]types.AttributeValue) {
			m[legacy.SignatureAttribute] = &types.AttributeValueMemberS{Value: "x"}
		}), ddbenc.ErrMalformed, legacy.SignatureAttribute},
		{"description version", e, edit(func(m map[string]types.AttributeValue) {
			m[legacy.MaterialDescriptionAttribute] = &types.AttributeValueMemberB{Value: []byte{0, 0, 0, 1}}
		}), ddbenc.ErrMalformed, legacy.MaterialDescriptionAttribute},
		{"signed attribute removed", e, edit(func(m map[string]types.AttributeValue) { delete(m, "signed") }), ddbenc.ErrSignature, legacy.SignatureAttribute},
		{"encrypted attribute removed", e, edit(func(m map[string]types.AttributeValue) { delete(m, "secret") }), ddbenc.ErrSignature, legacy.SignatureAttribute},
		{"signed attribute added", e, edit(func(m map[string]types.AttributeValue) { m["new"] = &types.AttributeValueMemberS{Value: "v"} }), ddbenc.ErrSignature, legacy.SignatureAttribute},
		{"key changed", e, edit(func(m map[string]types.AttributeValue) { m[sk] = &types.AttributeValueMemberN{Value: "8"} }), ddbenc.ErrSignature, legacy.SignatureAttribute},
		{"encrypted values swapped", e, edit(func(m map[string]types.AttributeValue) {
			m["secret"], m["signed"] = m["signed"], m["secret"]
		}), ddbenc.ErrSignature, legacy.SignatureAttribute},
		{"other table", otherTable, good, ddbenc.ErrSignature, legacy.SignatureAttribute},
		{"wrapped key edited", e, withDesc(func(d map[string]string) {
			b, _ := base64.StdEncoding.DecodeString(d[legacy.EnvelopeKey])
			b[3] ^= 1
			d[legacy.EnvelopeKey] = base64.StdEncoding.EncodeToString(b)
		}), ddbenc.ErrDecryption, ""},
		{"wrap algorithm edited", e, withDesc(func(d map[string]string) { d[legacy.WrapAlgorithm] = provider.RSAOAEP256 }), ddbenc.ErrWrongKey, ""},
		{"unknown wrap algorithm", e, withDesc(func(d map[string]string) { d[legacy.WrapAlgorithm] = "ROT13" }), ddbenc.ErrMalformed, ""},
		{"sym mode removed", e, withDesc(func(d map[string]string) { delete(d, legacy.SymMode) }), ddbenc.ErrDecryption, legacy.MaterialDescriptionAttribute},
		{"sym mode edited", e, withDesc(func(d map[string]string) { d[legacy.SymMode] = "/GCM/NoPadding" }), ddbenc.ErrDecryption, legacy.MaterialDescriptionAttribute},
		{"content key algorithm edited", e, withDesc(func(d map[string]string) { d[legacy.ContentKeyAlg] = "DESede" }), ddbenc.ErrMalformed, ""},
		{"static reads wrapped", newEncryptor(t, ps["static-hmac"], testActions), good, ddbenc.ErrWrongKey, ""},
		{"rsa reads aes-wrapped", newEncryptor(t, ps["wrapped-rsa"], testActions), good, ddbenc.ErrWrongKey, ""},
		{"other actions", newEncryptor(t, ps["wrapped-aes"], actions.Map{Default: actions.EncryptAndSign}), good, ddbenc.ErrSignature, legacy.SignatureAttribute},
	}
	for _, c := range cases {
		got, err := c.enc.DecryptItem(ctx, c.item)
		if !errors.Is(err, c.want) || got != nil {
			t.Errorf("%s: DecryptItem = %v, %v; want %v", c.name, got != nil, err, c.want)
			continue
		}
		var de *ddbenc.Error
		if !errors.As(err, &de) || de.Table == "" || de.Attribute != c.attr || de.Op != "decrypt" {
			t.Errorf("%s: error %#v does not name table and attribute %q", c.name, err, c.attr)
		}
		for _, secret := range []string{"TOPSECRET", "SIGNEDVALUE", string(aesKey), base64.StdEncoding.EncodeToString(aesKey)} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error message leaks a value: %v", c.name, err)
			}
		}
	}

	// Changes outside the signature are accepted: do-nothing attributes and
	// legacy replication attributes.
	ok := edit(func(m map[string]types.AttributeValue) {
		m["ignored"] = &types.AttributeValueMemberS{Value: "changed"}
		m["aws:rep:updateregion"] = &types.AttributeValueMemberS{Value: "us-west-2"}
		m["aws:rep:updatetime"] = &types.AttributeValueMemberN{Value: "1700000000.123"}
	})
	got, err := e.DecryptItem(ctx, ok)
	if err != nil {
		t.Fatalf("do-nothing and replication attributes: %v", err)
	}
	if got["secret"].(*types.AttributeValueMemberS).Value != "TOPSECRET" || got["ignored"].(*types.AttributeValueMemberS).Value != "changed" {
		t.Fatalf("unexpected plaintext %v", got)
	}
}

func TestSignedTableNameReadsCopiedItems(t *testing.T) {
	ctx := context.Background()
	p := providers(t)["static-hmac"]
	orig := newEncryptor(t, p, testActions)
	stored := storedItem(t, orig)
	copyReader, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "Copy", PartitionKey: pk, SortKey: sk, Actions: testActions, Provider: p, SignedTableName: "T"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := copyReader.DecryptItem(ctx, stored); err != nil {
		t.Fatalf("DecryptItem with SignedTableName: %v", err)
	}
}

func TestEncryptErrors(t *testing.T) {
	ctx := context.Background()
	ps := providers(t)
	e := newEncryptor(t, ps["static-hmac"], testActions)
	base := func() map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			pk:  &types.AttributeValueMemberS{Value: "k"},
			sk:  &types.AttributeValueMemberN{Value: "1"},
			"a": &types.AttributeValueMemberS{Value: "SECRETVALUE"},
		}
	}
	with := func(k string, v types.AttributeValue) map[string]types.AttributeValue {
		m := base()
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name string
		item map[string]types.AttributeValue
		want error
		attr string
	}{
		{"reserved signature", with(legacy.SignatureAttribute, &types.AttributeValueMemberB{Value: []byte{1}}), ddbenc.ErrInvalidItem, legacy.SignatureAttribute},
		{"reserved description", with(legacy.MaterialDescriptionAttribute, &types.AttributeValueMemberB{Value: []byte{1}}), ddbenc.ErrInvalidItem, legacy.MaterialDescriptionAttribute},
		{"missing partition key", with(pk, nil), ddbenc.ErrMissingAttribute, pk},
		{"missing sort key", with(sk, nil), ddbenc.ErrMissingAttribute, sk},
		{"key of type BOOL", with(pk, &types.AttributeValueMemberBOOL{Value: true}), ddbenc.ErrInvalidItem, pk},
		{"empty string key", with(pk, &types.AttributeValueMemberS{Value: ""}), ddbenc.ErrInvalidItem, pk},
		{"invalid number key", with(sk, &types.AttributeValueMemberN{Value: "SECRETVALUE"}), ddbenc.ErrInvalidItem, sk},
		{"NULL false encrypted", with("a", &types.AttributeValueMemberNULL{Value: false}), ddbenc.ErrInvalidItem, "a"},
		{"invalid number signed", with("signed", &types.AttributeValueMemberN{Value: "SECRETVALUE"}), ddbenc.ErrInvalidItem, "signed"},
	}
	for _, c := range cases {
		got, err := e.EncryptItem(ctx, c.item)
		if !errors.Is(err, c.want) || got != nil {
			t.Errorf("%s: EncryptItem = %v, %v; want %v", c.name, got != nil, err, c.want)
			continue
		}
		var de *ddbenc.Error
		if !errors.As(err, &de) || de.Table != "T" || de.Attribute != c.attr || de.Op != "encrypt" {
			t.Errorf("%s: error %q does not name table T and attribute %q", c.name, err, c.attr)
		}
		if strings.Contains(err.Error(), "SECRETVALUE") {
			t.Errorf("%s: error leaks the value: %v", c.name, err)
		}
	}
}

func TestPythonOrderingRefusesImpreciseSignedNumbers(t *testing.T) {
	ctx := context.Background()
	p := providers(t)["static-hmac"]
	py := newEncryptor(t, p, testActions, func(o *ddbenc.TableConfig) { o.Ordering = ddbenc.PythonOrdering })
	java := newEncryptor(t, p, testActions)
	for _, n := range []string{"1234567890123456789012345678901", "-0"} {
		for _, v := range []types.AttributeValue{
			&types.AttributeValueMemberN{Value: n},
			&types.AttributeValueMemberNS{Value: []string{"1", n}},
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"x": &types.AttributeValueMemberN{Value: n}}},
		} {
			item := map[string]types.AttributeValue{pk: &types.AttributeValueMemberS{Value: "k"}, sk: &types.AttributeValueMemberN{Value: "1"}, "signed": v}
			_, err := py.EncryptItem(ctx, item)
			var de *ddbenc.Error
			if !errors.Is(err, ddbenc.ErrInvalidItem) || !errors.As(err, &de) || de.Attribute != "signed" {
				t.Errorf("Python ordering, sign-only %s: EncryptItem = %v, want ErrInvalidItem naming \"signed\"", n, err)
			}
			// Encrypted, or under the Java ordering, the value is covered exactly.
			item["secret"], item["signed"] = v, &types.AttributeValueMemberS{Value: "s"}
			if _, err := py.EncryptItem(ctx, item); err != nil {
				t.Errorf("Python ordering, encrypted %s: %v", n, err)
			}
			item["signed"] = v
			out, err := java.EncryptItem(ctx, item)
			if err != nil {
				t.Fatalf("Java ordering, sign-only %s: %v", n, err)
			}
			if _, err := java.DecryptItem(ctx, out); err != nil {
				t.Errorf("Java ordering round trip %s: %v", n, err)
			}
		}
	}
}

func TestPythonRoundedNumbersOnlyWhenAllowed(t *testing.T) {
	// A legacy Python writer stores the caller's 31-digit number but signs it
	// rounded to 28 digits. Build such an item by hand.
	ctx := context.Background()
	p := providers(t)["static-hmac"]
	e := newEncryptor(t, p, testActions)
	stored := storedItem(t, e)
	stored["signed"] = &types.AttributeValueMemberN{Value: "1234567890123456789012345678901"}
	sts, err := legacy.StringToSignLegacyPython("T", stored, treatOf(e))
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := mustHMAC(t, macKey).Sign(sts)
	stored[legacy.SignatureAttribute] = &types.AttributeValueMemberB{Value: sig}

	for _, o := range []ddbenc.Ordering{ddbenc.JavaOrdering, ddbenc.PythonOrdering} {
		strict := newEncryptor(t, p, testActions, func(opts *ddbenc.TableConfig) { opts.Ordering = o })
		if _, err := strict.DecryptItem(ctx, stored); !errors.Is(err, ddbenc.ErrSignature) {
			t.Errorf("%s: rounded item without the option: %v, want ErrSignature", o, err)
		}
		lenient := newEncryptor(t, p, testActions, func(opts *ddbenc.TableConfig) { opts.Ordering = o; opts.AllowPythonRoundedNumbers = true })
		got, err := lenient.DecryptItem(ctx, stored)
		if err != nil {
			t.Fatalf("%s: rounded item with the option: %v", o, err)
		}
		if got["signed"].(*types.AttributeValueMemberN).Value != "1234567890123456789012345678901" {
			t.Errorf("%s: stored number not returned as stored", o)
		}
	}

	// Our own Python-ordering items cannot be extended past the 28th digit.
	py := newEncryptor(t, p, testActions, func(opts *ddbenc.TableConfig) { opts.Ordering = ddbenc.PythonOrdering })
	item := map[string]types.AttributeValue{pk: &types.AttributeValueMemberS{Value: "k"}, sk: &types.AttributeValueMemberN{Value: "1"},
		"signed": &types.AttributeValueMemberN{Value: "1234567890123456789012345678"}}
	out, err := py.EncryptItem(ctx, item)
	if err != nil {
		t.Fatal(err)
	}
	out["signed"] = &types.AttributeValueMemberN{Value: "1234567890123456789012345678.1"} // rounds back to the signed value
	if _, err := py.DecryptItem(ctx, out); !errors.Is(err, ddbenc.ErrSignature) {
		t.Errorf("extended number: %v, want ErrSignature", err)
	}
}

func TestNumericKeysStoredCanonical(t *testing.T) {
	ctx := context.Background()
	e := newEncryptor(t, providers(t)["static-hmac"], testActions)
	out, err := e.EncryptItem(ctx, map[string]types.AttributeValue{
		pk: &types.AttributeValueMemberS{Value: "k"},
		sk: &types.AttributeValueMemberN{Value: "1.50E1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := out[sk].(*types.AttributeValueMemberN).Value; got != "15" {
		t.Errorf("stored sort key = %q, want 15", got)
	}
	if _, err := e.DecryptItem(ctx, out); err != nil {
		t.Errorf("DecryptItem: %v", err)
	}
}

func TestAllDoNothing(t *testing.T) {
	ctx := context.Background()
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: pk, Actions: actions.Map{Default: actions.DoNothing}})
	if err != nil {
		t.Fatal(err)
	}
	item := map[string]types.AttributeValue{pk: &types.AttributeValueMemberS{Value: "k"}, "a": &types.AttributeValueMemberN{Value: "1.0"}}
	for _, f := range []func(context.Context, map[string]types.AttributeValue) (map[string]types.AttributeValue, error){e.EncryptItem, e.DecryptItem} {
		out, err := f(ctx, item)
		if err != nil {
			t.Fatal(err)
		}
		if diff := avtest.DiffItems(item, out); diff != "" || len(out) != 2 {
			t.Errorf("do-nothing item changed:\n%s", diff)
		}
		out["b"] = &types.AttributeValueMemberS{}
		if _, ok := item["b"]; ok {
			t.Error("output shares the input map")
		}
	}
}

func TestSignOnlyProvider(t *testing.T) {
	ctx := context.Background()
	p, err := provider.NewStatic(nil, mustHMAC(t, macKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEncryptor(t, p, actions.Map{Default: actions.SignOnly})
	item := map[string]types.AttributeValue{pk: &types.AttributeValueMemberS{Value: "k"}, sk: &types.AttributeValueMemberN{Value: "1"}, "a": &types.AttributeValueMemberS{Value: "v"}}
	out, err := e.EncryptItem(ctx, item)
	if err != nil {
		t.Fatal(err)
	}
	// Java omits an empty description for such items; we must read them.
	delete(out, legacy.MaterialDescriptionAttribute)
	if _, err := e.DecryptItem(ctx, out); err != nil {
		t.Errorf("DecryptItem without description: %v", err)
	}
	enc := newEncryptor(t, p, actions.Map{Default: actions.EncryptAndSign})
	if _, err := enc.EncryptItem(ctx, item); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("encrypting without a content key = %v, want ErrInvalidConfig", err)
	}
}

func TestNewEncryptorErrors(t *testing.T) {
	p := providers(t)["static-hmac"]
	enc := actions.Map{Default: actions.EncryptAndSign}
	cases := map[string]ddbenc.TableConfig{
		"no table":             {PartitionKey: pk, Actions: enc, Provider: p},
		"no partition key":     {TableName: "T", Actions: enc, Provider: p},
		"same keys":            {TableName: "T", PartitionKey: pk, SortKey: pk, Actions: enc, Provider: p},
		"reserved key name":    {TableName: "T", PartitionKey: legacy.SignatureAttribute, Actions: enc, Provider: p},
		"no provider":          {TableName: "T", PartitionKey: pk, Actions: enc},
		"zero actions":         {TableName: "T", PartitionKey: pk, Provider: p},
		"encrypted key":        {TableName: "T", PartitionKey: pk, Actions: actions.Map{Default: actions.SignOnly, Attributes: map[string]actions.Action{pk: actions.EncryptAndSign}}, Provider: p},
		"signed replication":   {TableName: "T", PartitionKey: pk, Actions: actions.Map{Default: actions.SignOnly, Attributes: map[string]actions.Action{"aws:rep:updatetime": actions.SignOnly}}, Provider: p},
		"configured reserved":  {TableName: "T", PartitionKey: pk, Actions: actions.Map{Default: actions.SignOnly, Attributes: map[string]actions.Action{legacy.MaterialDescriptionAttribute: actions.DoNothing}}, Provider: p},
		"encrypted sort key":   {TableName: "T", PartitionKey: pk, SortKey: sk, Actions: actions.Map{Default: actions.SignOnly, Attributes: map[string]actions.Action{sk: actions.EncryptAndSign}}, Provider: p},
		"replication key name": {TableName: "T", PartitionKey: "aws:rep:deleting", Actions: enc, Provider: p},
	}
	for name, cfg := range cases {
		if _, err := ddbenc.NewEncryptor(cfg); !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("%s: NewEncryptor = %v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "T", PartitionKey: pk, Actions: enc, Provider: p, Ordering: 7}); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("unknown ordering: %v", err)
	}
}

// oldJavaProvider writes items the way Java clients before wrap-alg existed
// did: the content key wrapped with RSA PKCS#1 v1.5, no amzn-ddb-wrap-alg
// entry, and the base64 broken into MIME lines.
type oldJavaProvider struct {
	pub    *rsa.PublicKey
	signer signing.Signer
}

func (p oldJavaProvider) EncryptionMaterials(context.Context, ddbenc.EncryptionContext) (*ddbenc.EncryptionMaterials, error) {
	ck := make([]byte, 32)
	rand.Read(ck)
	wrapped, err := rsa.EncryptPKCS1v15(rand.Reader, p.pub, ck)
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString(wrapped)
	var mime strings.Builder
	for len(b64) > 76 {
		mime.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	mime.WriteString(b64)
	return &ddbenc.EncryptionMaterials{EncryptionKey: ck, Signer: p.signer, MaterialDescription: map[string]string{
		legacy.EnvelopeKey: mime.String(), legacy.ContentKeyAlg: "AES",
	}}, nil
}

func (p oldJavaProvider) DecryptionMaterials(context.Context, ddbenc.EncryptionContext) (*ddbenc.DecryptionMaterials, error) {
	return nil, errors.New("write only")
}

func TestReadsOldJavaRSAItems(t *testing.T) {
	ctx := context.Background()
	wrapKey, _ := testRSA(t)
	hm := mustHMAC(t, macKey)
	writer := newEncryptor(t, oldJavaProvider{pub: &wrapKey.PublicKey, signer: hm}, testActions)
	stored := storedItem(t, writer)
	reader := newEncryptor(t, providers(t)["wrapped-rsa"], testActions)
	// wrapped-rsa signs with RSA; read with an HMAC verifier instead.
	p, err := provider.NewAsymmetricStatic(wrapKey, nil, hm)
	if err != nil {
		t.Fatal(err)
	}
	reader = newEncryptor(t, p, testActions)
	got, err := reader.DecryptItem(ctx, stored)
	if err != nil {
		t.Fatalf("DecryptItem of a PKCS#1 v1.5 item: %v", err)
	}
	if got["secret"].(*types.AttributeValueMemberS).Value != "TOPSECRET" {
		t.Fatalf("wrong plaintext")
	}
	// Naming PKCS#1 v1.5 explicitly is not accepted.
	desc, _ := legacy.ParseDescription(stored[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB).Value)
	desc[legacy.WrapAlgorithm] = "RSA/ECB/PKCS1Padding"
	stored[legacy.MaterialDescriptionAttribute] = &types.AttributeValueMemberB{Value: legacy.SerializeDescription(desc)}
	if _, err := reader.DecryptItem(ctx, stored); !errors.Is(err, ddbenc.ErrMalformed) {
		t.Errorf("explicit PKCS#1 v1.5: %v, want ErrMalformed", err)
	}
}

func TestRSAOAEPParameters(t *testing.T) {
	// The envelope key must be RSA-OAEP with SHA-256 and MGF1-SHA1
	// (docs/legacy-format.md §9, pitfall 11), which is what the legacy clients unwrap.
	wrapKey, _ := testRSA(t)
	p, err := provider.NewAsymmetricStatic(wrapKey, mustHMAC(t, macKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.EncryptionMaterials(context.Background(), ddbenc.EncryptionContext{})
	if err != nil {
		t.Fatal(err)
	}
	if m.MaterialDescription[legacy.WrapAlgorithm] != provider.RSAOAEP256 || m.MaterialDescription[legacy.ContentKeyAlg] != "AES" {
		t.Fatalf("description = %v", m.MaterialDescription)
	}
	wrapped, _ := base64.StdEncoding.DecodeString(m.MaterialDescription[legacy.EnvelopeKey])
	ck, err := wrapKey.Decrypt(nil, wrapped, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1})
	if err != nil || !bytes.Equal(ck, m.EncryptionKey) {
		t.Fatalf("OAEP SHA-256/MGF1-SHA1 decryption: %v", err)
	}
	if _, err := wrapKey.Decrypt(nil, wrapped, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256}); err == nil {
		t.Fatal("envelope key also decrypts with MGF1-SHA256")
	}
}

func TestWrappedContentKeySize(t *testing.T) {
	kek, _ := provider.AESWrappingKey(bytes.Repeat([]byte{1}, 16))
	hm := mustHMAC(t, macKey)
	for desc, want := range map[string]int{"": 32, "AES/128": 16, "AES/192": 24, "AES/256": 32} {
		p, err := provider.NewWrapped(kek, hm, nil, func(o *provider.WrappedOptions) { o.ContentKeyAlgorithm = desc })
		if err != nil {
			t.Fatal(err)
		}
		e := newEncryptor(t, p, testActions)
		stored := storedItem(t, e)
		if _, err := e.DecryptItem(context.Background(), stored); err != nil {
			t.Errorf("%q: round trip: %v", desc, err)
		}
		m, _ := p.EncryptionMaterials(context.Background(), ddbenc.EncryptionContext{})
		if len(m.EncryptionKey) != want {
			t.Errorf("%q: content key is %d bytes, want %d", desc, len(m.EncryptionKey), want)
		}
		if got := m.MaterialDescription[legacy.ContentKeyAlg]; got != desc && (desc != "" || got != "AES") {
			t.Errorf("%q: %s written as %q", desc, legacy.ContentKeyAlg, got)
		}
	}
	for _, bad := range []string{"AES/100", "DES/56", "AES/x"} {
		_, err := provider.NewWrapped(kek, hm, nil, func(o *provider.WrappedOptions) { o.ContentKeyAlgorithm = bad })
		if !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("%q: NewWrapped = %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	for name, p := range providers(t) {
		e := newEncryptor(t, p, testActions)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					item := map[string]types.AttributeValue{
						pk: &types.AttributeValueMemberS{Value: fmt.Sprintf("k%d-%d", g, i)},
						sk: &types.AttributeValueMemberN{Value: "1"}, "secret": &types.AttributeValueMemberS{Value: "v"},
					}
					s, err := e.EncryptItem(ctx, item)
					if err == nil {
						_, err = e.DecryptItem(ctx, s)
					}
					if err != nil {
						errs <- fmt.Errorf("%s: %w", name, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

// ctxProvider fails with the context's error, like a KMS-backed provider
// whose call was cancelled.
type ctxProvider struct{}

func (ctxProvider) EncryptionMaterials(ctx context.Context, _ ddbenc.EncryptionContext) (*ddbenc.EncryptionMaterials, error) {
	return nil, fmt.Errorf("kms: %w", ctx.Err())
}

func (ctxProvider) DecryptionMaterials(ctx context.Context, _ ddbenc.EncryptionContext) (*ddbenc.DecryptionMaterials, error) {
	return nil, fmt.Errorf("kms: %w", ctx.Err())
}

func TestContextErrorsPassThrough(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := newEncryptor(t, ctxProvider{}, testActions)
	good := storedItem(t, newEncryptor(t, providers(t)["static-hmac"], testActions))
	item := map[string]types.AttributeValue{pk: &types.AttributeValueMemberS{Value: "k"}, sk: &types.AttributeValueMemberN{Value: "1"}}
	if out, err := e.EncryptItem(ctx, item); !errors.Is(err, context.Canceled) || out != nil {
		t.Errorf("EncryptItem = %v, %v; want context.Canceled", out, err)
	} else if _, wrapped := err.(*ddbenc.Error); wrapped {
		t.Errorf("context error wrapped in *ddbenc.Error: %v", err)
	}
	if out, err := e.DecryptItem(ctx, good); !errors.Is(err, context.Canceled) || out != nil {
		t.Errorf("DecryptItem = %v, %v; want context.Canceled", out, err)
	}
}

func TestShortEncryptedValueIsAnError(t *testing.T) {
	// A validly signed item whose encrypted attribute is too short to be
	// ciphertext (only its writer could produce one): an error, not a panic.
	ctx := context.Background()
	p := providers(t)["static-hmac"]
	e := newEncryptor(t, p, testActions)
	stored := storedItem(t, e)
	stored["secret"] = &types.AttributeValueMemberB{Value: []byte{1, 2, 3}}
	sts, err := legacy.StringToSign("T", stored, treatOf(e), legacy.JavaOrdering)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := mustHMAC(t, macKey).Sign(sts)
	stored[legacy.SignatureAttribute] = &types.AttributeValueMemberB{Value: sig}
	if got, err := e.DecryptItem(ctx, stored); !errors.Is(err, ddbenc.ErrDecryption) || got != nil {
		t.Fatalf("short ciphertext: %v, %v", got != nil, err)
	}
}

// signedPlain signs every attribute as plaintext.
func signedPlain(string) legacy.Treatment { return legacy.SignedPlaintext }

// treatOf maps an Encryptor's actions onto the string to sign, as the
// Encryptor does.
func treatOf(e *ddbenc.Encryptor) func(string) legacy.Treatment {
	return func(name string) legacy.Treatment {
		switch e.Action(name) {
		case actions.EncryptAndSign:
			return legacy.SignedEncrypted
		case actions.SignOnly:
			return legacy.SignedPlaintext
		}
		return legacy.Unsigned
	}
}
