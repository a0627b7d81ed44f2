package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/keyfile"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/internal/testvectors"
	"github.com/ddbec/ddbec-go/provider"
)

// newMetaStore creates a MetaStore table in region protected by DirectKMS
// with keyARN.
func newMetaStore(t *testing.T, region, table, keyARN string) *provider.MetaStore {
	t.Helper()
	ddb := env.DynamoDB(region)
	if err := provider.CreateMetaStoreTable(context.Background(), ddb, table); err != nil {
		t.Fatal(err)
	}
	return metaStoreFor(t, region, table, keyARN)
}

func metaStoreFor(t *testing.T, region, table, keyARN string) *provider.MetaStore {
	t.Helper()
	ms, err := provider.NewMetaStore(env.DynamoDB(region), table, kmsProvider(t, region, keyARN))
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func mostRecent(t *testing.T, store provider.MaterialStore, name string, optFns ...func(*provider.MostRecentOptions)) *provider.MostRecent {
	t.Helper()
	p, err := provider.NewMostRecent(store, name, optFns...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMetaStoreRacingFirstVersion(t *testing.T) {
	need(t)
	ctx := context.Background()
	metaTable := fmt.Sprintf("meta%d", tableSeq.Add(1))
	newMetaStore(t, ddbenctest.East, metaTable, env.PrimaryARN)
	table := newTable(t)
	// Eight writers, as if in eight processes: their own MetaStore and
	// provider, all creating version 0 at once.
	const writers = 8
	clients := make([]*ddbenc.Client, writers)
	for i := range clients {
		p := mostRecent(t, metaStoreFor(t, ddbenctest.East, metaTable, env.PrimaryARN), "customers")
		c, err := ddbenc.NewClient(env.DynamoDB(ddbenctest.East), []ddbenc.TableConfig{{TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: p}})
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := make(chan struct{})
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("race", i, fmt.Sprint("w", i))})
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("racing writer: %v", err)
		}
	}
	// One version exists, and every writer's item is readable by every other.
	out, err := env.DynamoDB(ddbenctest.East).Scan(ctx, &dynamodb.ScanInput{TableName: &metaTable})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("metastore has %d items, want 1 (%v)", len(out.Items), err)
	}
	for i := range writers {
		got, err := clients[(i+1)%writers].GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("race", i)})
		if err != nil || got.Item["secret"].(*types.AttributeValueMemberS).Value != fmt.Sprint("w", i) {
			t.Fatalf("item %d: %v", i, err)
		}
	}
}

// TestMostRecentKMSCalls measures KMS calls per 1,000 writes and 1,000 reads
// with the most-recent provider against DirectKMS, and checks rotation.
func TestMostRecentKMSCalls(t *testing.T) {
	need(t)
	ctx := context.Background()
	metaTable := fmt.Sprintf("meta%d", tableSeq.Add(1))
	key := env.KMS.CreateKey(ddbenctest.East, true)
	newMetaStore(t, ddbenctest.East, metaTable, key)
	table := newTable(t)
	clock := ddbenctest.NewClock()
	ttl := func(o *provider.MostRecentOptions) { o.TTL = 10 * time.Minute; o.Now = clock.Now }
	writerP := mostRecent(t, metaStoreFor(t, ddbenctest.East, metaTable, key), "orders", ttl)
	readerP := mostRecent(t, metaStoreFor(t, ddbenctest.East, metaTable, key), "orders", ttl)
	client := func(p ddbenc.MaterialsProvider) *ddbenc.Client {
		c, err := ddbenc.NewClient(env.DynamoDB(ddbenctest.East), []ddbenc.TableConfig{{TableName: table, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: p}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	writer, reader := client(writerP), client(readerP)
	kmsCalls := func() int {
		n := 0
		for _, c := range env.KMS.Calls() {
			if c.KeyID == key {
				n++
			}
		}
		return n
	}
	const n = 1000
	run := func(c *ddbenc.Client, write bool) int {
		before := kmsCalls()
		for i := range n {
			var err error
			if write {
				_, err = c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("mr", i, fmt.Sprint("v", i))})
			} else {
				var out *dynamodb.GetItemOutput
				out, err = c.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("mr", i)})
				if err == nil && out.Item["secret"].(*types.AttributeValueMemberS).Value != fmt.Sprint("v", i) {
					err = fmt.Errorf("item %d: wrong plaintext", i)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		return kmsCalls() - before
	}
	writes, reads := run(writer, true), run(reader, false)
	t.Logf("most-recent: %d KMS calls per %d writes, %d per %d reads", writes, n, reads, n)
	if writes != 1 || reads != 1 {
		t.Errorf("KMS calls: %d per %d writes, %d per %d reads; want 1 and 1 (one per version)", writes, n, reads, n)
	}
	// DirectKMS for comparison: one call per item.
	direct := client(kmsProvider(t, ddbenctest.East, key))
	if w := run(direct, true); w != n {
		t.Errorf("DirectKMS: %d KMS calls per %d writes", w, n)
	} else {
		t.Logf("DirectKMS: %d KMS calls per %d writes", w, n)
	}

	// After the TTL: the writer asks the store for the newest version (no KMS
	// call for an unchanged version); the reader reloads once per version.
	run(writer, true)
	clock.Advance(11 * time.Minute)
	if w := run(writer, true); w != 0 {
		t.Errorf("after the TTL, unchanged version: %d KMS calls per %d writes, want 0", w, n)
	}
	if r := run(reader, false); r != 1 {
		t.Errorf("after the TTL: %d KMS calls per %d reads, want 1", r, n)
	}

	// Rotation: new writes use version 1, old items stay readable.
	v, err := writerP.Rotate(ctx)
	if err != nil || v != 1 {
		t.Fatalf("Rotate = %d, %v", v, err)
	}
	if _, err := writer.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: item("rot", 1, "after")}); err != nil {
		t.Fatal(err)
	}
	raw, _ := env.DynamoDB(ddbenctest.East).GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyOf("rot", 1)})
	desc, _ := legacy.ParseDescription(raw.Item[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB).Value)
	if desc[legacy.MetaID] != "orders#1" {
		t.Errorf("after rotation the meta id is %q", desc[legacy.MetaID])
	}
	for _, k := range []map[string]types.AttributeValue{keyOf("rot", 1), keyOf("mr", 3)} {
		if _, err := reader.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: k}); err != nil {
			t.Errorf("read after rotation: %v", err)
		}
	}
}

// TestMostRecentVectorsThroughDynamoDBLocal loads the vectors' metastore
// items into DynamoDB Local and reads the data items through the real
// MetaStore, for every most-recent scenario of scenarios.json whose
// metastore needs no real KMS key ($DDBEC_VECTORS may name a full vector set).
func TestMostRecentVectorsThroughDynamoDBLocal(t *testing.T) {
	need(t)
	root, err := testvectors.Root()
	if err != nil {
		t.Fatal(err)
	}
	runMostRecentVectors(t, root, "ap-test")
}

// TestMostRecentVectorsOtherDirectory runs a copy of the vectors with one
// more most-recent scenario, a ciphertext file copied under another name
// and path, and checks it runs too: the count comes from scenarios.json.
func TestMostRecentVectorsOtherDirectory(t *testing.T) {
	need(t)
	src, err := testvectors.Root()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := testvectors.LoadScenarios(src)
	if err != nil {
		t.Fatal(err)
	}
	orig := mostRecentOffline(sc)
	if len(orig) == 0 {
		t.Fatalf("%s has no offline most-recent scenario to copy", src)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	item := filepath.Join(dir, "encrypted_item")
	from, _ := sc.Path(orig[0].Ciphertext)
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(item, "ciphertext", "extra"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(item, "ciphertext", "extra", "copied.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// Append a copy of the scenario, keeping every field of scenarios.json.
	var doc map[string]any
	raw, err := os.ReadFile(filepath.Join(item, "scenarios.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	list, _ := doc["scenarios"].([]any)
	var extra map[string]any
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && m["ciphertext"] == orig[0].Ciphertext {
			extra = maps.Clone(m)
		}
	}
	if extra == nil {
		t.Fatalf("scenario %s not found in scenarios.json", orig[0].Name())
	}
	extra["ciphertext"] = "file://ciphertext/extra/copied.json"
	doc["scenarios"] = append(list, extra)
	if raw, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(item, "scenarios.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(testvectors.EnvVar, dir)
	root, err := testvectors.Root()
	if err != nil || root != dir {
		t.Fatalf("Root() = %q, %v; want %q", root, err, dir)
	}
	ran := runMostRecentVectors(t, root, "ap-copy")
	if len(ran) != len(orig)+1 || !slices.Contains(ran, "ciphertext/extra/copied.json") {
		t.Errorf("ran %q; want the %d scenarios of %s and ciphertext/extra/copied.json", ran, len(orig), src)
	}
}

// mostRecentOffline returns the most-recent scenarios whose metastore is
// protected by keys of the vectors (not by a real KMS key).
func mostRecentOffline(sc *testvectors.Scenarios) []testvectors.Scenario {
	var out []testvectors.Scenario
	for _, s := range sc.Scenarios {
		if s.Provider == "most_recent" && s.Metastore != nil && s.Metastore.Provider != "awskms" {
			out = append(out, s)
		}
	}
	return out
}

// runMostRecentVectors runs the offline most-recent scenarios of root
// through DynamoDB Local, each in its own Region (regionPrefix-N), and
// returns the names of those that passed. Every count it checks comes from
// the vector files.
func runMostRecentVectors(t *testing.T, root, regionPrefix string) []string {
	t.Helper()
	ctx := context.Background()
	sc, err := testvectors.LoadScenarios(root)
	if err != nil {
		t.Fatal(err)
	}
	keysPath, _ := sc.Path("file://keys.json")
	keys, err := keyfile.Load(keysPath)
	if err != nil {
		t.Fatal(err)
	}
	want := mostRecentOffline(sc)
	if len(want) == 0 {
		t.Fatalf("%s lists no most-recent scenario with an offline metastore", root)
	}
	var ran []string
	for i, s := range want {
		ok := t.Run(s.Name(), func(t *testing.T) {
			// Each scenario in its own Region: the metastore table name is
			// bound into its items' signatures, so it cannot be renamed.
			region := fmt.Sprintf("%s-%d", regionPrefix, i)
			ddb := env.DynamoDB(region)
			if err := provider.CreateMetaStoreTable(ctx, ddb, s.Metastore.TableName); err != nil {
				t.Fatal(err)
			}
			meta, err := sc.Ciphertext(s.Metastore.Ciphertext)
			if err != nil {
				t.Fatal(err)
			}
			if len(meta[s.Metastore.TableName]) == 0 {
				t.Fatalf("metastore file has no items for table %s", s.Metastore.TableName)
			}
			for _, it := range meta[s.Metastore.TableName] {
				if _, err := ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.Metastore.TableName, Item: it}); err != nil {
					t.Fatal(err)
				}
			}
			metaProvider, err := keys.ScenarioProvider(s.Metastore.Provider, s.Metastore.Keys)
			if err != nil {
				t.Fatal(err)
			}
			store, err := provider.NewMetaStore(ddb, s.Metastore.TableName, metaProvider)
			if err != nil {
				t.Fatal(err)
			}
			mr := mostRecent(t, store, s.MaterialName)
			pt, err := sc.LoadPlaintext(s.Plaintext)
			if err != nil {
				t.Fatal(err)
			}
			ct, err := sc.Ciphertext(s.Ciphertext)
			if err != nil {
				t.Fatal(err)
			}
			wantItems, decrypted := 0, 0
			for table, items := range ct {
				tp := pt.Items[table]
				for _, stored := range items {
					pi, ok := matchPlaintext(tp, stored)
					if !ok {
						continue // no plaintext counterpart (docs/legacy-format.md §7.5)
					}
					wantItems++
					acts, err := pt.Actions[pi.Action].Map()
					if err != nil {
						t.Fatal(err)
					}
					enc, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: table, PartitionKey: tp.Index.Partition, SortKey: tp.Index.Sort, Actions: acts, Provider: mr})
					if err != nil {
						t.Fatal(err)
					}
					got, err := enc.DecryptItem(ctx, stored)
					if err != nil {
						t.Errorf("%s: %v", table, err)
						continue
					}
					want, _ := pt.Expected(table, s.Version, pi)
					delete(want, "version")
					delete(got, "version")
					if diff := avtest.DiffItems(want, got); diff != "" {
						t.Errorf("%s (-want +got):\n%s", table, diff)
						continue
					}
					decrypted++
				}
			}
			if wantItems == 0 {
				t.Errorf("no ciphertext item has a plaintext counterpart")
			}
			if decrypted != wantItems {
				t.Errorf("decrypted %d items, want the %d with a plaintext counterpart", decrypted, wantItems)
			}
			t.Logf("%d items decrypted through DynamoDB Local", decrypted)
		})
		if ok {
			ran = append(ran, s.Name())
		}
	}
	if len(ran) != len(want) {
		t.Errorf("%d of the %d offline most-recent scenarios of %s passed through DynamoDB Local", len(ran), len(want), root)
	}
	return ran
}

func matchPlaintext(tp testvectors.PlaintextTable, stored map[string]types.AttributeValue) (testvectors.PlaintextItem, bool) {
	for _, it := range tp.Items {
		same := avtest.DiffItems(map[string]types.AttributeValue{"p": it.Attributes[tp.Index.Partition]}, map[string]types.AttributeValue{"p": stored[tp.Index.Partition]}) == ""
		if tp.Index.Sort != "" {
			same = same && avtest.DiffItems(map[string]types.AttributeValue{"s": it.Attributes[tp.Index.Sort]}, map[string]types.AttributeValue{"s": stored[tp.Index.Sort]}) == ""
		}
		if same {
			return it, true
		}
	}
	return testvectors.PlaintextItem{}, false
}

// TestMostRecentGlobalTable: the MetaStore table is replicated with the data
// table; the us-west-2 reader decrypts the materials with its replica MRK.
func TestMostRecentGlobalTable(t *testing.T) {
	need(t)
	ctx := context.Background()
	metaTable := fmt.Sprintf("gmeta%d", tableSeq.Add(1))
	dataTable := fmt.Sprintf("gdata%d", tableSeq.Add(1))
	if err := env.CreateGlobalTable(ctx, metaTable, ddbenctest.Key{Name: "N", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: "V", Type: types.ScalarAttributeTypeN}); err != nil {
		t.Fatal(err)
	}
	if err := env.CreateGlobalTable(ctx, dataTable, ddbenctest.Key{Name: "pk", Type: types.ScalarAttributeTypeS}, ddbenctest.Key{Name: "sk", Type: types.ScalarAttributeTypeN}); err != nil {
		t.Fatal(err)
	}
	side := func(region, arn string) *ddbenc.Client {
		p := mostRecent(t, metaStoreFor(t, region, metaTable, arn), "employees")
		c, err := ddbenc.NewClient(env.DynamoDB(region), []ddbenc.TableConfig{{TableName: dataTable, PartitionKey: "pk", SortKey: "sk", Actions: testActions, Provider: p}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	east, west := side(ddbenctest.East, env.PrimaryARN), side(ddbenctest.West, env.ReplicaARN)
	want := item("ada", 1, "pii")
	if _, err := east.PutItem(ctx, &dynamodb.PutItemInput{TableName: &dataTable, Item: want}); err != nil {
		t.Fatal(err)
	}
	if _, err := ddbenctest.WaitForItem(ctx, env.DynamoDB(ddbenctest.West), metaTable,
		map[string]types.AttributeValue{"N": &types.AttributeValueMemberS{Value: "employees"}, "V": &types.AttributeValueMemberN{Value: "0"}}, 30*time.Second, nil); err != nil {
		t.Fatalf("%v (replication: %v)", err, env.ReplicationErr())
	}
	if _, err := ddbenctest.WaitForItem(ctx, env.DynamoDB(ddbenctest.West), dataTable, keyOf("ada", 1), 30*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	before := len(env.KMS.Calls())
	got, err := west.GetItem(ctx, &dynamodb.GetItemInput{TableName: &dataTable, Key: keyOf("ada", 1)})
	if err != nil {
		t.Fatalf("us-west-2 read: %v", err)
	}
	if diff := avtest.DiffItems(want, got.Item); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, c := range env.KMS.Calls()[before:] {
		if c.Region != ddbenctest.West || c.KeyID != env.ReplicaARN {
			t.Errorf("us-west-2 reader called KMS in %s with %s", c.Region, c.KeyID)
		}
	}
}
