package integration_test

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

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/keyring"
	"github.com/ddbec/ddbec-go/keystore"
)

// keyStoreTable creates a fresh key store table in region and returns its
// name.
func keyStoreTable(t *testing.T, region string) string {
	t.Helper()
	name := newTableName(t) + "_keys"
	if err := keystore.CreateTable(context.Background(), env.DynamoDB(region), name); err != nil {
		t.Fatal(err)
	}
	return name
}

func newKeyStore(t *testing.T, cfg keystore.Config) *keystore.KeyStore {
	t.Helper()
	s, err := keystore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hierClient returns a Client serving the DB-ESDK table with the
// hierarchical keyring over source, and the cache it made (TTL ttl, clock
// now).
func hierClient(t *testing.T, table, region, branchKeyID string, source keyring.BranchKeySource, ttl time.Duration, now func() time.Time) *ddbenc.Client {
	t.Helper()
	cache, err := keyring.NewBranchKeyCache(source, keyring.BranchKeyCacheOptions{TTL: ttl, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.NewHierarchical(branchKeyID, cache)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ddbenc.NewClient(env.DynamoDB(region), []ddbenc.TableConfig{{
		TableName: table, PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat, Keyring: kr,
		Actions: actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
			"status": actions.SignOnly, "pageviews": actions.DoNothing,
		}},
		AllowedUnsignedAttributes: []string{"pageviews"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kmsSince returns the fake KMS calls after mark.
func kmsSince(mark int) []ddbenctest.KMSCall { return env.KMS.Calls()[mark:] }

func countOp(calls []ddbenctest.KMSCall, op string) int {
	n := 0
	for _, c := range calls {
		if c.Op == op {
			n++
		}
	}
	return n
}

type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestKeyStoreHierarchicalClient: a key store in DynamoDB Local under the
// fake KMS, the hierarchical keyring over a cache over it, 1000 writes and
// 1000 reads through the Client (KMS calls counted), then a rotation: new
// writes use the new version, items of the old version still read.
func TestKeyStoreHierarchicalClient(t *testing.T) {
	need(t)
	ctx := context.Background()
	ksTable := keyStoreTable(t, ddbenctest.East)
	// CreateTable on the existing table succeeds.
	if err := keystore.CreateTable(ctx, env.DynamoDB(ddbenctest.East), ksTable); err != nil {
		t.Fatalf("CreateTable on an existing key store table: %v", err)
	}
	// Not on a table with another schema.
	other := newTable(t)
	if err := keystore.CreateTable(ctx, env.DynamoDB(ddbenctest.East), other); !errors.Is(err, keystore.ErrTableSchema) {
		t.Errorf("CreateTable over a pk/sk table: %v, want ErrTableSchema", err)
	}
	ks := newKeyStore(t, keystore.Config{TableName: ksTable, DynamoDB: env.DynamoDB(ddbenctest.East), KMS: env.KMSClient(ddbenctest.East), KMSKeyARN: env.PrimaryARN})
	id, err := ks.CreateKey(ctx, keystore.CreateKeyOptions{EncryptionContext: map[string]string{"purpose": "integration"}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := ks.Describe(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	v1 := info.ActiveVersion
	if len(info.Versions) != 1 || info.Versions[0].Version != v1 || info.Versions[0].KMSARN != env.PrimaryARN || !info.HasBeacon {
		t.Fatalf("Describe after CreateKey: %+v", info)
	}

	table := newTable(t)
	clock := &manualClock{t: time.Now()}
	const ttl = 10 * time.Minute
	c := hierClient(t, table, ddbenctest.East, id, ks, ttl, clock.Now)

	const n = 1000
	mark := len(env.KMS.Calls())
	for i := range n {
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("p", i, fmt.Sprint("secret ", i))}); err != nil {
			t.Fatal(err)
		}
	}
	writes := kmsSince(mark)
	mark = len(env.KMS.Calls())
	for i := range n {
		got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("p", i)})
		if err != nil {
			t.Fatal(err)
		}
		if diff := avtest.DiffItems(item("p", i, fmt.Sprint("secret ", i)), got.Item); diff != "" {
			t.Fatalf("item %d (-want +got):\n%s", i, diff)
		}
	}
	reads := kmsSince(mark)
	t.Logf("KMS calls for %d writes: %d (Decrypt %d); for %d reads: %d (Decrypt %d); TTL %s", n, len(writes), countOp(writes, "Decrypt"), n, len(reads), countOp(reads, "Decrypt"), ttl)
	if len(writes) != 1 || countOp(writes, "Decrypt") != 1 || len(reads) != 1 || countOp(reads, "Decrypt") != 1 {
		t.Errorf("KMS calls: writes %d, reads %d; want one Decrypt each (one branch key version per TTL)", len(writes), len(reads))
	}
	for _, call := range append(writes, reads...) {
		if call.KeyID != env.PrimaryARN || call.Region != ddbenctest.East {
			t.Errorf("KMS %s with %s in %s", call.Op, call.KeyID, call.Region)
		}
	}

	// Rotate. Until the active entry expires writers keep the old version.
	v2, err := ks.VersionKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(ttl + time.Second)
	mark = len(env.KMS.Calls())
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("q", 0, "after rotation")}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("q", 0)})
	if err != nil || avtest.DiffItems(item("q", 0, "after rotation"), got.Item) != "" {
		t.Fatalf("item written after rotation: %v", err)
	}
	// The old version's entry has expired too: one more Decrypt for it.
	for i := range 10 {
		got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("p", i)})
		if err != nil || avtest.DiffItems(item("p", i, fmt.Sprint("secret ", i)), got.Item) != "" {
			t.Fatalf("item %d of version %s after rotation to %s: %v", i, v1, v2, err)
		}
	}
	if calls := kmsSince(mark); countOp(calls, "Decrypt") != 3 || len(calls) != 3 {
		t.Errorf("after rotation: %d KMS calls (%d Decrypt), want 3 Decrypt (new active, new version, old version)", len(calls), countOp(calls, "Decrypt"))
	}
	info, err = ks.Describe(ctx, id)
	if err != nil || info.ActiveVersion != v2 || len(info.Versions) != 2 {
		t.Errorf("Describe after VersionKey: %+v, %v", info, err)
	}
	// The item written after rotation names v2: a key store without v2's
	// version item cannot read it, one with it can (checked above).
	if _, err := ks.GetBranchKeyVersion(ctx, id, v2); err != nil {
		t.Error(err)
	}
}

// TestKeyStoreConcurrentFirstUse: 16 goroutines read items of one version
// through a cold cache: one KMS Decrypt.
func TestKeyStoreConcurrentFirstUse(t *testing.T) {
	need(t)
	ctx := context.Background()
	ksTable := keyStoreTable(t, ddbenctest.East)
	cfg := keystore.Config{TableName: ksTable, DynamoDB: env.DynamoDB(ddbenctest.East), KMS: env.KMSClient(ddbenctest.East), KMSKeyARN: env.PrimaryARN}
	ks := newKeyStore(t, cfg)
	id, err := ks.CreateKey(ctx, keystore.CreateKeyOptions{BranchKeyID: "concurrent"})
	if err != nil {
		t.Fatal(err)
	}
	table := newTable(t)
	writer := hierClient(t, table, ddbenctest.East, id, ks, time.Hour, nil)
	const g = 16
	for i := range g {
		if _, err := writer.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("c", i, "s")}); err != nil {
			t.Fatal(err)
		}
	}
	reader := hierClient(t, table, ddbenctest.East, id, newKeyStore(t, cfg), time.Hour, nil)
	mark := len(env.KMS.Calls())
	var wg sync.WaitGroup
	errs := make(chan error, g)
	start := make(chan struct{})
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := reader.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("c", i)})
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	calls := kmsSince(mark)
	t.Logf("%d concurrent first reads of one version: %d KMS calls", g, len(calls))
	if len(calls) != 1 || calls[0].Op != "Decrypt" {
		t.Errorf("%d concurrent first uses made %d KMS calls, want 1 Decrypt", g, len(calls))
	}
}

// TestKeyStoreReplicated: a key store created in us-east-1 under the MRK
// primary, replicated to us-west-2 as a global table, read there with the
// replica's ARN (MRK mode) and with MRK discovery: every KMS call of the
// reader goes to us-west-2 with the replica's ARN.
func TestKeyStoreReplicated(t *testing.T) {
	need(t)
	ctx := context.Background()
	ksTable := fmt.Sprintf("keystoreglobal%d", tableSeq.Add(1))
	if err := env.CreateGlobalTable(ctx, ksTable, ddbenctest.Key{Name: keystore.AttrBranchKeyID, Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: keystore.AttrType, Type: types.ScalarAttributeTypeS}); err != nil {
		t.Fatal(err)
	}
	for _, region := range []string{ddbenctest.East, ddbenctest.West} {
		if err := keystore.CreateTable(ctx, env.DynamoDB(region), ksTable); err != nil {
			t.Fatalf("%s: CreateTable on the replicated table: %v", region, err)
		}
	}
	east := newKeyStore(t, keystore.Config{TableName: ksTable, LogicalName: "global-keys", DynamoDB: env.DynamoDB(ddbenctest.East), KMS: env.KMSClient(ddbenctest.East), KMSMode: keystore.KMSMRK, KMSKeyARN: env.PrimaryARN})
	id, err := east.CreateKey(ctx, keystore.CreateKeyOptions{BranchKeyID: "global"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := east.Describe(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{keystore.TypeActive, keystore.TypeBeacon, keystore.TypeVersionPrefix + info.ActiveVersion} {
		if _, err := ddbenctest.WaitForItem(ctx, env.DynamoDB(ddbenctest.West), ksTable, map[string]types.AttributeValue{
			keystore.AttrBranchKeyID: &types.AttributeValueMemberS{Value: id}, keystore.AttrType: &types.AttributeValueMemberS{Value: typ},
		}, 30*time.Second, nil); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}

	table := newTable(t)
	writer := hierClient(t, table, ddbenctest.East, id, east, time.Hour, nil)
	want := item("g", 1, "replicated")
	if _, err := writer.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: want}); err != nil {
		t.Fatal(err)
	}
	stored, err := env.DynamoDB(ddbenctest.East).GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("g", 1)})
	if err != nil || stored.Item == nil {
		t.Fatal(err)
	}

	westClient := env.KMSClient(ddbenctest.West)
	for name, cfg := range map[string]keystore.Config{
		"MRK replica":   {KMSMode: keystore.KMSMRK, KMSKeyARN: env.ReplicaARN},
		"MRK discovery": {KMSMode: keystore.KMSMRKDiscovery},
	} {
		cfg.TableName, cfg.LogicalName, cfg.DynamoDB, cfg.KMS = ksTable, "global-keys", env.DynamoDB(ddbenctest.West), westClient
		west := newKeyStore(t, cfg)
		cache, err := keyring.NewBranchKeyCache(west, keyring.BranchKeyCacheOptions{TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		kr, err := keyring.NewHierarchical(id, cache)
		if err != nil {
			t.Fatal(err)
		}
		mark := len(env.KMS.Calls())
		got, err := dbesdkEncryptor(t, table, kr).DecryptItem(ctx, stored.Item)
		if err != nil {
			t.Fatalf("%s: DecryptItem in %s: %v", name, ddbenctest.West, err)
		}
		if diff := avtest.DiffItems(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
		if _, err := west.GetActiveBranchKey(ctx, id); err != nil {
			t.Errorf("%s: active key in %s: %v", name, ddbenctest.West, err)
		}
		calls := kmsSince(mark)
		if len(calls) != 2 {
			t.Errorf("%s: %d KMS calls, want 2 Decrypt", name, len(calls))
		}
		for _, c := range calls {
			if c.Op != "Decrypt" || c.Region != ddbenctest.West || c.KeyID != env.ReplicaARN {
				t.Errorf("%s: KMS %s in %s with %s; want Decrypt in %s with %s", name, c.Op, c.Region, c.KeyID, ddbenctest.West, env.ReplicaARN)
			}
		}
	}
	// The logical name is part of every item's context: another one fails.
	wrongName := newKeyStore(t, keystore.Config{TableName: ksTable, DynamoDB: env.DynamoDB(ddbenctest.West), KMS: westClient, KMSMode: keystore.KMSMRK, KMSKeyARN: env.ReplicaARN})
	if _, err := wrongName.GetActiveBranchKey(ctx, id); !errors.Is(err, ddbenc.ErrDecryption) {
		t.Errorf("another logical name: %v, want ErrDecryption", err)
	}
	if err := env.ReplicationErr(); err != nil {
		t.Fatal(err)
	}
}

// TestKeyStoreTamperedItem: changing an attribute of a key store item in
// the table (through the plain client) makes its KMS Decrypt fail: the
// encryption context binds every attribute.
func TestKeyStoreTamperedItem(t *testing.T) {
	need(t)
	ctx := context.Background()
	ksTable := keyStoreTable(t, ddbenctest.East)
	ddb := env.DynamoDB(ddbenctest.East)
	ks := newKeyStore(t, keystore.Config{TableName: ksTable, DynamoDB: ddb, KMS: env.KMSClient(ddbenctest.East), KMSMode: keystore.KMSMRK, KMSKeyARN: env.PrimaryARN})
	id, err := ks.CreateKey(ctx, keystore.CreateKeyOptions{BranchKeyID: "tamper"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := ks.Describe(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	vType := keystore.TypeVersionPrefix + info.ActiveVersion
	key := func(typ string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{keystore.AttrBranchKeyID: &types.AttributeValueMemberS{Value: id}, keystore.AttrType: &types.AttributeValueMemberS{Value: typ}}
	}
	set := func(typ, attr, value string) string {
		t.Helper()
		out, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &ksTable, Key: key(typ), UpdateExpression: aws.String("SET #a = :v"), ReturnValues: types.ReturnValueUpdatedOld,
			ExpressionAttributeNames: map[string]string{"#a": attr}, ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: value}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := out.Attributes[attr].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	for _, tc := range []struct{ typ, attr, value string }{
		{vType, keystore.AttrCreateTime, "2001-01-01T00:00:00.000000Z"},
		// The replica's ARN passes the MRK check, but is not what the item
		// was written with.
		{vType, keystore.AttrKMSARN, env.ReplicaARN},
		{keystore.TypeActive, keystore.AttrCreateTime, "2001-01-01T00:00:00.000000Z"},
		{keystore.TypeActive, "aws-crypto-ec:added", "x"},
	} {
		name := tc.typ + " " + tc.attr
		old := set(tc.typ, tc.attr, tc.value)
		if tc.typ == keystore.TypeActive {
			_, err = ks.GetActiveBranchKey(ctx, id)
		} else {
			_, err = ks.GetBranchKeyVersion(ctx, id, info.ActiveVersion)
		}
		if !errors.Is(err, ddbenc.ErrDecryption) || !errors.Is(err, ddbenc.ErrSignature) {
			t.Errorf("%s changed: %v, want ErrDecryption and ErrSignature", name, err)
		}
		if old != "" {
			set(tc.typ, tc.attr, old)
		} else if _, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &ksTable, Key: key(tc.typ), UpdateExpression: aws.String("REMOVE #a"), ExpressionAttributeNames: map[string]string{"#a": tc.attr}}); err != nil {
			t.Fatal(err)
		}
		if tc.typ == keystore.TypeActive {
			_, err = ks.GetActiveBranchKey(ctx, id)
		} else {
			_, err = ks.GetBranchKeyVersion(ctx, id, info.ActiveVersion)
		}
		if err != nil {
			t.Errorf("%s restored: %v", name, err)
		}
	}
}
