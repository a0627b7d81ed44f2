package ddbenc_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/provider"
	"github.com/ddbec/ddbec-go/signing"
)

func ExampleEncryptor() {
	ctx := context.Background()
	// In production the keys come from KMS (provider.NewDirectKMS) or a key
	// store; fixed bytes keep the example self-contained.
	mac, _ := signing.NewHMAC("HmacSHA256", bytes.Repeat([]byte{2}, 32))
	p, _ := provider.NewStatic(bytes.Repeat([]byte{1}, 32), mac, nil)

	enc, err := ddbenc.NewEncryptor(ddbenc.TableConfig{
		TableName:    "Customers",
		PartitionKey: "customer_id",
		Actions: actions.Map{
			Default:    actions.EncryptAndSign,
			Attributes: map[string]actions.Action{"region": actions.SignOnly, "ttl": actions.DoNothing},
		},
		Provider: p,
	})
	if err != nil {
		panic(err)
	}
	stored, err := enc.EncryptItem(ctx, map[string]types.AttributeValue{
		"customer_id": &types.AttributeValueMemberS{Value: "c-42"},
		"email":       &types.AttributeValueMemberS{Value: "ada@example.com"},
		"region":      &types.AttributeValueMemberS{Value: "eu"},
		"ttl":         &types.AttributeValueMemberN{Value: "1790000000"},
	})
	if err != nil {
		panic(err)
	}
	_, isBinary := stored["email"].(*types.AttributeValueMemberB)
	fmt.Println("email stored encrypted:", isBinary)

	plain, err := enc.DecryptItem(ctx, stored)
	if err != nil {
		panic(err)
	}
	fmt.Println("email:", plain["email"].(*types.AttributeValueMemberS).Value)
	// Output:
	// email stored encrypted: true
	// email: ada@example.com
}
