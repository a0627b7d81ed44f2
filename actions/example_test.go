package actions_test

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/provider"
	"github.com/ddbec/ddbec-go/signing"
)

// Customer is marshalled with attributevalue.MarshalMap; its ddbenc tags
// say what the encryptor does with each attribute.
type Customer struct {
	ID     string `dynamodbav:"customer_id"`                 // the partition key: always signed, never encrypted
	Email  string `dynamodbav:"email"`                       // no tag: the default, encrypt
	Region string `dynamodbav:"region" ddbenc:"sign"`        // plaintext, signed (an index key)
	TTL    int64  `dynamodbav:"ttl,omitempty" ddbenc:"none"` // plaintext, unsigned: DynamoDB TTL may delete it
	Cache  string `dynamodbav:"-"`                           // not an attribute
	Notes  string `dynamodbav:"notes" ddbenc:"encrypt"`      // explicit
}

func ExampleFromStruct() {
	m, err := actions.FromStruct(Customer{}) // or actions.For[Customer]()
	if err != nil {
		panic(err)
	}
	for _, name := range slices.Sorted(maps.Keys(m.Attributes)) {
		fmt.Println(name, m.Attributes[name])
	}
	fmt.Println("default:", m.Default)

	// In production the keys come from KMS (provider.NewDirectKMS).
	mac, _ := signing.NewHMAC("HmacSHA256", bytes.Repeat([]byte{2}, 32))
	p, _ := provider.NewStatic(bytes.Repeat([]byte{1}, 32), mac, nil)
	_, err = ddbenc.NewEncryptor(ddbenc.TableConfig{
		TableName:    "Customers",
		PartitionKey: "customer_id",
		Indexes:      []ddbenc.Index{{Name: "byRegion", PartitionKey: "region"}},
		Actions:      m,
		Provider:     p,
	})
	fmt.Println("config error:", err)
	// Output:
	// notes encrypt_and_sign
	// region sign
	// ttl do_nothing
	// default: encrypt_and_sign
	// config error: <nil>
}

func ExampleFor() {
	type Order struct {
		ID   string `dynamodbav:"id"`
		Card string `dynamodbav:"card" ddbenc:"encrypted"` // a typo
	}
	_, err := actions.For[Order](func(o *actions.StructOptions) { o.Default = actions.SignOnly })
	fmt.Println(err)
	// Output:
	// actions: type actions_test.Order field Card (attribute "card"): unknown ddbenc tag value: "encrypted" (want encrypt, sign, sign-include or none)
}
