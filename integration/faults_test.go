package integration_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/provider"
)

// TestKMSFaults: each KMS failure gives a typed error; PutItem sends nothing
// to DynamoDB (the table stays unchanged) and GetItem returns no plaintext.
func TestKMSFaults(t *testing.T) {
	need(t)
	type fault struct {
		name string
		// arm makes KMS fail for the next call and returns the context, the
		// provider to use and a cleanup.
		arm    func(t *testing.T) (context.Context, ddbenc.MaterialsProvider, func())
		want   error
		wantAs func(error) bool
	}
	is := func(target any) func(error) bool { return func(err error) bool { return errors.As(err, target) } }
	newKey := func() string { return env.KMS.CreateKey(ddbenctest.East, true) }
	direct := func(t *testing.T, region, keyID string, attempts int, optFns ...func(*provider.DirectKMSOptions)) ddbenc.MaterialsProvider {
		p, err := provider.NewDirectKMS(ddbenctest.NewKMSClient(env.KMSEndpoint, region, func(o *kms.Options) { o.RetryMaxAttempts = attempts }), keyID, optFns...)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	faults := []fault{
		{"throttling beyond the SDK's retries", func(t *testing.T) (context.Context, ddbenc.MaterialsProvider, func()) {
			env.KMS.Inject(ddbenctest.KMSFault{Kind: ddbenctest.FaultThrottle, N: 3})
			return context.Background(), direct(t, ddbenctest.East, newKey(), 3), env.KMS.Reset
		}, ddbenc.ErrKeyUnavailable, func(err error) bool { return strings.Contains(err.Error(), "ThrottlingException") }},
		{"500 after retries", func(t *testing.T) (context.Context, ddbenc.MaterialsProvider, func()) {
			env.KMS.Inject(ddbenctest.KMSFault{Kind: ddbenctest.FaultInternal, N: 2})
			return context.Background(), direct(t, ddbenctest.East, newKey(), 2), env.KMS.Reset
		}, ddbenc.ErrKeyUnavailable, is(new(*kmstypes.KMSInternalException))},
		{"latency past the deadline", func(t *testing.T) (context.Context, ddbenc.MaterialsProvider, func()) {
			env.KMS.Inject(ddbenctest.KMSFault{Kind: ddbenctest.FaultLatency, Delay: 3 * time.Second, N: 1})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			return ctx, direct(t, ddbenctest.East, newKey(), 1), func() { cancel(); env.KMS.Reset() }
		}, context.DeadlineExceeded, nil},
		{"context cancelled", func(t *testing.T) (context.Context, ddbenc.MaterialsProvider, func()) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, direct(t, ddbenctest.East, newKey(), 1), func() {}
		}, context.Canceled, nil},
		{"disabled key", func(t *testing.T) (context.Context, ddbenc.MaterialsProvider, func()) {
			k := newKey()
			env.KMS.SetKeyState(k, ddbenctest.KeyStateDisabled)
			return context.Background(), direct(t, ddbenctest.East, k, 1), func() {}
		}, ddbenc.ErrKeyUnavailable, is(new(*kmstypes.DisabledException))},
		{"key pending deletion", func(t *testing.T) (context.Context, ddbenc.MaterialsProvider, func()) {
			k := newKey()
			env.KMS.SetKeyState(k, ddbenctest.KeyStatePendingDeletion)
			return context.Background(), direct(t, ddbenctest.East, k, 1), func() {}
		}, ddbenc.ErrKeyUnavailable, is(new(*kmstypes.KMSInvalidStateException))},
		{"replica still Creating", func(t *testing.T) (context.Context, ddbenc.MaterialsProvider, func()) {
			rep, err := env.KMS.ReplicateKey(newKey(), ddbenctest.West)
			if err != nil {
				t.Fatal(err)
			}
			env.KMS.SetKeyState(rep, ddbenctest.KeyStateCreating)
			return context.Background(), direct(t, ddbenctest.West, rep, 1), func() {}
		}, ddbenc.ErrKeyUnavailable, is(new(*kmstypes.KMSInvalidStateException))},
		{"client for the wrong Region (key id without ARN)", func(t *testing.T) (context.Context, ddbenc.MaterialsProvider, func()) {
			k := newKey()
			id := k[strings.LastIndex(k, "/")+1:]
			return context.Background(), direct(t, ddbenctest.West, id, 1, func(o *provider.DirectKMSOptions) { o.AllowKeyIDOrAlias = true }), func() {}
		}, ddbenc.ErrWrongKey, is(new(*kmstypes.NotFoundException))},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			table := newTable(t)
			ddb, cnt := plain(ddbenctest.East)
			// PutItem through the faulty provider.
			ctx, p, cleanup := f.arm(t)
			c, err := ddbenc.NewClient(ddb, []ddbenc.TableConfig{{TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: p}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("f", 1, "never stored")})
			cleanup()
			if !errors.Is(err, f.want) || (f.wantAs != nil && !f.wantAs(err)) {
				t.Fatalf("PutItem: %v, want %v", err, f.want)
			}
			if n := cnt.n.Load(); n != 0 {
				t.Errorf("PutItem sent %d DynamoDB requests after the KMS failure", n)
			}
			if scan, err := ddb.Scan(context.Background(), &dynamodb.ScanInput{TableName: &table}); err != nil || len(scan.Items) != 0 {
				t.Errorf("table changed: %d items, %v", len(scan.Items), err)
			}

			// GetItem of a good item through the faulty provider: no plaintext.
			good, _, _ := wrapped(t, table)
			if _, err := good.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &table, Item: item("g", 1, "stored")}); err != nil {
				t.Fatal(err)
			}
			ctx, p, cleanup = f.arm(t)
			c, _ = ddbenc.NewClient(ddb, []ddbenc.TableConfig{{TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: p}})
			out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("g", 1)})
			cleanup()
			if err == nil || out != nil {
				t.Fatalf("GetItem: %v, %v; want an error and no output", out, err)
			}
			var de *ddbenc.Error
			if f.want != context.Canceled && f.want != context.DeadlineExceeded && !errors.As(err, &de) {
				t.Errorf("GetItem error is not a *ddbenc.Error: %v", err)
			}
		})
	}
}
