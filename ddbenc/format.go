package ddbenc

import (
	"strconv"
	"strings"

	"github.com/ddbec/ddbec-go/internal/dbesdk"
	"github.com/ddbec/ddbec-go/internal/legacy"
)

// Format is the item format of a table: how its items are encrypted,
// signed and stored. Every table has one; the Encryptor and the Client
// dispatch on it.
type Format uint8

const (
	// LegacyFormat is the format of the legacy AWS DynamoDB Encryption Client
	// (Java 1.x/2.x, Python 3.x): *amzn-ddb-map-sig* and *amzn-ddb-map-desc*,
	// keys from a MaterialsProvider (docs/legacy-format.md). It is the zero
	// value.
	LegacyFormat Format = iota
	// DBESDKFormat is the format of the AWS Database Encryption SDK for
	// DynamoDB: aws_dbe_head and aws_dbe_foot, keys from a Keyring
	// (docs/dbesdk-format.md). Its attribute-name prefix aws_dbe_ is
	// reserved.
	DBESDKFormat
)

// String names the format for messages.
func (f Format) String() string {
	switch f {
	case LegacyFormat:
		return "legacy"
	case DBESDKFormat:
		return "AWS Database Encryption SDK"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// valid reports whether f is a format this package implements.
func (f Format) valid() bool { return f == LegacyFormat || f == DBESDKFormat }

// reserved reports whether name is an attribute the table's format writes
// itself: such attributes cannot be configured, be keys, or appear in a
// request's expressions, projections or updates.
func (f Format) reserved(name string) bool {
	switch f {
	case LegacyFormat:
		return legacy.IsReserved(name)
	case DBESDKFormat:
		return strings.HasPrefix(name, dbesdk.ReservedPrefix)
	}
	return false
}
