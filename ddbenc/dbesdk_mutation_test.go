package ddbenc_test

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/keyring"
)

// The DB-ESDK item format's mutation matrix (docs/dbesdk-format.md §6, §9.2):
// every change to a stored item, and to the reader's configuration, is
// rejected with the sentinel of the check that catches it, or accepted for a
// documented reason. The expected sentinel follows the order of the §9.2
// checks:
//
//   - ErrMalformed: the header, a footer type or a stored value cannot be
//     parsed (§6.3, §2.8, §9.2 steps 4-6).
//   - ErrSignature: schema (legend length, §9.2 step 8), stored vs reproduced
//     context, public-key presence (step 10), commitment (12), footer size,
//     tag count, tag (13), ECDSA signature (14).
//   - ErrWrongKey: anything bound into the full encryption context (table
//     name, key names and values, SIGN_AND_INCLUDE values and the
//     aws-crypto-legend, stored entries, the public key) changes the AAD of
//     every wrapped data key (§7.2), so no EDK decrypts (step 11) before the
//     commitment or the footer is looked at; so does tampering with the only
//     EDK.
//   - ErrMissingAttribute: a key attribute, the header or the footer is gone
//     (steps 1, 3).
const (
	dbeTable   = "Orders"
	dbePrefix  = "u_"
	dbeListed  = "unsigned_a"
	dbeNothing = "nothing_s"
)

var (
	errMalformed = ddbenc.ErrMalformed
	errSig       = ddbenc.ErrSignature
	errWrongKey  = ddbenc.ErrWrongKey
	errMissing   = ddbenc.ErrMissingAttribute
	errPlaintext = ddbenc.ErrPlaintextItem
)

// dbeMutationItem has every attribute type encrypted, signed and (v2)
// signed-and-included, plus one attribute of each unsigned kind: configured
// DoNothing, listed as allowed-unsigned, and matching the prefix.
func dbeMutationItem(keyVal string, withSort, v2 bool) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{pk: &types.AttributeValueMemberS{Value: keyVal}}
	if withSort {
		item[sk] = &types.AttributeValueMemberN{Value: "42"}
	}
	for name, v := range allTypes() {
		item["enc_"+name] = v
		item[name+"_sign"] = avtest.CloneValue(v)
		if v2 {
			item[name+"_inc"] = avtest.CloneValue(v)
		}
	}
	item[dbeNothing] = &types.AttributeValueMemberS{Value: "free"}
	item[dbeListed] = &types.AttributeValueMemberN{Value: "1"}
	item[dbePrefix+"free"] = &types.AttributeValueMemberS{Value: "free"}
	return item
}

func dbeMutationActions(v2 bool) actions.Map {
	m := actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{dbeNothing: actions.DoNothing}}
	for name := range allTypes() {
		m.Attributes["enc_"+name] = actions.EncryptAndSign
		m.Attributes[name+"_sign"] = actions.SignOnly
		if v2 {
			m.Attributes[name+"_inc"] = actions.SignAndIncludeInEncryptionContext
		}
	}
	return m
}

// dbeFieldOrder sorts names as canonical paths do (§3.2): UTF-16 length,
// then UTF-8 bytes.
func dbeFieldOrder(names []string) {
	u16 := func(s string) int {
		n := 0
		for _, r := range s {
			n++
			if r >= 0x10000 {
				n++
			}
		}
		return n
	}
	sort.Slice(names, func(i, j int) bool {
		if a, b := u16(names[i]), u16(names[j]); a != b {
			return a < b
		}
		return names[i] < names[j]
	})
}

// dbeHeader is an independent reading of a well-formed header (§6.2), with
// the byte ranges of its fields, and a writer for edited headers.
type dbeHeader struct {
	version, flavor byte
	msgID, legend   []byte
	ctx             [][2]string // stored entries, in stored order
	edks            [][3][]byte // provider id, info, ciphertext
	commit          []byte
}

type dbeSpan struct {
	off, n int
	kind   string
	edk    int
}

func parseDBEHeader(t *testing.T, b []byte) (dbeHeader, []dbeSpan) {
	t.Helper()
	var h dbeHeader
	var spans []dbeSpan
	off := 0
	take := func(n int, kind string, edk int) []byte {
		if off+n > len(b) {
			t.Fatalf("header too short at %s", kind)
		}
		spans = append(spans, dbeSpan{off, n, kind, edk})
		v := b[off : off+n]
		off += n
		return v
	}
	lv := func(kind string, edk int) []byte {
		return take(int(binary.BigEndian.Uint16(take(2, kind+"len", edk))), kind, edk)
	}
	h.version = take(1, "version", -1)[0]
	h.flavor = take(1, "flavor", -1)[0]
	h.msgID = take(32, "msgid", -1)
	h.legend = lv("legend", -1)
	n := int(binary.BigEndian.Uint16(take(2, "ctxcount", -1)))
	for i := 0; i < n; i++ {
		k := lv("ctxkey", -1)
		v := lv("ctxval", -1)
		h.ctx = append(h.ctx, [2]string{string(k), string(v)})
	}
	ne := int(take(1, "edkcount", -1)[0])
	for i := 0; i < ne; i++ {
		h.edks = append(h.edks, [3][]byte{lv("pid", i), lv("info", i), lv("ct", i)})
	}
	h.commit = take(32, "commit", -1)
	if off != len(b) {
		t.Fatalf("header has %d bytes after the commitment", len(b)-off)
	}
	return h, spans
}

func (h dbeHeader) bytes() []byte {
	lv := func(b, v []byte) []byte { return append(binary.BigEndian.AppendUint16(b, uint16(len(v))), v...) }
	b := append([]byte{h.version, h.flavor}, h.msgID...)
	b = lv(b, h.legend)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.ctx)))
	for _, e := range h.ctx {
		b = lv(lv(b, []byte(e[0])), []byte(e[1]))
	}
	b = append(b, byte(len(h.edks)))
	for _, e := range h.edks {
		b = lv(lv(lv(b, e[0]), e[1]), e[2])
	}
	return append(b, h.commit...)
}

func (h dbeHeader) clone() dbeHeader {
	c := h
	c.msgID, c.legend, c.commit = bytes.Clone(h.msgID), bytes.Clone(h.legend), bytes.Clone(h.commit)
	c.ctx = slices.Clone(h.ctx)
	c.edks = nil
	for _, e := range h.edks {
		c.edks = append(c.edks, [3][]byte{bytes.Clone(e[0]), bytes.Clone(e[1]), bytes.Clone(e[2])})
	}
	return c
}

func binOf(item map[string]types.AttributeValue, name string) []byte {
	return item[name].(*types.AttributeValueMemberB).Value
}

// pubKeyOutcome is §9.2 step 10 for an edited aws-crypto-public-key value:
// not base64 of a 49-byte compressed P-384 point is malformed; any other
// value changes the full context, so no EDK decrypts.
func pubKeyOutcome(v string) error {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) != 49 {
		return errMalformed
	}
	if x, _ := elliptic.UnmarshalCompressed(elliptic.P384(), raw); x == nil {
		return errMalformed
	}
	return errWrongKey
}

func TestDBESDKMutationMatrix(t *testing.T) {
	ctx := context.Background()
	must := func(k ddbenc.Keyring, err error) ddbenc.Keyring {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	keyA, keyB := bytes.Repeat([]byte{0xa1}, 32), bytes.Repeat([]byte{0xb2}, 32)
	aesA := must(keyring.NewRawAES("ns-a", "key-a", keyA))
	aesB := must(keyring.NewRawAES("ns-b", "key-b", keyB))
	keyrings := map[string]ddbenc.Keyring{"aes": aesA, "multi": must(keyring.NewMulti(aesA, aesB))}
	otherAES := must(keyring.NewRawAES("ns-a", "key-a", bytes.Repeat([]byte{0xa2}, 32)))

	rejected, accepted, unexpected := 0, 0, 0
	reasons := map[string]int{}
	for _, kname := range []string{"aes", "multi"} {
		for _, suite := range []ddbenc.AlgorithmSuite{ddbenc.SuiteSymmetricOnly, ddbenc.SuiteECDSAP384} {
			for _, v2 := range []bool{false, true} {
				for _, withSort := range []bool{false, true} {
					kr := keyrings[kname]
					nedk := map[string]int{"aes": 1, "multi": 2}[kname]
					cfg := ddbenc.TableConfig{TableName: dbeTable, PartitionKey: pk, Format: ddbenc.DBESDKFormat, Keyring: kr, Suite: suite,
						Actions: dbeMutationActions(v2), AllowedUnsignedAttributes: []string{dbeNothing, dbeListed}, AllowedUnsignedAttributePrefix: dbePrefix}
					if withSort {
						cfg.SortKey = sk
					}
					newReader := func(f func(c *ddbenc.TableConfig)) *ddbenc.Encryptor {
						c := cfg
						c.Actions = dbeMutationActions(v2)
						c.AllowedUnsignedAttributes = slices.Clone(cfg.AllowedUnsignedAttributes)
						f(&c)
						e, err := ddbenc.NewEncryptor(c)
						if err != nil {
							t.Fatalf("reader config: %v", err)
						}
						return e
					}
					enc := newReader(func(*ddbenc.TableConfig) {})
					stored, err := enc.EncryptItem(ctx, dbeMutationItem("alice", withSort, v2))
					if err != nil {
						t.Fatal(err)
					}
					other, _ := enc.EncryptItem(ctx, dbeMutationItem("bob", withSort, v2))
					again, _ := enc.EncryptItem(ctx, dbeMutationItem("alice", withSort, v2)) // same keys, new data key
					if _, err := enc.DecryptItem(ctx, stored); err != nil {
						t.Fatalf("unmutated item: %v", err)
					}
					head, foot := binOf(stored, "aws_dbe_head"), binOf(stored, "aws_dbe_foot")
					h, spans := parseDBEHeader(t, head)
					// bound: a change to something in the full context.
					bound := errWrongKey
					// oneEDK: tampering with an EDK. With one EDK nothing decrypts;
					// with two, the other EDK decrypts and the commitment over the
					// header catches it.
					oneEDK := errWrongKey
					if nedk > 1 {
						oneEDK = errSig
					}
					isKey := func(n string) bool { return n == pk || (withSort && n == sk) }
					actionOf := func(n string) actions.Action {
						if isKey(n) {
							if v2 {
								return actions.SignAndIncludeInEncryptionContext
							}
							return actions.SignOnly
						}
						return cfg.Actions.Get(n)
					}
					var signed []string
					for n := range stored {
						if a := actionOf(n); a != actions.DoNothing && !strings.HasPrefix(n, "aws_dbe_") && n != dbeListed && !strings.HasPrefix(n, dbePrefix) {
							signed = append(signed, n)
						}
					}
					dbeFieldOrder(signed)
					if len(signed) != len(h.legend) {
						t.Fatalf("legend of %d for %d signed fields", len(h.legend), len(signed))
					}

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
					withHead := func(name string, f func(h *dbeHeader), want ...error) {
						with(name, func(m map[string]types.AttributeValue) {
							c := h.clone()
							f(&c)
							m["aws_dbe_head"] = &types.AttributeValueMemberB{Value: c.bytes()}
						}, want...)
					}
					setB := func(name string, b []byte) func(m map[string]types.AttributeValue) {
						return func(m map[string]types.AttributeValue) { m[name] = &types.AttributeValueMemberB{Value: b} }
					}
					flip := func(b []byte, i, j int) []byte { c := bytes.Clone(b); c[i] ^= 1 << j; return c }

					// 1. Every bit of the header.
					for _, sp := range spans {
						for i := sp.off; i < sp.off+sp.n; i++ {
							for _, j := range matrixBits(i) {
								c := flip(head, i, j)
								var want error
								switch sp.kind {
								case "version":
									want = errMalformed
								case "flavor":
									want = errMalformed
									if j == 0 {
										want = errSig // the other suite: public-key presence mismatch
									}
								case "msgid", "commit":
									want = errSig
								case "legend":
									want = errMalformed
									if nb := c[i]; nb == 's' || nb == 'c' {
										want = errSig
										if v2 {
											want = bound
										}
									}
								case "ctxkey":
									want = errMalformed
									if j != 7 {
										want = errSig // aws-crypto-public-key is gone
									}
								case "ctxval":
									want = errMalformed
									if j != 7 {
										v := []byte(h.ctx[0][1])
										v[i-sp.off] ^= 1 << j
										want = pubKeyOutcome(string(v))
									}
								case "pid":
									want = errMalformed
									if j != 7 {
										want = oneEDK
									}
								case "info", "ct":
									want = oneEDK
								default: // lengths and counts
									want = errMalformed
								}
								with(fmt.Sprintf("header %s byte %d bit %d", sp.kind, i, j), setB("aws_dbe_head", c), want)
							}
						}
					}
					with("header truncated", setB("aws_dbe_head", head[:len(head)-1]), errMalformed)
					with("header extended", setB("aws_dbe_head", append(bytes.Clone(head), 0)), errMalformed)
					with("header empty", setB("aws_dbe_head", []byte{}), errMalformed)
					with("header retyped as S", func(m map[string]types.AttributeValue) {
						m["aws_dbe_head"] = &types.AttributeValueMemberS{Value: base64.StdEncoding.EncodeToString(head)}
					}, errMalformed)

					// 2. Every bit of the footer.
					for i := range foot {
						for _, j := range matrixBits(i) {
							name := fmt.Sprintf("footer byte %d bit %d", i, j)
							if i >= 48 && i < 48*nedk {
								accept(name, "another recipient's tag: a reader checks only the tag of the EDK it decrypted, at any position (§6.7)", setB("aws_dbe_foot", flip(foot, i, j)))
								continue
							}
							with(name, setB("aws_dbe_foot", flip(foot, i, j)), errSig)
						}
					}
					with("footer truncated", setB("aws_dbe_foot", foot[:len(foot)-1]), errSig)
					with("footer extended", setB("aws_dbe_foot", append(bytes.Clone(foot), 0)), errSig)
					with("footer with an extra tag", setB("aws_dbe_foot", append(bytes.Clone(foot[:48]), foot...)), errSig)
					with("footer without its last tag", setB("aws_dbe_foot", slices.Concat(foot[:48*(nedk-1)], foot[48*nedk:])), errSig)
					with("footer empty", setB("aws_dbe_foot", []byte{}), errSig)
					with("footer retyped as S", func(m map[string]types.AttributeValue) {
						m["aws_dbe_foot"] = &types.AttributeValueMemberS{Value: base64.StdEncoding.EncodeToString(foot)}
					}, errMalformed)
					if nedk > 1 {
						accept("footer tags swapped", "tag position is not checked (§6.7, §11 item 15)",
							setB("aws_dbe_foot", slices.Concat(foot[48:96], foot[:48], foot[96:])))
					}
					if suite == ddbenc.SuiteECDSAP384 {
						with("footer without its signature", setB("aws_dbe_foot", foot[:48*nedk]), errSig)
					} else {
						with("footer with a signature added", setB("aws_dbe_foot", slices.Concat(foot, append([]byte{0x30, 0x65}, make([]byte, 101)...))), errSig)
					}

					// 3. Encrypted values: every bit, truncation, extension, type.
					// 4. Signed values: every variant, recursively.
					names := slices.Sorted(func(yield func(string) bool) {
						for k := range stored {
							if !yield(k) {
								return
							}
						}
					})
					for _, name := range names {
						switch a := actionOf(name); {
						case strings.HasPrefix(name, "aws_dbe_"):
						case a == actions.EncryptAndSign:
							b := binOf(stored, name)
							for i := range b {
								for _, j := range matrixBits(i) {
									with(fmt.Sprintf("%s byte %d bit %d", name, i, j), setB(name, flip(b, i, j)), errSig)
								}
							}
							if len(b) > 18 {
								with("truncate "+name, setB(name, b[:len(b)-1]), errSig)
							}
							with("truncate "+name+" below 18 bytes", setB(name, b[:17]), errMalformed)
							with("extend "+name, setB(name, append(bytes.Clone(b), 0)), errSig)
							with("retype "+name+" as S", func(m map[string]types.AttributeValue) {
								m[name] = &types.AttributeValueMemberS{Value: base64.StdEncoding.EncodeToString(b)}
							}, errSig)
							with("from another item: "+name, func(m map[string]types.AttributeValue) { m[name] = other[name] }, errSig)
							with("from another version of the item: "+name, func(m map[string]types.AttributeValue) { m[name] = again[name] }, errSig)
							with("remove "+name, func(m map[string]types.AttributeValue) { delete(m, name) }, errSig)
						case a == actions.SignOnly || a == actions.SignAndIncludeInEncryptionContext:
							want := errSig
							if a == actions.SignAndIncludeInEncryptionContext || isKey(name) {
								want = bound
							}
							for i, v := range valueVariants(stored[name]) {
								w := want
								if s, ok := v.(*types.AttributeValueMemberS); ok && !isValidUTF8(s.Value) {
									w = errMalformed // the stored value has no serialization (§2.8)
								}
								with(fmt.Sprintf("change %s #%d", name, i), func(m map[string]types.AttributeValue) { m[name] = v }, w)
							}
							if isKey(name) {
								with("remove "+name, func(m map[string]types.AttributeValue) { delete(m, name) }, errMissing)
							} else {
								with("remove "+name, func(m map[string]types.AttributeValue) { delete(m, name) }, errSig)
							}
							with("not a number in "+name, func(m map[string]types.AttributeValue) { m[name] = &types.AttributeValueMemberN{Value: "1e999"} }, errMalformed)
						case name == dbeNothing || name == dbeListed || strings.HasPrefix(name, dbePrefix):
							accept("change "+name, "allowed-unsigned attributes are not signed (§1.5)", func(m map[string]types.AttributeValue) {
								m[name] = &types.AttributeValueMemberS{Value: "changed"}
							})
							accept("remove "+name, "allowed-unsigned attributes are not signed (§1.5)", func(m map[string]types.AttributeValue) { delete(m, name) })
						default:
							t.Fatalf("attribute %s has no mutation class", name)
						}
					}
					// Changes that leave the canonical form alone.
					accept("n_sign written unnormalized", "signed numbers are hashed normalized (§2.6); DynamoDB stores them normalized anyway",
						func(m map[string]types.AttributeValue) { m["n_sign"] = &types.AttributeValueMemberN{Value: "-012.50"} })
					accept("ss_sign reordered", "sets are hashed in canonical order (§2.3)",
						func(m map[string]types.AttributeValue) {
							m["ss_sign"] = &types.AttributeValueMemberSS{Value: []string{"y", "x"}}
						})
					if withSort {
						accept("sort key written unnormalized", "key numbers enter the context normalized (§4.2, §4.3)",
							func(m map[string]types.AttributeValue) { m[sk] = &types.AttributeValueMemberN{Value: "4.2E1"} })
					}
					if v2 {
						// SIGN_AND_INCLUDE values that print alike but differ in type:
						// the aws-crypto-legend character tells them apart (§4.3).
						with("bool_inc as S \"true\"", func(m map[string]types.AttributeValue) { m["bool_inc"] = &types.AttributeValueMemberS{Value: "true"} }, bound)
						with("null_inc as S \"null\"", func(m map[string]types.AttributeValue) { m["null_inc"] = &types.AttributeValueMemberS{Value: "null"} }, bound)
						with("n_inc as S", func(m map[string]types.AttributeValue) { m["n_inc"] = &types.AttributeValueMemberS{Value: "-12.5"} }, bound)
						accept("n_inc written unnormalized", "SIGN_AND_INCLUDE numbers enter the context normalized (§4.3)",
							func(m map[string]types.AttributeValue) { m["n_inc"] = &types.AttributeValueMemberN{Value: "-1.25e1"} })
					}

					// 5. The legend: every position changed to every other byte
					// the format knows, one dropped, one added.
					for pos, old := range h.legend {
						name := signed[pos]
						for _, nb := range []byte{'e', 's', 'c', 'x'} {
							if nb == old {
								continue
							}
							var want error
							switch {
							case nb == 'x':
								want = errMalformed
							case nb == 'e':
								b, ok := stored[name].(*types.AttributeValueMemberB)
								switch {
								case !ok:
									want = errSig // an encrypted field must be binary
								case len(b.Value) < 18:
									want = errMalformed // too short to be a ciphertext (§5.5)
								case v2 && old == 'c':
									want = bound
								default:
									want = errSig
								}
								if !v2 && isKey(name) && ok {
									want = errSig
								}
							case v2 && (nb == 'c' || old == 'c'):
								want = bound // the set of included attributes changed
							default:
								want = errSig // commitment
							}
							withHead(fmt.Sprintf("legend %d (%s) %c -> %c", pos, name, old, nb), func(h *dbeHeader) { h.legend[pos] = nb }, want)
						}
					}
					withHead("legend shortened", func(h *dbeHeader) { h.legend = h.legend[:len(h.legend)-1] }, errSig)
					withHead("legend extended", func(h *dbeHeader) { h.legend = append(h.legend, 's') }, errSig)
					withHead("legend empty", func(h *dbeHeader) { h.legend = nil }, errSig)

					// 6. Stored encryption context.
					sortCtx := func(h *dbeHeader) {
						slices.SortFunc(h.ctx, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
					}
					withHead("stored context: unknown entry added", func(h *dbeHeader) { h.ctx = append(h.ctx, [2]string{"x-extra", "1"}); sortCtx(h) }, bound)
					withHead("stored context: required key stored with its value", func(h *dbeHeader) {
						h.ctx = append(h.ctx, [2]string{"aws-crypto-table-name", dbeTable})
						sortCtx(h)
					}, errSig)
					withHead("stored context: required key stored with another value", func(h *dbeHeader) {
						h.ctx = append(h.ctx, [2]string{"aws-crypto-table-name", "Other"})
						sortCtx(h)
					}, errSig)
					withHead("stored context: partition name stored with another value", func(h *dbeHeader) {
						h.ctx = append(h.ctx, [2]string{"aws-crypto-partition-name", "other"})
						sortCtx(h)
					}, errSig)
					withHead("stored context: entries out of order", func(h *dbeHeader) {
						h.ctx = append(h.ctx, [2]string{"a-first", "1"}, [2]string{"zz-last", "1"})
						sortCtx(h)
						h.ctx[0], h.ctx[len(h.ctx)-1] = h.ctx[len(h.ctx)-1], h.ctx[0]
					}, errMalformed)
					withHead("stored context: duplicate key", func(h *dbeHeader) {
						h.ctx = append(h.ctx, [2]string{"x-dup", "1"}, [2]string{"x-dup", "1"})
						sortCtx(h)
					}, errMalformed)
					withHead("stored context: key not UTF-8", func(h *dbeHeader) { h.ctx = append(h.ctx, [2]string{"\xff", "1"}); sortCtx(h) }, errMalformed)
					otherHead, _ := parseDBEHeader(t, binOf(other, "aws_dbe_head"))
					if suite == ddbenc.SuiteECDSAP384 {
						withHead("stored context: public key removed", func(h *dbeHeader) { h.ctx = nil }, errSig)
						withHead("stored context: another item's public key", func(h *dbeHeader) { h.ctx = otherHead.ctx }, bound)
					} else {
						withHead("stored context: public key added", func(h *dbeHeader) {
							h.ctx = [][2]string{{"aws-crypto-public-key", "AlFRpKfrVcR1idjZ/xkMj+RBWGOIrciK/aZWndlX7O2j/7Lj/htGQ5pMvamfWsg5IA=="}}
						}, errSig)
					}

					// 7. EDKs.
					withHead("EDK provider id changed", func(h *dbeHeader) { h.edks[0][0] = []byte("ns-z") }, oneEDK)
					withHead("EDK provider info changed", func(h *dbeHeader) { h.edks[0][1][0] ^= 1 }, oneEDK)
					withHead("EDK ciphertext truncated", func(h *dbeHeader) { h.edks[0][2] = h.edks[0][2][:47] }, oneEDK)
					withHead("EDK ciphertext extended", func(h *dbeHeader) { h.edks[0][2] = append(h.edks[0][2], 0) }, oneEDK)
					withHead("EDK duplicated", func(h *dbeHeader) { h.edks = append(h.edks, h.edks[0]) }, errSig)
					withHead("all EDKs removed", func(h *dbeHeader) { h.edks = nil }, errMalformed)
					againHead, _ := parseDBEHeader(t, binOf(again, "aws_dbe_head"))
					{
						// Another version's EDK is bound to that version's full context,
						// which includes its own public key (0x6701).
						want := errSig
						if nedk == 1 && suite == ddbenc.SuiteECDSAP384 {
							want = errWrongKey
						}
						withHead("EDK of another version of the item", func(h *dbeHeader) { h.edks[0] = againHead.edks[0] }, want)
					}
					if nedk > 1 {
						withHead("EDKs swapped", func(h *dbeHeader) { h.edks[0], h.edks[1] = h.edks[1], h.edks[0] }, errSig)
						withHead("first EDK removed", func(h *dbeHeader) { h.edks = h.edks[1:] }, errSig)
						withHead("last EDK removed", func(h *dbeHeader) { h.edks = h.edks[:1] }, errSig)
					}

					// 8. Swapped items, attributes and tables.
					with("header of another version of the item", func(m map[string]types.AttributeValue) { m["aws_dbe_head"] = again["aws_dbe_head"] }, errSig)
					with("header of another item", func(m map[string]types.AttributeValue) { m["aws_dbe_head"] = other["aws_dbe_head"] }, bound)
					with("footer of another version of the item", func(m map[string]types.AttributeValue) { m["aws_dbe_foot"] = again["aws_dbe_foot"] }, errSig)
					with("footer of another item", func(m map[string]types.AttributeValue) { m["aws_dbe_foot"] = other["aws_dbe_foot"] }, errSig)
					with("header and footer of another version of the item", func(m map[string]types.AttributeValue) {
						m["aws_dbe_head"], m["aws_dbe_foot"] = again["aws_dbe_head"], again["aws_dbe_foot"]
					}, errSig)
					with("another item under this item's key", func(m map[string]types.AttributeValue) {
						for k, v := range other {
							if !isKey(k) {
								m[k] = v
							}
						}
					}, bound)
					encNames := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return actionOf(n) != actions.EncryptAndSign })
					for i := range encNames {
						a, b := encNames[i], encNames[(i+1)%len(encNames)]
						with("swap "+a+" and "+b, func(m map[string]types.AttributeValue) { m[a], m[b] = m[b], m[a] }, errSig)
					}
					with("head and foot swapped", func(m map[string]types.AttributeValue) {
						m["aws_dbe_head"], m["aws_dbe_foot"] = m["aws_dbe_foot"], m["aws_dbe_head"]
					}, errMalformed)
					readerWith := func(name string, f func(c *ddbenc.TableConfig), want ...error) {
						ms = append(ms, mutation{name: "reader: " + name, item: avtest.Clone(stored), want: want, reader: newReader(f)})
					}
					readerAccepts := func(name, why string, f func(c *ddbenc.TableConfig)) {
						ms = append(ms, mutation{name: "reader: " + name, item: avtest.Clone(stored), why: why, reader: newReader(f)})
					}
					readerWith("another logical table name", func(c *ddbenc.TableConfig) { c.LogicalTableName = "OrdersCopy" }, bound)
					readerAccepts("same logical name, another physical table", "only the logical table name is bound (§1.3)",
						func(c *ddbenc.TableConfig) { c.TableName, c.LogicalTableName = "OrdersReplica", dbeTable })
					readerWith("another partition key name", func(c *ddbenc.TableConfig) {
						c.PartitionKey = "s_sign"
						if v2 {
							c.PartitionKey = "s_inc"
						}
						delete(c.Actions.Attributes, c.PartitionKey)
					}, bound)
					if withSort {
						readerWith("no sort key", func(c *ddbenc.TableConfig) { c.SortKey = "" }, bound)
						readerWith("sort key renamed to a missing attribute", func(c *ddbenc.TableConfig) { c.SortKey = "sk2" }, errMissing)
					} else {
						readerWith("a sort key", func(c *ddbenc.TableConfig) {
							c.SortKey = "n_sign"
							if v2 {
								c.SortKey = "n_inc"
							}
							delete(c.Actions.Attributes, c.SortKey)
						}, bound)
					}
					readerWith("another AES key under the same name", func(c *ddbenc.TableConfig) { c.Keyring = otherAES }, errWrongKey)
					readerWith("a signed attribute made allowed-unsigned", func(c *ddbenc.TableConfig) {
						c.AllowedUnsignedAttributes = append(c.AllowedUnsignedAttributes, "s_sign")
						delete(c.Actions.Attributes, "s_sign")
					}, errSig)
					readerWith("the allowed-unsigned list shrunk", func(c *ddbenc.TableConfig) {
						c.AllowedUnsignedAttributes = []string{dbeNothing}
					}, errSig)
					readerWith("the allowed-unsigned prefix removed", func(c *ddbenc.TableConfig) { c.AllowedUnsignedAttributePrefix = "" }, errSig)
					readerAccepts("the other suite", "the header's flavor decides the suite on decrypt (§12.6 tests 8, 9)", func(c *ddbenc.TableConfig) {
						c.Suite = map[ddbenc.AlgorithmSuite]ddbenc.AlgorithmSuite{ddbenc.SuiteSymmetricOnly: ddbenc.SuiteECDSAP384, ddbenc.SuiteECDSAP384: ddbenc.SuiteSymmetricOnly}[suite]
					})
					readerAccepts("encrypt and sign-only swapped", "the legend decides what is decrypted (§9.2, §12.6 tests 2, 3)", func(c *ddbenc.TableConfig) {
						for n, a := range c.Actions.Attributes {
							switch a {
							case actions.EncryptAndSign:
								c.Actions.Attributes[n] = actions.SignOnly
							case actions.SignOnly:
								c.Actions.Attributes[n] = actions.EncryptAndSign
							}
						}
					})
					if nedk > 1 {
						readerAccepts("only the second keyring", "any recipient may read (§8.9)", func(c *ddbenc.TableConfig) { c.Keyring = aesB })
					}

					// 9. Removed and added attributes.
					with("remove the header", func(m map[string]types.AttributeValue) { delete(m, "aws_dbe_head") }, errMissing)
					with("remove the footer", func(m map[string]types.AttributeValue) { delete(m, "aws_dbe_foot") }, errMissing)
					with("remove header and footer", func(m map[string]types.AttributeValue) {
						delete(m, "aws_dbe_head")
						delete(m, "aws_dbe_foot")
					}, errPlaintext) // a plaintext item now (§9.2 step 3)
					with("header and footer replaced by the legacy attributes", func(m map[string]types.AttributeValue) {
						m[legacy.SignatureAttribute], m[legacy.MaterialDescriptionAttribute] = m["aws_dbe_foot"], m["aws_dbe_head"]
						delete(m, "aws_dbe_head")
						delete(m, "aws_dbe_foot")
					}, ddbenc.ErrLegacyItem)
					with("legacy signature added", func(m map[string]types.AttributeValue) { m[legacy.SignatureAttribute] = m["aws_dbe_foot"] }, errMalformed)
					with("unknown attribute added", func(m map[string]types.AttributeValue) { m["added"] = &types.AttributeValueMemberS{Value: "x"} }, errSig)
					with("copy of an encrypted attribute added", func(m map[string]types.AttributeValue) { m["enc_copy"] = m["enc_s"] }, errSig)
					with("copy of the header added", func(m map[string]types.AttributeValue) { m["head_copy"] = m["aws_dbe_head"] }, errSig)
					accept("allowed-unsigned attribute added (list)", "allowed-unsigned attributes are not signed (§1.5)", func(m map[string]types.AttributeValue) {
						delete(m, dbeListed)
						m[dbeListed] = &types.AttributeValueMemberS{Value: "new"}
					})
					accept("allowed-unsigned attribute added (prefix)", "allowed-unsigned attributes are not signed (§1.5)", func(m map[string]types.AttributeValue) {
						m[dbePrefix+"new"] = &types.AttributeValueMemberS{Value: "new"}
					})
					accept("reserved attribute added", "aws_dbe_ attributes are outside the signature scope and dropped from the output (§1.5, §9.2 step 16)",
						func(m map[string]types.AttributeValue) { m["aws_dbe_extra"] = &types.AttributeValueMemberS{Value: "x"} })

					for _, m := range ms {
						reader := enc
						if m.reader != nil {
							reader = m.reader
						}
						got, err := reader.DecryptItem(ctx, m.item)
						label := fmt.Sprintf("%s/%s/v2=%v/sort=%v/%s", kname, suite, v2, withSort, m.name)
						switch {
						case len(m.want) == 0 && err == nil:
							accepted++
							reasons[m.why]++
							for n := range got {
								if strings.HasPrefix(n, "aws_dbe_") {
									unexpected++
									t.Errorf("%s: output has %s", label, n)
								}
							}
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
	}
	for _, why := range slices.Sorted(func(yield func(string) bool) {
		for k := range reasons {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Logf("accepted %5d: %s", reasons[why], why)
	}
	t.Logf("dbesdk mutations: %d rejected, %d accepted as expected, %d unexpected", rejected, accepted, unexpected)
	if unexpected > 0 {
		t.Fatalf("%d unexpected outcomes", unexpected)
	}
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// matrixBits returns the bits of byte i to flip: all eight, or under the race
// detector one, a different one for each byte.
func matrixBits(i int) []int {
	if raceEnabled {
		return []int{i % 8}
	}
	return []int{0, 1, 2, 3, 4, 5, 6, 7}
}
