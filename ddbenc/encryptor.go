package ddbenc

import (
	"bytes"
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/internal/matdesc"
	"github.com/ddbec/ddbec-go/internal/number"
	"github.com/ddbec/ddbec-go/signing"
)

// TableConfig describes one table: its name, keys, actions, materials
// provider and the settings that must equal the writer's to read its items.
type TableConfig struct {
	// TableName is the table's name (a table ARN is accepted and stands for
	// the name in it).
	TableName    string
	PartitionKey string // partition (hash) key attribute name; required
	SortKey      string // sort (range) key attribute name; empty if none
	// Indexes are the table's global and local secondary indexes. Their key
	// attributes are never encrypted: an explicit EncryptAndSign on one, or a
	// default EncryptAndSign it does not override, is an ErrInvalidConfig. A
	// Client learns them with DescribeTable when PartitionKey is empty; when
	// the key schema is given here, list the indexes here too.
	Indexes []Index
	// Actions gives each attribute's action. Whenever anything is signed,
	// the primary key attributes are SignOnly whatever the default; an
	// explicit EncryptAndSign on a key, or an explicit DoNothing without
	// LegacyUnsignedKeys, is an ErrInvalidConfig.
	Actions actions.Map
	// Provider supplies keys. It may be nil only when every action is
	// DoNothing.
	Provider MaterialsProvider

	// Ordering is the ordering profile used to write (docs/legacy-format.md
	// §8.1). The default, JavaOrdering, is what the Java client writes and
	// reads; choose PythonOrdering when Python clients must verify items whose
	// signed strings, names or binary sets contain characters above U+FFFF or
	// bytes of 0x80 and more. Reads try this ordering first and then the
	// other.
	Ordering signing.Ordering
	// SignedTableName is the table name bound into signatures and handed to
	// providers, when it differs from TableName: set it to read items copied
	// from another table (the legacy clients' table-name override). Empty
	// means TableName.
	SignedTableName string
	// AllowPythonRoundedNumbers also verifies items the way the legacy Python
	// client signs sign-only numbers of more than 28 significant digits:
	// rounded. Such numbers can then be changed after their 28th digit
	// without the signature noticing, so it is off by default; turn it on
	// only to read legacy Python items that fail verification without it.
	AllowPythonRoundedNumbers bool
	// LegacyUnsignedKeys is a migration setting: it restores the legacy
	// clients' key rule, under which a primary key attribute whose action is
	// DoNothing (explicitly, or from a DoNothing default) stays outside the
	// signature. Items of such a table can be moved to another key, and their
	// signed and encrypted attributes copied into another item, without
	// detection. Set it only to read (and, during the migration, write) items
	// that legacy writers produced with unsigned keys; see SECURITY.md.
	LegacyUnsignedKeys bool
}

// Encryptor encrypts, signs, verifies and decrypts items of one table in the
// format of the legacy DynamoDB Encryption Client. It is safe for concurrent
// use.
type Encryptor struct {
	cfg         TableConfig
	acts        actions.Map
	signedTable string
	allNothing  bool
	keys        []string         // primary key names
	indexes     map[string]Index // by name
}

// NewEncryptor validates cfg and returns an Encryptor. It does no I/O.
func NewEncryptor(cfg TableConfig) (*Encryptor, error) {
	cfg.TableName = tableNameOf(cfg.TableName)
	fail := func(attr, format string, args ...any) error {
		return &Error{Op: "new encryptor", Table: cfg.TableName, Attribute: attr,
			Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)}
	}
	if cfg.TableName == "" {
		return nil, fail("", "table name is required")
	}
	if cfg.PartitionKey == "" {
		return nil, fail("", "partition key name is required")
	}
	if cfg.SortKey == cfg.PartitionKey {
		return nil, fail(cfg.SortKey, "sort key and partition key are the same attribute")
	}
	for _, k := range []string{cfg.PartitionKey, cfg.SortKey} {
		if isReserved(k) || actions.IsReplicationAttribute(k) {
			return nil, fail(k, "a key attribute cannot have a reserved name")
		}
	}
	if cfg.Ordering != signing.JavaOrdering && cfg.Ordering != signing.PythonOrdering {
		return nil, fail("", "unknown ordering %d", cfg.Ordering)
	}
	if err := validateIndexes(cfg); err != nil {
		return nil, err
	}
	acts, err := effectiveActions(cfg)
	if err != nil {
		return nil, err
	}
	cfg.Actions = acts
	cfg.Indexes = slices.Clone(cfg.Indexes)
	e := &Encryptor{cfg: cfg, acts: acts, signedTable: cmp.Or(cfg.SignedTableName, cfg.TableName), allNothing: acts.AllDoNothing()}
	e.keys = []string{cfg.PartitionKey}
	if cfg.SortKey != "" {
		e.keys = append(e.keys, cfg.SortKey)
	}
	e.indexes = make(map[string]Index, len(cfg.Indexes))
	for _, ix := range cfg.Indexes {
		e.indexes[ix.Name] = ix
	}
	if cfg.Provider == nil && !e.allNothing {
		return nil, fail("", "a materials provider is required")
	}
	return e, nil
}

// TableName returns the configured table name.
func (e *Encryptor) TableName() string { return e.cfg.TableName }

// Action returns the effective action of an attribute (after the key rule).
func (e *Encryptor) Action(name string) actions.Action { return e.acts.Get(name) }

func (e *Encryptor) err(op, attr string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &Error{Op: op, Table: e.cfg.TableName, Attribute: attr, Err: err}
}

func (e *Encryptor) keyNames() []string { return e.keys }

// EncryptItem returns the item to store: encrypt-and-sign attributes replaced
// by their ciphertext, plus the signature and material description
// attributes. Numeric key values are stored in canonical form (DynamoDB would
// canonicalize them, and key values are bound into KMS encryption contexts
// literally). The input is not modified. When every action is DoNothing the
// item is returned unchanged (as a new map) without reserved attributes.
func (e *Encryptor) EncryptItem(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	const op = "encrypt"
	if e.allNothing {
		return maps.Clone(item), nil
	}
	for _, r := range []string{actions.SignatureAttribute, actions.MaterialDescriptionAttribute} {
		if _, ok := item[r]; ok {
			return nil, e.err(op, r, fmt.Errorf("%w: reserved attribute name in plaintext item", ErrInvalidItem))
		}
	}
	for name, v := range item {
		if err := checkValue(v, 0); err != nil {
			return nil, e.err(op, name, err)
		}
	}
	// Numeric keys are stored canonical; clone the item only if one changes.
	plain, cloned := item, false
	for _, k := range e.keyNames() {
		v, err := canonicalKey(item[k])
		if err != nil {
			return nil, e.err(op, k, err)
		}
		if v != item[k] {
			if !cloned {
				plain, cloned = maps.Clone(item), true
			}
			plain[k] = v
		}
	}

	mats, err := e.cfg.Provider.EncryptionMaterials(ctx, e.context(plain, map[string]string{}))
	if err != nil {
		return nil, e.err(op, "", err)
	}
	if mats == nil || mats.Signer == nil {
		return nil, e.err(op, "", fmt.Errorf("%w: provider returned no signing key", ErrInvalidConfig))
	}
	desc := maps.Clone(mats.MaterialDescription)
	if desc == nil {
		desc = make(map[string]string, 2)
	}

	out := make(map[string]types.AttributeValue, len(plain)+2)
	encrypted := make([]string, 0, len(plain))
	for name, v := range plain {
		if e.acts.Get(name) == actions.EncryptAndSign {
			encrypted = append(encrypted, name)
		} else {
			out[name] = v
		}
	}
	if mats.EncryptionKey != nil {
		desc[matdesc.SymMode] = matdesc.SymModeCBC
	}
	if len(encrypted) > 0 {
		if mats.EncryptionKey == nil {
			return nil, e.err(op, encrypted[0], fmt.Errorf("%w: attributes must be encrypted but the provider gave no encryption key", ErrInvalidConfig))
		}
		block, err := aes.NewCipher(mats.EncryptionKey)
		if err != nil {
			return nil, e.err(op, "", fmt.Errorf("%w: content key is not a valid AES key", ErrInvalidConfig))
		}
		ivs := make([]byte, aes.BlockSize*len(encrypted))
		if _, err := rand.Read(ivs); err != nil {
			return nil, e.err(op, "", err)
		}
		var mode cipher.BlockMode
		for i, name := range encrypted {
			iv := ivs[i*aes.BlockSize : (i+1)*aes.BlockSize]
			if mode == nil {
				mode = cipher.NewCBCEncrypter(block, iv)
			} else {
				mode.(ivSetter).SetIV(iv)
			}
			ct, err := e.encryptValue(mode, iv, plain[name])
			if err != nil {
				return nil, e.err(op, name, fmt.Errorf("%w: %w", ErrInvalidItem, err))
			}
			out[name] = &types.AttributeValueMemberB{Value: ct}
		}
	}

	sts, err := signing.StringToSign(e.signedTable, out, e.acts.Get, e.cfg.Ordering)
	if err != nil {
		var ae *signing.AttributeError
		if errors.As(err, &ae) {
			return nil, e.err(op, ae.Attribute, fmt.Errorf("%w: %w", ErrInvalidItem, ae.Err))
		}
		return nil, e.err(op, "", err)
	}
	sig, err := mats.Signer.Sign(sts)
	if err != nil {
		return nil, e.err(op, actions.SignatureAttribute, fmt.Errorf("signing: %w", err))
	}
	if alg := mats.Signer.Algorithm(); alg != "" {
		desc[matdesc.SigningAlgorithm] = alg
	}
	out[actions.SignatureAttribute] = &types.AttributeValueMemberB{Value: sig}
	out[actions.MaterialDescriptionAttribute] = &types.AttributeValueMemberB{Value: matdesc.Serialize(desc)}
	if n := itemSize(out); n > MaxItemSize {
		return nil, e.err(op, "", fmt.Errorf("%w: the encrypted item is about %d bytes, over DynamoDB's 400 KB item limit of %d bytes (the plaintext is about %d; encryption adds an IV and padding per encrypted attribute, a signature and a material description)",
			ErrInvalidItem, n, MaxItemSize, itemSize(item)))
	}
	return out, nil
}

// canonicalKey checks a key attribute value and returns it with a numeric
// value in canonical form.
func canonicalKey(v types.AttributeValue) (types.AttributeValue, error) {
	switch kv := v.(type) {
	case nil:
		return nil, ErrMissingAttribute
	case *types.AttributeValueMemberS:
		if kv.Value == "" {
			return nil, fmt.Errorf("%w: key value is an empty string", ErrInvalidItem)
		}
	case *types.AttributeValueMemberB:
		if len(kv.Value) == 0 {
			return nil, fmt.Errorf("%w: key value is an empty binary", ErrInvalidItem)
		}
	case *types.AttributeValueMemberN:
		c, err := number.Canonical(kv.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: key value is not a valid number", ErrInvalidItem)
		}
		if c != kv.Value {
			return &types.AttributeValueMemberN{Value: c}, nil
		}
	default:
		return nil, fmt.Errorf("%w: key value must be S, N or B", ErrInvalidItem)
	}
	return v, nil
}

// ivSetter is implemented by the standard library's CBC modes: one mode per
// item serves every attribute.
type ivSetter interface{ SetIV([]byte) }

// encryptValue serializes v and encrypts it: IV || AES-CBC(PKCS#7). The
// serialization is written straight into the ciphertext buffer.
func (e *Encryptor) encryptValue(mode cipher.BlockMode, iv []byte, v types.AttributeValue) ([]byte, error) {
	n := serializedSizeHint(v)
	out := make([]byte, aes.BlockSize, aes.BlockSize+n+aes.BlockSize)
	copy(out, iv)
	out, err := signing.AppendSerialized(out, v, e.cfg.Ordering)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - (len(out)-aes.BlockSize)%aes.BlockSize
	for range pad {
		out = append(out, byte(pad))
	}
	mode.CryptBlocks(out[aes.BlockSize:], out[aes.BlockSize:])
	return out, nil
}

// serializedSizeHint is the serialized size of strings, binaries and
// numbers (6 bytes of tag and length plus the value), a guess otherwise.
func serializedSizeHint(v types.AttributeValue) int {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return 6 + len(x.Value)
	case *types.AttributeValueMemberB:
		return 6 + len(x.Value)
	case *types.AttributeValueMemberN:
		return 6 + len(x.Value)
	}
	return 64
}

// decryptCBC decrypts IV || ciphertext into scratch (at least len(ct)
// bytes) and returns the unpadded plaintext, which aliases scratch.
func decryptCBC(mode cipher.BlockMode, ct, scratch []byte) ([]byte, bool) {
	if len(ct) < 2*aes.BlockSize || len(ct)%aes.BlockSize != 0 {
		return nil, false
	}
	body := scratch[:len(ct)-aes.BlockSize]
	mode.(ivSetter).SetIV(ct[:aes.BlockSize])
	mode.CryptBlocks(body, ct[aes.BlockSize:])
	pad := int(body[len(body)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, false
	}
	for _, b := range body[len(body)-pad:] {
		if int(b) != pad {
			return nil, false
		}
	}
	return body[:len(body)-pad], true
}

func (e *Encryptor) context(item map[string]types.AttributeValue, desc map[string]string) EncryptionContext {
	return EncryptionContext{
		TableName:           e.signedTable,
		PartitionKeyName:    e.cfg.PartitionKey,
		SortKeyName:         e.cfg.SortKey,
		Item:                item,
		MaterialDescription: desc,
	}
}

// DecryptItem verifies a stored item's signature and returns its plaintext:
// encrypted attributes decrypted, the reserved attributes removed. The
// signature is verified before anything is decrypted; on any error no part of
// the plaintext is returned. The input is not modified.
func (e *Encryptor) DecryptItem(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	const op = "decrypt"
	if e.allNothing {
		return maps.Clone(item), nil
	}
	sigAV, ok := item[actions.SignatureAttribute]
	if !ok {
		return nil, e.err(op, actions.SignatureAttribute, ErrMissingAttribute)
	}
	sig, ok := sigAV.(*types.AttributeValueMemberB)
	if !ok {
		return nil, e.err(op, actions.SignatureAttribute, fmt.Errorf("%w: signature is not binary", ErrMalformed))
	}
	stored := make(map[string]types.AttributeValue, len(item))
	encrypted := make([]string, 0, len(item))
	for name, v := range item {
		if name == actions.SignatureAttribute || name == actions.MaterialDescriptionAttribute {
			continue
		}
		stored[name] = v
		if e.acts.Get(name) == actions.EncryptAndSign {
			encrypted = append(encrypted, name)
		}
	}
	var desc map[string]string // nil (empty) when the item has none
	switch dv := item[actions.MaterialDescriptionAttribute].(type) {
	case *types.AttributeValueMemberB:
		d, err := matdesc.Parse(dv.Value)
		if err != nil {
			return nil, e.err(op, actions.MaterialDescriptionAttribute, fmt.Errorf("%w: %w", ErrMalformed, err))
		}
		desc = d
	case nil:
		// Java omits an empty description; without one nothing can be
		// decrypted, so it may be missing only when nothing is encrypted.
		if len(encrypted) > 0 {
			return nil, e.err(op, actions.MaterialDescriptionAttribute, ErrMissingAttribute)
		}
	default:
		return nil, e.err(op, actions.MaterialDescriptionAttribute, fmt.Errorf("%w: material description is not binary", ErrMalformed))
	}
	for _, k := range e.keyNames() {
		if _, ok := stored[k]; !ok {
			return nil, e.err(op, k, ErrMissingAttribute)
		}
	}

	mats, err := e.cfg.Provider.DecryptionMaterials(ctx, e.context(stored, desc))
	if err != nil {
		return nil, e.err(op, "", err)
	}
	if mats == nil || mats.Verifier == nil {
		return nil, e.err(op, "", fmt.Errorf("%w: provider returned no verification key", ErrInvalidConfig))
	}
	if err := e.verify(stored, sig.Value, desc[matdesc.SigningAlgorithm], mats.Verifier); err != nil {
		return nil, err
	}
	if len(encrypted) == 0 {
		return stored, nil
	}

	if mats.DecryptionKey == nil {
		return nil, e.err(op, encrypted[0], fmt.Errorf("%w: the provider gave no decryption key", ErrDecryption))
	}
	if mode, ok := desc[matdesc.SymMode]; !ok {
		return nil, e.err(op, actions.MaterialDescriptionAttribute, fmt.Errorf("%w: no symmetric mode in material description", ErrDecryption))
	} else if mode != matdesc.SymModeCBC {
		return nil, e.err(op, actions.MaterialDescriptionAttribute, fmt.Errorf("%w: unsupported symmetric mode", ErrDecryption))
	}
	block, err := aes.NewCipher(mats.DecryptionKey)
	if err != nil {
		return nil, e.err(op, "", fmt.Errorf("%w: content key is not a valid AES key", ErrDecryption))
	}
	// One plaintext buffer for the item: Deserialize copies values out.
	total := 0
	for _, name := range encrypted {
		ct, ok := stored[name].(*types.AttributeValueMemberB)
		if !ok {
			return nil, e.err(op, name, fmt.Errorf("%w: encrypted attribute is not binary", ErrDecryption))
		}
		total = max(total, len(ct.Value))
	}
	scratch := make([]byte, max(total, 2*aes.BlockSize))
	mode := cipher.NewCBCDecrypter(block, scratch[:aes.BlockSize])
	for _, name := range encrypted {
		ct := stored[name].(*types.AttributeValueMemberB)
		pt, ok := decryptCBC(mode, ct.Value, scratch)
		if !ok {
			return nil, e.err(op, name, ErrDecryption)
		}
		av, err := signing.Deserialize(pt)
		if err != nil {
			return nil, e.err(op, name, fmt.Errorf("%w: %w", ErrDecryption, err))
		}
		stored[name] = av
	}
	return stored, nil
}

// verify checks the signature with the configured ordering and, if that
// fails, with the other one (spec §8.1), and with the legacy Python rounding
// when AllowPythonRoundedNumbers is set. Each variant is an injective encoding
// of the stored data, except the rounding, which is opt-in. Variants that give
// the same string to sign are verified once.
func (e *Encryptor) verify(stored map[string]types.AttributeValue, sig []byte, alg string, v signing.Verifier) error {
	const variants = 3 // configured ordering, the other one, legacy Python rounding
	var tried [variants][]byte
	var encodeErr, verifyErr error
	for i := range variants {
		var sts []byte
		var err error
		switch i {
		case 0:
			sts, err = signing.StringToSign(e.signedTable, stored, e.acts.Get, e.cfg.Ordering)
		case 1:
			sts, err = signing.StringToSign(e.signedTable, stored, e.acts.Get, e.cfg.Ordering.Other())
		case 2:
			if !e.cfg.AllowPythonRoundedNumbers {
				continue
			}
			sts, err = signing.StringToSignLegacyPython(e.signedTable, stored, e.acts.Get)
		}
		if err != nil {
			encodeErr = cmp.Or(encodeErr, err)
			continue
		}
		if slices.ContainsFunc(tried[:i], func(b []byte) bool { return bytes.Equal(b, sts) }) {
			continue
		}
		tried[i] = sts
		if err := v.Verify(sts, sig, alg); err == nil {
			return nil
		} else {
			verifyErr = cmp.Or(verifyErr, err)
		}
	}
	if verifyErr == nil {
		// No variant can encode a stored value: name it.
		var ae *signing.AttributeError
		if errors.As(encodeErr, &ae) {
			return e.err("decrypt", ae.Attribute, fmt.Errorf("%w: %w", ErrSignature, ae.Err))
		}
		return e.err("decrypt", "", fmt.Errorf("%w: %w", ErrSignature, encodeErr))
	}
	return e.err("decrypt", actions.SignatureAttribute, fmt.Errorf("%w: %w (%s)", ErrSignature, verifyErr, e.mustMatch()))
}

// mustMatch says which configuration inputs a reader must share with the
// writer of an item for its signature to verify; it names settings, never
// values from the item.
func (e *Encryptor) mustMatch() string {
	var b strings.Builder
	b.WriteString("the item was changed, or written with another configuration: the signed table name ")
	b.WriteString(strconv.Quote(e.signedTable))
	b.WriteString(", the key attributes ")
	b.WriteString(e.keyList())
	b.WriteString(", every attribute's actions and the signing key must equal the writer's; both orderings were tried")
	if !e.cfg.AllowPythonRoundedNumbers {
		b.WriteString(" (legacy Python items with numbers of more than 28 digits need AllowPythonRoundedNumbers)")
	}
	if !e.cfg.LegacyUnsignedKeys {
		b.WriteString("; legacy writers whose key attributes were do_nothing need TableConfig.LegacyUnsignedKeys")
	}
	return b.String()
}
