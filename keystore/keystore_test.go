package keystore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"maps"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/keystore"
)

const (
	east = "us-east-1"
	west = "us-west-2"
)

// fakeDDB is a recording in-memory DynamoDB with the few operations and
// condition expressions the key store uses.
type fakeDDB struct {
	mu     sync.Mutex
	items  map[[2]string]map[string]types.AttributeValue
	gets   []*dynamodb.GetItemInput
	schema []types.KeySchemaElement
	// beforeWrite, when set, runs at the start of TransactWriteItems.
	beforeWrite func()
}

func newFakeDDB() *fakeDDB { return &fakeDDB{items: map[[2]string]map[string]types.AttributeValue{}} }

func keyOf(av map[string]types.AttributeValue) [2]string {
	return [2]string{av[keystore.AttrBranchKeyID].(*types.AttributeValueMemberS).Value, av[keystore.AttrType].(*types.AttributeValueMemberS).Value}
}

func (f *fakeDDB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets = append(f.gets, in)
	it, ok := f.items[keyOf(in.Key)]
	if !ok {
		return &dynamodb.GetItemOutput{}, nil
	}
	return &dynamodb.GetItemOutput{Item: maps.Clone(it)}, nil
}

func (f *fakeDDB) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := in.ExpressionAttributeValues[":id"].(*types.AttributeValueMemberS).Value
	out := &dynamodb.QueryOutput{}
	for k, it := range f.items {
		if k[0] == id {
			out.Items = append(out.Items, maps.Clone(it))
		}
	}
	return out, nil
}

func (f *fakeDDB) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if f.beforeWrite != nil {
		f.beforeWrite()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var reasons []types.CancellationReason
	failed := false
	for _, w := range in.TransactItems {
		p := w.Put
		old, exists := f.items[keyOf(p.Item)]
		ok := true
		switch aws.ToString(p.ConditionExpression) {
		case "attribute_not_exists(#id)":
			ok = !exists
		case "attribute_exists(#id) AND #enc = :old":
			ok = exists && bytes.Equal(old[keystore.AttrEnc].(*types.AttributeValueMemberB).Value, p.ExpressionAttributeValues[":old"].(*types.AttributeValueMemberB).Value)
		default:
			return nil, errors.New("fakeDDB: unexpected condition " + aws.ToString(p.ConditionExpression))
		}
		code := "None"
		if !ok {
			code, failed = "ConditionalCheckFailed", true
		}
		reasons = append(reasons, types.CancellationReason{Code: aws.String(code)})
	}
	if failed {
		return nil, &types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: reasons}
	}
	for _, w := range in.TransactItems {
		f.items[keyOf(w.Put.Item)] = maps.Clone(w.Put.Item)
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

func (f *fakeDDB) CreateTable(_ context.Context, in *dynamodb.CreateTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.schema != nil {
		return nil, &types.ResourceInUseException{Message: aws.String("exists")}
	}
	f.schema = in.KeySchema
	return &dynamodb.CreateTableOutput{}, nil
}

func (f *fakeDDB) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var defs []types.AttributeDefinition
	for _, k := range f.schema {
		defs = append(defs, types.AttributeDefinition{AttributeName: k.AttributeName, AttributeType: types.ScalarAttributeTypeS})
	}
	return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{
		TableName: in.TableName, TableStatus: types.TableStatusActive, KeySchema: f.schema, AttributeDefinitions: defs,
	}}, nil
}

func (f *fakeDDB) item(id, typ string) map[string]types.AttributeValue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.items[[2]string{id, typ}]
}

func (f *fakeDDB) set(id, typ string, av map[string]types.AttributeValue) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[[2]string{id, typ}] = av
}

// world is a fake KMS (an MRK in both Regions and a single-Region key) and
// a fake DynamoDB.
type world struct {
	kms                  *ddbenctest.KMSServer
	url                  string
	ddb                  *fakeDDB
	primary, replica, sr string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	s := ddbenctest.StartKMS(t, ddbenctest.KMSOptions{Seed: []byte("keystore-test")})
	url := s.URL
	w := &world{kms: s, url: url, ddb: newFakeDDB()}
	w.primary = s.CreateKey(east, true)
	var err error
	if w.replica, err = s.ReplicateKey(w.primary, west); err != nil {
		t.Fatal(err)
	}
	w.sr = s.CreateKey(east, false)
	return w
}

func (w *world) store(t *testing.T, cfg keystore.Config) *keystore.KeyStore {
	t.Helper()
	if cfg.TableName == "" {
		cfg.TableName = "KeyStore"
	}
	if cfg.DynamoDB == nil {
		cfg.DynamoDB = w.ddb
	}
	if cfg.KMS == nil {
		cfg.KMS = ddbenctest.NewKMSClient(w.url, east)
	}
	s, err := keystore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var createTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

func TestCreateKeyLayoutAndRead(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	s := w.store(t, keystore.Config{KMSKeyARN: w.sr, LogicalName: "logical"})
	now := func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("x", 3600)) }
	id, err := s.CreateKey(ctx, keystore.CreateKeyOptions{BranchKeyID: "bk1", EncryptionContext: map[string]string{"tenant": "acme"}, Now: now})
	if err != nil || id != "bk1" {
		t.Fatalf("CreateKey = %q, %v", id, err)
	}
	calls := w.kms.Calls()
	if len(calls) != 3 || calls[0].Op != "GenerateDataKeyWithoutPlaintext" || calls[1].Op != "ReEncrypt" || calls[2].Op != "GenerateDataKeyWithoutPlaintext" {
		t.Fatalf("KMS calls %+v", calls)
	}
	active := w.ddb.item("bk1", keystore.TypeActive)
	if active == nil {
		t.Fatal("no active item")
	}
	version := strings.TrimPrefix(active[keystore.AttrVersion].(*types.AttributeValueMemberS).Value, keystore.TypeVersionPrefix)
	vItem := w.ddb.item("bk1", keystore.TypeVersionPrefix+version)
	beacon := w.ddb.item("bk1", keystore.TypeBeacon)
	if vItem == nil || beacon == nil {
		t.Fatal("version or beacon item missing")
	}
	for name, it := range map[string]map[string]types.AttributeValue{"active": active, "version": vItem, "beacon": beacon} {
		ct := it[keystore.AttrCreateTime].(*types.AttributeValueMemberS).Value
		if ct != "2026-03-04T04:06:07.123456Z" || !createTimeRE.MatchString(ct) {
			t.Errorf("%s: create-time %q", name, ct)
		}
		if hv := it[keystore.AttrHierarchyVersion].(*types.AttributeValueMemberN).Value; hv != "1" {
			t.Errorf("%s: hierarchy-version %q", name, hv)
		}
		if arn := it[keystore.AttrKMSARN].(*types.AttributeValueMemberS).Value; arn != w.sr {
			t.Errorf("%s: kms-arn %q", name, arn)
		}
		if v := it["aws-crypto-ec:tenant"].(*types.AttributeValueMemberS).Value; v != "acme" {
			t.Errorf("%s: custom context %q", name, v)
		}
	}
	if _, ok := vItem[keystore.AttrVersion]; ok {
		t.Error("the version item has a version attribute")
	}
	// The KMS context of the version item's generation.
	wantEC := map[string]string{
		"branch-key-id": "bk1", "type": keystore.TypeVersionPrefix + version, "kms-arn": w.sr,
		"create-time": "2026-03-04T04:06:07.123456Z", "hierarchy-version": "1", "tablename": "logical", "aws-crypto-ec:tenant": "acme",
	}
	if !maps.Equal(calls[0].EncryptionContext, wantEC) {
		t.Errorf("GenerateDataKeyWithoutPlaintext context %v, want %v", calls[0].EncryptionContext, wantEC)
	}

	w.kms.Reset()
	a, err := s.GetActiveBranchKey(ctx, "bk1")
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.GetBranchKeyVersion(ctx, "bk1", version)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.GetBeaconKey(ctx, "bk1")
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != version || v.Version != version || len(a.Key) != 32 || !bytes.Equal(a.Key, v.Key) || bytes.Equal(a.Key, b.Key) {
		t.Errorf("active %s and version %s must hold the same 32-byte key, the beacon another", a.Version, v.Version)
	}
	for _, g := range w.ddb.gets {
		if aws.ToBool(g.ConsistentRead) {
			t.Error("a read used a consistent GetItem")
		}
	}
	calls = w.kms.Calls()
	if len(calls) != 3 {
		t.Fatalf("%d KMS calls for three reads", len(calls))
	}
	wantActive := maps.Clone(wantEC)
	wantActive["type"] = keystore.TypeActive
	wantActive["version"] = keystore.TypeVersionPrefix + version
	for i, want := range []map[string]string{wantActive, wantEC} {
		c := calls[i]
		if c.Op != "Decrypt" || c.KeyID != w.sr || c.Region != east || !maps.Equal(c.EncryptionContext, want) {
			t.Errorf("read %d: %s %s in %s with %v; want Decrypt %s with %v", i, c.Op, c.KeyID, c.Region, c.EncryptionContext, w.sr, want)
		}
	}

	// A second CreateKey of the same id fails and changes nothing.
	if _, err := s.CreateKey(ctx, keystore.CreateKeyOptions{BranchKeyID: "bk1"}); !errors.Is(err, keystore.ErrExists) {
		t.Errorf("second CreateKey: %v, want ErrExists", err)
	}
	// A random id is a UUID.
	rid, err := s.CreateKey(ctx, keystore.CreateKeyOptions{})
	if err != nil || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(rid) {
		t.Errorf("random id %q, %v", rid, err)
	}
	// Describe: the facts, no key bytes.
	info, err := s.Describe(ctx, "bk1")
	if err != nil {
		t.Fatal(err)
	}
	if info.ActiveVersion != version || len(info.Versions) != 1 || info.Versions[0].KMSARN != w.sr || !info.HasBeacon || info.EncryptionContext["tenant"] != "acme" {
		t.Errorf("Describe = %+v", info)
	}
	if _, err := s.Describe(ctx, "nope"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Describe of a missing key: %v", err)
	}
}

// lyingKMS wraps a KMS client and changes Decrypt answers.
type lyingKMS struct {
	keystore.KMSAPI
	plaintextLen int
	keyID        string
}

func (l *lyingKMS) Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	out, err := l.KMSAPI.Decrypt(ctx, in, optFns...)
	if err != nil {
		return nil, err
	}
	if l.plaintextLen != 0 {
		out.Plaintext = out.Plaintext[:l.plaintextLen]
	}
	if l.keyID != "" {
		out.KeyId = aws.String(l.keyID)
	}
	return out, nil
}

func TestReadValidation(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	s := w.store(t, keystore.Config{KMSKeyARN: w.sr})
	if _, err := s.CreateKey(ctx, keystore.CreateKeyOptions{BranchKeyID: "bk"}); err != nil {
		t.Fatal(err)
	}
	good := maps.Clone(w.ddb.item("bk", keystore.TypeActive))
	version := strings.TrimPrefix(good[keystore.AttrVersion].(*types.AttributeValueMemberS).Value, keystore.TypeVersionPrefix)
	key, err := s.GetActiveBranchKey(ctx, "bk")
	if err != nil {
		t.Fatal(err)
	}
	S := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	for _, tc := range []struct {
		name   string
		change func(map[string]types.AttributeValue)
		kms    keystore.KMSAPI
		want   error
		noKMS  bool // the check comes before any KMS call
	}{
		{name: "missing enc", change: func(m map[string]types.AttributeValue) { delete(m, "enc") }, want: ddbenc.ErrMalformed, noKMS: true},
		{name: "missing kms-arn", change: func(m map[string]types.AttributeValue) { delete(m, "kms-arn") }, want: ddbenc.ErrMalformed, noKMS: true},
		{name: "missing create-time", change: func(m map[string]types.AttributeValue) { delete(m, "create-time") }, want: ddbenc.ErrMalformed, noKMS: true},
		{name: "missing hierarchy-version", change: func(m map[string]types.AttributeValue) { delete(m, "hierarchy-version") }, want: ddbenc.ErrMalformed, noKMS: true},
		{name: "missing version", change: func(m map[string]types.AttributeValue) { delete(m, "version") }, want: ddbenc.ErrMalformed, noKMS: true},
		{name: "enc not B", change: func(m map[string]types.AttributeValue) { m["enc"] = S("x") }, want: ddbenc.ErrMalformed, noKMS: true},
		{name: "kms-arn not S", change: func(m map[string]types.AttributeValue) {
			m["kms-arn"] = &types.AttributeValueMemberB{Value: []byte(w.sr)}
		}, want: ddbenc.ErrMalformed, noKMS: true},
		{name: "hierarchy-version S", change: func(m map[string]types.AttributeValue) { m["hierarchy-version"] = S("1") }, want: ddbenc.ErrMalformed, noKMS: true},
		{name: "hierarchy-version 2", change: func(m map[string]types.AttributeValue) {
			m["hierarchy-version"] = &types.AttributeValueMemberN{Value: "2"}
		}, want: ddbenc.ErrMalformed, noKMS: true},
		{name: "version not a UUID", change: func(m map[string]types.AttributeValue) { m["version"] = S("branch:version:nope") }, want: ddbenc.ErrMalformed, noKMS: true},
		{name: "custom context not S", change: func(m map[string]types.AttributeValue) {
			m["aws-crypto-ec:x"] = &types.AttributeValueMemberN{Value: "1"}
		}, want: ddbenc.ErrMalformed, noKMS: true},
		{name: "other branch-key-id", change: func(m map[string]types.AttributeValue) { m["branch-key-id"] = S("other") }, want: ddbenc.ErrMalformed, noKMS: true},
		{name: "kms-arn another key", change: func(m map[string]types.AttributeValue) { m["kms-arn"] = S(w.primary) }, want: ddbenc.ErrWrongKey, noKMS: true},
		{name: "kms-arn an alias", change: func(m map[string]types.AttributeValue) {
			m["kms-arn"] = S("arn:aws:kms:us-east-1:111122223333:alias/a")
		}, want: ddbenc.ErrWrongKey, noKMS: true},
		{name: "create-time changed", change: func(m map[string]types.AttributeValue) { m["create-time"] = S("2020-01-01T00:00:00.000000Z") }, want: ddbenc.ErrDecryption},
		{name: "custom context added", change: func(m map[string]types.AttributeValue) { m["aws-crypto-ec:x"] = S("y") }, want: ddbenc.ErrDecryption},
		{name: "enc changed", change: func(m map[string]types.AttributeValue) {
			b := bytes.Clone(m["enc"].(*types.AttributeValueMemberB).Value)
			b[len(b)-1] ^= 1
			m["enc"] = &types.AttributeValueMemberB{Value: b}
		}, want: ddbenc.ErrDecryption},
		{name: "31-byte plaintext", kms: &lyingKMS{KMSAPI: ddbenctest.NewKMSClient(w.url, east), plaintextLen: 31}, want: ddbenc.ErrDecryption},
		{name: "KMS reports another key", kms: &lyingKMS{KMSAPI: ddbenctest.NewKMSClient(w.url, east), keyID: w.primary}, want: ddbenc.ErrWrongKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			av := maps.Clone(good)
			if tc.change != nil {
				tc.change(av)
			}
			w.ddb.set("bk", keystore.TypeActive, av)
			defer w.ddb.set("bk", keystore.TypeActive, good)
			st := s
			if tc.kms != nil {
				st = w.store(t, keystore.Config{KMSKeyARN: w.sr, KMS: tc.kms})
			}
			before := w.kms.Count("Decrypt")
			_, err := st.GetActiveBranchKey(ctx, "bk")
			if !errors.Is(err, tc.want) {
				t.Fatalf("%v, want %v", err, tc.want)
			}
			if tc.noKMS && w.kms.Count("Decrypt") != before {
				t.Error("KMS was called")
			}
			if !strings.Contains(err.Error(), "KeyStore") || !strings.Contains(err.Error(), `"bk"`) {
				t.Errorf("error %q does not name the table and branch key", err)
			}
			if strings.Contains(err.Error(), hex.EncodeToString(key.Key)) || strings.Contains(err.Error(), string(key.Key)) {
				t.Error("error contains key bytes")
			}
		})
	}
	if _, err := s.GetBranchKeyVersion(ctx, "bk", "00000000-0000-4000-8000-000000000000"); !errors.Is(err, keystore.ErrNotFound) || !errors.Is(err, ddbenc.ErrWrongKey) {
		t.Errorf("missing version: %v", err)
	}
	if _, err := s.GetBranchKeyVersion(ctx, "bk", "NOT-A-UUID"); !errors.Is(err, ddbenc.ErrMalformed) {
		t.Errorf("bad version: %v", err)
	}
	if _, err := s.GetActiveBranchKey(ctx, "missing"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("missing key: %v", err)
	}
	if _, err := s.GetBranchKeyVersion(ctx, "bk", version); err != nil {
		t.Errorf("version item after the table was restored: %v", err)
	}
}

func TestVersionKey(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	s := w.store(t, keystore.Config{KMSKeyARN: w.sr})
	if _, err := s.CreateKey(ctx, keystore.CreateKeyOptions{BranchKeyID: "bk", EncryptionContext: map[string]string{"t": "1"}}); err != nil {
		t.Fatal(err)
	}
	old, err := s.GetActiveBranchKey(ctx, "bk")
	if err != nil {
		t.Fatal(err)
	}
	w.kms.Reset()
	nv, err := s.VersionKey(ctx, "bk")
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, c := range w.kms.Calls() {
		ops = append(ops, c.Op)
	}
	if strings.Join(ops, ",") != "ReEncrypt,GenerateDataKeyWithoutPlaintext,ReEncrypt" {
		t.Errorf("VersionKey KMS calls %v (no Decrypt: the old key is authenticated without its plaintext)", ops)
	}
	cur, err := s.GetActiveBranchKey(ctx, "bk")
	if err != nil {
		t.Fatal(err)
	}
	if cur.Version != nv || nv == old.Version || bytes.Equal(cur.Key, old.Key) {
		t.Errorf("after VersionKey: active %s (new %s, old %s)", cur.Version, nv, old.Version)
	}
	if got, err := s.GetBranchKeyVersion(ctx, "bk", old.Version); err != nil || !bytes.Equal(got.Key, old.Key) {
		t.Errorf("old version after rotation: %v", err)
	}
	if v := w.ddb.item("bk", keystore.TypeVersionPrefix+nv)["aws-crypto-ec:t"]; v == nil {
		t.Error("the custom context was not carried over")
	}
	info, err := s.Describe(ctx, "bk")
	if err != nil || len(info.Versions) != 2 || info.ActiveVersion != nv {
		t.Errorf("Describe = %+v, %v", info, err)
	}

	// A rotation that races another one fails and keeps the winner.
	var winner string
	w.ddb.beforeWrite = func() {
		w.ddb.beforeWrite = nil
		if winner, err = s.VersionKey(ctx, "bk"); err != nil {
			t.Error(err)
		}
	}
	if _, err := s.VersionKey(ctx, "bk"); !errors.Is(err, keystore.ErrConcurrentModification) {
		t.Errorf("racing VersionKey: %v, want ErrConcurrentModification", err)
	}
	if cur, _ := s.GetActiveBranchKey(ctx, "bk"); cur.Version != winner {
		t.Errorf("active version %s, want the winner %s", cur.Version, winner)
	}
	// A tampered active item is not rotated.
	av := maps.Clone(w.ddb.item("bk", keystore.TypeActive))
	av["create-time"] = &types.AttributeValueMemberS{Value: "2000-01-01T00:00:00.000000Z"}
	w.ddb.set("bk", keystore.TypeActive, av)
	if _, err := s.VersionKey(ctx, "bk"); !errors.Is(err, ddbenc.ErrDecryption) {
		t.Errorf("VersionKey of a tampered active item: %v, want ErrDecryption", err)
	}
	if _, err := s.VersionKey(ctx, "missing"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("VersionKey of a missing key: %v", err)
	}
}

func TestKMSModes(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	writer := w.store(t, keystore.Config{KMSMode: keystore.KMSMRK, KMSKeyARN: w.primary})
	if _, err := writer.CreateKey(ctx, keystore.CreateKeyOptions{BranchKeyID: "mrk"}); err != nil {
		t.Fatal(err)
	}
	westClient := ddbenctest.NewKMSClient(w.url, west)
	for _, tc := range []struct {
		name       string
		cfg        keystore.Config
		keyID      string // Decrypt KeyId, "" = must fail
		region     string
		wantErr    error
		writeFails bool
	}{
		{name: "strict primary", cfg: keystore.Config{KMSKeyARN: w.primary}, keyID: w.primary, region: east},
		{name: "strict replica refuses the primary's items", cfg: keystore.Config{KMSKeyARN: w.replica, KMS: westClient}, wantErr: ddbenc.ErrWrongKey},
		{name: "MRK replica", cfg: keystore.Config{KMSMode: keystore.KMSMRK, KMSKeyARN: w.replica, KMS: westClient}, keyID: w.replica, region: west},
		{name: "MRK other key", cfg: keystore.Config{KMSMode: keystore.KMSMRK, KMSKeyARN: w.sr}, wantErr: ddbenc.ErrWrongKey},
		{name: "discovery", cfg: keystore.Config{KMSMode: keystore.KMSDiscovery}, keyID: w.primary, region: east, writeFails: true},
		{name: "MRK discovery west", cfg: keystore.Config{KMSMode: keystore.KMSMRKDiscovery, KMS: westClient}, keyID: w.replica, region: west, writeFails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := w.store(t, tc.cfg)
			w.kms.Reset()
			bk, err := s.GetActiveBranchKey(ctx, "mrk")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("%v, want %v", err, tc.wantErr)
				}
				if n := w.kms.Count(""); n != 0 {
					t.Errorf("%d KMS calls", n)
				}
				return
			}
			if err != nil || len(bk.Key) != 32 {
				t.Fatal(err)
			}
			calls := w.kms.Calls()
			if len(calls) != 1 || calls[0].Op != "Decrypt" || calls[0].KeyID != tc.keyID || calls[0].Region != tc.region {
				t.Errorf("calls %+v; want one Decrypt of %s in %s", calls, tc.keyID, tc.region)
			}
			if _, err := s.CreateKey(ctx, keystore.CreateKeyOptions{}); tc.writeFails != errors.Is(err, ddbenc.ErrInvalidConfig) {
				t.Errorf("CreateKey in mode %v: %v", tc.cfg.KMSMode, err)
			}
		})
	}
	// A single-Region key of another Region is refused in MRK discovery.
	srStore := w.store(t, keystore.Config{KMSKeyARN: w.sr})
	if _, err := srStore.CreateKey(ctx, keystore.CreateKeyOptions{BranchKeyID: "sr"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store(t, keystore.Config{KMSMode: keystore.KMSMRKDiscovery, Region: west}).GetActiveBranchKey(ctx, "sr"); !errors.Is(err, ddbenc.ErrWrongKey) {
		t.Errorf("MRK discovery with a single-Region key elsewhere: %v", err)
	}
}

func TestConfig(t *testing.T) {
	w := newWorld(t)
	c := ddbenctest.NewKMSClient(w.url, east)
	for name, cfg := range map[string]keystore.Config{
		"no table":                {DynamoDB: w.ddb, KMS: c, KMSKeyARN: w.sr},
		"no DynamoDB":             {TableName: "T", KMS: c, KMSKeyARN: w.sr},
		"no KMS":                  {TableName: "T", DynamoDB: w.ddb, KMSKeyARN: w.sr},
		"strict without ARN":      {TableName: "T", DynamoDB: w.ddb, KMS: c},
		"alias ARN":               {TableName: "T", DynamoDB: w.ddb, KMS: c, KMSKeyARN: "arn:aws:kms:us-east-1:111122223333:alias/k"},
		"alias name":              {TableName: "T", DynamoDB: w.ddb, KMS: c, KMSMode: keystore.KMSMRK, KMSKeyARN: "alias/k"},
		"bare key id":             {TableName: "T", DynamoDB: w.ddb, KMS: c, KMSKeyARN: "mrk-1234"},
		"discovery with ARN":      {TableName: "T", DynamoDB: w.ddb, KMS: c, KMSMode: keystore.KMSDiscovery, KMSKeyARN: w.sr},
		"MRK discovery no Region": {TableName: "T", DynamoDB: w.ddb, KMS: &lyingKMS{KMSAPI: c}, KMSMode: keystore.KMSMRKDiscovery},
		"unknown mode":            {TableName: "T", DynamoDB: w.ddb, KMS: c, KMSMode: 9},
	} {
		if _, err := keystore.New(cfg); !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	s := w.store(t, keystore.Config{KMSKeyARN: w.sr})
	if s.LogicalName() != "KeyStore" || s.TableName() != "KeyStore" {
		t.Errorf("logical name %q, want the table name by default", s.LogicalName())
	}
}

func TestCreateTable(t *testing.T) {
	ctx := context.Background()
	f := newFakeDDB()
	if err := keystore.CreateTable(ctx, f, "KS"); err != nil {
		t.Fatal(err)
	}
	if len(f.schema) != 2 || aws.ToString(f.schema[0].AttributeName) != "branch-key-id" || aws.ToString(f.schema[1].AttributeName) != "type" {
		t.Errorf("schema %+v", f.schema)
	}
	// Again: the existing table has the right schema.
	if err := keystore.CreateTable(ctx, f, "KS"); err != nil {
		t.Errorf("existing key store table: %v", err)
	}
	wrong := newFakeDDB()
	wrong.schema = []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}}
	if err := keystore.CreateTable(ctx, wrong, "KS"); !errors.Is(err, keystore.ErrTableSchema) || !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("existing table with another schema: %v", err)
	}
}
