package ddbenc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/internal/dbesdk"
	"github.com/ddbec/ddbec-go/internal/legacy"
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
	// Format is the table's item format; the zero value is LegacyFormat.
	// It decides which attributes are reserved and how items are written
	// and read.
	Format Format
	// Provider supplies the legacy format's keys. It may be nil only when
	// every action is DoNothing. DBESDKFormat tables use Keyring instead.
	Provider MaterialsProvider

	// Keyring supplies the data keys of a DBESDKFormat table (package
	// keyring has the implementations); required for that format, refused
	// for the legacy one.
	Keyring Keyring
	// AllowedUnsignedAttributes (DBESDKFormat) are attributes that are never
	// signed; AllowedUnsignedAttributePrefix names more by prefix. Every
	// attribute configured DoNothing must be one of them, no signed one may
	// be, and a reader must list at least what the writer listed
	// (docs/dbesdk-format.md §1.5, §1.6). For this format Actions.Default
	// DoNothing means "no default": an item attribute outside these lists
	// without an entry in Actions is refused on encrypt, as AWS does; a
	// SignOnly or EncryptAndSign default applies to such attributes.
	AllowedUnsignedAttributes      []string
	AllowedUnsignedAttributePrefix string
	// Suite (DBESDKFormat) is the algorithm suite items are written with;
	// zero means SuiteECDSAP384. Reads take the suite from the item.
	Suite AlgorithmSuite
	// LogicalTableName (DBESDKFormat) is the table name bound into every
	// item; empty means TableName. Set it to read items copied from another
	// table, or to keep one name across table renames and replicas.
	LogicalTableName string
	// Legacy (DBESDKFormat) reads, and under
	// ForceLegacyEncryptAllowLegacyDecrypt writes, items of the legacy
	// format: the migration of a legacy table (docs/dbesdk-format.md §10.2).
	// Nil refuses legacy items (ErrLegacyItem).
	Legacy *LegacyConfig
	// PlaintextPolicy (DBESDKFormat) says whether plaintext items are
	// written and read: the migration of a plaintext table
	// (docs/dbesdk-format.md §10.3). The zero value refuses both. Plaintext
	// items are returned only by Encryptor.ReadItem and the Client, marked
	// PlaintextItem (ItemFormats); DecryptItem refuses them.
	PlaintextPolicy PlaintextPolicy

	// Ordering is the ordering profile used to write (docs/legacy-format.md
	// §8.1). The default, JavaOrdering, is what the Java client writes and
	// reads; choose PythonOrdering when Python clients must verify items whose
	// signed strings, names or binary sets contain characters above U+FFFF or
	// bytes of 0x80 and more. Reads try this ordering first and then the
	// other.
	Ordering Ordering
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
// table's format: the legacy DynamoDB Encryption Client's (LegacyFormat) or
// the AWS Database Encryption SDK's (DBESDKFormat, keys from a Keyring). It
// refuses items of the other format. It is safe for concurrent use.
type Encryptor struct {
	cfg          TableConfig
	dbe          *dbesdk.Table // DBESDKFormat only
	legacyEnc    *Encryptor    // DBESDKFormat with a LegacyConfig: its legacy items
	legacyPolicy LegacyPolicy
	plainPolicy  PlaintextPolicy
	acts         actions.Map
	signedTable  string
	allNothing   bool
	keys         []string         // primary key names
	indexes      map[string]Index // by name
}

// NewEncryptor validates cfg and returns an Encryptor. It does no I/O.
func NewEncryptor(cfg TableConfig) (*Encryptor, error) {
	cfg.TableName = tableNameOf(cfg.TableName)
	fail := func(attr, format string, args ...any) error { return configError(cfg.TableName, attr, format, args...) }
	if cfg.TableName == "" {
		return nil, fail("", "table name is required")
	}
	if !cfg.Format.valid() {
		return nil, fail("", "unknown item format %s", cfg.Format)
	}
	if cfg.PartitionKey == "" {
		return nil, fail("", "partition key name is required")
	}
	if cfg.SortKey == cfg.PartitionKey {
		return nil, fail(cfg.SortKey, "sort key and partition key are the same attribute")
	}
	for _, k := range []string{cfg.PartitionKey, cfg.SortKey} {
		if cfg.Format.reserved(k) || actions.IsReplicationAttribute(k) {
			return nil, fail(k, "a key attribute cannot have a reserved name")
		}
	}
	if !cfg.Ordering.valid() {
		return nil, fail("", "unknown ordering %d", cfg.Ordering)
	}
	if err := validateIndexes(cfg); err != nil {
		return nil, err
	}
	if cfg.Format == DBESDKFormat {
		return newDBESDKEncryptor(cfg)
	}
	if err := refuseDBESDKSettings(cfg); err != nil {
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

// KeyNames returns the table's primary key attribute names: the partition
// key, then the sort key if the table has one. The slice is a copy.
func (e *Encryptor) KeyNames() []string { return slices.Clone(e.keys) }

// Action returns the effective action of an attribute (after the key rule).
// For a DBESDKFormat table an allowed unsigned attribute (listed, or by
// prefix) is DoNothing, and an attribute the table cannot write (an aws_dbe_
// name, or one outside the configuration when there is no SignOnly or
// EncryptAndSign default) has no action: the zero Action, which is not
// Valid. With a LegacyConfig the action is the stricter of the DB-ESDK and
// the legacy one (encrypted in either: EncryptAndSign; signed in either:
// signed), as the items of both formats must be protected.
func (e *Encryptor) Action(name string) actions.Action {
	if e.dbe != nil {
		a := e.dbesdkAction(name)
		if e.legacyEnc == nil || !a.Valid() {
			return a
		}
		return stricter(a, e.legacyEnc.acts.Get(name))
	}
	return e.acts.Get(name)
}

func (e *Encryptor) err(op, attr string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &Error{Op: op, Table: e.cfg.TableName, Attribute: attr, Err: err}
}

func (e *Encryptor) keyNames() []string { return e.keys }

// treat maps the effective actions onto the string to sign.
func (e *Encryptor) treat(name string) legacy.Treatment {
	switch e.acts.Get(name) {
	case actions.EncryptAndSign:
		return legacy.SignedEncrypted
	case actions.SignOnly:
		return legacy.SignedPlaintext
	}
	return legacy.Unsigned
}

// EncryptItem returns the item to store: encrypt-and-sign attributes replaced
// by their ciphertext, plus the signature and material description
// attributes. Numeric key values are stored in canonical form (DynamoDB would
// canonicalize them, and key values are bound into KMS encryption contexts
// literally). The input is not modified. When every action is DoNothing the
// item is returned unchanged (as a new map) without reserved attributes.
//
// A DBESDKFormat table writes in the legacy format under
// ForceLegacyEncryptAllowLegacyDecrypt, and returns the item unchanged under
// ForcePlaintextWriteAllowPlaintextRead, after the key attributes, reserved
// names and actions were checked as for a DB-ESDK item.
func (e *Encryptor) EncryptItem(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	switch e.cfg.Format {
	case LegacyFormat:
		return e.encryptLegacy(ctx, item)
	case DBESDKFormat:
		return e.encryptMigrating(ctx, item)
	}
	return nil, e.err("encrypt", "", fmt.Errorf("%w: unknown item format %s", ErrInvalidConfig, e.cfg.Format))
}

// encryptLegacy writes an item in the legacy format.
func (e *Encryptor) encryptLegacy(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	const op = "encrypt"
	if e.allNothing {
		return maps.Clone(item), nil
	}
	for _, r := range []string{legacy.SignatureAttribute, legacy.MaterialDescriptionAttribute} {
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
	if k, ok := legacy.EncryptorEntry(mats.MaterialDescription); ok {
		return nil, e.err(op, "", fmt.Errorf("%w: the provider's material description carries entry %q, which the encryptor writes", ErrInvalidConfig, k))
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
		desc[legacy.SymMode] = legacy.SymModeCBC
	}
	if len(encrypted) > 0 {
		if mats.EncryptionKey == nil {
			return nil, e.err(op, encrypted[0], fmt.Errorf("%w: attributes must be encrypted but the provider gave no encryption key", ErrInvalidConfig))
		}
		enc, err := legacy.NewValueEncrypter(mats.EncryptionKey, len(encrypted), e.cfg.Ordering.legacy())
		if errors.Is(err, legacy.ErrContentKey) {
			return nil, e.err(op, "", fmt.Errorf("%w: content key is not a valid AES key", ErrInvalidConfig))
		} else if err != nil {
			return nil, e.err(op, "", err)
		}
		for _, name := range encrypted {
			ct, err := enc.Encrypt(plain[name])
			if err != nil {
				return nil, e.err(op, name, fmt.Errorf("%w: %w", ErrInvalidItem, err))
			}
			out[name] = &types.AttributeValueMemberB{Value: ct}
		}
	}

	sts, err := legacy.StringToSign(e.signedTable, out, e.treat, e.cfg.Ordering.legacy())
	if err != nil {
		var ae *legacy.AttributeError
		if errors.As(err, &ae) {
			return nil, e.err(op, ae.Attribute, fmt.Errorf("%w: %w", ErrInvalidItem, ae.Err))
		}
		return nil, e.err(op, "", err)
	}
	sig, err := mats.Signer.Sign(sts)
	if err != nil {
		return nil, e.err(op, legacy.SignatureAttribute, fmt.Errorf("signing: %w", err))
	}
	if alg := mats.Signer.Algorithm(); alg != "" {
		desc[legacy.SigningAlgorithm] = alg
	}
	out[legacy.SignatureAttribute] = &types.AttributeValueMemberB{Value: sig}
	out[legacy.MaterialDescriptionAttribute] = &types.AttributeValueMemberB{Value: legacy.SerializeDescription(desc)}
	if n := itemSize(out); n > MaxItemSize {
		return nil, e.err(op, "", fmt.Errorf("%w: the encrypted item is about %d bytes, over DynamoDB's 400 KB item limit of %d bytes (the plaintext is about %d; encryption adds an IV and padding per encrypted attribute, a signature and a material description)",
			ErrInvalidItem, n, MaxItemSize, itemSize(item)))
	}
	return out, nil
}

// canonicalKey checks a key attribute value and returns it with a numeric
// value in canonical form. It is the one place that canonicalizes key values:
// items to store, and keys shown in errors.
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
		c, err := legacy.CanonicalNumber(kv.Value)
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

func (e *Encryptor) context(item map[string]types.AttributeValue, desc map[string]string) EncryptionContext {
	return EncryptionContext{
		TableName:           e.signedTable,
		PartitionKeyName:    e.cfg.PartitionKey,
		SortKeyName:         e.cfg.SortKey,
		Item:                item,
		MaterialDescription: desc,
	}
}
