package keystore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/ddbenc"
)

// TableWait is how long CreateTable waits for the table to become ACTIVE.
const TableWait = 5 * time.Minute

// CreateTable creates the key store table tableName (partition key
// branch-key-id S, sort key type S, on-demand billing) and waits until it is
// ACTIVE. An existing table with that key schema is accepted (and waited
// for); one with another schema is an error wrapping ErrTableSchema and
// ddbenc.ErrInvalidConfig.
func CreateTable(ctx context.Context, api DynamoDBAPI, tableName string) error {
	if tableName == "" || api == nil {
		return configErr("CreateTable needs a table name and a DynamoDB client")
	}
	_, err := api.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(tableName),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrBranchKeyID), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrType), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrBranchKeyID), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrType), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("keystore: table %s: CreateTable: %w", tableName, err)
	}
	if err := dynamodb.NewTableExistsWaiter(api).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)}, TableWait); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("keystore: table %s: waiting for ACTIVE: %w", tableName, err)
	}
	out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(tableName)})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("keystore: table %s: DescribeTable: %w", tableName, err)
	}
	return checkSchema(tableName, out.Table)
}

// checkSchema requires the key store's key schema.
func checkSchema(tableName string, t *types.TableDescription) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %w: table %s: %s; a key store needs partition key %s (S) and sort key %s (S)", ddbenc.ErrInvalidConfig, ErrTableSchema, tableName, why, AttrBranchKeyID, AttrType)
	}
	if t == nil {
		return bad("DescribeTable returned no table")
	}
	var hash, rng string
	for _, k := range t.KeySchema {
		switch k.KeyType {
		case types.KeyTypeHash:
			hash = aws.ToString(k.AttributeName)
		case types.KeyTypeRange:
			rng = aws.ToString(k.AttributeName)
		}
	}
	if hash != AttrBranchKeyID || rng != AttrType || len(t.KeySchema) != 2 {
		return bad(fmt.Sprintf("its key schema is partition key %q, sort key %q", hash, rng))
	}
	for _, d := range t.AttributeDefinitions {
		n := aws.ToString(d.AttributeName)
		if (n == AttrBranchKeyID || n == AttrType) && d.AttributeType != types.ScalarAttributeTypeS {
			return bad(fmt.Sprintf("key attribute %s has type %s", n, d.AttributeType))
		}
	}
	return nil
}
