package provider

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/signing"
)

// MetaStore item layout (docs/legacy-format.md §6.6).
const (
	metaName    = "N" // partition key: material name (S)
	metaVersion = "V" // sort key: version (N)
	metaType    = "t" // material type version, "0"
	metaEnc     = "enc"
	metaEncAlg  = "encAlg"
	metaInt     = "int"
	metaIntAlg  = "intAlg"
)

// MetaStoreAPI is the part of the DynamoDB client a MetaStore calls.
type MetaStoreAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ MetaStoreAPI = (*dynamodb.Client)(nil)

// MaterialStore holds versioned materials for the most-recent provider. A
// MetaStore is one; tests and offline tools may provide others.
type MaterialStore interface {
	// Provider returns the materials of (name, version); ErrWrongKey wrapped
	// if there are none.
	Provider(ctx context.Context, name string, version int64) (ddbenc.MaterialsProvider, error)
	// MaxVersion returns the newest version of name; ok is false if none.
	MaxVersion(ctx context.Context, name string) (version int64, ok bool, err error)
	// GetOrCreate returns version's materials, creating them if absent. When
	// two callers race, both get the version that was stored first.
	GetOrCreate(ctx context.Context, name string, version int64) (ddbenc.MaterialsProvider, error)
}

// MetaStore keeps versioned wrapped-provider materials in a DynamoDB table
// with the legacy schema (partition key N (S), sort key V (N)), encrypted
// under another provider (typically DirectKMS): the legacy Java and Python
// MetaStore. It is safe for concurrent use.
type MetaStore struct {
	api   MetaStoreAPI
	table string
	enc   *ddbenc.Encryptor
}

// NewMetaStore returns a MetaStore for table whose items are protected by p.
func NewMetaStore(api MetaStoreAPI, table string, p ddbenc.MaterialsProvider) (*MetaStore, error) {
	if api == nil {
		return nil, fmt.Errorf("%w: provider: a DynamoDB client is required", ddbenc.ErrInvalidConfig)
	}
	// The items: N and V signed, everything else encrypted and signed.
	enc, err := ddbenc.NewEncryptor(ddbenc.TableConfig{
		TableName: table, PartitionKey: metaName, SortKey: metaVersion,
		Actions: actions.Map{Default: actions.EncryptAndSign}, Provider: p,
	})
	if err != nil {
		return nil, err
	}
	return &MetaStore{api: api, table: table, enc: enc}, nil
}

// MetaStoreTableAPI is the part of the DynamoDB client CreateMetaStoreTable
// calls.
type MetaStoreTableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	dynamodb.DescribeTableAPIClient
}

var _ MetaStoreTableAPI = (*dynamodb.Client)(nil)

// CreateMetaStoreTableOptions are the optional settings of
// CreateMetaStoreTable.
type CreateMetaStoreTableOptions struct {
	// Stream adds a NEW_AND_OLD_IMAGES stream, for global tables.
	Stream bool
}

// CreateMetaStoreTable creates an on-demand MetaStore table (N S, V N) and
// waits until it is active.
func CreateMetaStoreTable(ctx context.Context, api MetaStoreTableAPI, table string, optFns ...func(*CreateMetaStoreTableOptions)) error {
	var opts CreateMetaStoreTableOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	in := &dynamodb.CreateTableInput{
		TableName: &table,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(metaName), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(metaVersion), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(metaName), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(metaVersion), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	}
	if opts.Stream {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}
	}
	if _, err := api.CreateTable(ctx, in); err != nil {
		return err
	}
	return dynamodb.NewTableExistsWaiter(api).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, 2*time.Minute)
}

func metaKey(name string, version int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		metaName:    &types.AttributeValueMemberS{Value: name},
		metaVersion: &types.AttributeValueMemberN{Value: strconv.FormatInt(version, 10)},
	}
}

// Provider reads, verifies and decrypts the materials of (name, version).
func (m *MetaStore) Provider(ctx context.Context, name string, version int64) (ddbenc.MaterialsProvider, error) {
	out, err := m.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &m.table, Key: metaKey(name, version), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("%w: provider: MetaStore %s: reading %s#%d: %w", ddbenc.ErrKeyUnavailable, m.table, name, version, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("%w: provider: MetaStore %s has no material %s#%d", ddbenc.ErrWrongKey, m.table, name, version)
	}
	return m.providerFromItem(ctx, out.Item, name, version)
}

// MaxVersion queries the newest version of name.
func (m *MetaStore) MaxVersion(ctx context.Context, name string) (int64, bool, error) {
	out, err := m.api.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &m.table,
		KeyConditionExpression:    aws.String("#n = :n"),
		ExpressionAttributeNames:  map[string]string{"#n": metaName, "#v": metaVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberS{Value: name}},
		ProjectionExpression:      aws.String("#v"),
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return 0, false, fmt.Errorf("%w: provider: MetaStore %s: newest version of %s: %w", ddbenc.ErrKeyUnavailable, m.table, name, err)
	}
	if len(out.Items) == 0 {
		return 0, false, nil
	}
	n, ok := out.Items[0][metaVersion].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false, fmt.Errorf("%w: provider: MetaStore %s: version is not a number", ddbenc.ErrMalformed, m.table)
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: provider: MetaStore %s: version is not an integer", ddbenc.ErrMalformed, m.table)
	}
	return v, true, nil
}

// GetOrCreate stores new random materials for (name, version) with a
// conditional put; if another writer stored that version first, its
// materials are returned instead.
func (m *MetaStore) GetOrCreate(ctx context.Context, name string, version int64) (ddbenc.MaterialsProvider, error) {
	if version < 0 {
		return nil, fmt.Errorf("%w: provider: negative material version", ddbenc.ErrInvalidConfig)
	}
	encKey, macKey := make([]byte, 32), make([]byte, 32)
	if _, err := rand.Read(encKey); err != nil {
		return nil, err
	}
	if _, err := rand.Read(macKey); err != nil {
		return nil, err
	}
	plain := metaKey(name, version)
	plain[metaType] = &types.AttributeValueMemberS{Value: "0"}
	plain[metaEnc] = &types.AttributeValueMemberB{Value: encKey}
	plain[metaEncAlg] = &types.AttributeValueMemberS{Value: "AES"}
	plain[metaInt] = &types.AttributeValueMemberB{Value: macKey}
	plain[metaIntAlg] = &types.AttributeValueMemberS{Value: "HmacSHA256"}
	stored, err := m.enc.EncryptItem(ctx, plain)
	if err != nil {
		return nil, err
	}
	_, err = m.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &m.table,
		Item:                     stored,
		ConditionExpression:      aws.String("attribute_not_exists(#n) AND attribute_not_exists(#v)"),
		ExpressionAttributeNames: map[string]string{"#n": metaName, "#v": metaVersion},
	})
	var conflict *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &conflict):
		return m.Provider(ctx, name, version) // another writer won the race
	case err != nil:
		return nil, fmt.Errorf("%w: provider: MetaStore %s: storing %s#%d: %w", ddbenc.ErrKeyUnavailable, m.table, name, version, err)
	}
	return materialsProvider(encKey, "HmacSHA256", macKey, name, version)
}

// providerFromItem verifies and decrypts a stored MetaStore item and returns
// the wrapped provider of that material version: enc as AES key-encryption
// key, int as HMAC key, and the description entry amzn-ddb-meta-id =
// "name#version".
func (m *MetaStore) providerFromItem(ctx context.Context, stored map[string]types.AttributeValue, name string, version int64) (ddbenc.MaterialsProvider, error) {
	item, err := m.enc.DecryptItem(ctx, stored)
	if err != nil {
		return nil, err
	}
	bad := func(what string) error {
		return fmt.Errorf("%w: provider: MetaStore material %s#%d: %s", ddbenc.ErrMalformed, name, version, what)
	}
	if t, ok := item[metaType].(*types.AttributeValueMemberS); !ok || t.Value != "0" {
		return nil, bad("unsupported material type (t must be \"0\")")
	}
	if a, ok := item[metaEncAlg].(*types.AttributeValueMemberS); !ok || a.Value != "AES" {
		return nil, bad("encAlg must be AES")
	}
	encKey, ok := item[metaEnc].(*types.AttributeValueMemberB)
	if !ok {
		return nil, bad("enc is not binary")
	}
	macAlg, ok := item[metaIntAlg].(*types.AttributeValueMemberS)
	if !ok {
		return nil, bad("intAlg is not a string")
	}
	macKey, ok := item[metaInt].(*types.AttributeValueMemberB)
	if !ok {
		return nil, bad("int is not binary")
	}
	p, err := materialsProvider(encKey.Value, macAlg.Value, macKey.Value, name, version)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", bad("unusable keys"), err)
	}
	return p, nil
}

func materialsProvider(encKey []byte, macAlg string, macKey []byte, name string, version int64) (*Wrapped, error) {
	kek, err := AESWrappingKey(encKey)
	if err != nil {
		return nil, err
	}
	mac, err := signing.NewHMAC(macAlg, macKey)
	if err != nil {
		return nil, err
	}
	return NewWrapped(kek, mac, nil, func(o *WrappedOptions) {
		o.MaterialDescription = map[string]string{legacy.MetaID: name + "#" + strconv.FormatInt(version, 10)}
	})
}

var _ MaterialStore = (*MetaStore)(nil)
