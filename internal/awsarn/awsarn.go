// Package awsarn parses the two kinds of ARN the library reads, KMS key ARNs
// and DynamoDB table ARNs, with the SDK's ARN parser
// (github.com/aws/aws-sdk-go-v2/aws/arn). The provider, the encryptor and the
// fake KMS all use it, so that they agree on what an ARN is.
package awsarn

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// KMSKey is a parsed KMS key ARN, arn:PARTITION:kms:REGION:ACCOUNT:key/ID.
type KMSKey struct {
	Partition, Region, Account, ID string
}

// ParseKMSKey parses a KMS key ARN; ok is false for anything else (key ids,
// aliases, alias ARNs, other services) and for ARNs with an empty partition,
// Region, account or key id.
func ParseKMSKey(s string) (k KMSKey, ok bool) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "kms" {
		return KMSKey{}, false
	}
	id, ok := strings.CutPrefix(a.Resource, "key/")
	if !ok || id == "" || a.Partition == "" || a.Region == "" || a.AccountID == "" {
		return KMSKey{}, false
	}
	return KMSKey{Partition: a.Partition, Region: a.Region, Account: a.AccountID, ID: id}, true
}

// MultiRegion reports whether k is a multi-Region key (key id "mrk-…").
func (k KMSKey) MultiRegion() bool { return strings.HasPrefix(k.ID, "mrk-") }

// String returns the ARN.
func (k KMSKey) String() string {
	return arn.ARN{Partition: k.Partition, Service: "kms", Region: k.Region, AccountID: k.Account, Resource: "key/" + k.ID}.String()
}

// DynamoDBTable returns the table name of a DynamoDB table ARN,
// arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME; ok is false for anything
// else, including ARNs of a table's index or stream (table/NAME/…).
func DynamoDBTable(s string) (name string, ok bool) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "dynamodb" {
		return "", false
	}
	name, ok = strings.CutPrefix(a.Resource, "table/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

// DynamoDBStreamTable returns the table name of a DynamoDB stream ARN,
// arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL (the
// eventSourceARN of a Lambda DynamoDB event record); ok is false for
// anything else, including table and index ARNs.
func DynamoDBStreamTable(s string) (name string, ok bool) {
	a, err := arn.Parse(s)
	if err != nil || a.Service != "dynamodb" {
		return "", false
	}
	rest, ok := strings.CutPrefix(a.Resource, "table/")
	if !ok {
		return "", false
	}
	name, label, ok := strings.Cut(rest, "/stream/")
	if !ok || name == "" || label == "" || strings.Contains(name, "/") || strings.Contains(label, "/") {
		return "", false
	}
	return name, true
}
