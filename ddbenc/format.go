package ddbenc

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/internal/legacy"
)

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
