package dbesdk

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Encryption-context keys (docs/dbesdk-format.md Appendix B).
const (
	ecTableName     = "aws-crypto-table-name"
	ecPartitionName = "aws-crypto-partition-name"
	ecSortName      = "aws-crypto-sort-name"
	ecAttrPrefix    = "aws-crypto-attr."
	ecLegend        = "aws-crypto-legend"
	// ECPublicKey is the context key of the ECDSA verification key (§4.4).
	ECPublicKey = "aws-crypto-public-key"
)

// field is one signed field of an item.
type field struct {
	name   string
	legend byte
	term   terminal // the plaintext terminal (s and c; e before encryption)
	stored []byte   // e: the whole stored B value
}

// baseContext is docs/dbesdk-format.md §4.2 for header version v.
func (t *Table) baseContext(v int, terms map[string]terminal) map[string]string {
	ec := map[string]string{
		ecTableName:     t.cfg.TableName,
		ecPartitionName: t.cfg.PartitionKey,
	}
	if t.cfg.SortKey != "" {
		ec[ecSortName] = t.cfg.SortKey
	}
	if v == 1 {
		for _, k := range t.keyNames() {
			ec[ecAttrPrefix+k] = base64.StdEncoding.EncodeToString(terms[k].bytes())
		}
	}
	return ec
}

// addIncluded adds the version-2 entries of the c fields (docs/dbesdk-format.md §4.3).
func addIncluded(ec map[string]string, fields []field) error {
	type entry struct {
		key, value string
		ch         byte
	}
	var es []entry
	for _, f := range fields {
		if f.legend != legendContext {
			continue
		}
		e := entry{key: ecAttrPrefix + f.name}
		switch f.term.typ {
		case typeS:
			e.value, e.ch = string(f.term.val), 'S'
		case typeN:
			n, err := NormalizeNumber(string(f.term.val))
			if err != nil {
				return withAttr(err, KindMalformed, f.name)
			}
			e.value, e.ch = n, 'N'
		case typeNull:
			e.value, e.ch = "null", 'L'
		case typeBool:
			e.value, e.ch = "false", 'L'
			if len(f.term.val) == 1 && f.term.val[0] == 1 {
				e.value = "true"
			}
		default:
			e.value, e.ch = base64.StdEncoding.EncodeToString(f.term.bytes()), 'B'
		}
		if _, dup := ec[e.key]; dup {
			return errf(KindMalformed, f.name, "encryption context overlaps an entry of the attribute")
		}
		ec[e.key] = e.value
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	legend := make([]byte, len(es))
	for i, e := range es {
		legend[i] = e.ch
	}
	if _, dup := ec[ecLegend]; dup {
		return errf(KindMalformed, "", "encryption context overlaps the legend entry")
	}
	ec[ecLegend] = string(legend)
	return nil
}

// canonicalHash is docs/dbesdk-format.md §6.5.
func canonicalHash(table string, head []byte, full map[string]string, fields []field) []byte {
	h := sha512.New384()
	h.Write(head)
	aad := headerContext(full)
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(aad))))
	h.Write(aad)
	for _, f := range fields {
		h.Write(canonPath(table, f.name))
		if f.legend == legendEncrypt {
			h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(f.stored)-2)))
			h.Write([]byte("ENCRYPTED"))
			h.Write(f.stored)
		} else {
			h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(f.term.val))))
			h.Write([]byte("PLAINTEXT"))
			h.Write(binary.BigEndian.AppendUint16(nil, f.term.typ))
			h.Write(f.term.val)
		}
	}
	return h.Sum(nil)
}

func recipientTag(macKey, hash []byte) []byte {
	m := hmac.New(sha512.New384, macKey)
	m.Write(hash)
	return m.Sum(nil)
}

// actionOf is the encrypt-side action of an item attribute (§1.5).
func (t *Table) actionOf(name string) (Action, bool) {
	if a, ok := t.cfg.Actions[name]; ok {
		return a, true
	}
	if t.allowedUnsigned(name) {
		return DoNothing, true
	}
	if t.cfg.Default != 0 {
		return t.cfg.Default, true
	}
	return 0, false
}

// Encrypt writes an item (docs/dbesdk-format.md §9.1). The input is not
// modified.
func (t *Table) Encrypt(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	for name := range item {
		if strings.HasPrefix(name, ReservedPrefix) {
			return nil, errf(KindInvalidItem, name, "attribute names starting with %s are reserved", ReservedPrefix)
		}
	}
	for _, k := range t.keyNames() {
		if _, ok := item[k]; !ok {
			return nil, errf(KindMissingAttribute, k, "key attribute is missing")
		}
	}
	for n, a := range t.cfg.Actions {
		if _, ok := item[n]; !ok && a == SignAndInclude {
			return nil, errf(KindMissingAttribute, n, "sign-and-include attribute is missing")
		}
	}
	var fields []field
	hasC := false
	for name, v := range item {
		a, ok := t.actionOf(name)
		if !ok {
			return nil, errf(KindInvalidItem, name, "no action configured for attribute")
		}
		if a == DoNothing {
			continue
		}
		term, err := serialize(v)
		if err != nil {
			return nil, withAttr(err, KindInvalidItem, name)
		}
		f := field{name: name, term: term}
		switch a {
		case EncryptAndSign:
			f.legend = legendEncrypt
		case SignOnly:
			f.legend = legendSign
		case SignAndInclude:
			f.legend, hasC = legendContext, true
		}
		fields = append(fields, f)
	}
	terms := make(map[string]terminal, len(fields))
	for _, f := range fields {
		terms[f.name] = f.term
	}
	version := 1
	if hasC {
		version = 2
	}
	slices.SortFunc(fields, func(a, b field) int { return compareFieldNames(a.name, b.name) })
	ec := t.baseContext(version, terms)
	if version == 2 {
		if err := addIncluded(ec, fields); err != nil {
			return nil, withAttr(err, KindInvalidItem, "")
		}
	}
	required := slices.Sorted(maps.Keys(ec))
	suite := t.cfg.Suite
	var priv *ecdsa.PrivateKey
	if suite.Signed() {
		var err error
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			return nil, err
		}
		ec[ECPublicKey] = base64.StdEncoding.EncodeToString(elliptic.MarshalCompressed(elliptic.P384(), priv.X, priv.Y))
	}
	mats, err := t.cfg.Materials.EncryptMaterials(ctx, suite, maps.Clone(ec), slices.Clone(required))
	if err != nil {
		if isContextErr(err) {
			return nil, err
		}
		return nil, withAttr(err, KindInvalidConfig, "")
	}
	if mats == nil || len(mats.PDK) != KeyLen || len(mats.EDKs) == 0 || len(mats.EDKs) > 255 || len(mats.MACKeys) != len(mats.EDKs) {
		return nil, errf(KindInvalidConfig, "", "the keyring returned incomplete materials (a %d-byte data key, 1 to 255 encrypted data keys, one signing key each)", KeyLen)
	}
	for _, e := range mats.EDKs {
		if len(e.ProviderID) > 65535 || len(e.ProviderInfo) > 65535 || len(e.Ciphertext) > 65535 {
			return nil, errf(KindInvalidConfig, "", "an encrypted data key field is longer than 65535 bytes")
		}
	}
	h := &header{version: byte(version), flavor: byte(suite & 0xFF), msgID: make([]byte, msgIDLen), edks: mats.EDKs, stored: map[string]string{}}
	if _, err := rand.Read(h.msgID); err != nil {
		return nil, err
	}
	if priv != nil {
		h.stored[ECPublicKey] = ec[ECPublicKey]
	}
	h.legend = make([]byte, len(fields))
	for i, f := range fields {
		h.legend[i] = f.legend
	}
	if len(fields) > 65535 {
		return nil, errf(KindInvalidItem, "", "too many signed attributes")
	}
	partial := h.writePartial()
	head := append(partial, commitment(mats.PDK, h.msgID, partial)...)
	root := fieldRootKey(mats.PDK, h.msgID)
	out := make(map[string]types.AttributeValue, len(item)+2)
	maps.Copy(out, item)
	offset := 0
	for i := range fields {
		f := &fields[i]
		if f.legend != legendEncrypt {
			continue
		}
		f.stored = encryptField(root, offset, canonPath(t.cfg.TableName, f.name), f.term)
		offset++
		out[f.name] = &types.AttributeValueMemberB{Value: f.stored}
	}
	hash := canonicalHash(t.cfg.TableName, head, ec, fields)
	foot := make([]byte, 0, tagLen*len(mats.EDKs)+sigLen)
	for _, k := range mats.MACKeys {
		foot = append(foot, recipientTag(k, hash)...)
	}
	if priv != nil {
		digest := sha512.Sum384(hash)
		for {
			sig, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
			if err != nil {
				return nil, err
			}
			if len(sig) == sigLen {
				foot = append(foot, sig...)
				break
			}
		}
	}
	out[HeadAttribute] = &types.AttributeValueMemberB{Value: head}
	out[FootAttribute] = &types.AttributeValueMemberB{Value: foot}
	return out, nil
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// Decrypt verifies and decrypts a stored item (docs/dbesdk-format.md §9.2).
// Nothing is returned unless the commitment, a recipient tag and (suite
// 0x6701) the signature verified and every encrypted field decrypted.
func (t *Table) Decrypt(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	// 1. keys.
	for _, k := range t.keyNames() {
		if _, ok := item[k]; !ok {
			return nil, errf(KindMissingAttribute, k, "key attribute is missing")
		}
	}
	// 3-4. header and footer attributes.
	headAV, hasHead := item[HeadAttribute]
	footAV, hasFoot := item[FootAttribute]
	if !hasHead && !hasFoot {
		return nil, errf(KindMissingAttribute, HeadAttribute, "item has no %s and %s attributes: it is not encrypted in this format", HeadAttribute, FootAttribute)
	}
	if !hasHead {
		return nil, errf(KindMissingAttribute, HeadAttribute, "header attribute is missing")
	}
	if !hasFoot {
		return nil, errf(KindMissingAttribute, FootAttribute, "footer attribute is missing")
	}
	hb, ok := headAV.(*types.AttributeValueMemberB)
	if !ok || len(hb.Value) == 0 {
		return nil, errf(KindMalformed, HeadAttribute, "header must be a non-empty binary")
	}
	fb, ok := footAV.(*types.AttributeValueMemberB)
	if !ok {
		return nil, errf(KindMalformed, FootAttribute, "footer must be a binary")
	}
	// 5-6. header.
	h, err := parseHeader(hb.Value)
	if err != nil {
		return nil, withAttr(err, KindMalformed, HeadAttribute)
	}
	suite := h.suite()
	// 7. signature scope.
	var names []string
	for name := range item {
		if !t.allowedUnsigned(name) {
			if a, ok := t.cfg.Actions[name]; ok && a == DoNothing {
				continue
			}
			names = append(names, name)
		}
	}
	sortFields(names)
	// 8. legend.
	if len(h.legend) > len(names) {
		return nil, errf(KindSignature, "", "schema changed: something that was signed is now unsigned")
	}
	if len(h.legend) < len(names) {
		return nil, errf(KindSignature, "", "schema changed: something that was unsigned is now signed")
	}
	fields := make([]field, len(names))
	terms := map[string]terminal{}
	for i, name := range names {
		f := field{name: name, legend: h.legend[i]}
		if f.legend == legendEncrypt {
			b, ok := item[name].(*types.AttributeValueMemberB)
			if !ok {
				return nil, errf(KindSignature, name, "an encrypted attribute is not binary")
			}
			if len(b.Value) < 18 {
				return nil, errf(KindMalformed, name, "encrypted value too short")
			}
			f.stored = b.Value
		} else {
			term, err := serialize(item[name])
			if err != nil {
				return nil, &Error{Kind: KindMalformed, Attribute: name, Msg: "stored value cannot be serialized", Err: err}
			}
			f.term = term
			terms[name] = term
		}
		fields[i] = f
	}
	// 9. reproduced context.
	for _, k := range t.keyNames() {
		if _, ok := terms[k]; !ok && h.version == 1 {
			return nil, errf(KindSignature, k, "key attribute is not a signed plaintext field")
		}
	}
	repro := t.baseContext(int(h.version), terms)
	if h.version == 2 {
		if err := addIncluded(repro, fields); err != nil {
			return nil, err
		}
	}
	// 10. stored vs reproduced; public key.
	full := maps.Clone(h.stored)
	for k, v := range repro {
		if sv, ok := full[k]; ok && sv != v {
			return nil, errf(KindSignature, "", "encryption context does not match reproduced encryption context")
		}
		full[k] = v
	}
	var required []string
	for k := range repro {
		if _, ok := h.stored[k]; !ok {
			required = append(required, k)
		}
	}
	slices.Sort(required)
	var pub *ecdsa.PublicKey
	pk, hasPK := full[ECPublicKey]
	if suite.Signed() != hasPK {
		return nil, errf(KindSignature, HeadAttribute, "public key entry does not match the algorithm suite")
	}
	if hasPK {
		raw, err := base64.StdEncoding.DecodeString(pk)
		if err != nil || len(raw) != 49 {
			return nil, errf(KindMalformed, HeadAttribute, "invalid public key")
		}
		x, y := elliptic.UnmarshalCompressed(elliptic.P384(), raw)
		if x == nil {
			return nil, errf(KindMalformed, HeadAttribute, "invalid public key")
		}
		pub = &ecdsa.PublicKey{Curve: elliptic.P384(), X: x, Y: y}
	}
	// 11. keyring.
	mats, err := t.cfg.Materials.DecryptMaterials(ctx, suite, maps.Clone(full), required, slices.Clone(h.edks))
	if err != nil {
		if isContextErr(err) {
			return nil, err
		}
		return nil, withAttr(err, KindWrongKey, "")
	}
	if mats == nil || len(mats.PDK) != KeyLen || len(mats.MACKey) != KeyLen {
		return nil, errf(KindWrongKey, "", "the keyring returned no data key")
	}
	// 12. commitment.
	if subtle.ConstantTimeCompare(commitment(mats.PDK, h.msgID, h.partial), h.commit) != 1 {
		return nil, errf(KindSignature, HeadAttribute, "key commitment mismatch")
	}
	// 13. footer.
	foot := fb.Value
	var sig []byte
	if suite.Signed() {
		if len(foot) < tagLen+sigLen || (len(foot)-sigLen)%tagLen != 0 {
			return nil, errf(KindSignature, FootAttribute, "footer has the wrong size")
		}
		sig = foot[len(foot)-sigLen:]
		foot = foot[:len(foot)-sigLen]
	} else if len(foot) < tagLen || len(foot)%tagLen != 0 {
		return nil, errf(KindSignature, FootAttribute, "footer has the wrong size")
	}
	if len(foot)/tagLen != len(h.edks) {
		return nil, errf(KindSignature, FootAttribute, "number of recipient tags differs from the number of encrypted data keys")
	}
	hash := canonicalHash(t.cfg.TableName, h.raw, full, fields)
	tag := recipientTag(mats.MACKey, hash)
	match := 0
	for i := 0; i < len(foot); i += tagLen {
		match |= subtle.ConstantTimeCompare(tag, foot[i:i+tagLen])
	}
	if match != 1 {
		return nil, errf(KindSignature, FootAttribute, "recipient tag does not verify")
	}
	// 14. signature.
	if pub != nil {
		digest := sha512.Sum384(hash)
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			return nil, errf(KindSignature, FootAttribute, "signature does not verify")
		}
	}
	// 15-16. decrypt.
	root := fieldRootKey(mats.PDK, h.msgID)
	out := make(map[string]types.AttributeValue, len(item))
	for name, v := range item {
		if !strings.HasPrefix(name, ReservedPrefix) {
			out[name] = v
		}
	}
	offset := 0
	for _, f := range fields {
		if f.legend != legendEncrypt {
			continue
		}
		term, err := decryptField(root, offset, canonPath(t.cfg.TableName, f.name), f.stored)
		offset++
		if err != nil {
			return nil, withAttr(err, KindDecryption, f.name)
		}
		v, err := parseTerminal(term)
		if err != nil {
			return nil, withAttr(err, KindMalformed, f.name)
		}
		out[f.name] = v
	}
	return out, nil
}
