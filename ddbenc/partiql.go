package ddbenc

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// partiQL refuses PartiQL: statements cannot be encrypted or verified
// client-side. Use a plain client for tables without encryption.
func partiQL(op string) error {
	return &Error{Op: op, Err: fmt.Errorf("%w: PartiQL statements cannot be encrypted or verified; use a plain DynamoDB client for unencrypted tables", ErrUnsupportedOperation)}
}

// ExecuteStatement always fails before any request (PartiQL).
func (c *Client) ExecuteStatement(ctx context.Context, in *dynamodb.ExecuteStatementInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ExecuteStatementOutput, error) {
	return nil, partiQL("ExecuteStatement")
}

// BatchExecuteStatement always fails before any request (PartiQL).
func (c *Client) BatchExecuteStatement(ctx context.Context, in *dynamodb.BatchExecuteStatementInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchExecuteStatementOutput, error) {
	return nil, partiQL("BatchExecuteStatement")
}

// ExecuteTransaction always fails before any request (PartiQL).
func (c *Client) ExecuteTransaction(ctx context.Context, in *dynamodb.ExecuteTransactionInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ExecuteTransactionOutput, error) {
	return nil, partiQL("ExecuteTransaction")
}
