package ddbenctest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// The two Regions of the simulated global table.
const (
	East = "us-east-1"
	West = "us-west-2"
)

// EnvKMSEndpoint is the environment variable that the examples and
// docker-compose use to name a fake KMS already running (cmd/fakekms); pass
// its value as EnvOptions.KMSEndpoint. NewEnv itself does not read it.
const EnvKMSEndpoint = "DDBEC_KMS_ENDPOINT"

// Env is the two-Region global-table world on one machine: DynamoDB Local,
// the fake KMS with one multi-Region key (primary in us-east-1, replica in
// us-west-2), and the global tables created with CreateGlobalTable. Close
// it when done (StartEnv does that for tests).
type Env struct {
	// DynamoDBLocal serves both Regions.
	DynamoDBLocal *DynamoDB
	// KMS is the in-process fake KMS: its Calls, Count, Inject and the other
	// hooks see every KMS request of the Env's clients. It is nil when
	// EnvOptions.KMSEndpoint named another one.
	KMS *KMSServer
	// KMSEndpoint is the fake KMS's URL (KMS.URL, or EnvOptions.KMSEndpoint).
	KMSEndpoint string
	// PrimaryARN (us-east-1) and ReplicaARN (us-west-2) are one MRK.
	PrimaryARN, ReplicaARN string

	mu   sync.Mutex
	reps []*Replicator
}

// EnvOptions configure NewEnv. The zero value is an in-process fake KMS
// with a fixed seed.
type EnvOptions struct {
	// KMS configures the in-process fake KMS (default Seed "ddbenctest").
	KMS KMSOptions
	// KMSEndpoint, if set, is a fake KMS already running (cmd/fakekms) to
	// use instead of an in-process one; then Env.KMS is nil and the MRK is
	// created through the KMS API.
	KMSEndpoint string
}

// StartEnv returns a running two-Region world with an in-process fake KMS
// (see NewEnv) and closes it when tb and its subtests end, failing tb if a
// replicator met an error. If DynamoDB Local cannot start it skips tb with
// the reason, or fails it when CI=true.
func StartEnv(tb testing.TB) *Env {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ddb, err := NewDynamoDB(ctx)
	if err != nil {
		SkipUnavailable(tb, "DynamoDB Local", err)
		return nil
	}
	e, err := newEnv(ctx, ddb, EnvOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("ddbenctest: %v", err)
		}
	})
	return e
}

// NewEnv starts DynamoDB Local (or reaches DDBEC_DYNAMODB_ENDPOINT) and the
// fake KMS (or reaches opts.KMSEndpoint), and creates the multi-Region key.
func NewEnv(ctx context.Context, opts EnvOptions) (*Env, error) {
	ddb, err := NewDynamoDB(ctx)
	if err != nil {
		return nil, err
	}
	return newEnv(ctx, ddb, opts)
}

func newEnv(ctx context.Context, ddb *DynamoDB, opts EnvOptions) (*Env, error) {
	if ep := opts.KMSEndpoint; ep != "" {
		e := &Env{DynamoDBLocal: ddb, KMSEndpoint: ep}
		created, err := e.KMSClient(East).CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
		if err != nil {
			ddb.Close()
			return nil, fmt.Errorf("ddbenctest: fake KMS at %s: %w", ep, err)
		}
		e.PrimaryARN = *created.KeyMetadata.Arn
		rep, err := e.KMSClient(East).ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: created.KeyMetadata.KeyId, ReplicaRegion: aws.String(West)})
		if err != nil {
			ddb.Close()
			return nil, fmt.Errorf("ddbenctest: fake KMS at %s: %w", ep, err)
		}
		e.ReplicaARN = *rep.ReplicaKeyMetadata.Arn
		return e, nil
	}
	if len(opts.KMS.Seed) == 0 {
		opts.KMS.Seed = []byte("ddbenctest")
	}
	e := &Env{DynamoDBLocal: ddb, KMS: NewKMSServer(opts.KMS)}
	e.KMSEndpoint = e.KMS.URL
	e.PrimaryARN = e.KMS.CreateKey(East, true)
	var err error
	if e.ReplicaARN, err = e.KMS.ReplicateKey(e.PrimaryARN, West); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close stops the replicators, the fake KMS and DynamoDB Local, and returns
// the first replication error, if any.
func (e *Env) Close() error {
	e.mu.Lock()
	reps := e.reps
	e.reps = nil
	e.mu.Unlock()
	var errs []error
	for _, r := range reps {
		errs = append(errs, r.Close())
	}
	if e.KMS != nil {
		e.KMS.Close()
	}
	errs = append(errs, e.DynamoDBLocal.Close())
	return errors.Join(errs...)
}

// ReplicationErr returns the first error of any replicator, if one stopped.
func (e *Env) ReplicationErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.reps {
		if err := r.Err(); err != nil {
			return err
		}
	}
	return nil
}

// DynamoDB returns a plain DynamoDB client for region.
func (e *Env) DynamoDB(region string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return e.DynamoDBLocal.Client(region, optFns...)
}

// KMSClient returns a KMS client for the fake KMS in region.
func (e *Env) KMSClient(region string, optFns ...func(*kms.Options)) *kms.Client {
	return NewKMSClient(e.KMSEndpoint, region, optFns...)
}

// Key is a table's key attribute.
type Key struct {
	Name string
	Type types.ScalarAttributeType
}

// StartGlobalTable is CreateGlobalTable for tests: it fails tb on error.
// The replicators stop when the Env is closed.
func (e *Env) StartGlobalTable(tb testing.TB, table string, partition, sort Key) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := e.CreateGlobalTable(ctx, table, partition, sort); err != nil {
		tb.Fatalf("ddbenctest: global table %s: %v", table, err)
	}
}

// CreateGlobalTable creates table in both Regions with streams and starts a
// replicator each way. sort may be zero.
func (e *Env) CreateGlobalTable(ctx context.Context, table string, partition, sort Key) error {
	for _, region := range []string{East, West} {
		if err := CreateTable(ctx, e.DynamoDB(region), table, partition, sort, true); err != nil {
			return fmt.Errorf("%s: %w", region, err)
		}
	}
	for _, dir := range [][2]string{{East, West}, {West, East}} {
		r, err := NewReplicator(ctx, table, e.DynamoDB(dir[0]), e.DynamoDBLocal.StreamsClient(dir[0]), e.DynamoDB(dir[1]))
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.reps = append(e.reps, r)
		e.mu.Unlock()
	}
	return nil
}

// WaitForItem is the package's WaitForItem for tests, with the plain
// client of region: it returns the item once replicated (and accepted by
// check, if not nil) or fails tb after timeout.
func (e *Env) WaitForItem(tb testing.TB, region, table string, key map[string]types.AttributeValue, timeout time.Duration, check func(map[string]types.AttributeValue) bool) map[string]types.AttributeValue {
	tb.Helper()
	item, err := WaitForItem(context.Background(), e.DynamoDB(region), table, key, timeout, check)
	if err != nil {
		if rerr := e.ReplicationErr(); rerr != nil {
			err = fmt.Errorf("%w (%v)", err, rerr)
		}
		tb.Fatalf("ddbenctest: %s in %s: %v", table, region, err)
	}
	return item
}

// CreateTable creates an on-demand table (with a NEW_AND_OLD_IMAGES stream
// when stream is true) and waits until it is active.
func CreateTable(ctx context.Context, c *dynamodb.Client, table string, partition, sort Key, stream bool) error {
	in := &dynamodb.CreateTableInput{
		TableName:            &table,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: &partition.Name, AttributeType: partition.Type}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: &partition.Name, KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}
	if sort.Name != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: &sort.Name, AttributeType: sort.Type})
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: &sort.Name, KeyType: types.KeyTypeRange})
	}
	if stream {
		in.StreamSpecification = &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}
	}
	if _, err := c.CreateTable(ctx, in); err != nil {
		return err
	}
	return dynamodb.NewTableExistsWaiter(c).Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, time.Minute)
}

// WaitForItem polls a plain client until the item with key exists (and, if
// check is not nil, check accepts it), or the timeout passes.
func WaitForItem(ctx context.Context, c *dynamodb.Client, table string, key map[string]types.AttributeValue, timeout time.Duration, check func(map[string]types.AttributeValue) bool) (map[string]types.AttributeValue, error) {
	deadline := time.Now().Add(timeout)
	for {
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, err
		}
		if out.Item != nil && (check == nil || check(out.Item)) {
			return out.Item, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("item not replicated to %s within %s", table, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
