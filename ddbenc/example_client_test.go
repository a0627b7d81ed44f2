package ddbenc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/provider"
	"github.com/ddbec/ddbec-go/signing"
)

// memDynamoDB is an in-memory stand-in for *dynamodb.Client that keeps the
// items of one table with partition key "id", so that the examples run
// without DynamoDB. Real code passes dynamodb.NewFromConfig(cfg).
type memDynamoDB struct {
	ddbenc.DynamoDBAPI // the operations the examples do not use
	items              map[string]map[string]types.AttributeValue
}

func (m *memDynamoDB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	m.items[in.Item["id"].(*types.AttributeValueMemberS).Value] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

func (m *memDynamoDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: m.items[in.Key["id"].(*types.AttributeValueMemberS).Value]}, nil
}

// exampleProvider returns a static provider with fixed test keys; production
// code uses provider.NewDirectKMS with the local Region's replica of a
// multi-Region key.
func exampleProvider() ddbenc.MaterialsProvider {
	mac, _ := signing.NewHMAC("HmacSHA256", bytes.Repeat([]byte{2}, 32))
	p, _ := provider.NewStatic(bytes.Repeat([]byte{1}, 32), mac, nil)
	return p
}

func ExampleNewClient() {
	ctx := context.Background()
	ddb := &memDynamoDB{items: map[string]map[string]types.AttributeValue{}}
	client, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{{
		TableName:    "Employees",
		PartitionKey: "id",
		Actions: actions.Map{
			Default:    actions.EncryptAndSign,
			Attributes: map[string]actions.Action{"team": actions.SignOnly, "visits": actions.DoNothing},
		},
		Provider: exampleProvider(),
	}})
	if err != nil {
		panic(err)
	}
	_, err = client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("Employees"), Item: map[string]types.AttributeValue{
		"id":     &types.AttributeValueMemberS{Value: "e-1"},
		"ssn":    &types.AttributeValueMemberS{Value: "123-45-6789"},
		"team":   &types.AttributeValueMemberS{Value: "payments"},
		"visits": &types.AttributeValueMemberN{Value: "3"},
	}})
	if err != nil {
		panic(err)
	}
	// What DynamoDB stored: the SSN is ciphertext, the rest plaintext, plus
	// the signature and the material description.
	stored := ddb.items["e-1"]
	names := make([]string, 0, len(stored))
	for name := range stored {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Printf("%s %T\n", name, stored[name])
	}
	// Output:
	// *amzn-ddb-map-desc* *types.AttributeValueMemberB
	// *amzn-ddb-map-sig* *types.AttributeValueMemberB
	// id *types.AttributeValueMemberS
	// ssn *types.AttributeValueMemberB
	// team *types.AttributeValueMemberS
	// visits *types.AttributeValueMemberN
}

func ExampleClient_GetItem() {
	ctx := context.Background()
	ddb := &memDynamoDB{items: map[string]map[string]types.AttributeValue{}}
	client, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{{
		TableName: "Employees", PartitionKey: "id",
		Actions:  actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"team": actions.SignOnly}},
		Provider: exampleProvider(),
	}})
	if err != nil {
		panic(err)
	}
	key := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "e-1"}}
	_, err = client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("Employees"), Item: map[string]types.AttributeValue{
		"id": key["id"], "ssn": &types.AttributeValueMemberS{Value: "123-45-6789"}, "team": &types.AttributeValueMemberS{Value: "payments"},
	}})
	if err != nil {
		panic(err)
	}

	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("Employees"), Key: key})
	if err != nil {
		panic(err)
	}
	fmt.Println("ssn:", out.Item["ssn"].(*types.AttributeValueMemberS).Value)

	// Someone with write access moves the team of the stored item: the
	// signature no longer verifies, and nothing is returned.
	ddb.items["e-1"]["team"] = &types.AttributeValueMemberS{Value: "admins"}
	out, err = client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("Employees"), Key: key})
	fmt.Println("tampered:", errors.Is(err, ddbenc.ErrSignature), out == nil)
	// Output:
	// ssn: 123-45-6789
	// tampered: true true
}
