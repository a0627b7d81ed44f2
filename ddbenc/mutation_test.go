package ddbenc_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/provider"
)

// mutation is one change to a stored item and what reading it must do:
// fail with one of want, or (want empty) succeed, for the documented reason.
type mutation struct {
	name   string
	item   map[string]types.AttributeValue
	want   []error
	why    string // for accepted mutations: why it is harmless (SECURITY.md)
	reader *ddbenc.Encryptor
}

var mutationActions = actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
	"s_sign": actions.SignOnly, "n_sign": actions.SignOnly, "b_sign": actions.SignOnly, "bool_sign": actions.SignOnly,
	"null_sign": actions.SignOnly, "ss_sign": actions.SignOnly, "ns_sign": actions.SignOnly, "bs_sign": actions.SignOnly,
	"l_sign": actions.SignOnly, "m_sign": actions.SignOnly, "nothing_s": actions.DoNothing, "nothing_n": actions.DoNothing,
}}

// nothingDefaultActions is "encrypt only what is named": a DoNothing
// default with the same encrypted and signed attributes as mutationActions.
// The keys must still be signed.
func nothingDefaultActions() actions.Map {
	m := actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{}}
	for name := range allTypes() {
		m.Attributes["enc_"+name] = actions.EncryptAndSign
		m.Attributes[name+"_sign"] = actions.SignOnly
	}
	return m
}

// allTypes returns one value of every type, nested lists and maps included.
func allTypes() map[string]types.AttributeValue {
	nested := &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		"inner": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberS{Value: "deep"}, &types.AttributeValueMemberN{Value: "7"},
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"b": &types.AttributeValueMemberB{Value: []byte{9, 8}}}},
		}},
		"flag": &types.AttributeValueMemberBOOL{Value: true},
	}}
	return map[string]types.AttributeValue{
		"s": &types.AttributeValueMemberS{Value: "héllo"}, "n": &types.AttributeValueMemberN{Value: "-12.5"},
		"b": &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 0xff}}, "bool": &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true}, "ss": &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"ns": &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}}, "bs": &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
		"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "a"}, nested}}, "m": nested,
	}
}

func mutationItem(keyVal string, withSort bool) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{pk: &types.AttributeValueMemberS{Value: keyVal}}
	if withSort {
		item[sk] = &types.AttributeValueMemberN{Value: "42"}
	}
	for name, v := range allTypes() {
		item["enc_"+name] = v
		item[name+"_sign"] = avtest.CloneValue(v)
	}
	item["nothing_s"] = &types.AttributeValueMemberS{Value: "free"}
	item["nothing_n"] = &types.AttributeValueMemberN{Value: "1"}
	return item
}

// valueVariants returns changed versions of a plaintext value: bit flips in
// string and binary bytes, other numbers, negated booleans, set elements
// changed, added and removed, list and map elements changed recursively.
func valueVariants(v types.AttributeValue) []types.AttributeValue {
	flips := func(b []byte) [][]byte {
		var out [][]byte
		for i := range b {
			c := bytes.Clone(b)
			c[i] ^= 1 << (i % 8)
			out = append(out, c)
		}
		return out
	}
	var out []types.AttributeValue
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		for _, f := range flips([]byte(x.Value)) {
			out = append(out, &types.AttributeValueMemberS{Value: string(f)})
		}
		out = append(out, &types.AttributeValueMemberS{Value: x.Value[:len(x.Value)-1]}, &types.AttributeValueMemberS{Value: x.Value + "!"},
			&types.AttributeValueMemberB{Value: []byte(x.Value)})
	case *types.AttributeValueMemberB:
		for _, f := range flips(x.Value) {
			out = append(out, &types.AttributeValueMemberB{Value: f})
		}
		out = append(out, &types.AttributeValueMemberB{Value: x.Value[:len(x.Value)-1]}, &types.AttributeValueMemberB{Value: append(bytes.Clone(x.Value), 0)},
			&types.AttributeValueMemberS{Value: string(x.Value)})
	case *types.AttributeValueMemberN:
		out = append(out, &types.AttributeValueMemberN{Value: x.Value + "1"}, &types.AttributeValueMemberN{Value: "0"}, &types.AttributeValueMemberS{Value: x.Value})
	case *types.AttributeValueMemberBOOL:
		out = append(out, &types.AttributeValueMemberBOOL{Value: !x.Value}, &types.AttributeValueMemberNULL{Value: true})
	case *types.AttributeValueMemberNULL:
		out = append(out, &types.AttributeValueMemberBOOL{Value: false})
	case *types.AttributeValueMemberSS:
		out = append(out, &types.AttributeValueMemberSS{Value: append(slices.Clone(x.Value), "new")}, &types.AttributeValueMemberSS{Value: x.Value[1:]},
			&types.AttributeValueMemberSS{Value: []string{x.Value[0] + "!", x.Value[1]}}, &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: x.Value[0]}, &types.AttributeValueMemberS{Value: x.Value[1]}}})
	case *types.AttributeValueMemberNS:
		out = append(out, &types.AttributeValueMemberNS{Value: append(slices.Clone(x.Value), "99")}, &types.AttributeValueMemberNS{Value: x.Value[1:]},
			&types.AttributeValueMemberNS{Value: []string{x.Value[0] + "1", x.Value[1]}}, &types.AttributeValueMemberSS{Value: x.Value})
	case *types.AttributeValueMemberBS:
		out = append(out, &types.AttributeValueMemberBS{Value: append(slices.Clone(x.Value), []byte{7})}, &types.AttributeValueMemberBS{Value: x.Value[1:]},
			&types.AttributeValueMemberBS{Value: [][]byte{{x.Value[0][0] ^ 0x80}, x.Value[1]}})
	case *types.AttributeValueMemberL:
		for i, e := range x.Value {
			for _, ev := range valueVariants(e) {
				l := slices.Clone(x.Value)
				l[i] = ev
				out = append(out, &types.AttributeValueMemberL{Value: l})
			}
		}
		out = append(out, &types.AttributeValueMemberL{Value: x.Value[:len(x.Value)-1]}, &types.AttributeValueMemberL{Value: []types.AttributeValue{x.Value[1], x.Value[0]}})
	case *types.AttributeValueMemberM:
		for k, e := range x.Value {
			for _, ev := range valueVariants(e) {
				m := avtest.Clone(x.Value)
				m[k] = ev
				out = append(out, &types.AttributeValueMemberM{Value: m})
			}
			renamed := avtest.Clone(x.Value)
			delete(renamed, k)
			renamed[k+"x"] = e
			out = append(out, &types.AttributeValueMemberM{Value: renamed})
		}
		added := avtest.Clone(x.Value)
		added["added"] = &types.AttributeValueMemberNULL{Value: true}
		out = append(out, &types.AttributeValueMemberM{Value: added})
	}
	return out
}

func TestMutationMatrix(t *testing.T) {
	ctx := context.Background()
	fake := ddbenctest.StartKMS(t, ddbenctest.KMSOptions{Seed: []byte("mutations")})
	url := fake.URL
	kmsKey := fake.CreateKey("us-east-1", true)
	kmsP, err := provider.NewDirectKMS(ddbenctest.NewKMSClient(url, "us-east-1"), kmsKey)
	if err != nil {
		t.Fatal(err)
	}
	providersUnderTest := map[string]ddbenc.MaterialsProvider{"static": providers(t)["static-hmac"], "kms": kmsP}

	actionSets := map[string]actions.Map{"default encrypt": mutationActions, "default nothing": nothingDefaultActions()}
	rejected, accepted, unexpected := 0, 0, 0
	for _, pname := range []string{"static", "kms"} {
		p := providersUnderTest[pname]
		// Where the KMS encryption context binds something, KMS refuses the
		// data key (InvalidCiphertextException: ErrDecryption and
		// ErrSignature) before the signature is checked; the static
		// provider's signature catches it.
		bound := ddbenc.ErrSignature
		for _, aname := range []string{"default encrypt", "default nothing"} {
			for _, withSort := range []bool{true, false} {
				cfg := ddbenc.TableConfig{TableName: "Orders", PartitionKey: pk, Actions: actionSets[aname], Provider: p}
				if withSort {
					cfg.SortKey = sk
				}
				enc, err := ddbenc.NewEncryptor(cfg)
				if err != nil {
					t.Fatal(err)
				}
				copyCfg := cfg
				copyCfg.TableName = "OrdersCopy"
				copyReader, _ := ddbenc.NewEncryptor(copyCfg)

				stored, err := enc.EncryptItem(ctx, mutationItem("alice", withSort))
				if err != nil {
					t.Fatal(err)
				}
				other, _ := enc.EncryptItem(ctx, mutationItem("bob", withSort))
				again, _ := enc.EncryptItem(ctx, mutationItem("alice", withSort)) // same keys, new data key
				if _, err := enc.DecryptItem(ctx, stored); err != nil {
					t.Fatalf("%s: unmutated item: %v", pname, err)
				}
				desc, _ := legacy.ParseDescription(stored[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB).Value)

				var ms []mutation
				with := func(name string, f func(m map[string]types.AttributeValue), want ...error) {
					m := avtest.Clone(stored)
					f(m)
					ms = append(ms, mutation{name: name, item: m, want: want})
				}
				accept := func(name, why string, f func(m map[string]types.AttributeValue)) {
					m := avtest.Clone(stored)
					f(m)
					ms = append(ms, mutation{name: name, item: m, why: why})
				}
				editDesc := func(f func(d map[string]string)) func(m map[string]types.AttributeValue) {
					return func(m map[string]types.AttributeValue) {
						d := map[string]string{}
						for k, v := range desc {
							d[k] = v
						}
						f(d)
						m[legacy.MaterialDescriptionAttribute] = &types.AttributeValueMemberB{Value: legacy.SerializeDescription(d)}
					}
				}
				// A new attribute gets the default action: signed unless the
				// default is DoNothing.
				added := func(name string, f func(m map[string]types.AttributeValue)) {
					if cfg.Actions.Default == actions.DoNothing {
						accept(name, "a new attribute gets the default action, here do_nothing", f)
					} else {
						with(name, f, ddbenc.ErrSignature)
					}
				}
				withDesc := func(name string, f func(d map[string]string), want ...error) { with(name, editDesc(f), want...) }
				acceptDesc := func(name, why string, f func(d map[string]string)) { accept(name, why, editDesc(f)) }

				names := slices.Sorted(func(yield func(string) bool) {
					for k := range stored {
						if !yield(k) {
							return
						}
					}
				})
				for _, name := range names {
					act := enc.Action(name)
					switch {
					case name == legacy.MaterialDescriptionAttribute:
					case name == legacy.SignatureAttribute || act == actions.EncryptAndSign:
						// Every byte of every ciphertext and of the signature.
						b := stored[name].(*types.AttributeValueMemberB).Value
						for i := range b {
							with(fmt.Sprintf("flip %s byte %d", name, i), func(m map[string]types.AttributeValue) {
								c := bytes.Clone(b)
								c[i] ^= 1 << (i % 8)
								m[name] = &types.AttributeValueMemberB{Value: c}
							}, ddbenc.ErrSignature)
						}
						with("truncate "+name, func(m map[string]types.AttributeValue) { m[name] = &types.AttributeValueMemberB{Value: b[:len(b)-1]} }, ddbenc.ErrSignature)
						with("extend "+name, func(m map[string]types.AttributeValue) {
							m[name] = &types.AttributeValueMemberB{Value: append(bytes.Clone(b), b[:16]...)}
						}, ddbenc.ErrSignature)
						with("retype "+name+" as S", func(m map[string]types.AttributeValue) {
							m[name] = &types.AttributeValueMemberS{Value: base64.StdEncoding.EncodeToString(b)}
						}, ddbenc.ErrSignature, ddbenc.ErrMalformed)
						if act == actions.EncryptAndSign {
							with("from another item: "+name, func(m map[string]types.AttributeValue) { m[name] = other[name] }, ddbenc.ErrSignature)
						}
					case act == actions.SignOnly:
						want := ddbenc.ErrSignature
						if name == pk || name == sk {
							want = bound
						}
						for i, v := range valueVariants(stored[name]) {
							with(fmt.Sprintf("change %s #%d", name, i), func(m map[string]types.AttributeValue) { m[name] = v }, want, ddbenc.ErrSignature)
						}
						with("remove "+name, func(m map[string]types.AttributeValue) { delete(m, name) }, ddbenc.ErrSignature, ddbenc.ErrMissingAttribute)
					case act == actions.DoNothing:
						accept("change "+name, "do-nothing attributes are not protected", func(m map[string]types.AttributeValue) {
							m[name] = &types.AttributeValueMemberS{Value: "changed"}
						})
						accept("remove "+name, "do-nothing attributes are not protected", func(m map[string]types.AttributeValue) { delete(m, name) })
					}
				}
				// Swaps between encrypted attributes of one item.
				encNames := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return enc.Action(n) != actions.EncryptAndSign })
				for i := range encNames {
					a, b := encNames[i], encNames[(i+1)%len(encNames)]
					with("swap "+a+" and "+b, func(m map[string]types.AttributeValue) { m[a], m[b] = m[b], m[a] }, ddbenc.ErrSignature)
				}
				// Another table, another item's keys.
				ms = append(ms, mutation{name: "copied to another table", item: avtest.Clone(stored), want: []error{bound}, reader: copyReader})
				with("partition key of another item", func(m map[string]types.AttributeValue) { m[pk] = other[pk] }, bound)
				// Key swaps: the victim's protected attributes in the attacker's
				// record, and the item moved to another sort key.
				with("record swap: protected attributes into another item's record", func(m map[string]types.AttributeValue) {
					for k, v := range other {
						if k == pk || k == sk {
							m[k] = v
						}
					}
				}, bound)
				if withSort {
					with("moved to another sort key", func(m map[string]types.AttributeValue) { m[sk] = &types.AttributeValueMemberN{Value: "43"} }, bound)
					with("sort key retyped", func(m map[string]types.AttributeValue) { m[sk] = &types.AttributeValueMemberS{Value: "42"} }, bound)
				}
				// Reserved attributes.
				with("drop signature", func(m map[string]types.AttributeValue) { delete(m, legacy.SignatureAttribute) }, ddbenc.ErrMissingAttribute)
				with("drop description", func(m map[string]types.AttributeValue) { delete(m, legacy.MaterialDescriptionAttribute) }, ddbenc.ErrMissingAttribute)
				added("duplicate signature as a new attribute", func(m map[string]types.AttributeValue) { m["sig_copy"] = m[legacy.SignatureAttribute] })
				added("duplicate description as a new attribute", func(m map[string]types.AttributeValue) { m["desc_copy"] = m[legacy.MaterialDescriptionAttribute] })
				with("signature from another item", func(m map[string]types.AttributeValue) {
					m[legacy.SignatureAttribute] = other[legacy.SignatureAttribute]
				}, ddbenc.ErrSignature)
				with("description in place of the signature", func(m map[string]types.AttributeValue) {
					m[legacy.SignatureAttribute] = m[legacy.MaterialDescriptionAttribute]
				}, ddbenc.ErrSignature)
				with("signature in place of the description", func(m map[string]types.AttributeValue) {
					m[legacy.MaterialDescriptionAttribute] = m[legacy.SignatureAttribute]
				}, ddbenc.ErrMalformed)
				with("description truncated", func(m map[string]types.AttributeValue) {
					b := m[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB).Value
					m[legacy.MaterialDescriptionAttribute] = &types.AttributeValueMemberB{Value: b[:len(b)-3]}
				}, ddbenc.ErrMalformed)
				with("description version", func(m map[string]types.AttributeValue) {
					b := bytes.Clone(m[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB).Value)
					b[3] = 1
					m[legacy.MaterialDescriptionAttribute] = &types.AttributeValueMemberB{Value: b}
				}, ddbenc.ErrMalformed)
				withDesc("symmetric mode edited", func(d map[string]string) { d[legacy.SymMode] = "/ECB/NoPadding" }, ddbenc.ErrDecryption)
				withDesc("symmetric mode removed", func(d map[string]string) { delete(d, legacy.SymMode) }, ddbenc.ErrDecryption)
				acceptDesc("signing algorithm edited", "HMAC verifiers use their own algorithm; the entry only selects the hash for RSA keys",
					func(d map[string]string) { d[legacy.SigningAlgorithm] = "HmacSHA512" })
				acceptDesc("unknown description entry added", "readers ignore unknown entries (legacy compatibility)",
					func(d map[string]string) { d["x-extra"] = "1" })
				if pname == "static" {
					withDesc("wrapped key added", func(d map[string]string) { d[legacy.EnvelopeKey] = "AAAA" }, ddbenc.ErrWrongKey)
				} else {
					withDesc("content key algorithm edited", func(d map[string]string) { d[legacy.ContentKeyAlg] = "AES/128" }, ddbenc.ErrDecryption)
					withDesc("MAC algorithm edited", func(d map[string]string) { d[legacy.MACAlgorithm] = "HmacSHA256/128" }, ddbenc.ErrDecryption)
					withDesc("wrapping algorithm edited", func(d map[string]string) { d[legacy.WrapAlgorithm] = "AESWrap" }, ddbenc.ErrWrongKey, ddbenc.ErrMalformed)
					withDesc("wrapped key flipped", func(d map[string]string) {
						b, _ := base64.StdEncoding.DecodeString(d[legacy.EnvelopeKey])
						b[len(b)/2] ^= 1
						d[legacy.EnvelopeKey] = base64.StdEncoding.EncodeToString(b)
					}, ddbenc.ErrDecryption)
					otherDesc, _ := legacy.ParseDescription(other[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB).Value)
					againDesc, _ := legacy.ParseDescription(again[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB).Value)
					withDesc("wrapped key of another item", func(d map[string]string) { d[legacy.EnvelopeKey] = otherDesc[legacy.EnvelopeKey] }, ddbenc.ErrDecryption)
					withDesc("wrapped key of another version of the same item", func(d map[string]string) { d[legacy.EnvelopeKey] = againDesc[legacy.EnvelopeKey] }, ddbenc.ErrSignature)
					acceptDesc("KMS context marker edited", "aws-kms-ec-attr is documentation; neither legacy client reads it",
						func(d map[string]string) { d[legacy.KMSContextAttr] = "*nothing*" })
				}
				// Added attributes.
				added("new attribute", func(m map[string]types.AttributeValue) { m["added"] = &types.AttributeValueMemberS{Value: "x"} })
				for _, rep := range []string{"aws:rep:deleting", "aws:rep:updatetime", "aws:rep:updateregion"} {
					accept("add "+rep, "legacy global-table replication attributes are never signed", func(m map[string]types.AttributeValue) {
						m[rep] = &types.AttributeValueMemberS{Value: "us-west-2"}
					})
				}

				for _, m := range ms {
					reader := enc
					if m.reader != nil {
						reader = m.reader
					}
					got, err := reader.DecryptItem(ctx, m.item)
					label := fmt.Sprintf("%s/%s/sort=%v/%s", pname, aname, withSort, m.name)
					switch {
					case len(m.want) == 0 && err == nil:
						accepted++
					case len(m.want) == 0:
						unexpected++
						t.Errorf("%s: rejected (%v), expected accepted: %s", label, err, m.why)
					case got != nil:
						unexpected++
						t.Errorf("%s: returned plaintext with error %v", label, err)
					case slices.ContainsFunc(m.want, func(w error) bool { return errors.Is(err, w) }):
						rejected++
					default:
						unexpected++
						t.Errorf("%s: got %v, want one of %v", label, err, m.want)
					}
				}
			}
		}
	}
	t.Logf("mutations: %d rejected, %d accepted as expected, %d unexpected", rejected, accepted, unexpected)
	if unexpected > 0 {
		t.Fatalf("%d unexpected outcomes", unexpected)
	}
}
