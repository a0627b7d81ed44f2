package dbesdk

import (
	"context"
	"crypto/aes"
	"crypto/ecdsa"
	"crypto/elliptic"
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
	name    string
	legend  byte
	at, end int    // type id ‖ value in the scratch arena (s and c; e before encryption)
	stored  []byte // e: the whole stored B value
}

// term returns a field's serialized bytes (type id ‖ value) in arena.
func (f *field) term(arena []byte) []byte { return arena[f.at:f.end] }

func (f *field) typ(arena []byte) uint16 { return binary.BigEndian.Uint16(arena[f.at:]) }

func (f *field) val(arena []byte) []byte { return arena[f.at+2 : f.end] }

// findField returns the field named name, or nil.
func findField(fields []field, name string) *field {
	for i := range fields {
		if fields[i].name == name {
			return &fields[i]
		}
	}
	return nil
}

// reproduce appends the encryption-context entries a reader reproduces
// (docs/dbesdk-format.md §4.2, and §4.3 for version 2) to dst.
func (t *Table) reproduce(dst []kv, v int, fields []field, arena []byte, s *scratch) ([]kv, error) {
	dst = append(dst, kv{ecTableName, t.cfg.TableName}, kv{ecPartitionName, t.cfg.PartitionKey})
	if t.cfg.SortKey != "" {
		dst = append(dst, kv{ecSortName, t.cfg.SortKey})
	}
	if v == 1 {
		// One string holds the base64 values of all key attributes.
		keys := t.keyNames()
		var sb strings.Builder
		n := 0
		for _, k := range keys {
			tl := 2
			if f := findField(fields, k); f != nil && f.legend != legendEncrypt {
				tl = f.end - f.at
			}
			n += base64.StdEncoding.EncodedLen(tl)
		}
		sb.Grow(n)
		for _, k := range keys {
			term := []byte{0, 0}
			if f := findField(fields, k); f != nil && f.legend != legendEncrypt {
				term = f.term(arena)
			}
			s.rec = base64.StdEncoding.AppendEncode(s.rec[:0], term)
			sb.Write(s.rec)
		}
		all := sb.String()
		for i, k := range keys {
			tl := 2
			if f := findField(fields, k); f != nil && f.legend != legendEncrypt {
				tl = f.end - f.at
			}
			l := base64.StdEncoding.EncodedLen(tl)
			dst = append(dst, kv{t.attrKeys[i], all[:l]})
			all = all[l:]
			_ = k
		}
		return dst, nil
	}
	return addIncluded(dst, fields, arena)
}

// addIncluded adds the version-2 entries of the c fields (docs/dbesdk-format.md §4.3).
func addIncluded(ec []kv, fields []field, arena []byte) ([]kv, error) {
	type entry struct {
		key, value string
		ch         byte
	}
	has := func(k string) bool {
		for _, e := range ec {
			if e.k == k {
				return true
			}
		}
		return false
	}
	var es []entry
	for i := range fields {
		f := &fields[i]
		if f.legend != legendContext {
			continue
		}
		e := entry{key: ecAttrPrefix + f.name}
		val := f.val(arena)
		switch f.typ(arena) {
		case typeS:
			e.value, e.ch = string(val), 'S'
		case typeN:
			n, err := NormalizeNumber(string(val))
			if err != nil {
				return nil, withAttr(err, KindMalformed, f.name)
			}
			e.value, e.ch = n, 'N'
		case typeNull:
			e.value, e.ch = "null", 'L'
		case typeBool:
			e.value, e.ch = "false", 'L'
			if len(val) == 1 && val[0] == 1 {
				e.value = "true"
			}
		default:
			e.value, e.ch = base64.StdEncoding.EncodeToString(f.term(arena)), 'B'
		}
		if has(e.key) {
			return nil, errf(KindMalformed, f.name, "encryption context overlaps an entry of the attribute")
		}
		ec = append(ec, kv{e.key, e.value})
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	legend := make([]byte, len(es))
	for i, e := range es {
		legend[i] = e.ch
	}
	if has(ecLegend) {
		return nil, errf(KindMalformed, "", "encryption context overlaps the legend entry")
	}
	return append(ec, kv{ecLegend, string(legend)}), nil
}

// appendCanonPath is canonPath appended to dst.
func appendCanonPath(dst []byte, table, name string) []byte {
	dst = append(dst, table...)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 1, '$')
	dst = binary.BigEndian.AppendUint64(dst, uint64(utf16Len(name)))
	return append(dst, name...)
}

// canonicalHash is docs/dbesdk-format.md §6.5: SHA-384 over the header, the
// serialized full context (s.ctx) and the signed fields in order, streamed.
// The result is valid until the next call.
func (s *scratch) canonicalHash(table string, head []byte, fields []field) []byte {
	h := s.canon
	h.Reset()
	h.Write(head)
	h.Write(binary.BigEndian.AppendUint64(s.rec[:0], uint64(len(s.ctx))))
	h.Write(s.ctx)
	for i := range fields {
		f := &fields[i]
		rec := appendCanonPath(s.rec[:0], table, f.name)
		if f.legend == legendEncrypt {
			rec = binary.BigEndian.AppendUint64(rec, uint64(len(f.stored)-2))
			rec = append(rec, "ENCRYPTED"...)
			s.rec = rec
			h.Write(rec)
			h.Write(f.stored)
		} else {
			rec = binary.BigEndian.AppendUint64(rec, uint64(f.end-f.at-2))
			rec = append(rec, "PLAINTEXT"...)
			s.rec = rec
			h.Write(rec)
			h.Write(f.term(s.arena))
		}
	}
	return h.Sum(s.digest[:0])
}

// recipientTag is HMAC-SHA384(macKey, hash); valid until s.h384 is used again.
func (s *scratch) recipientTag(macKey, hash []byte) []byte {
	s.h384.init(macKey)
	s.h384.inner.Write(hash)
	return s.h384.finish()
}

// commitment is docs/dbesdk-format.md §6.4 (HMAC-SHA512, not SHA-384: §11
// item 1) under the commit key derived from prk; valid until s.h512 is used
// again.
func (s *scratch) commitment(prk, msgID, partial []byte) []byte {
	ck := s.expand32(&s.keys[0], prk, "AWS_DBE_COMMIT_KEY", msgID)
	s.h512.init(ck)
	s.h512.inner.Write(partial)
	return s.h512.finish()[:commitLen]
}

// serializeField appends type id ‖ value of av to the scratch arena.
func (s *scratch) serializeField(f *field, av types.AttributeValue) error {
	f.at = len(s.arena)
	arena := append(s.arena, 0, 0)
	typ, arena, err := appendValue(arena, av, 1)
	s.arena = arena
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint16(s.arena[f.at:], typ)
	f.end = len(s.arena)
	return nil
}

// sortedKeys returns the keys of entries, sorted.
func sortedKeys(es []kv) []string {
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = e.k
	}
	slices.Sort(keys)
	return keys
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
	s := getScratch()
	defer putScratch(s)
	var fb [16]field
	fields := fb[:0]
	hasC := false
	for name, v := range item {
		a, ok := t.actionOf(name)
		if !ok {
			return nil, errf(KindInvalidItem, name, "no action configured for attribute")
		}
		if a == DoNothing {
			continue
		}
		f := field{name: name}
		if err := s.serializeField(&f, v); err != nil {
			return nil, withAttr(err, KindInvalidItem, name)
		}
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
	version := 1
	if hasC {
		version = 2
	}
	slices.SortFunc(fields, func(a, b field) int { return compareFieldNames(a.name, b.name) })
	var eb [8]kv
	entries, err := t.reproduce(eb[:0], version, fields, s.arena, s)
	if err != nil {
		return nil, withAttr(err, KindInvalidItem, "")
	}
	required := sortedKeys(entries)
	suite := t.cfg.Suite
	var priv *ecdsa.PrivateKey
	var pub string
	if suite.Signed() {
		var err error
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			return nil, err
		}
		pub = base64.StdEncoding.EncodeToString(elliptic.MarshalCompressed(elliptic.P384(), priv.X, priv.Y))
	}
	ec := make(map[string]string, len(entries)+1)
	for _, e := range entries {
		ec[e.k] = e.v
	}
	if priv != nil {
		ec[ECPublicKey] = pub
	}
	// The engine reads neither ec nor required after this call: the
	// keyring's view of them cannot change what is written.
	s.ctx = appendContext(s.ctx[:0], ec)
	mats, err := t.cfg.Materials.EncryptMaterials(ctx, suite, ec, required)
	if err != nil {
		if isContextErr(err) {
			return nil, err
		}
		return nil, withAttr(err, KindInvalidConfig, "")
	}
	if len(mats.PDK) != KeyLen || len(mats.EDKs) == 0 || len(mats.EDKs) > 255 || len(mats.MACKeys) != len(mats.EDKs) {
		return nil, errf(KindInvalidConfig, "", "the keyring returned incomplete materials (a %d-byte data key, 1 to 255 encrypted data keys, one signing key each)", KeyLen)
	}
	for _, e := range mats.EDKs {
		if len(e.ProviderID) > 65535 || len(e.ProviderInfo) > 65535 || len(e.Ciphertext) > 65535 {
			return nil, errf(KindInvalidConfig, "", "an encrypted data key field is longer than 65535 bytes")
		}
	}
	var stored [1]kv
	h := header{version: byte(version), flavor: byte(suite & 0xFF), msgID: s.msgID[:], edks: mats.EDKs}
	if _, err := rand.Read(h.msgID); err != nil {
		return nil, err
	}
	if priv != nil {
		stored[0] = kv{ECPublicKey, pub}
		h.stored = stored[:]
	}
	var lb [16]byte
	h.legend = lb[:0]
	nEnc, encLen := 0, 0
	for i := range fields {
		h.legend = append(h.legend, fields[i].legend)
		if fields[i].legend == legendEncrypt {
			nEnc++
			encLen += fields[i].end - fields[i].at + 16
		}
	}
	if len(fields) > 65535 {
		return nil, errf(KindInvalidItem, "", "too many signed attributes")
	}
	// One buffer holds the encrypted fields, the header and the footer.
	headLen := h.partialLen() + commitLen
	footLen := tagLen * len(mats.EDKs)
	if priv != nil {
		footLen += sigLen
	}
	buf := make([]byte, encLen+headLen+footLen)
	head := h.appendPartial(buf[encLen : encLen : encLen+headLen])
	prk := s.extract(mats.PDK)
	head = append(head, s.commitment(prk, h.msgID, head)...)
	root := s.expand32(&s.keys[1], prk, "AWS_DBE_DERIVE_KEY", h.msgID)
	out := make(map[string]types.AttributeValue, len(item)+2)
	maps.Copy(out, item)
	avs := make([]types.AttributeValueMemberB, nEnc+2)
	if nEnc > 0 {
		rb, err := aes.NewCipher(root)
		if err != nil {
			return nil, err
		}
		offset, pos := 0, 0
		for i := range fields {
			f := &fields[i]
			if f.legend != legendEncrypt {
				continue
			}
			key, nonce := s.fieldKeyStream(rb, offset)
			g, err := gcmOf(key)
			if err != nil {
				return nil, err
			}
			n := f.end - f.at + 16
			st := buf[pos : pos+2 : pos+n]
			copy(st, s.arena[f.at:f.at+2])
			s.path = appendCanonPath(s.path[:0], t.cfg.TableName, f.name)
			f.stored = g.Seal(st, nonce, f.val(s.arena), s.path)
			avs[offset].Value = f.stored
			out[f.name] = &avs[offset]
			offset++
			pos += n
		}
	}
	hash := s.canonicalHash(t.cfg.TableName, head, fields)
	foot := buf[encLen+headLen : encLen+headLen : len(buf)]
	for _, k := range mats.MACKeys {
		foot = append(foot, s.recipientTag(k, hash)...)
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
	avs[nEnc].Value = head
	avs[nEnc+1].Value = foot
	out[HeadAttribute] = &avs[nEnc]
	out[FootAttribute] = &avs[nEnc+1]
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
	// 5-6. header (it aliases the item; its EDKs are copied before a
	// keyring sees them).
	var h header
	if err := h.parse(hb.Value); err != nil {
		return nil, withAttr(err, KindMalformed, HeadAttribute)
	}
	suite := h.suite()
	// 7. signature scope.
	var fb16 [16]field
	fields := fb16[:0]
	for name := range item {
		if !t.allowedUnsigned(name) {
			if a, ok := t.cfg.Actions[name]; ok && a == DoNothing {
				continue
			}
			fields = append(fields, field{name: name})
		}
	}
	slices.SortFunc(fields, func(a, b field) int { return compareFieldNames(a.name, b.name) })
	// 8. legend.
	if len(h.legend) > len(fields) {
		return nil, errf(KindSignature, "", "schema changed: something that was signed is now unsigned")
	}
	if len(h.legend) < len(fields) {
		return nil, errf(KindSignature, "", "schema changed: something that was unsigned is now signed")
	}
	s := getScratch()
	defer putScratch(s)
	ptLen := 0
	for i := range fields {
		f := &fields[i]
		f.legend = h.legend[i]
		if f.legend == legendEncrypt {
			b, ok := item[f.name].(*types.AttributeValueMemberB)
			if !ok {
				return nil, errf(KindSignature, f.name, "an encrypted attribute is not binary")
			}
			if len(b.Value) < 18 {
				return nil, errf(KindMalformed, f.name, "encrypted value too short")
			}
			f.stored = b.Value
			ptLen += len(b.Value) - 18
		} else if err := s.serializeField(f, item[f.name]); err != nil {
			return nil, &Error{Kind: KindMalformed, Attribute: f.name, Msg: "stored value cannot be serialized", Err: err}
		}
	}
	// 9. reproduced context.
	for _, k := range t.keyNames() {
		if f := findField(fields, k); (f == nil || f.legend == legendEncrypt) && h.version == 1 {
			return nil, errf(KindSignature, k, "key attribute is not a signed plaintext field")
		}
	}
	var eb [8]kv
	repro, err := t.reproduce(eb[:0], int(h.version), fields, s.arena, s)
	if err != nil {
		return nil, err
	}
	// 10. stored vs reproduced; public key.
	full := make(map[string]string, len(h.stored)+len(repro))
	for _, e := range h.stored {
		full[e.k] = e.v
	}
	for _, e := range repro {
		if sv, ok := full[e.k]; ok && sv != e.v {
			return nil, errf(KindSignature, "", "encryption context does not match reproduced encryption context")
		}
		full[e.k] = e.v
	}
	nReq := 0
	for _, e := range repro {
		if !storedHas(h.stored, e.k) {
			nReq++
		}
	}
	var required []string
	if nReq > 0 {
		if c := t.required.Load(); c != nil && sameRequired(*c, nReq, repro, h.stored) {
			required = *c
		} else {
			r := make([]string, 0, nReq)
			for _, e := range repro {
				if !storedHas(h.stored, e.k) {
					r = append(r, e.k)
				}
			}
			slices.Sort(r)
			t.required.Store(&r)
			required = r
		}
	}
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
	// 11. keyring. The engine reads neither full, required nor the EDKs
	// after this call (only their count).
	s.ctx = appendContext(s.ctx[:0], full)
	nEDKs := len(h.edks)
	edkLen := 0
	for _, e := range h.edks {
		edkLen += len(e.ProviderInfo) + len(e.Ciphertext)
	}
	// One buffer holds the keyring's copy of the EDKs and, after them, the
	// decrypted fields.
	own := make([]byte, 0, edkLen+ptLen)
	for i := range h.edks {
		e := &h.edks[i]
		at := len(own)
		own = append(own, e.ProviderInfo...)
		e.ProviderInfo = own[at:len(own):len(own)]
		at = len(own)
		own = append(own, e.Ciphertext...)
		e.Ciphertext = own[at:len(own):len(own)]
	}
	mats, err := t.cfg.Materials.DecryptMaterials(ctx, suite, full, required, h.edks)
	if err != nil {
		if isContextErr(err) {
			return nil, err
		}
		return nil, withAttr(err, KindWrongKey, "")
	}
	if len(mats.PDK) != KeyLen || len(mats.MACKey) != KeyLen {
		return nil, errf(KindWrongKey, "", "the keyring returned no data key")
	}
	// 12. commitment.
	prk := s.extract(mats.PDK)
	if subtle.ConstantTimeCompare(s.commitment(prk, h.msgID, h.partial), h.commit) != 1 {
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
	if len(foot)/tagLen != nEDKs {
		return nil, errf(KindSignature, FootAttribute, "number of recipient tags differs from the number of encrypted data keys")
	}
	hash := s.canonicalHash(t.cfg.TableName, h.raw, fields)
	tag := s.recipientTag(mats.MACKey, hash)
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
	// 15-16. decrypt, into one plaintext buffer that the values own.
	root := s.expand32(&s.keys[1], prk, "AWS_DBE_DERIVE_KEY", h.msgID)
	out := make(map[string]types.AttributeValue, len(item))
	for name, v := range item {
		if !strings.HasPrefix(name, ReservedPrefix) {
			out[name] = v
		}
	}
	if !anyEncrypted(fields) {
		return out, nil
	}
	rb, err := aes.NewCipher(root)
	if err != nil {
		return nil, err
	}
	pt := own[len(own) : len(own)+ptLen]
	offset, pos := 0, 0
	for i := range fields {
		f := &fields[i]
		if f.legend != legendEncrypt {
			continue
		}
		key, nonce := s.fieldKeyStream(rb, offset)
		offset++
		g, err := gcmOf(key)
		if err != nil {
			return nil, withAttr(err, KindDecryption, f.name)
		}
		n := len(f.stored) - 18
		s.path = appendCanonPath(s.path[:0], t.cfg.TableName, f.name)
		val, err := g.Open(pt[pos:pos:pos+n], nonce, f.stored[2:], s.path)
		if err != nil {
			return nil, withAttr(errf(KindDecryption, "", "field does not decrypt"), KindDecryption, f.name)
		}
		pos += n
		v, err := parseAt(binary.BigEndian.Uint16(f.stored), val, 1, true)
		if err != nil {
			return nil, withAttr(err, KindMalformed, f.name)
		}
		out[f.name] = v
	}
	return out, nil
}

func anyEncrypted(fields []field) bool {
	for i := range fields {
		if fields[i].legend == legendEncrypt {
			return true
		}
	}
	return false
}

func storedHas(stored []kv, k string) bool {
	for _, e := range stored {
		if e.k == k {
			return true
		}
	}
	return false
}

// sameRequired reports whether cached (sorted) is exactly the set of
// reproduced context keys that are not stored, of which there are n.
func sameRequired(cached []string, n int, repro, stored []kv) bool {
	if len(cached) != n {
		return false
	}
	for _, e := range repro {
		if !storedHas(stored, e.k) {
			if _, ok := slices.BinarySearch(cached, e.k); !ok {
				return false
			}
		}
	}
	return true
}
