package provider_test

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/provider"
)

// A reader in us-west-2 uses its own Region's replica of the multi-Region
// key that the us-east-1 writer uses; every KMS call stays in us-west-2.
func ExampleNewDirectKMS() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-west-2"))
	if err != nil {
		panic(err)
	}
	p, err := provider.NewDirectKMS(kms.NewFromConfig(cfg),
		"arn:aws:kms:us-west-2:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab")
	if err != nil {
		panic(err) // e.g. the us-east-1 ARN given to a us-west-2 client
	}
	client, err := ddbenc.NewClient(dynamodb.NewFromConfig(cfg), []ddbenc.TableConfig{{
		TableName: "Employees", // key schema and indexes from DescribeTable
		Actions:   actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"team": actions.SignOnly}},
		Provider:  p,
	}})
	if err != nil {
		panic(err)
	}
	_ = client // use it as a *dynamodb.Client
}

// The most-recent provider calls KMS once per material version and TTL
// instead of once per item: its materials live in a MetaStore table whose
// items are protected by a DirectKMS provider.
func ExampleNewMostRecent() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		panic(err)
	}
	kmsP, err := provider.NewDirectKMS(kms.NewFromConfig(cfg),
		"arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab")
	if err != nil {
		panic(err)
	}
	ddb := dynamodb.NewFromConfig(cfg)
	store, err := provider.NewMetaStore(ddb, "MetaStore", kmsP)
	if err != nil {
		panic(err)
	}
	p, err := provider.NewMostRecent(store, "employees", func(o *provider.MostRecentOptions) { o.TTL = 5 * time.Minute })
	if err != nil {
		panic(err)
	}
	client, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{{
		TableName: "Employees", Actions: actions.Map{Default: actions.EncryptAndSign}, Provider: p,
	}})
	if err != nil {
		panic(err)
	}
	_ = client
}
