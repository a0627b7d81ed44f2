// Package localenv sets up the two-Region global-table world on one machine:
// DynamoDB Local (ddblocal), the fake KMS on a loopback port with a
// multi-Region key (primary in us-east-1, replica in us-west-2), and tables
// created in both Regions with streams, replicated both ways (replicator).
package localenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/internal/ddblocal"
	"github.com/ddbec/ddbec-go/internal/fakekms"
	"github.com/ddbec/ddbec-go/internal/replicator"
)

// The two Regions of the simulated global table.
const (
	East = "us-east-1"
	West = "us-west-2"
)

// Env is a running local world. Close it when done.
type Env struct {
	DDB         *ddblocal.Instance
	KMS         *fakekms.Server
	KMSEndpoint string
	// PrimaryARN (us-east-1) and ReplicaARN (us-west-2) are one MRK.
	PrimaryARN, ReplicaARN string

	kmsServer *http.Server
	reps      []*replicator.Replicator
}

// EnvKMSEndpoint names a running fake KMS (e.g. the docker-compose one) to
// use instead of an in-process one; then Env.KMS is nil.
const EnvKMSEndpoint = "DDBEC_KMS_ENDPOINT"

// Start starts DynamoDB Local (or reaches DDBEC_DYNAMODB_ENDPOINT) and the
// fake KMS (or reaches DDBEC_KMS_ENDPOINT), and creates the multi-Region key.
func Start(ctx context.Context) (*Env, error) {
	ddb, err := ddblocal.Start(ctx)
	if err != nil {
		return nil, err
	}
	if ep := os.Getenv(EnvKMSEndpoint); ep != "" {
		e := &Env{DDB: ddb, KMSEndpoint: ep}
		created, err := e.KMSClient(East).CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
		if err != nil {
			ddb.Stop()
			return nil, fmt.Errorf("localenv: %s=%s: %w", EnvKMSEndpoint, ep, err)
		}
		e.PrimaryARN = *created.KeyMetadata.Arn
		rep, err := e.KMSClient(East).ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: created.KeyMetadata.KeyId, ReplicaRegion: aws.String(West)})
		if err != nil {
			ddb.Stop()
			return nil, err
		}
		e.ReplicaARN = *rep.ReplicaKeyMetadata.Arn
		return e, nil
	}
	e := &Env{DDB: ddb, KMS: fakekms.New(fakekms.Options{Seed: []byte("ddbec-localenv")})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ddb.Stop()
		return nil, err
	}
	e.kmsServer = &http.Server{Handler: e.KMS, ReadHeaderTimeout: 10 * time.Second}
	go e.kmsServer.Serve(ln)
	e.KMSEndpoint = "http://" + ln.Addr().String()
	e.PrimaryARN = e.KMS.CreateKey(East, true)
	if e.ReplicaARN, err = e.KMS.ReplicateKey(e.PrimaryARN, West); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close stops replicators, the fake KMS and DynamoDB Local, and returns the
// first replication error, if any.
func (e *Env) Close() error {
	var errs []error
	for _, r := range e.reps {
		errs = append(errs, r.Stop())
	}
	if e.kmsServer != nil {
		e.kmsServer.Close()
	}
	e.DDB.Stop()
	return errors.Join(errs...)
}

// ReplicationErr returns the first error of any replicator, if one stopped.
func (e *Env) ReplicationErr() error {
	for _, r := range e.reps {
		if err := r.Err(); err != nil {
			return err
		}
	}
	return nil
}

// DynamoDB returns a plain DynamoDB client for region.
func (e *Env) DynamoDB(region string, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return e.DDB.Client(region, optFns...)
}

// KMSClient returns a KMS client for the fake KMS in region.
func (e *Env) KMSClient(region string) *kms.Client {
	return fakekms.NewClient(e.KMSEndpoint, region)
}

// Key is a table's key attribute.
type Key struct {
	Name string
	Type types.ScalarAttributeType
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
		r, err := replicator.Start(ctx, table, e.DynamoDB(dir[0]), e.DDB.StreamsClient(dir[0]), e.DynamoDB(dir[1]))
		if err != nil {
			return err
		}
		e.reps = append(e.reps, r)
	}
	return nil
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
