package ddbenc

import (
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
)

// String names the format for messages.
func (f Format) String() string {
	switch f {
	case LegacyFormat:
		return "legacy"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// valid reports whether f is a format this package implements.
func (f Format) valid() bool { return f == LegacyFormat }

// reserved reports whether name is an attribute the table's format writes
// itself: such attributes cannot be configured, be keys, or appear in a
// request's expressions, projections or updates.
func (f Format) reserved(name string) bool {
	switch f {
	case LegacyFormat:
		return legacy.IsReserved(name)
	}
	return false
}

// itemFormat is the format a stored item is in.
type itemFormat uint8

const (
	formatPlaintext itemFormat = iota // neither format's attributes
	formatLegacy                      // the legacy DynamoDB Encryption Client
	formatDBESDK                      // the AWS Database Encryption SDK
)

// dbeHeadAttribute is the header attribute of an item written by the AWS
// Database Encryption SDK for DynamoDB.
const dbeHeadAttribute = "aws_dbe_head"

// String names the format for messages.
func (f itemFormat) String() string {
	switch f {
	case formatLegacy:
		return "legacy DynamoDB Encryption Client"
	case formatDBESDK:
		return "AWS Database Encryption SDK"
	}
	return "plaintext"
}

// classify says which format a stored item is in: legacy when it carries the
// legacy signature attribute, DB-ESDK when it carries the DB-ESDK header,
// plaintext otherwise. It is the one place that tells the formats apart.
func classify(item map[string]types.AttributeValue) itemFormat {
	if _, ok := item[legacy.SignatureAttribute]; ok {
		return formatLegacy
	}
	if _, ok := item[dbeHeadAttribute]; ok {
		return formatDBESDK
	}
	return formatPlaintext
}
