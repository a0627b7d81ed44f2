package ddbenc

import (
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/internal/awsarn"
)

// Index is a secondary index of a table: a global (GSI) or local (LSI)
// secondary index and its key attributes. DynamoDB indexes stored values, so
// an index key attribute is never encrypted.
type Index struct {
	Name         string
	PartitionKey string // required; an LSI's is the table's partition key
	SortKey      string // empty if the index has none
}

// keyNamesOf returns the index's key attribute names.
func (ix Index) keyNamesOf() []string {
	if ix.SortKey == "" {
		return []string{ix.PartitionKey}
	}
	return []string{ix.PartitionKey, ix.SortKey}
}

// indexesFromDescription returns the GSIs and LSIs of a DescribeTable result.
func indexesFromDescription(td *types.TableDescription) []Index {
	var out []Index
	add := func(name *string, schema []types.KeySchemaElement) {
		ix := Index{Name: aws.ToString(name)}
		for _, k := range schema {
			switch k.KeyType {
			case types.KeyTypeHash:
				ix.PartitionKey = aws.ToString(k.AttributeName)
			case types.KeyTypeRange:
				ix.SortKey = aws.ToString(k.AttributeName)
			}
		}
		out = append(out, ix)
	}
	for _, g := range td.GlobalSecondaryIndexes {
		add(g.IndexName, g.KeySchema)
	}
	for _, l := range td.LocalSecondaryIndexes {
		add(l.IndexName, l.KeySchema)
	}
	return out
}

// EffectiveActions returns the actions an Encryptor for cfg uses: cfg.Actions
// after the key rules below, or an *Error wrapping ErrInvalidConfig when a
// rule is broken. cfg.Provider is not needed.
func EffectiveActions(cfg TableConfig) (actions.Map, error) {
	cfg.TableName = tableNameOf(cfg.TableName)
	if err := validateIndexes(cfg); err != nil {
		return actions.Map{}, err
	}
	return effectiveActions(cfg)
}

// effectiveActions applies the key rules to cfg.Actions and returns the
// actions the Encryptor uses:
//
//   - A primary key attribute is never encrypted, and it is signed whenever
//     the table signs anything: an unset key gets SignOnly whatever the
//     default. An explicit EncryptAndSign on a key is an error; an explicit
//     DoNothing is an error unless cfg.LegacyUnsignedKeys is set, which
//     restores the legacy clients' rule (a key keeps DoNothing, from the
//     default or explicitly) for reading items written that way.
//   - A secondary-index key attribute is never encrypted: an explicit
//     EncryptAndSign is an error, and so is a default of EncryptAndSign that
//     the attribute does not override (its action must be chosen explicitly:
//     changing it later makes every item written before unreadable).
//
// A table whose actions are all DoNothing signs nothing and is returned as is.
func effectiveActions(cfg TableConfig) (actions.Map, error) {
	fail := func(attr, format string, args ...any) error { return configError(cfg.TableName, attr, format, args...) }
	m := cfg.Actions
	if err := m.Validate(); err != nil {
		return actions.Map{}, fail("", "%w", err) // the message names the attribute
	}
	out := actions.Map{Default: m.Default, Attributes: maps.Clone(m.Attributes)}
	if out.Attributes == nil {
		out.Attributes = map[string]actions.Action{}
	}
	if m.AllDoNothing() {
		return out, nil
	}
	for _, k := range []string{cfg.PartitionKey, cfg.SortKey} {
		if k == "" {
			continue
		}
		a, explicit := m.Attributes[k]
		switch {
		case explicit && a == actions.EncryptAndSign:
			return actions.Map{}, fail(k, "a primary key attribute cannot be encrypted (DynamoDB needs its value); use sign")
		case explicit && a == actions.DoNothing && !cfg.LegacyUnsignedKeys:
			return actions.Map{}, fail(k, "a primary key attribute must be signed when the table signs anything: with do_nothing, signed and encrypted attributes can be copied to another item and still verify; set TableConfig.LegacyUnsignedKeys only to read items that legacy writers produced this way (see SECURITY.md)")
		case explicit:
			// SignOnly, or DoNothing under LegacyUnsignedKeys.
		case m.Default == actions.DoNothing && cfg.LegacyUnsignedKeys:
			// The legacy rule: the key keeps the default.
		default:
			out.Attributes[k] = actions.SignOnly
		}
	}
	if err := checkIndexKeys(cfg); err != nil {
		return actions.Map{}, err
	}
	return out, nil
}

// validateIndexes checks the configured secondary indexes.
func validateIndexes(cfg TableConfig) error {
	fail := func(attr, format string, args ...any) error { return configError(cfg.TableName, attr, format, args...) }
	seen := map[string]bool{}
	for _, ix := range cfg.Indexes {
		switch {
		case ix.Name == "":
			return fail("", "an index needs a name")
		case seen[ix.Name]:
			return fail("", "index %q is configured twice", ix.Name)
		case ix.PartitionKey == "":
			return fail("", "index %q needs a partition key", ix.Name)
		case ix.SortKey == ix.PartitionKey:
			return fail(ix.SortKey, "index %q: sort key and partition key are the same attribute", ix.Name)
		}
		seen[ix.Name] = true
		for _, k := range ix.keyNamesOf() {
			if cfg.Format.reserved(k) || actions.IsReplicationAttribute(k) {
				return fail(k, "index %q: a key attribute cannot have a reserved name", ix.Name)
			}
		}
	}
	return nil
}

// tableNameOf returns the table name of a DynamoDB table ARN
// (arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME), which DynamoDB accepts
// wherever a table name is expected; any other string is returned unchanged.
func tableNameOf(s string) string {
	if name, ok := awsarn.DynamoDBTable(s); ok {
		return name
	}
	return s
}

// checkIndexKeys refuses actions that would encrypt a secondary-index key
// attribute, in either format: explicitly, or through an EncryptAndSign
// default the attribute does not override.
func checkIndexKeys(cfg TableConfig) error {
	fail := func(attr, format string, args ...any) error { return configError(cfg.TableName, attr, format, args...) }
	m := cfg.Actions
	primary := func(name string) bool { return name == cfg.PartitionKey || name == cfg.SortKey }
	for _, ix := range cfg.Indexes {
		for _, k := range ix.keyNamesOf() {
			if primary(k) {
				continue
			}
			a, explicit := m.Attributes[k]
			switch {
			case explicit && a == actions.EncryptAndSign:
				return fail(k, "attribute is a key of index %q and cannot be encrypted (DynamoDB indexes its stored value); use sign", ix.Name)
			case !explicit && m.Default == actions.EncryptAndSign:
				return fail(k, "attribute is a key of index %q, which the default action would encrypt; set its action explicitly (sign, or do_nothing), because changing an attribute's action later makes every item written before unreadable", ix.Name)
			}
		}
	}
	return nil
}

// configError is the error of a configuration NewEncryptor cannot use.
func configError(table, attr, format string, args ...any) error {
	return &Error{Op: "new encryptor", Table: table, Attribute: attr,
		Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)}
}
