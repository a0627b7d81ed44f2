// Package actions says what happens to each attribute of an item: encrypted
// and signed, only signed, or left alone.
//
// A [Map] has a default action and per-attribute overrides; the default
// applies to every attribute of an item that has no override, including
// attributes unknown when the map was written (the legacy Python client's
// model). The same map must be used to read an item as was used to write it:
// actions are configuration and are not stored in the item.
//
// [FromStruct] and [For] derive a Map from the ddbenc tags of a struct
// type marshalled with attributevalue.
package actions

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ddbec/ddbec-go/internal/legacy"
)

// Action is what happens to one attribute. The zero value is invalid, so a
// forgotten field is caught by [Map.Validate] instead of meaning "do nothing".
type Action uint8

const (
	// DoNothing leaves the attribute in plaintext and outside the signature.
	DoNothing Action = iota + 1
	// SignOnly leaves the attribute in plaintext, covered by the signature.
	SignOnly
	// EncryptAndSign encrypts the attribute and covers its ciphertext with the
	// signature.
	EncryptAndSign
	// SignAndIncludeInEncryptionContext leaves the attribute in plaintext,
	// covered by the signature and bound into the encryption context the
	// keyring sees. Only the AWS Database Encryption SDK format
	// (ddbenc.DBESDKFormat) has it; when any attribute has it, the primary
	// key attributes must have it too (docs/dbesdk-format.md §1.4).
	SignAndIncludeInEncryptionContext
)

// String returns the name used in JSON configuration: "do_nothing", "sign",
// "encrypt_and_sign", "sign_and_include_in_encryption_context".
func (a Action) String() string {
	switch a {
	case DoNothing:
		return "do_nothing"
	case SignOnly:
		return "sign"
	case EncryptAndSign:
		return "encrypt_and_sign"
	case SignAndIncludeInEncryptionContext:
		return "sign_and_include_in_encryption_context"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Valid reports whether a is one of the four actions.
func (a Action) Valid() bool { return a >= DoNothing && a <= SignAndIncludeInEncryptionContext }

// Signed reports whether the attribute is covered by the signature.
func (a Action) Signed() bool {
	return a == SignOnly || a == EncryptAndSign || a == SignAndIncludeInEncryptionContext
}

// Parse reads an action name, in any case. It accepts the names
// [Action.String] returns, the legacy vector names "encrypt", "sign_only"
// and "nothing", and the AWS Database Encryption SDK names (ENCRYPT_AND_SIGN,
// SIGN_ONLY, SIGN_AND_INCLUDE_IN_ENCRYPTION_CONTEXT, DO_NOTHING).
func Parse(s string) (Action, error) {
	switch strings.ToLower(s) {
	case "do_nothing", "nothing":
		return DoNothing, nil
	case "sign", "sign_only":
		return SignOnly, nil
	case "encrypt_and_sign", "encrypt":
		return EncryptAndSign, nil
	case "sign_and_include_in_encryption_context":
		return SignAndIncludeInEncryptionContext, nil
	}
	return 0, fmt.Errorf("actions: unknown action %q (want encrypt_and_sign, sign, sign_and_include_in_encryption_context or do_nothing)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (a Action) MarshalText() ([]byte, error) {
	if !a.Valid() {
		return nil, fmt.Errorf("actions: invalid action %d", a)
	}
	return []byte(a.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Action) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Replication attributes that legacy (2017) DynamoDB global tables add to
// items in every Region. They are never signed: replication would otherwise
// break every signature.
var replicationAttributes = map[string]bool{
	"aws:rep:deleting":     true,
	"aws:rep:updatetime":   true,
	"aws:rep:updateregion": true,
}

// IsReplicationAttribute reports whether name is one of the legacy global-table
// attributes aws:rep:deleting, aws:rep:updatetime, aws:rep:updateregion.
func IsReplicationAttribute(name string) bool { return replicationAttributes[name] }

// ErrInvalid is wrapped by every error [Map.Validate] returns.
var ErrInvalid = errors.New("actions: invalid action map")

// Map assigns an action to every attribute of an item.
type Map struct {
	// Default applies to attributes without an entry in Attributes.
	Default Action `json:"default"`
	// Attributes overrides Default per attribute name.
	Attributes map[string]Action `json:"attributes,omitempty"`
}

// Validate checks that every action is valid, that no reserved attribute of
// the item format (*amzn-ddb-map-desc*, *amzn-ddb-map-sig*) is configured and
// that no replication attribute is configured to be signed.
func (m Map) Validate() error {
	if !m.Default.Valid() {
		return fmt.Errorf("%w: default action is not set or not valid", ErrInvalid)
	}
	for name, a := range m.Attributes {
		if !a.Valid() {
			return fmt.Errorf("%w: attribute %q: action is not valid", ErrInvalid, name)
		}
		if legacy.IsReserved(name) {
			return fmt.Errorf("%w: attribute %q is reserved for the encryptor", ErrInvalid, name)
		}
		if IsReplicationAttribute(name) && a != DoNothing {
			return fmt.Errorf("%w: attribute %q is written by global-table replication and cannot be signed", ErrInvalid, name)
		}
	}
	return nil
}

// Get returns the action for an attribute of an item. The reserved attributes
// and the replication attributes always get DoNothing.
func (m Map) Get(name string) Action {
	if a, ok := m.Attributes[name]; ok {
		return a
	}
	if legacy.IsReserved(name) || IsReplicationAttribute(name) {
		return DoNothing
	}
	return m.Default
}

// AllDoNothing reports whether no attribute can be signed or encrypted.
func (m Map) AllDoNothing() bool {
	if m.Default != DoNothing {
		return false
	}
	for _, a := range m.Attributes {
		if a != DoNothing {
			return false
		}
	}
	return true
}
