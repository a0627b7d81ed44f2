package dbesdk

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file reads a stored item's header and footer for display (ddbec
// inspect) without any key: it reports the structure and sizes, never key
// bytes, IVs, the commitment or tags. It parses on its own (by the rules of
// docs/dbesdk-format.md §6.2, §6.3 and §6.6) rather than through the
// decrypt path, so that it can describe a header the engine would refuse.

// HeaderInfo is the description of an aws_dbe_head value.
type HeaderInfo struct {
	Version int    // 1 or 2 (§1.4)
	Suite   Suite  // 0x6700 | flavor
	Legend  string // one of 'e', 's', 'c' per signed field, in the order of §3.2
	// ContextKeys are the keys of the stored encryption context, in header
	// order (their values are not reported).
	ContextKeys []string
	EDKs        []EDKInfo
	Bytes       int // length of the whole header
}

// EDKInfo describes one encrypted data key: the provider id and the lengths
// of the provider info and ciphertext, never their bytes.
type EDKInfo struct {
	ProviderID        string
	ProviderInfoBytes int
	CiphertextBytes   int
}

// FooterInfo is the description of an aws_dbe_foot value for a header of a
// given suite (§6.6).
type FooterInfo struct {
	Tags      int  // 48-byte recipient tags
	Signature bool // a 103-byte ECDSA signature follows the tags
	Bytes     int
}

const (
	inspectMsgIDLen  = 32
	inspectCommitLen = 32
	inspectTagLen    = 48
	inspectSigLen    = 103
)

// SuiteName is the AWS name of a suite, or "" for an unknown one.
func SuiteName(s Suite) string {
	switch uint16(s) {
	case 0x6700:
		return "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_SYMSIG_HMAC_SHA384"
	case 0x6701:
		return "ALG_AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384_SYMSIG_HMAC_SHA384"
	}
	return ""
}

// InspectHeader parses an aws_dbe_head value (§6.2, §6.3). Errors are
// KindMalformed and describe the structure only.
func InspectHeader(raw []byte) (*HeaderInfo, error) {
	bad := func(format string, args ...any) (*HeaderInfo, error) {
		return nil, errf(KindMalformed, HeadAttribute, "header: "+format, args...)
	}
	b := raw
	short := false
	take := func(n int) []byte {
		if short || n > len(b) {
			short = true
			return nil
		}
		v := b[:n]
		b = b[n:]
		return v
	}
	u8 := func() int {
		v := take(1)
		if v == nil {
			return 0
		}
		return int(v[0])
	}
	u16 := func() int {
		v := take(2)
		if v == nil {
			return 0
		}
		return int(binary.BigEndian.Uint16(v))
	}
	h := &HeaderInfo{Bytes: len(raw)}
	if len(raw) < 2 {
		return bad("too short (%d bytes)", len(raw))
	}
	h.Version = u8()
	if h.Version != 1 && h.Version != 2 {
		return bad("unexpected version %d", h.Version)
	}
	flavor := u8()
	if flavor > 1 {
		return bad("unexpected flavor %d (suite 0x67%02x)", flavor, flavor)
	}
	h.Suite = Suite(0x6700 | uint16(flavor))
	take(inspectMsgIDLen)
	legend := take(u16())
	for _, c := range legend {
		if c != legendEncrypt && c != legendSign && c != legendContext {
			return bad("invalid byte 0x%02x in the legend", c)
		}
	}
	h.Legend = string(legend)
	n := u16()
	var prev []byte
	for i := 0; i < n && !short; i++ {
		k := take(u16())
		v := take(u16())
		if short {
			break
		}
		if !utf8.Valid(k) || !utf8.Valid(v) {
			return bad("stored encryption context entry %d is not valid UTF-8", i)
		}
		if i > 0 && bytes.Compare(k, prev) <= 0 {
			return bad("stored encryption context keys out of order")
		}
		prev = k
		h.ContextKeys = append(h.ContextKeys, string(k))
	}
	count := u8()
	if !short && count == 0 {
		return bad("no encrypted data keys")
	}
	for i := 0; i < count && !short; i++ {
		id := take(u16())
		info := take(u16())
		ct := take(u16())
		if short {
			break
		}
		if !utf8.Valid(id) {
			return bad("provider id of encrypted data key %d is not valid UTF-8", i)
		}
		h.EDKs = append(h.EDKs, EDKInfo{ProviderID: string(id), ProviderInfoBytes: len(info), CiphertextBytes: len(ct)})
	}
	switch {
	case short || len(b) < inspectCommitLen:
		return bad("unexpected end of data")
	case len(b) > inspectCommitLen:
		return bad("%d unexpected bytes after the commitment", len(b)-inspectCommitLen)
	}
	return h, nil
}

// InspectFooter splits an aws_dbe_foot value written with suite s (§6.6,
// §6.7 step 1). It does not check the tag count against the header.
func InspectFooter(raw []byte, s Suite) (*FooterInfo, error) {
	f := &FooterInfo{Bytes: len(raw), Signature: s.Signed()}
	n := len(raw)
	if f.Signature {
		n -= inspectSigLen
	}
	if n < inspectTagLen || n%inspectTagLen != 0 {
		return nil, errf(KindMalformed, FootAttribute, "footer of %d bytes does not fit suite 0x%04x (48-byte tags%s)",
			len(raw), uint16(s), map[bool]string{true: " and a 103-byte signature", false: ""}[f.Signature])
	}
	f.Tags = n / inspectTagLen
	return f, nil
}

// SignedFieldOrder returns the names in the order of the signed fields of
// §3.2 (UTF-16 length of the name, then its UTF-8 bytes): the order the
// legend follows.
func SignedFieldOrder(names []string) []string {
	out := slices.Clone(names)
	u16len := func(s string) int {
		n := 0
		for _, r := range s {
			n += max(utf16.RuneLen(r), 1)
		}
		return n
	}
	slices.SortFunc(out, func(a, b string) int {
		if la, lb := u16len(a), u16len(b); la != lb {
			return la - lb
		}
		return strings.Compare(a, b)
	})
	return out
}

// LegendAction is the action a legend byte stands for.
func LegendAction(c byte) (Action, error) {
	switch c {
	case legendEncrypt:
		return EncryptAndSign, nil
	case legendSign:
		return SignOnly, nil
	case legendContext:
		return SignAndInclude, nil
	}
	return 0, fmt.Errorf("invalid legend byte 0x%02x", c)
}
