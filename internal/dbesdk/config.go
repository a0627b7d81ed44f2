package dbesdk

import (
	"context"
	"maps"
	"strings"
	"sync/atomic"
)

// Action is what happens to one attribute on encrypt (docs/dbesdk-format.md §1.2).
type Action uint8

const (
	// DoNothing: not signed, not encrypted, no legend entry.
	DoNothing Action = iota + 1
	// SignOnly: signed, stored in plaintext (legend 's').
	SignOnly
	// EncryptAndSign: encrypted and signed (legend 'e').
	EncryptAndSign
	// SignAndInclude: signed, stored in plaintext and bound into the
	// encryption context (legend 'c', docs/dbesdk-format.md §4.3).
	SignAndInclude
)

// ReservedPrefix is the attribute-name prefix the format owns (docs/dbesdk-format.md §1.5).
const ReservedPrefix = "aws_dbe_"

// Header and footer attribute names (docs/dbesdk-format.md §6.1).
const (
	HeadAttribute = "aws_dbe_head"
	FootAttribute = "aws_dbe_foot"
)

// Materials supplies keys: the adaptation of a keyring (docs/dbesdk-format.md
// §8). The engine does the default CMM's work itself (ECDSA key pair and
// aws-crypto-public-key, §8.2); ec is always the full context.
type Materials interface {
	// EncryptMaterials returns a fresh PDK, 1 to 255 EDKs and one symmetric
	// signing key per EDK, in EDK order.
	EncryptMaterials(ctx context.Context, suite Suite, ec map[string]string, required []string) (*EncryptionMaterials, error)
	// DecryptMaterials recovers the PDK from one of the EDKs, with that
	// EDK's symmetric signing key. It fails when no EDK can be decrypted.
	DecryptMaterials(ctx context.Context, suite Suite, ec map[string]string, required []string, edks []EDK) (DecryptionMaterials, error)
}

// EncryptionMaterials are the keys of one item being written.
type EncryptionMaterials struct {
	PDK     []byte
	EDKs    []EDK
	MACKeys [][]byte
}

// DecryptionMaterials are the keys of one item being read.
type DecryptionMaterials struct {
	PDK    []byte
	MACKey []byte
}

// Config is a table configuration (docs/dbesdk-format.md §1.3).
type Config struct {
	TableName    string // logical table name
	PartitionKey string
	SortKey      string // empty if none
	// Actions maps attribute names to actions (attributeActionsOnEncrypt).
	Actions map[string]Action
	// Default, if not zero, is the action of attributes in the signature
	// scope that Actions does not list (SignOnly or EncryptAndSign). Zero
	// means none: such attributes are refused on encrypt, as AWS does.
	Default Action
	// AllowedUnsigned and AllowedUnsignedPrefix name attributes that are
	// never signed.
	AllowedUnsigned       []string
	AllowedUnsignedPrefix string
	// Suite is the suite to write; zero means SuiteECDSA.
	Suite     Suite
	Materials Materials
}

// Table encrypts and decrypts items of one table. It is safe for concurrent
// use.
type Table struct {
	cfg       Config
	unsigned  map[string]bool
	version   int    // configuration version, 1 or 2 (§1.4)
	keyAction Action // SignOnly (v1) or SignAndInclude (v2)
	keys      []string
	attrKeys  []string // aws-crypto-attr. ‖ each key name

	// required is the last list of required context keys a decrypt built;
	// items of one table mostly share it, so it is reused (read-only).
	required atomic.Pointer[[]string]
}

// NewTable validates cfg (docs/dbesdk-format.md §1.6).
func NewTable(cfg Config) (*Table, error) {
	bad := func(attr, format string, args ...any) (*Table, error) {
		return nil, errf(KindInvalidConfig, attr, format, args...)
	}
	if cfg.TableName == "" {
		return bad("", "logical table name is required")
	}
	if cfg.PartitionKey == "" {
		return bad("", "partition key name is required")
	}
	if cfg.Materials == nil {
		return bad("", "a keyring is required")
	}
	if cfg.Suite == 0 {
		cfg.Suite = SuiteECDSA
	}
	if !cfg.Suite.Valid() {
		return bad("", "unknown algorithm suite %04x", uint16(cfg.Suite))
	}
	if cfg.Default != 0 && cfg.Default != SignOnly && cfg.Default != EncryptAndSign {
		return bad("", "the default action must be sign-only or encrypt-and-sign")
	}
	t := &Table{cfg: cfg, unsigned: map[string]bool{}, version: 1, keyAction: SignOnly}
	for _, n := range cfg.AllowedUnsigned {
		t.unsigned[n] = true
	}
	acts := make(map[string]Action, len(cfg.Actions)+2)
	for n, a := range cfg.Actions {
		if a < DoNothing || a > SignAndInclude {
			return bad(n, "invalid action")
		}
		acts[n] = a
		if a == SignAndInclude {
			t.version, t.keyAction = 2, SignAndInclude
		}
	}
	for _, k := range []string{cfg.PartitionKey, cfg.SortKey} {
		if k == "" {
			continue
		}
		a, ok := acts[k]
		if !ok {
			acts[k] = t.keyAction
		} else if a != t.keyAction {
			if t.version == 2 {
				return bad(k, "a key attribute must be sign-and-include-in-encryption-context when any attribute is")
			}
			return bad(k, "a key attribute must be sign-only")
		}
	}
	for n, a := range acts {
		switch {
		case strings.HasPrefix(n, ReservedPrefix):
			return bad(n, "attribute names starting with %s are reserved and may not be configured", ReservedPrefix)
		case a == DoNothing && !t.allowedUnsigned(n):
			return bad(n, "a do-nothing attribute must also be an allowed unsigned attribute or begin with the allowed unsigned prefix")
		case a != DoNothing && t.allowedUnsigned(n):
			return bad(n, "a signed attribute cannot be an allowed unsigned attribute or begin with the allowed unsigned prefix")
		}
	}
	t.cfg.Actions = acts
	t.keys = []string{cfg.PartitionKey}
	if cfg.SortKey != "" {
		t.keys = append(t.keys, cfg.SortKey)
	}
	for _, k := range t.keys {
		t.attrKeys = append(t.attrKeys, ecAttrPrefix+k)
	}
	return t, nil
}

// allowedUnsigned is docs/dbesdk-format.md §1.5.
func (t *Table) allowedUnsigned(name string) bool {
	return t.unsigned[name] ||
		(t.cfg.AllowedUnsignedPrefix != "" && strings.HasPrefix(name, t.cfg.AllowedUnsignedPrefix)) ||
		strings.HasPrefix(name, ReservedPrefix)
}

// ConfigVersion is 2 when an attribute is SignAndInclude, else 1 (§1.4).
func (t *Table) ConfigVersion() int { return t.version }

func (t *Table) keyNames() []string { return t.keys }

// Actions returns the effective actions (the configured ones plus the key
// attributes' key action).
func (t *Table) Actions() map[string]Action { return maps.Clone(t.cfg.Actions) }
