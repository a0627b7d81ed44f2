package ddbenc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/internal/dbesdk"
)

// refuseDBESDKSettings rejects settings and actions that only the DB-ESDK
// format has, for a legacy-format table.
func refuseDBESDKSettings(cfg TableConfig) error {
	fail := func(attr, format string, args ...any) error { return configError(cfg.TableName, attr, format, args...) }
	const only = "is only valid for the AWS Database Encryption SDK format (DBESDKFormat)"
	if cfg.Actions.Default == actions.SignAndIncludeInEncryptionContext {
		return fail("", "the action %s %s", actions.SignAndIncludeInEncryptionContext, only)
	}
	for _, n := range slices.Sorted(maps.Keys(cfg.Actions.Attributes)) {
		if cfg.Actions.Attributes[n] == actions.SignAndIncludeInEncryptionContext {
			return fail(n, "the action %s %s", actions.SignAndIncludeInEncryptionContext, only)
		}
	}
	switch {
	case cfg.Keyring != nil:
		return fail("", "Keyring %s; the legacy format takes a Provider", only)
	case len(cfg.AllowedUnsignedAttributes) > 0 || cfg.AllowedUnsignedAttributePrefix != "":
		return fail("", "AllowedUnsignedAttributes and AllowedUnsignedAttributePrefix %s", only)
	case cfg.Suite != SuiteDefault:
		return fail("", "Suite %s", only)
	case cfg.LogicalTableName != "":
		return fail("", "LogicalTableName %s; the legacy format has SignedTableName", only)
	case cfg.Legacy != nil:
		return fail("", "Legacy %s: it is how a DB-ESDK table reads legacy items", only)
	case cfg.PlaintextPolicy != ForbidPlaintextWriteForbidPlaintextRead:
		return fail("", "PlaintextPolicy %s", only)
	}
	return nil
}

// newDBESDKEncryptor builds the Encryptor of a DBESDKFormat table.
func newDBESDKEncryptor(cfg TableConfig) (*Encryptor, error) {
	fail := func(attr, format string, args ...any) error { return configError(cfg.TableName, attr, format, args...) }
	if cfg.Provider != nil {
		return nil, fail("", "a DBESDKFormat table takes a Keyring, not a legacy Provider")
	}
	if cfg.Keyring == nil {
		return nil, fail("", "a keyring is required")
	}
	if cfg.SignedTableName != "" || cfg.AllowPythonRoundedNumbers || cfg.LegacyUnsignedKeys || cfg.Ordering != 0 {
		return nil, fail("", "SignedTableName, AllowPythonRoundedNumbers, LegacyUnsignedKeys and Ordering are legacy-format settings (for legacy items of this table, set them in Legacy)")
	}
	m := cfg.Actions
	legacyEnc, err := validateMigration(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkIndexKeys(cfg); err != nil {
		return nil, err
	}
	if !m.Default.Valid() {
		return nil, fail("", "the default action is not set or not valid (DoNothing means no default)")
	}
	conv := map[actions.Action]dbesdk.Action{
		actions.DoNothing:                         dbesdk.DoNothing,
		actions.SignOnly:                          dbesdk.SignOnly,
		actions.EncryptAndSign:                    dbesdk.EncryptAndSign,
		actions.SignAndIncludeInEncryptionContext: dbesdk.SignAndInclude,
	}
	dc := dbesdk.Config{
		TableName:             cmp.Or(cfg.LogicalTableName, cfg.TableName),
		PartitionKey:          cfg.PartitionKey,
		SortKey:               cfg.SortKey,
		Actions:               map[string]dbesdk.Action{},
		AllowedUnsigned:       slices.Clone(cfg.AllowedUnsignedAttributes),
		AllowedUnsignedPrefix: cfg.AllowedUnsignedAttributePrefix,
		Suite:                 dbesdk.Suite(cfg.Suite),
		Materials:             keyringMaterials{cfg.Keyring},
	}
	switch m.Default {
	case actions.SignOnly, actions.EncryptAndSign:
		dc.Default = conv[m.Default]
	case actions.SignAndIncludeInEncryptionContext:
		return nil, fail("", "%s cannot be the default action", m.Default)
	}
	for n, a := range m.Attributes {
		d, ok := conv[a]
		if !ok {
			return nil, fail(n, "action is not valid")
		}
		dc.Actions[n] = d
	}
	t, err := dbesdk.NewTable(dc)
	if err != nil {
		return nil, mapDBESDKError("new encryptor", cfg.TableName, err)
	}
	eff := actions.Map{Default: m.Default, Attributes: map[string]actions.Action{}}
	back := map[dbesdk.Action]actions.Action{}
	for k, v := range conv {
		back[v] = k
	}
	for n, a := range t.Actions() {
		eff.Attributes[n] = back[a]
	}
	cfg.Actions = eff
	cfg.Indexes = slices.Clone(cfg.Indexes)
	cfg.AllowedUnsignedAttributes = slices.Clone(cfg.AllowedUnsignedAttributes)
	e := &Encryptor{cfg: cfg, acts: eff, dbe: t, signedTable: dc.TableName, legacyEnc: legacyEnc, plainPolicy: cfg.PlaintextPolicy}
	if legacyEnc != nil {
		e.legacyPolicy = cfg.Legacy.Policy
	}
	e.cfg.Legacy = nil // kept in legacyEnc and legacyPolicy
	e.keys = []string{cfg.PartitionKey}
	if cfg.SortKey != "" {
		e.keys = append(e.keys, cfg.SortKey)
	}
	e.indexes = make(map[string]Index, len(cfg.Indexes))
	for _, ix := range cfg.Indexes {
		e.indexes[ix.Name] = ix
	}
	return e, nil
}

// dbesdkAction is Action for a DBESDKFormat table: the engine's own
// encrypt-side rule (docs/dbesdk-format.md §1.5), with the zero Action for
// the attributes it refuses on write.
func (e *Encryptor) dbesdkAction(name string) actions.Action {
	if e.reservedName(name) {
		return 0
	}
	if a, ok := e.acts.Attributes[name]; ok {
		return a
	}
	if slices.Contains(e.cfg.AllowedUnsignedAttributes, name) ||
		(e.cfg.AllowedUnsignedAttributePrefix != "" && strings.HasPrefix(name, e.cfg.AllowedUnsignedAttributePrefix)) {
		return actions.DoNothing
	}
	switch e.acts.Default {
	case actions.SignOnly, actions.EncryptAndSign:
		return e.acts.Default
	}
	return 0
}

// encryptDBESDK writes an item in the DB-ESDK format.
func (e *Encryptor) encryptDBESDK(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := e.dbe.Encrypt(ctx, item)
	if err != nil {
		return nil, mapDBESDKError("encrypt", e.cfg.TableName, err)
	}
	if n := itemSize(out); n > MaxItemSize {
		return nil, e.err("encrypt", "", fmt.Errorf("%w: the encrypted item is about %d bytes, over DynamoDB's 400 KB item limit of %d bytes (the plaintext is about %d)",
			ErrInvalidItem, n, MaxItemSize, itemSize(item)))
	}
	return out, nil
}

// decryptDBESDK reads an item in the DB-ESDK format (classified by read).
func (e *Encryptor) decryptDBESDK(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := e.dbe.Decrypt(ctx, item)
	if err != nil {
		return nil, mapDBESDKError("decrypt", e.cfg.TableName, err)
	}
	return out, nil
}

// mapDBESDKError turns an engine error into an *Error wrapping the sentinel
// of its kind (and its cause, so errors.Is and errors.As reach a keyring's
// error).
func mapDBESDKError(op, table string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var de *dbesdk.Error
	if !errors.As(err, &de) {
		return &Error{Op: op, Table: table, Err: err}
	}
	var s error
	switch de.Kind {
	case dbesdk.KindSignature:
		s = ErrSignature
	case dbesdk.KindDecryption:
		s = ErrDecryption
	case dbesdk.KindWrongKey:
		s = ErrWrongKey
	case dbesdk.KindMissingAttribute:
		s = ErrMissingAttribute
	case dbesdk.KindInvalidConfig:
		s = ErrInvalidConfig
	case dbesdk.KindInvalidItem:
		s = ErrInvalidItem
	default:
		s = ErrMalformed
	}
	// A keyring error that already says what happened (a sentinel of this
	// package, e.g. ErrKeyUnavailable for throttling) gets no second one.
	if errors.Is(de, s) || errors.Is(de, ErrKeyUnavailable) || (de.Kind != dbesdk.KindSignature && errors.Is(de, ErrSignature)) {
		return &Error{Op: op, Table: table, Attribute: de.Attribute, Err: de}
	}
	return &Error{Op: op, Table: table, Attribute: de.Attribute, Err: fmt.Errorf("%w: %w", s, de)}
}
