package dbesdk

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// publishedHeader returns aws_dbe_head and aws_dbe_foot of test 1 of
// decrypt_java_32.json (an item written by the AWS Java SDK: hierarchical
// keyring, suite 0x6701, RecNum SIGN_ONLY, Stuff and Junk ENCRYPT_AND_SIGN).
func publishedHeader(t *testing.T) (head, foot []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vectors", "dbesdk", "published", "decrypt_java_32.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Tests map[string]struct {
			Encrypted map[string]struct {
				B string `json:"B"`
			} `json:"encrypted"`
		} `json:"tests"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	enc := m.Tests["1"].Encrypted
	if head, err = base64.StdEncoding.DecodeString(enc[HeadAttribute].B); err != nil {
		t.Fatal(err)
	}
	if foot, err = base64.StdEncoding.DecodeString(enc[FootAttribute].B); err != nil {
		t.Fatal(err)
	}
	return head, foot
}

func TestInspectPublishedHeader(t *testing.T) {
	head, foot := publishedHeader(t)
	h, err := InspectHeader(head)
	if err != nil {
		t.Fatal(err)
	}
	want := &HeaderInfo{
		Version: 1, Suite: 0x6701, Legend: "ees", ContextKeys: []string{"aws-crypto-public-key"},
		// Provider info: the branch key id; ciphertext: wrapped PDK (48),
		// salt (16), IV (12), branch key version (16), encrypted
		// intermediate key (32), tag (16): 140 bytes (§8.10).
		EDKs:  []EDKInfo{{ProviderID: "aws-kms-hierarchy", ProviderInfoBytes: len("bd3842ff-3076-4092-9918-4395730050b8"), CiphertextBytes: 140}},
		Bytes: len(head),
	}
	if h.Version != want.Version || h.Suite != want.Suite || h.Legend != want.Legend || !slices.Equal(h.ContextKeys, want.ContextKeys) ||
		!slices.Equal(h.EDKs, want.EDKs) || h.Bytes != want.Bytes {
		t.Errorf("InspectHeader = %+v\nwant %+v", h, want)
	}
	if SuiteName(h.Suite) != "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384_SYMSIG_HMAC_SHA384" || SuiteName(0x6700) == "" || SuiteName(0x0014) != "" {
		t.Errorf("SuiteName")
	}
	f, err := InspectFooter(foot, h.Suite)
	if err != nil {
		t.Fatal(err)
	}
	if f.Tags != 1 || !f.Signature || f.Bytes != 48+103 {
		t.Errorf("InspectFooter = %+v", f)
	}
	// The legend lines up with the signed fields in canonical order.
	if got := SignedFieldOrder([]string{"RecNum", "Stuff", "Junk"}); strings.Join(got, ",") != "Junk,Stuff,RecNum" {
		t.Errorf("SignedFieldOrder = %v", got)
	}
	for i, c := range []byte(h.Legend) {
		a, err := LegendAction(c)
		if err != nil || a != []Action{EncryptAndSign, EncryptAndSign, SignOnly}[i] {
			t.Errorf("LegendAction(%q) = %v, %v", c, a, err)
		}
	}
	if _, err := LegendAction('x'); err == nil {
		t.Errorf("LegendAction('x') succeeded")
	}
}

func put16(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// buildHeader writes a header by §6.2 from its parts.
func buildHeader(version, flavor byte, legend string, ec [][2]string, edks []EDK, tail int) []byte {
	b := []byte{version, flavor}
	b = append(b, make([]byte, 32)...)
	b = put16(b, []byte(legend))
	b = binary.BigEndian.AppendUint16(b, uint16(len(ec)))
	for _, kv := range ec {
		b = put16(b, []byte(kv[0]))
		b = put16(b, []byte(kv[1]))
	}
	b = append(b, byte(len(edks)))
	for _, e := range edks {
		b = put16(b, []byte(e.ProviderID))
		b = put16(b, e.ProviderInfo)
		b = put16(b, e.Ciphertext)
	}
	return append(b, make([]byte, tail)...)
}

func TestInspectHeaderRules(t *testing.T) {
	edk := EDK{ProviderID: "ns-😀", ProviderInfo: []byte("name\x00\x00\x00\x80\x00\x00\x00\x0c0123456789ab"), Ciphertext: make([]byte, 96)}
	ok := buildHeader(2, 0, "cse", nil, []EDK{edk, edk}, 32)
	h, err := InspectHeader(ok)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 || h.Suite != 0x6700 || h.Legend != "cse" || len(h.ContextKeys) != 0 || len(h.EDKs) != 2 ||
		h.EDKs[1] != (EDKInfo{ProviderID: "ns-😀", ProviderInfoBytes: 24, CiphertextBytes: 96}) {
		t.Errorf("InspectHeader = %+v", h)
	}
	bad := map[string][]byte{
		"empty":              nil,
		"version 3":          buildHeader(3, 0, "e", nil, []EDK{edk}, 32),
		"flavor 2":           buildHeader(1, 2, "e", nil, []EDK{edk}, 32),
		"legend byte":        buildHeader(1, 0, "ex", nil, []EDK{edk}, 32),
		"context order":      buildHeader(1, 0, "e", [][2]string{{"b", "1"}, {"a", "2"}}, []EDK{edk}, 32),
		"context duplicate":  buildHeader(1, 0, "e", [][2]string{{"a", "1"}, {"a", "2"}}, []EDK{edk}, 32),
		"context not UTF-8":  buildHeader(1, 0, "e", [][2]string{{"a\xff", "1"}}, []EDK{edk}, 32),
		"no EDK":             buildHeader(1, 0, "e", nil, nil, 32),
		"provider not UTF-8": buildHeader(1, 0, "e", nil, []EDK{{ProviderID: "\xff"}}, 32),
		"short commitment":   buildHeader(1, 0, "e", nil, []EDK{edk}, 31),
		"extra bytes":        buildHeader(1, 0, "e", nil, []EDK{edk}, 33),
		"truncated EDK":      ok[:40+len("cse")+40],
	}
	for name, raw := range bad {
		_, err := InspectHeader(raw)
		var de *Error
		if !errors.As(err, &de) || de.Kind != KindMalformed || de.Attribute != HeadAttribute {
			t.Errorf("%s: err %v; want a malformed-header error", name, err)
		}
	}
	// Every prefix of a valid header is refused, never a panic.
	for n := range len(ok) {
		if _, err := InspectHeader(ok[:n]); err == nil {
			t.Errorf("prefix of %d bytes accepted", n)
		}
	}
}

func TestInspectFooter(t *testing.T) {
	for _, c := range []struct {
		n    int
		s    Suite
		tags int // 0: refused
	}{
		{48, 0x6700, 1}, {96, 0x6700, 2}, {47, 0x6700, 0}, {0, 0x6700, 0}, {151, 0x6700, 0},
		{151, 0x6701, 1}, {199, 0x6701, 2}, {103, 0x6701, 0}, {48, 0x6701, 0}, {150, 0x6701, 0},
	} {
		f, err := InspectFooter(make([]byte, c.n), c.s)
		switch {
		case c.tags == 0 && err == nil:
			t.Errorf("%d bytes, suite %04x: accepted %+v", c.n, uint16(c.s), f)
		case c.tags != 0 && (err != nil || f.Tags != c.tags || f.Signature != c.s.Signed()):
			t.Errorf("%d bytes, suite %04x: %+v, %v; want %d tags", c.n, uint16(c.s), f, err, c.tags)
		}
	}
}

func TestSignedFieldOrder(t *testing.T) {
	// docs/dbesdk-format.md §3.2, and UTF-16 lengths: é 1, 中 1, 😀 2.
	for _, c := range []struct{ in, want []string }{
		{[]string{"partition_key", "attribute1", "sort_key", "attribute4", "attribute2"}, []string{"sort_key", "attribute1", "attribute2", "attribute4", "partition_key"}},
		{[]string{"😀", "ab", "é", "中", "b"}, []string{"b", "é", "中", "ab", "😀"}},
		{[]string{"😀a", "abc", "aé"}, []string{"aé", "abc", "😀a"}},
	} {
		in := slices.Clone(c.in)
		if got := SignedFieldOrder(c.in); !slices.Equal(got, c.want) {
			t.Errorf("SignedFieldOrder(%q) = %q; want %q", c.in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("SignedFieldOrder changed its argument")
		}
	}
}
