package ddbenctest_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/ddbenctest"
)

func TestStartAndRegionsAreSeparate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not starting DynamoDB Local")
	}
	ctx := context.Background()
	inst := ddbenctest.StartDynamoDB(t)
	east, west := inst.Client("us-east-1"), inst.Client("us-west-2")
	_, err := east.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("harness"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := east.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("harness")}); err != nil {
		t.Fatalf("us-east-1 table: %v", err)
	}
	if _, err := west.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("harness")}); err == nil {
		t.Fatal("us-west-2 sees the us-east-1 table; Regions are not separate")
	}
}
