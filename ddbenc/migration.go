package ddbenc

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/internal/dbesdk"
	"github.com/ddbec/ddbec-go/internal/legacy"
)

// Migration policies of a DBESDKFormat table (docs/dbesdk-format.md §10):
// how it treats items of the legacy format and plaintext items, so that a
// table can move from either to the DB-ESDK format while it is in use.

// LegacyPolicy says whether a DBESDKFormat table with a LegacyConfig writes
// legacy items and whether it reads them (docs/dbesdk-format.md §10.2). The
// zero value is not a policy: a LegacyConfig without one is an
// ErrInvalidConfig.
type LegacyPolicy uint8

const (
	// ForceLegacyEncryptAllowLegacyDecrypt writes every item in the legacy
	// format and reads legacy and DB-ESDK items: the first step of a
	// migration, while legacy readers are still running.
	ForceLegacyEncryptAllowLegacyDecrypt LegacyPolicy = iota + 1
	// ForbidLegacyEncryptAllowLegacyDecrypt writes DB-ESDK items and reads
	// legacy and DB-ESDK items: every reader is upgraded, old items are
	// being re-written.
	ForbidLegacyEncryptAllowLegacyDecrypt
	// ForbidLegacyEncryptForbidLegacyDecrypt writes DB-ESDK items and refuses
	// legacy items (ErrLegacyItem): the migration is complete.
	ForbidLegacyEncryptForbidLegacyDecrypt
)

// String returns the policy's AWS name.
func (p LegacyPolicy) String() string {
	switch p {
	case ForceLegacyEncryptAllowLegacyDecrypt:
		return "FORCE_LEGACY_ENCRYPT_ALLOW_LEGACY_DECRYPT"
	case ForbidLegacyEncryptAllowLegacyDecrypt:
		return "FORBID_LEGACY_ENCRYPT_ALLOW_LEGACY_DECRYPT"
	case ForbidLegacyEncryptForbidLegacyDecrypt:
		return "FORBID_LEGACY_ENCRYPT_FORBID_LEGACY_DECRYPT"
	}
	return "LegacyPolicy(" + strconv.Itoa(int(p)) + ")"
}

func (p LegacyPolicy) valid() bool {
	return p >= ForceLegacyEncryptAllowLegacyDecrypt && p <= ForbidLegacyEncryptForbidLegacyDecrypt
}

// PlaintextPolicy says whether a DBESDKFormat table writes plaintext items
// and whether it reads them (docs/dbesdk-format.md §10.3). The zero value,
// ForbidPlaintextWriteForbidPlaintextRead, refuses both.
type PlaintextPolicy uint8

const (
	// ForbidPlaintextWriteForbidPlaintextRead encrypts every item and
	// refuses plaintext items (ErrPlaintextItem). It is the zero value.
	ForbidPlaintextWriteForbidPlaintextRead PlaintextPolicy = iota
	// ForbidPlaintextWriteAllowPlaintextRead encrypts every item and returns
	// plaintext items unchanged, marked PlaintextItem (Encryptor.ReadItem,
	// ItemFormats): every writer is upgraded, old items are being
	// re-written.
	ForbidPlaintextWriteAllowPlaintextRead
	// ForcePlaintextWriteAllowPlaintextRead writes items unchanged (not
	// encrypted, not signed) and reads plaintext items as
	// ForbidPlaintextWriteAllowPlaintextRead does: the first step of a
	// migration from a plaintext table, while old readers are still running.
	ForcePlaintextWriteAllowPlaintextRead
)

// String returns the policy's AWS name.
func (p PlaintextPolicy) String() string {
	switch p {
	case ForbidPlaintextWriteForbidPlaintextRead:
		return "FORBID_PLAINTEXT_WRITE_FORBID_PLAINTEXT_READ"
	case ForbidPlaintextWriteAllowPlaintextRead:
		return "FORBID_PLAINTEXT_WRITE_ALLOW_PLAINTEXT_READ"
	case ForcePlaintextWriteAllowPlaintextRead:
		return "FORCE_PLAINTEXT_WRITE_ALLOW_PLAINTEXT_READ"
	}
	return "PlaintextPolicy(" + strconv.Itoa(int(p)) + ")"
}

func (p PlaintextPolicy) valid() bool { return p <= ForcePlaintextWriteAllowPlaintextRead }

func (p PlaintextPolicy) allowsRead() bool { return p != ForbidPlaintextWriteForbidPlaintextRead }

// LegacyConfig (TableConfig.Legacy, DBESDKFormat only) is how a DB-ESDK
// table reads and, under ForceLegacyEncryptAllowLegacyDecrypt, writes items
// of the legacy format. The legacy items are those of a legacy-format table
// with the same table name (TableConfig.LogicalTableName if set, else
// TableName), partition and sort key, and these settings; each setting means
// what the TableConfig field of the same name means for a legacy-format
// table.
type LegacyConfig struct {
	// Policy is required: the zero value is an ErrInvalidConfig.
	Policy LegacyPolicy
	// Provider supplies the legacy keys; required.
	Provider MaterialsProvider
	// Actions are the legacy items' actions: EncryptAndSign, SignOnly and
	// DoNothing only. They may differ from the table's DB-ESDK actions; the
	// Client's request checks treat each attribute by the stricter of the
	// two. A map that signs nothing is refused: it would write plaintext
	// under the name of the legacy format.
	Actions actions.Map
	// Ordering, SignedTableName, AllowPythonRoundedNumbers and
	// LegacyUnsignedKeys are the legacy-format settings of TableConfig.
	// SignedTableName empty means the table's logical name.
	Ordering                  Ordering
	SignedTableName           string
	AllowPythonRoundedNumbers bool
	LegacyUnsignedKeys        bool
}

// ItemFormat is the format a stored item was read as: PlaintextItem (not
// verified: returned as stored), LegacyItem or DBESDKItem (verified and
// decrypted). The zero value is PlaintextItem, so a format that was never
// set reads as "not verified".
type ItemFormat uint8

const (
	// PlaintextItem: the item has neither format's attributes and was
	// returned unchanged, without any verification, because the table's
	// PlaintextPolicy allows plaintext reads. Anyone with write access to
	// the table could have written or changed it.
	PlaintextItem ItemFormat = iota
	// LegacyItem: the item is in the legacy DynamoDB Encryption Client's
	// format and was verified and decrypted.
	LegacyItem
	// DBESDKItem: the item is in the AWS Database Encryption SDK's format
	// and was verified and decrypted.
	DBESDKItem
)

// String names the format for messages.
func (f ItemFormat) String() string {
	switch f {
	case PlaintextItem:
		return "plaintext"
	case LegacyItem:
		return "legacy DynamoDB Encryption Client"
	case DBESDKItem:
		return "AWS Database Encryption SDK"
	}
	return "ItemFormat(" + strconv.Itoa(int(f)) + ")"
}

// validateMigration checks the migration settings of a DBESDKFormat table
// and returns the legacy Encryptor (nil without a LegacyConfig).
func validateMigration(cfg TableConfig) (*Encryptor, error) {
	fail := func(attr, format string, args ...any) error { return configError(cfg.TableName, attr, format, args...) }
	if !cfg.PlaintextPolicy.valid() {
		return nil, fail("", "unknown plaintext policy %s", cfg.PlaintextPolicy)
	}
	lc := cfg.Legacy
	if lc == nil {
		return nil, nil
	}
	if !lc.Policy.valid() {
		return nil, fail("", "Legacy.Policy is not set or not valid (%s): choose one of the LegacyPolicy constants", lc.Policy)
	}
	if lc.Policy == ForceLegacyEncryptAllowLegacyDecrypt && cfg.PlaintextPolicy == ForcePlaintextWriteAllowPlaintextRead {
		return nil, fail("", "%s and %s both decide how items are written; set at most one Force policy", lc.Policy, cfg.PlaintextPolicy)
	}
	if lc.Provider == nil {
		return nil, fail("", "Legacy.Provider is required")
	}
	checkLegacyAction := func(attr string, a actions.Action) error {
		switch a {
		case actions.EncryptAndSign, actions.SignOnly, actions.DoNothing:
			return nil
		}
		return fail(attr, "Legacy.Actions: unsupported action %s (the legacy format has EncryptAndSign, SignOnly and DoNothing)", a)
	}
	if err := checkLegacyAction("", lc.Actions.Default); err != nil {
		return nil, err
	}
	for _, n := range slices.Sorted(maps.Keys(lc.Actions.Attributes)) {
		if err := checkLegacyAction(n, lc.Actions.Attributes[n]); err != nil {
			return nil, err
		}
		if strings.HasPrefix(n, dbesdk.ReservedPrefix) {
			return nil, fail(n, "Legacy.Actions: attribute names starting with %s are reserved", dbesdk.ReservedPrefix)
		}
	}
	for n := range cfg.Actions.Attributes {
		if legacy.IsReserved(n) {
			return nil, fail(n, "the legacy format's attribute names are reserved on a table with a legacy configuration")
		}
	}
	if lc.Actions.AllDoNothing() {
		return nil, fail("", "Legacy.Actions sign nothing: such legacy items would be plaintext")
	}
	le, err := NewEncryptor(TableConfig{
		TableName:                 cfg.TableName,
		PartitionKey:              cfg.PartitionKey,
		SortKey:                   cfg.SortKey,
		Indexes:                   cfg.Indexes,
		Actions:                   lc.Actions,
		Format:                    LegacyFormat,
		Provider:                  lc.Provider,
		Ordering:                  lc.Ordering,
		SignedTableName:           cmp.Or(lc.SignedTableName, cfg.LogicalTableName, cfg.TableName),
		AllowPythonRoundedNumbers: lc.AllowPythonRoundedNumbers,
		LegacyUnsignedKeys:        lc.LegacyUnsignedKeys,
	})
	if err != nil {
		if de, ok := err.(*Error); ok {
			c := *de
			c.Err = fmt.Errorf("Legacy: %w", de.Err)
			return nil, &c
		}
		return nil, err
	}
	return le, nil
}

// classify says which format a stored item is in (docs/dbesdk-format.md
// §10.1, refined): legacy when it has either legacy reserved attribute,
// DB-ESDK when it has aws_dbe_head or aws_dbe_foot, plaintext when it has
// neither. An item with attributes of both formats is refused. Only the
// class is decided here: a legacy item without its signature, or a DB-ESDK
// item without its footer, fails in that format's decryption. It is the one
// place that tells the formats apart.
func classify(item map[string]types.AttributeValue) (ItemFormat, error) {
	_, sig := item[legacy.SignatureAttribute]
	_, desc := item[legacy.MaterialDescriptionAttribute]
	_, head := item[dbesdk.HeadAttribute]
	_, foot := item[dbesdk.FootAttribute]
	switch leg, dbe := sig || desc, head || foot; {
	case leg && dbe:
		return 0, fmt.Errorf("%w: the item has attributes of both the legacy and the DB-ESDK format", ErrMalformed)
	case leg:
		return LegacyItem, nil
	case dbe:
		return DBESDKItem, nil
	}
	return PlaintextItem, nil
}

// reservedName reports whether name is an attribute a format of the table
// writes: aws_dbe_ names on a DBESDKFormat table, and the legacy format's
// attributes on a legacy-format table or one with a LegacyConfig. Such
// attributes cannot be written or appear in a request's expressions.
func (e *Encryptor) reservedName(name string) bool {
	return e.cfg.Format.reserved(name) || (e.legacyEnc != nil && legacy.IsReserved(name))
}

// stricter returns the more restrictive of two valid actions: encrypted
// before signed-and-included before signed before left alone.
func stricter(a, b actions.Action) actions.Action {
	rank := func(a actions.Action) int {
		switch a {
		case actions.EncryptAndSign:
			return 4
		case actions.SignAndIncludeInEncryptionContext:
			return 3
		case actions.SignOnly:
			return 2
		}
		return 1
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// precheck applies the DB-ESDK format's per-item rules (docs/dbesdk-format.md
// §1.7) to an item that is not written in that format (a Force policy): the
// key attributes first, then reserved names, an action for every attribute
// and the sign-and-include attributes.
func (e *Encryptor) precheck(item map[string]types.AttributeValue) error {
	const op = "encrypt"
	for _, k := range e.keyNames() {
		if _, err := canonicalKey(item[k]); err != nil {
			return e.err(op, k, err)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(item)) {
		if e.reservedName(name) {
			return e.err(op, name, fmt.Errorf("%w: reserved attribute name in plaintext item", ErrInvalidItem))
		}
		if !e.dbesdkAction(name).Valid() {
			return e.err(op, name, fmt.Errorf("%w: no action configured for attribute", ErrInvalidItem))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(e.acts.Attributes)) {
		if _, ok := item[n]; !ok && e.acts.Attributes[n] == actions.SignAndIncludeInEncryptionContext {
			return e.err(op, n, fmt.Errorf("%w: sign-and-include attribute is missing", ErrMissingAttribute))
		}
	}
	return nil
}

// encryptMigrating writes an item of a DBESDKFormat table under its
// policies.
func (e *Encryptor) encryptMigrating(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	switch {
	case e.legacyPolicy == ForceLegacyEncryptAllowLegacyDecrypt:
		if err := e.precheck(item); err != nil {
			return nil, err
		}
		return e.legacyEnc.encryptLegacy(ctx, item)
	case e.plainPolicy == ForcePlaintextWriteAllowPlaintextRead:
		if err := e.precheck(item); err != nil {
			return nil, err
		}
		return maps.Clone(item), nil
	}
	if e.legacyEnc != nil {
		for _, r := range []string{legacy.SignatureAttribute, legacy.MaterialDescriptionAttribute} {
			if _, ok := item[r]; ok {
				return nil, e.err("encrypt", r, fmt.Errorf("%w: reserved attribute name in plaintext item", ErrInvalidItem))
			}
		}
	}
	return e.encryptDBESDK(ctx, item)
}

// ReadItem reads a stored item under the table's policies and says which
// format it was read as. A LegacyItem or DBESDKItem was verified and
// decrypted, as DecryptItem does. A PlaintextItem is returned unchanged and
// unverified; it comes back only under a PlaintextPolicy that allows
// plaintext reads, and callers must not treat it as protected. On any error
// nothing of the item is returned. The input is not modified.
//
// On a legacy-format table ReadItem is DecryptItem reporting LegacyItem, or
// PlaintextItem when every action is DoNothing (nothing is verified then).
func (e *Encryptor) ReadItem(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, ItemFormat, error) {
	return e.read(ctx, item, true)
}

// WriteFormat is the format EncryptItem writes items in: DBESDKItem for a
// DBESDKFormat table, LegacyItem for a legacy-format table or one whose
// LegacyPolicy is ForceLegacyEncryptAllowLegacyDecrypt, and PlaintextItem
// for a ForcePlaintextWriteAllowPlaintextRead table or a legacy-format table
// whose actions are all DoNothing. It is the format ReadItem reports for an
// item this Encryptor wrote.
func (e *Encryptor) WriteFormat() ItemFormat {
	switch {
	case e.cfg.Format == LegacyFormat && e.allNothing:
		return PlaintextItem
	case e.cfg.Format == LegacyFormat:
		return LegacyItem
	case e.legacyPolicy == ForceLegacyEncryptAllowLegacyDecrypt:
		return LegacyItem
	case e.plainPolicy == ForcePlaintextWriteAllowPlaintextRead:
		return PlaintextItem
	}
	return DBESDKItem
}

// read is ReadItem; plaintext items are refused unless allowPlain (and the
// table's policy allows them).
func (e *Encryptor) read(ctx context.Context, item map[string]types.AttributeValue, allowPlain bool) (map[string]types.AttributeValue, ItemFormat, error) {
	const op = "decrypt"
	switch e.cfg.Format {
	case LegacyFormat:
		out, err := e.decryptLegacy(ctx, item)
		if err != nil {
			return nil, 0, err
		}
		if e.allNothing {
			return out, PlaintextItem, nil
		}
		return out, LegacyItem, nil
	case DBESDKFormat:
	default:
		return nil, 0, e.err(op, "", fmt.Errorf("%w: unknown item format %s", ErrInvalidConfig, e.cfg.Format))
	}
	// §9.2 step 1: the key attributes, before anything else.
	for _, k := range e.keyNames() {
		if _, ok := item[k]; !ok {
			return nil, 0, e.err(op, k, ErrMissingAttribute)
		}
	}
	f, err := classify(item)
	if err != nil {
		return nil, 0, e.err(op, "", err)
	}
	switch f {
	case LegacyItem:
		switch {
		case e.legacyEnc == nil:
			return nil, 0, e.err(op, "", fmt.Errorf("%w: the item is a %s item, but this table is configured for the %s format and has no legacy configuration (TableConfig.Legacy)", ErrLegacyItem, LegacyItem, DBESDKItem))
		case e.legacyPolicy == ForbidLegacyEncryptForbidLegacyDecrypt:
			return nil, 0, e.err(op, "", fmt.Errorf("%w: the item is a %s item, and the table's legacy policy %s refuses such items", ErrLegacyItem, LegacyItem, e.legacyPolicy))
		}
		out, err := e.legacyEnc.decryptLegacy(ctx, item)
		if err != nil {
			return nil, 0, err
		}
		return out, LegacyItem, nil
	case PlaintextItem:
		switch {
		case !e.plainPolicy.allowsRead():
			return nil, 0, e.err(op, "", fmt.Errorf("%w: the item has neither %s nor %s: it is not encrypted, and the table's plaintext policy %s refuses plaintext items", ErrPlaintextItem, dbesdk.HeadAttribute, dbesdk.FootAttribute, e.plainPolicy))
		case !allowPlain:
			return nil, 0, e.err(op, "", fmt.Errorf("%w: the item is not encrypted; DecryptItem returns only verified items: use ReadItem, which reports the format an item was read as", ErrPlaintextItem))
		}
		return maps.Clone(item), PlaintextItem, nil
	}
	out, err := e.decryptDBESDK(ctx, item)
	if err != nil {
		return nil, 0, err
	}
	return out, DBESDKItem, nil
}

// Item formats in the ResultMetadata of a Client's outputs.

type itemFormatsKey struct{}

type batchItemFormatsKey struct{}

// ItemFormats returns the formats of the items of a Client output, from its
// ResultMetadata: one per item, in order. GetItem: zero or one entry
// (Item); Query and Scan: Items; TransactGetItems: Responses (an entry
// whose Item is nil holds the zero value); PutItem, DeleteItem and
// UpdateItem: zero or one entry for the returned Attributes when they are a
// whole item (ReturnValues ALL_OLD, or ALL_NEW for UpdateItem). Items of
// pass-through tables are PlaintextItem. It returns nil for outputs without
// such a record (not produced by a Client, or of another call): treat that
// as "not verified", never as "no plaintext". The Client refuses PartiQL
// (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction), so those
// outputs have none.
func ItemFormats(md middleware.Metadata) []ItemFormat {
	f, _ := md.Get(itemFormatsKey{}).([]ItemFormat)
	return slices.Clone(f)
}

// BatchItemFormats returns the formats of the items of a BatchGetItem
// output of a Client, by the table keys of its Responses and aligned with
// Responses[table]; nil when the output has no such record.
func BatchItemFormats(md middleware.Metadata) map[string][]ItemFormat {
	f, _ := md.Get(batchItemFormatsKey{}).(map[string][]ItemFormat)
	if f == nil {
		return nil
	}
	out := make(map[string][]ItemFormat, len(f))
	for k, v := range f {
		out[k] = slices.Clone(v)
	}
	return out
}

// setFormats records the formats of an output's items.
func setFormats(md *middleware.Metadata, f []ItemFormat) {
	if f == nil {
		f = []ItemFormat{}
	}
	md.Set(itemFormatsKey{}, f)
}

// plaintextFormats is the record of n items returned unverified (a
// pass-through table).
func plaintextFormats(n int) []ItemFormat { return make([]ItemFormat, n) }
