// Package dbesdk is the format engine of the AWS Database Encryption SDK for
// DynamoDB item format (items with aws_dbe_head and aws_dbe_foot,
// docs/dbesdk-format.md). It owns every byte it writes and parses: attribute
// serialization, number normalization, canonical paths, the legend, header,
// footer, canonical record, encryption context, the two algorithm suites and
// intermediate key wrapping. Keys come from a [Materials] implementation;
// package ddbenc adapts its keyrings onto it.
package dbesdk

import (
	"errors"
	"fmt"
)

// Kind classifies an error; package ddbenc maps each kind onto its sentinel.
type Kind uint8

const (
	// KindMalformed: the stored item's header, footer or a value cannot be
	// parsed.
	KindMalformed Kind = iota + 1
	// KindSignature: commitment, recipient tag, signature, context or
	// schema check failed (tampering, or read with another configuration).
	KindSignature
	// KindDecryption: an authenticated field did not decrypt.
	KindDecryption
	// KindWrongKey: no keyring could decrypt any encrypted data key.
	KindWrongKey
	// KindMissingAttribute: a key attribute, SIGN_AND_INCLUDE attribute,
	// header or footer is missing.
	KindMissingAttribute
	// KindInvalidConfig: the configuration or the materials cannot be used.
	KindInvalidConfig
	// KindInvalidItem: the plaintext item cannot be encrypted.
	KindInvalidItem
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindMalformed:
		return "malformed item"
	case KindSignature:
		return "verification failed"
	case KindDecryption:
		return "decryption failed"
	case KindWrongKey:
		return "no keyring could decrypt a data key"
	case KindMissingAttribute:
		return "missing attribute"
	case KindInvalidConfig:
		return "invalid configuration"
	case KindInvalidItem:
		return "invalid item"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Error is the error type of this package. It names the attribute concerned
// (if any) but never values or keys.
type Error struct {
	Kind      Kind
	Attribute string
	Msg       string
	Err       error // optional cause (for example a keyring's error)
}

func (e *Error) Error() string {
	s := e.Msg
	if e.Err != nil {
		if s != "" {
			s += ": "
		}
		s += e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func errf(k Kind, attr, format string, args ...any) *Error {
	return &Error{Kind: k, Attribute: attr, Msg: fmt.Sprintf(format, args...)}
}

// withAttr sets the attribute of an *Error that has none; other errors are
// wrapped as kind k.
func withAttr(err error, k Kind, attr string) error {
	var e *Error
	if errors.As(err, &e) && e == err {
		if e.Attribute == "" {
			c := *e
			c.Attribute = attr
			return &c
		}
		return e
	}
	return &Error{Kind: k, Attribute: attr, Err: err}
}
