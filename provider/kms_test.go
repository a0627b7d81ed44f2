package provider_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/internal/testvectors"
	"github.com/ddbec/ddbec-go/provider"
)

type kmsEnv struct {
	fake  *ddbenctest.KMSServer
	clock *ddbenctest.Clock
	url   string
}

func startKMS(t *testing.T, replicaDelay time.Duration) *kmsEnv {
	t.Helper()
	clock := ddbenctest.NewClock()
	fake := ddbenctest.StartKMS(t, ddbenctest.KMSOptions{Seed: []byte("provider-test"), ReplicaDelay: replicaDelay, Now: clock.Now})
	url := fake.URL
	return &kmsEnv{fake: fake, clock: clock, url: url}
}

// client returns a real SDK client; tests that do not exercise retries make
// one attempt only.
func (e *kmsEnv) client(region string, attempts int) *kms.Client {
	return ddbenctest.NewKMSClient(e.url, region, func(o *kms.Options) { o.RetryMaxAttempts = attempts })
}

// mrk creates a multi-Region key in us-east-1 with a replica in us-west-2.
func (e *kmsEnv) mrk(t *testing.T) (primary, replica string) {
	t.Helper()
	primary = e.fake.CreateKey("us-east-1", true)
	replica, err := e.fake.ReplicateKey(primary, "us-west-2")
	if err != nil {
		t.Fatal(err)
	}
	return primary, replica
}

var kmsActions = actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{"region": actions.SignOnly}}

func encryptorFor(t *testing.T, p ddbenc.MaterialsProvider) *ddbenc.Encryptor {
	t.Helper()
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "Customers", PartitionKey: "pk", SortKey: "sk", Actions: kmsActions, Provider: p})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func directKMS(t *testing.T, c provider.KMSAPI, arn string, optFns ...func(*provider.DirectKMSOptions)) *provider.DirectKMS {
	t.Helper()
	p, err := provider.NewDirectKMS(c, arn, optFns...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func customer(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk":     &types.AttributeValueMemberS{Value: id},
		"sk":     &types.AttributeValueMemberN{Value: "1"},
		"email":  &types.AttributeValueMemberS{Value: "ada@example.com"},
		"region": &types.AttributeValueMemberS{Value: "eu"},
	}
}

func TestMRKWriteEastReadWest(t *testing.T) {
	// Items written in us-east-1 with the primary are read with the replica
	// ARN: Decrypt goes to us-west-2 with KeyId = the replica, never across
	// Regions. A client of another Region is refused for a multi-Region key
	// unless AllowCrossRegion is set; a single-Region key has one Region only
	// and is always accepted, its calls pinned to its ARN's Region.
	ctx := context.Background()
	crossRegion := func(o *provider.DirectKMSOptions) { o.AllowCrossRegion = true }
	for _, c := range []struct {
		name         string
		singleRegion bool // a us-west-2 single-Region key instead of the MRK
		readerRegion string
		opts         []func(*provider.DirectKMSOptions)
		wantRefused  bool
	}{
		{name: "MRK replica, us-west-2 client", readerRegion: "us-west-2"},
		{name: "MRK replica, us-east-1 client", readerRegion: "us-east-1", wantRefused: true},
		{name: "MRK replica, us-east-1 client, AllowCrossRegion", readerRegion: "us-east-1", opts: []func(*provider.DirectKMSOptions){crossRegion}},
		{name: "single-Region key, us-east-1 client", singleRegion: true, readerRegion: "us-east-1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := startKMS(t, 0)
			writeKey, readKey := e.mrk(t)
			writeRegion := "us-east-1"
			if c.singleRegion {
				writeKey = e.fake.CreateKey("us-west-2", false)
				readKey, writeRegion = writeKey, "us-west-2"
			}
			readerP, err := provider.NewDirectKMS(e.client(c.readerRegion, 1), readKey, c.opts...)
			if c.wantRefused {
				if !errors.Is(err, ddbenc.ErrInvalidConfig) || readerP != nil {
					t.Fatalf("NewDirectKMS = %v, %v; want ErrInvalidConfig", readerP != nil, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewDirectKMS: %v", err)
			}
			writer := encryptorFor(t, directKMS(t, e.client(writeRegion, 1), writeKey))
			reader := encryptorFor(t, readerP)
			e.fake.Reset()
			const n = 5
			for i := range n {
				item := customer("c-" + string(rune('a'+i)))
				stored, err := writer.EncryptItem(ctx, item)
				if err != nil {
					t.Fatal(err)
				}
				got, err := reader.DecryptItem(ctx, stored)
				if err != nil {
					t.Fatalf("DecryptItem: %v", err)
				}
				if diff := avtest.DiffItems(item, got); diff != "" {
					t.Fatalf("round trip (-want +got):\n%s", diff)
				}
			}
			if g, d := e.fake.Count("GenerateDataKey"), e.fake.Count("Decrypt"); g != n || d != n || e.fake.Count("") != 2*n {
				t.Errorf("KMS calls: %d GenerateDataKey, %d Decrypt, %d total; want %d, %d, %d", g, d, e.fake.Count(""), n, n, 2*n)
			}
			for _, call := range e.fake.Calls() {
				switch call.Op {
				case "GenerateDataKey":
					if call.Region != writeRegion || call.KeyID != writeKey {
						t.Errorf("GenerateDataKey went to %s with KeyId %s; want %s and %s", call.Region, call.KeyID, writeRegion, writeKey)
					}
				case "Decrypt":
					if call.Region != "us-west-2" || call.KeyID != readKey {
						t.Errorf("Decrypt went to %s with KeyId %s; want us-west-2 and %s", call.Region, call.KeyID, readKey)
					}
				}
			}
		})
	}
}

// noOptions hides the Options method of a *kms.Client: the provider cannot
// learn the client's Region.
type noOptions struct{ provider.KMSAPI }

// withOptions is a wrapper that keeps the Options method of a *kms.Client.
type withOptions struct{ *kms.Client }

func TestMRKOfAnotherRegionRefused(t *testing.T) {
	e := startKMS(t, 0)
	primary, replica := e.mrk(t)
	single := e.fake.CreateKey("us-east-1", false)
	west := e.client("us-west-2", 1)
	crossRegion := func(o *provider.DirectKMSOptions) { o.AllowCrossRegion = true }
	for _, c := range []struct {
		name    string
		client  provider.KMSAPI
		arn     string
		opts    []func(*provider.DirectKMSOptions)
		wantErr bool
	}{
		{name: "MRK of another Region", client: west, arn: primary, wantErr: true},
		{name: "MRK of another Region, client wrapper with Options", client: withOptions{west}, arn: primary, wantErr: true},
		{name: "MRK of another Region, AllowCrossRegion", client: west, arn: primary, opts: []func(*provider.DirectKMSOptions){crossRegion}},
		{name: "MRK of the client's Region", client: west, arn: replica},
		{name: "single-Region key of another Region", client: west, arn: single},
		{name: "MRK, client Region unknowable", client: noOptions{west}, arn: primary},
		{name: "MRK, client Region empty", client: e.client("", 1), arn: primary},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.fake.Reset()
			p, err := provider.NewDirectKMS(c.client, c.arn, c.opts...)
			if n := e.fake.Count(""); n != 0 {
				t.Errorf("NewDirectKMS made %d KMS calls, want none", n)
			}
			if !c.wantErr {
				if err != nil || p == nil {
					t.Fatalf("NewDirectKMS = %v, %v; want a provider", p != nil, err)
				}
				return
			}
			if !errors.Is(err, ddbenc.ErrInvalidConfig) || p != nil {
				t.Fatalf("NewDirectKMS = %v, %v; want ErrInvalidConfig", p != nil, err)
			}
			want := "ddbenc: invalid configuration: provider: multi-Region KMS key " + primary +
				" is in Region us-east-1 but the KMS client's Region is us-west-2: configure the local replica " + replica +
				", or set AllowCrossRegion to call Region us-east-1"
			if got := err.Error(); got != want {
				t.Errorf("error:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestDecryptContextMismatchSaysWhatDiffers(t *testing.T) {
	// KMS refuses the data key when the encryption context differs from the
	// writer's; the error says which inputs must match, without values.
	ctx := context.Background()
	e := startKMS(t, 0)
	k := e.fake.CreateKey("us-east-1", false)
	c := e.client("us-east-1", 1)
	const pkValue, skValue = "pk-value-5e1f", "918273645"
	item := customer(pkValue)
	item["sk"] = &types.AttributeValueMemberN{Value: skValue}
	stored, err := encryptorFor(t, directKMS(t, c, k)).EncryptItem(ctx, item)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := legacy.ParseDescription(stored[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB).Value)
	if err != nil {
		t.Fatal(err)
	}
	reader := func(table, pk, sk string) *ddbenc.Encryptor {
		enc, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: table, PartitionKey: pk, SortKey: sk, Actions: kmsActions, Provider: directKMS(t, c, k)})
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	// edit returns a copy of the stored item changed by fn.
	edit := func(fn func(map[string]types.AttributeValue)) map[string]types.AttributeValue {
		out := avtest.Clone(stored)
		fn(out)
		return out
	}
	for _, tc := range []struct {
		name     string
		reader   *ddbenc.Encryptor
		item     map[string]types.AttributeValue
		wantText string // the configuration part of the message
	}{
		{
			name: "table name", reader: reader("Orders", "pk", "sk"), item: stored,
			wantText: `the table name (signed table name "Orders"), the partition key attribute name "pk" and the sort key attribute name "sk" must equal the writer's`,
		},
		{
			name: "partition key name", reader: reader("Customers", "id", "sk"),
			item:     edit(func(it map[string]types.AttributeValue) { it["id"] = it["pk"]; delete(it, "pk") }),
			wantText: `the table name (signed table name "Customers"), the partition key attribute name "id" and the sort key attribute name "sk" must equal the writer's`,
		},
		{
			name: "no sort key", reader: reader("Customers", "pk", ""), item: stored,
			wantText: `the table name (signed table name "Customers"), the partition key attribute name "pk" and no sort key attribute must equal the writer's`,
		},
		{
			name: "partition key value", reader: reader("Customers", "pk", "sk"),
			item: edit(func(it map[string]types.AttributeValue) {
				it["pk"] = &types.AttributeValueMemberS{Value: pkValue + "-other"}
			}),
			wantText: `the table name (signed table name "Customers"), the partition key attribute name "pk" and the sort key attribute name "sk" must equal the writer's`,
		},
		{
			name: "material description", reader: reader("Customers", "pk", "sk"),
			item: edit(func(it map[string]types.AttributeValue) {
				d := maps.Clone(desc)
				d[legacy.ContentKeyAlg] = "AES/128"
				it[legacy.MaterialDescriptionAttribute] = &types.AttributeValueMemberB{Value: legacy.SerializeDescription(d)}
			}),
			wantText: `the table name (signed table name "Customers"), the partition key attribute name "pk" and the sort key attribute name "sk" must equal the writer's`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.reader.DecryptItem(ctx, tc.item)
			if got != nil || !errors.Is(err, ddbenc.ErrDecryption) || !errors.Is(err, ddbenc.ErrSignature) {
				t.Fatalf("DecryptItem = %v, %v; want ErrDecryption and ErrSignature", got != nil, err)
			}
			var invalidCT *kmstypes.InvalidCiphertextException
			if !errors.As(err, &invalidCT) {
				t.Errorf("InvalidCiphertextException not reachable with errors.As: %v", err)
			}
			msg := err.Error()
			for _, want := range []string{
				"KMS Decrypt with key " + k + " (the item's integrity check failed: ddbenc: signature verification failed): KMS refused the item's data key (InvalidCiphertextException): the KMS encryption context differs from the writer's, or the data key is damaged; ",
				tc.wantText + ", and the item's key values and material description (its algorithms) are bound too",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not contain %q:\n%s", want, msg)
				}
			}
			for _, secret := range []string{pkValue, skValue, "ada@example.com", desc[legacy.EnvelopeKey], "AES/128", "HmacSHA256/256"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error contains the value %q:\n%s", secret, msg)
				}
			}
		})
	}
}

func TestKeyNotInRegionSaysSo(t *testing.T) {
	ctx := context.Background()
	e := startKMS(t, 0)
	primary := e.fake.CreateKey("us-east-1", true) // no replica in us-west-2
	westARN := strings.Replace(primary, ":us-east-1:", ":us-west-2:", 1)
	single := e.fake.CreateKey("us-east-1", false)
	singleWest := strings.Replace(single, ":us-east-1:", ":us-west-2:", 1)
	id := primary[strings.LastIndex(primary, "/")+1:]
	west := e.client("us-west-2", 1)
	keyID := func(o *provider.DirectKMSOptions) { o.AllowKeyIDOrAlias = true }
	written, err := encryptorFor(t, directKMS(t, e.client("us-east-1", 1), primary)).EncryptItem(ctx, customer("c"))
	if err != nil {
		t.Fatal(err)
	}
	writtenSingle, err := encryptorFor(t, directKMS(t, e.client("us-east-1", 1), single)).EncryptItem(ctx, customer("c"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		client provider.KMSAPI
		key    string
		opts   []func(*provider.DirectKMSOptions)
		op     string // "encrypt" or "decrypt"
		stored map[string]types.AttributeValue
		where  string
	}{
		{name: "encrypt, MRK without replica", client: west, key: westARN, op: "encrypt", where: "Region us-west-2"},
		{name: "decrypt, MRK without replica", client: west, key: westARN, op: "decrypt", stored: written, where: "Region us-west-2"},
		{name: "decrypt, single-Region key ARN of another Region", client: west, key: singleWest, op: "decrypt", stored: writtenSingle, where: "Region us-west-2"},
		{name: "encrypt, key id in the client's Region", client: west, key: id, opts: []func(*provider.DirectKMSOptions){keyID}, op: "encrypt", where: "Region us-west-2"},
		{name: "decrypt, key id, client Region unknowable", client: noOptions{west}, key: id, opts: []func(*provider.DirectKMSOptions){keyID}, op: "decrypt", stored: written, where: "the KMS client's Region"},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc := encryptorFor(t, directKMS(t, c.client, c.key, c.opts...))
			var (
				got map[string]types.AttributeValue
				err error
			)
			if c.op == "encrypt" {
				got, err = enc.EncryptItem(ctx, customer("c"))
			} else {
				got, err = enc.DecryptItem(ctx, c.stored)
			}
			if got != nil || !errors.Is(err, ddbenc.ErrWrongKey) {
				t.Fatalf("%s = %v, %v; want ErrWrongKey", c.op, got != nil, err)
			}
			var notFound *kmstypes.NotFoundException
			if !errors.As(err, &notFound) {
				t.Errorf("NotFoundException not reachable with errors.As: %v", err)
			}
			want := "KMS key " + c.key + " does not exist in " + c.where + "; for a multi-Region key, create its replica there or configure the local replica's ARN"
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not contain %q:\n%s", want, err)
			}
		})
	}
}

func TestSingleRegionKeyIsWrongKeyElsewhere(t *testing.T) {
	ctx := context.Background()
	e := startKMS(t, 0)
	east := e.fake.CreateKey("us-east-1", false)
	westLocal := e.fake.CreateKey("us-west-2", false)
	stored, err := encryptorFor(t, directKMS(t, e.client("us-east-1", 1), east)).EncryptItem(ctx, customer("c"))
	if err != nil {
		t.Fatal(err)
	}
	// The same ARN with the Region swapped names no key in us-west-2, and a
	// us-west-2 key is another key: both are wrong-key errors.
	for name, c := range map[string]struct {
		arn  string
		want any
	}{
		"region swapped": {strings.Replace(east, "us-east-1", "us-west-2", 1), new(*kmstypes.NotFoundException)},
		"local key":      {westLocal, new(*kmstypes.IncorrectKeyException)},
	} {
		got, err := encryptorFor(t, directKMS(t, e.client("us-west-2", 1), c.arn)).DecryptItem(ctx, stored)
		if !errors.Is(err, ddbenc.ErrWrongKey) || got != nil {
			t.Errorf("%s: DecryptItem = %v, %v; want ErrWrongKey", name, got != nil, err)
		}
		if !errors.As(err, c.want) {
			t.Errorf("%s: SDK error not reachable: %v", name, err)
		}
	}
}

func TestStrictRejectsOtherKeyOfSameAccount(t *testing.T) {
	ctx := context.Background()
	e := startKMS(t, 0)
	a := e.fake.CreateKey("us-east-1", true)
	b := e.fake.CreateKey("us-east-1", true)
	stored, err := encryptorFor(t, directKMS(t, e.client("us-east-1", 1), a)).EncryptItem(ctx, customer("c"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := encryptorFor(t, directKMS(t, e.client("us-east-1", 1), b)).DecryptItem(ctx, stored)
	var incorrect *kmstypes.IncorrectKeyException
	if !errors.Is(err, ddbenc.ErrWrongKey) || !errors.As(err, &incorrect) || got != nil {
		t.Fatalf("strict reader with key b: %v, %v; want ErrWrongKey wrapping IncorrectKeyException", got != nil, err)
	}
	// Defence in depth: if KMS (or something in between) reported another key
	// than the one requested, the provider still refuses the data key.
	lying := &rewriteKeyID{KMSAPI: e.client("us-east-1", 1), keyID: b}
	got, err = encryptorFor(t, directKMS(t, lying, a)).DecryptItem(ctx, stored)
	if !errors.Is(err, ddbenc.ErrWrongKey) || got != nil {
		t.Fatalf("reported key b for a request with key a: %v, %v; want ErrWrongKey", got != nil, err)
	}
	// The unchecked legacy mode accepts it: that is why it is opt-in.
	if _, err := encryptorFor(t, directKMS(t, e.client("us-east-1", 1), b, func(o *provider.DirectKMSOptions) {
		o.Mode = provider.KMSUncheckedLegacy
	})).DecryptItem(ctx, stored); err != nil {
		t.Fatalf("unchecked legacy mode: %v", err)
	}
}

// rewriteKeyID reports keyID as the key of every Decrypt.
type rewriteKeyID struct {
	provider.KMSAPI
	keyID string
}

func (r *rewriteKeyID) Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	out, err := r.KMSAPI.Decrypt(ctx, in, optFns...)
	if out != nil {
		out.KeyId = &r.keyID
	}
	return out, err
}

func TestDiscoveryFilter(t *testing.T) {
	ctx := context.Background()
	e := startKMS(t, 0)
	a := e.fake.CreateKey("us-east-1", false)
	other := e.fake.CreateKey("us-east-1", false)
	stored, err := encryptorFor(t, directKMS(t, e.client("us-east-1", 1), a)).EncryptItem(ctx, customer("c"))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		filter provider.DiscoveryFilter
		ok     bool
	}{
		"account allowed":   {provider.DiscoveryFilter{Partition: "aws", Accounts: []string{"999999999999", "111122223333"}}, true},
		"account refused":   {provider.DiscoveryFilter{Partition: "aws", Accounts: []string{"999999999999"}}, false},
		"partition differs": {provider.DiscoveryFilter{Partition: "aws-cn", Accounts: []string{"111122223333"}}, false},
	} {
		e.fake.Reset()
		// Configured with another key: discovery does not send it.
		p := directKMS(t, e.client("us-east-1", 1), other, func(o *provider.DirectKMSOptions) {
			o.Mode, o.Discovery = provider.KMSDiscovery, c.filter
		})
		got, err := encryptorFor(t, p).DecryptItem(ctx, stored)
		if c.ok && err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !c.ok && (!errors.Is(err, ddbenc.ErrWrongKey) || got != nil) {
			t.Errorf("%s: %v, %v; want ErrWrongKey", name, got != nil, err)
		}
		if calls := e.fake.Calls(); len(calls) != 1 || calls[0].KeyID != "" {
			t.Errorf("%s: discovery Decrypt calls %+v; want one without KeyId", name, calls)
		}
	}
}

func TestReplicaCreatingThenEnabled(t *testing.T) {
	ctx := context.Background()
	e := startKMS(t, time.Minute)
	primary, replica := e.mrk(t)
	stored, err := encryptorFor(t, directKMS(t, e.client("us-east-1", 1), primary)).EncryptItem(ctx, customer("c"))
	if err != nil {
		t.Fatal(err)
	}
	reader := encryptorFor(t, directKMS(t, e.client("us-west-2", 1), replica))
	got, err := reader.DecryptItem(ctx, stored)
	var invalidState *kmstypes.KMSInvalidStateException
	if !errors.Is(err, ddbenc.ErrKeyUnavailable) || !errors.As(err, &invalidState) || got != nil {
		t.Fatalf("replica Creating: %v, %v; want ErrKeyUnavailable wrapping KMSInvalidStateException", got != nil, err)
	}
	if !strings.Contains(err.Error(), replica) || !strings.Contains(err.Error(), "Creating") {
		t.Errorf("error does not say which key or why: %v", err)
	}
	e.clock.Advance(time.Minute)
	if _, err := reader.DecryptItem(ctx, stored); err != nil {
		t.Fatalf("replica Enabled: %v", err)
	}
}

func TestKMSEncryptionContextOfSpecExample(t *testing.T) {
	ctx := context.Background()
	e := startKMS(t, 0)
	k := e.fake.CreateKey("us-west-2", false)
	p := directKMS(t, e.client("us-west-2", 1), k)
	enc, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: "HashKeyOnly", PartitionKey: "hashKey", Actions: actions.Map{Default: actions.EncryptAndSign}, Provider: p})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := enc.EncryptItem(ctx, map[string]types.AttributeValue{
		"hashKey": &types.AttributeValueMemberS{Value: "Bar"},
		"secret":  &types.AttributeValueMemberS{Value: "s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.DecryptItem(ctx, stored); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"*amzn-ddb-env-alg*": "AES/256", "*amzn-ddb-sig-alg*": "HmacSHA256/256", "hashKey": "Bar", "*aws-kms-table*": "HashKeyOnly"}
	calls := e.fake.Calls()
	if len(calls) != 2 {
		t.Fatalf("calls: %+v", calls)
	}
	for _, c := range calls {
		if diff := cmp.Diff(want, c.EncryptionContext); diff != "" {
			t.Errorf("%s encryption context (-spec +got):\n%s", c.Op, diff)
		}
	}
	// The description the legacy clients expect.
	desc, err := legacy.ParseDescription(stored[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB).Value)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := base64.StdEncoding.DecodeString(desc[legacy.EnvelopeKey])
	if err != nil || len(blob) == 0 {
		t.Errorf("env-key is not base64: %v", err)
	}
	delete(desc, legacy.EnvelopeKey)
	wantDesc := map[string]string{
		"aws-kms-ec-attr": "*keys*", "amzn-ddb-wrap-alg": "kms", "amzn-ddb-env-alg": "AES/256", "amzn-ddb-sig-alg": "HmacSHA256/256",
		"amzn-ddb-map-sym-mode": "/CBC/PKCS5Padding", "amzn-ddb-map-signingAlg": "HmacSHA256",
	}
	if diff := cmp.Diff(wantDesc, desc); diff != "" {
		t.Errorf("material description (-want +got):\n%s", diff)
	}
	if n := len(stored[legacy.SignatureAttribute].(*types.AttributeValueMemberB).Value); n != 32 {
		t.Errorf("signature is %d bytes, want 32", n)
	}
}

// captureDecrypt records the Decrypt request and fails it.
type captureDecrypt struct {
	provider.KMSAPI
	in *kms.DecryptInput
}

func (c *captureDecrypt) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	c.in = in
	return nil, errors.New("captured")
}

// TestKMSContextOfLegacyVectorItems: for every stored item of every awskms
// scenario that scenarios.json lists, the Decrypt request carries the
// encryption context of docs/legacy-format.md §6.5 (table name, key values,
// the description's algorithms) and the item's wrapped data key. Where the
// data holds the worked example of docs/legacy-format.md §6.5
// (HashKeyOnly/Bar), its context is compared with that text too.
func TestKMSContextOfLegacyVectorItems(t *testing.T) {
	root, err := testvectors.Root()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := testvectors.LoadScenarios(root)
	if err != nil {
		t.Fatal(err)
	}
	literal := func(v types.AttributeValue) string {
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			return x.Value
		case *types.AttributeValueMemberN:
			return x.Value
		case *types.AttributeValueMemberB:
			return base64.StdEncoding.EncodeToString(x.Value)
		}
		t.Fatalf("key value of type %T", v)
		return ""
	}
	checked, example := 0, 0
	for _, scen := range sc.Scenarios {
		if scen.Provider != "awskms" {
			continue
		}
		pt, err := sc.LoadPlaintext(scen.Plaintext)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := sc.Ciphertext(scen.Ciphertext)
		if err != nil {
			t.Fatal(err)
		}
		for table, items := range ct {
			index := pt.Items[table].Index
			for _, it := range items {
				descAV, ok := it[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB)
				if !ok {
					continue // a do-nothing item: no KMS call
				}
				desc, err := legacy.ParseDescription(descAV.Value)
				if err != nil {
					t.Fatal(err)
				}
				capture := &captureDecrypt{}
				p := directKMS(t, capture, "arn:aws:kms:us-west-2:658956600833:key/b3537ef1-d8dc-4780-9f5a-55776cbb2f7f")
				enc, err := ddbenc.NewEncryptor(ddbenc.TableConfig{TableName: table, PartitionKey: index.Partition, SortKey: index.Sort,
					Actions: actions.Map{Default: actions.EncryptAndSign}, Provider: p})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := enc.DecryptItem(context.Background(), map[string]types.AttributeValue(it)); err == nil || capture.in == nil {
					t.Fatalf("%s %s: Decrypt not called: %v", scen.Name(), table, err)
				}
				want := map[string]string{"*amzn-ddb-env-alg*": desc[legacy.ContentKeyAlg], "*amzn-ddb-sig-alg*": desc[legacy.MACAlgorithm],
					"*aws-kms-table*": table, index.Partition: literal(it[index.Partition])}
				if index.Sort != "" {
					want[index.Sort] = literal(it[index.Sort])
				}
				if diff := cmp.Diff(want, capture.in.EncryptionContext); diff != "" {
					t.Errorf("%s %s: encryption context (-want +got):\n%s", scen.Name(), table, diff)
				}
				blob, err := base64.StdEncoding.DecodeString(desc[legacy.EnvelopeKey])
				if err != nil || !bytes.Equal(blob, capture.in.CiphertextBlob) {
					t.Errorf("%s %s: CiphertextBlob is not the item's wrapped data key (%v)", scen.Name(), table, err)
				}
				if table == "HashKeyOnly" && want[index.Partition] == "Bar" {
					spec := map[string]string{"*amzn-ddb-env-alg*": "AES/256", "*amzn-ddb-sig-alg*": "HmacSHA256/256", "hashKey": "Bar", "*aws-kms-table*": "HashKeyOnly"}
					if diff := cmp.Diff(spec, capture.in.EncryptionContext); diff != "" {
						t.Errorf("the worked example's context (-docs +got):\n%s", diff)
					}
					example++
				}
				checked++
			}
		}
	}
	t.Logf("%d KMS vector items checked (%d the worked example of docs/legacy-format.md §6.5)", checked, example)
	if checked == 0 {
		t.Fatalf("no awskms item with a material description in %s", root)
	}
}

func TestNumericKeyLiteralInKMSContext(t *testing.T) {
	ctx := context.Background()
	e := startKMS(t, 0)
	k := e.fake.CreateKey("us-east-1", false)
	enc := encryptorFor(t, directKMS(t, e.client("us-east-1", 1), k))
	item := customer("c")
	item["sk"] = &types.AttributeValueMemberN{Value: "1.50E1"}
	stored, err := enc.EncryptItem(ctx, item)
	if err != nil {
		t.Fatal(err)
	}
	if got := stored["sk"].(*types.AttributeValueMemberN).Value; got != "15" {
		t.Errorf("stored sort key %q, want the canonical 15", got)
	}
	if got := e.fake.Calls()[0].EncryptionContext["sk"]; got != "15" {
		t.Errorf("KMS context sort key %q, want 15 (what DynamoDB will return)", got)
	}
	if _, err := enc.DecryptItem(ctx, stored); err != nil {
		t.Fatal(err)
	}
}

func TestKMSFaults(t *testing.T) {
	ctx := context.Background()
	e := startKMS(t, 0)
	k := e.fake.CreateKey("us-east-1", false)
	encrypt := func(c *kms.Client) error {
		_, err := encryptorFor(t, directKMS(t, c, k)).EncryptItem(ctx, customer("c"))
		return err
	}
	// Throttling within the SDK's retries is invisible.
	e.fake.Reset()
	e.fake.Inject(ddbenctest.KMSFault{Op: "GenerateDataKey", Kind: ddbenctest.FaultThrottle, N: 2})
	if err := encrypt(e.client("us-east-1", 3)); err != nil {
		t.Fatalf("throttled twice: %v", err)
	}
	if n := e.fake.Count("GenerateDataKey"); n != 3 {
		t.Errorf("GenerateDataKey calls = %d, want 3 (two retries)", n)
	}
	// A 500 surfaces typed.
	e.fake.Inject(ddbenctest.KMSFault{Kind: ddbenctest.FaultInternal, N: 1})
	err := encrypt(e.client("us-east-1", 1))
	var internal *kmstypes.KMSInternalException
	if !errors.Is(err, ddbenc.ErrKeyUnavailable) || !errors.As(err, &internal) {
		t.Errorf("500: %v", err)
	}
	var de *ddbenc.Error
	if !errors.As(err, &de) || de.Table != "Customers" || de.Op != "encrypt" {
		t.Errorf("500: not a *ddbenc.Error naming the table: %v", err)
	}
	// A disabled key, then a key pending deletion.
	if err := e.fake.SetKeyState(k, ddbenctest.KeyStateDisabled); err != nil {
		t.Fatal(err)
	}
	var disabled *kmstypes.DisabledException
	if err := encrypt(e.client("us-east-1", 1)); !errors.Is(err, ddbenc.ErrKeyUnavailable) || !errors.As(err, &disabled) {
		t.Errorf("disabled key: %v", err)
	}
	e.fake.SetKeyState(k, ddbenctest.KeyStatePendingDeletion)
	var invalidState *kmstypes.KMSInvalidStateException
	if err := encrypt(e.client("us-east-1", 1)); !errors.Is(err, ddbenc.ErrKeyUnavailable) || !errors.As(err, &invalidState) {
		t.Errorf("key pending deletion: %v", err)
	}
	// A cancelled context passes through untouched.
	e.fake.SetKeyState(k, ddbenctest.KeyStateEnabled)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := encryptorFor(t, directKMS(t, e.client("us-east-1", 1), k)).EncryptItem(cctx, customer("c")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestRegionPinnedToKeyARN(t *testing.T) {
	ctx := context.Background()
	e := startKMS(t, 0)
	k := e.fake.CreateKey("eu-west-1", false)
	e.fake.Reset()
	p := directKMS(t, e.client("us-west-2", 1), k, func(o *provider.DirectKMSOptions) { o.GrantTokens = []string{"grant-1"} })
	stored, err := encryptorFor(t, p).EncryptItem(ctx, customer("c"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := encryptorFor(t, p).DecryptItem(ctx, stored); err != nil {
		t.Fatal(err)
	}
	for _, c := range e.fake.Calls() {
		if c.Region != "eu-west-1" || len(c.GrantTokens) != 1 || c.GrantTokens[0] != "grant-1" {
			t.Errorf("%s sent to %s with grant tokens %v; want eu-west-1 and grant-1", c.Op, c.Region, c.GrantTokens)
		}
	}
}

func TestKeyIDOrAliasNeedsOption(t *testing.T) {
	ctx := context.Background()
	e := startKMS(t, 0)
	arn := e.fake.CreateKey("us-east-1", false)
	id := arn[strings.LastIndex(arn, "/")+1:]
	c := e.client("us-east-1", 1)
	for _, bad := range []string{id, "alias/customers", "arn:aws:kms:us-east-1:111122223333:alias/customers", ""} {
		if _, err := provider.NewDirectKMS(c, bad); !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("NewDirectKMS(%q) = %v, want ErrInvalidConfig", bad, err)
		}
	}
	p := directKMS(t, c, id, func(o *provider.DirectKMSOptions) { o.AllowKeyIDOrAlias = true })
	stored, err := encryptorFor(t, p).EncryptItem(ctx, customer("c"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := encryptorFor(t, p).DecryptItem(ctx, stored); err != nil {
		t.Fatalf("key id with AllowKeyIDOrAlias: %v", err)
	}
}

func TestDirectKMSOptions(t *testing.T) {
	ctx := context.Background()
	e := startKMS(t, 0)
	k := e.fake.CreateKey("us-east-1", false)
	c := e.client("us-east-1", 1)
	for name, fn := range map[string]func(*provider.DirectKMSOptions){
		"discovery without filter": func(o *provider.DirectKMSOptions) { o.Mode = provider.KMSDiscovery },
		"unknown mode":             func(o *provider.DirectKMSOptions) { o.Mode = 9 },
		"content DES":              func(o *provider.DirectKMSOptions) { o.ContentKeyAlgorithm = "DES/56" },
		"content AES/100":          func(o *provider.DirectKMSOptions) { o.ContentKeyAlgorithm = "AES/100" },
		"mac MD5":                  func(o *provider.DirectKMSOptions) { o.SigningAlgorithm = "HmacMD5/128" },
		"mac short":                func(o *provider.DirectKMSOptions) { o.SigningAlgorithm = "HmacSHA256/64" },
		"reserved description": func(o *provider.DirectKMSOptions) {
			o.MaterialDescription = map[string]string{legacy.WrapAlgorithm: "x"}
		},
	} {
		if _, err := provider.NewDirectKMS(c, k, fn); !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := provider.NewDirectKMS(nil, k); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("nil client: %v", err)
	}
	// Other descriptors round-trip and are bound into the KMS context.
	p := directKMS(t, c, k, func(o *provider.DirectKMSOptions) {
		o.ContentKeyAlgorithm, o.SigningAlgorithm = "AES/128", "HmacSHA512/512"
		o.MaterialDescription = map[string]string{"app": "billing"}
	})
	e.fake.Reset()
	stored, err := encryptorFor(t, p).EncryptItem(ctx, customer("c"))
	if err != nil {
		t.Fatal(err)
	}
	if ec := e.fake.Calls()[0].EncryptionContext; ec["*amzn-ddb-env-alg*"] != "AES/128" || ec["*amzn-ddb-sig-alg*"] != "HmacSHA512/512" {
		t.Errorf("context %v", ec)
	}
	desc, _ := legacy.ParseDescription(stored[legacy.MaterialDescriptionAttribute].(*types.AttributeValueMemberB).Value)
	if desc["app"] != "billing" || desc[legacy.SigningAlgorithm] != "HmacSHA512" {
		t.Errorf("description %v", desc)
	}
	if n := len(stored[legacy.SignatureAttribute].(*types.AttributeValueMemberB).Value); n != 64 {
		t.Errorf("HmacSHA512 signature is %d bytes", n)
	}
	// A reader with default options reads it: descriptors come from the item.
	if _, err := encryptorFor(t, directKMS(t, c, k)).DecryptItem(ctx, stored); err != nil {
		t.Fatal(err)
	}
	// Items of other providers are refused before any KMS call.
	e.fake.Reset()
	delete(desc, legacy.WrapAlgorithm)
	stored[legacy.MaterialDescriptionAttribute] = &types.AttributeValueMemberB{Value: legacy.SerializeDescription(desc)}
	if _, err := encryptorFor(t, p).DecryptItem(ctx, stored); !errors.Is(err, ddbenc.ErrWrongKey) || e.fake.Count("") != 0 {
		t.Errorf("item without wrap-alg kms: %v, %d KMS calls", err, e.fake.Count(""))
	}
}
