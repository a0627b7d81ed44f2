package ddbenctest_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/ddbec/ddbec-go/ddbenctest"
)

type env struct {
	fake  *ddbenctest.KMSServer
	clock *ddbenctest.Clock
	url   string
}

func start(t *testing.T, delay time.Duration) *env {
	t.Helper()
	clock := ddbenctest.NewClock()
	fake := ddbenctest.StartKMS(t, ddbenctest.KMSOptions{Seed: []byte("test"), ReplicaDelay: delay, Now: clock.Now})
	url := fake.URL
	return &env{fake: fake, clock: clock, url: url}
}

func (e *env) client(region string, optFns ...func(*kms.Options)) *kms.Client {
	return ddbenctest.NewKMSClient(e.url, region, optFns...)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestMultiRegionKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	e := start(t, 30*time.Second)
	east, west := e.client("us-east-1"), e.client("us-west-2")

	created, err := east.CreateKey(ctx, &kms.CreateKeyInput{MultiRegion: aws.Bool(true), Description: aws.String("pii")})
	if err != nil {
		t.Fatal(err)
	}
	md := created.KeyMetadata
	if !strings.HasPrefix(*md.KeyId, "mrk-") || !strings.Contains(*md.Arn, ":us-east-1:111122223333:key/mrk-") || !*md.MultiRegion {
		t.Fatalf("CreateKey metadata: %+v", md)
	}
	if md.MultiRegionConfiguration.MultiRegionKeyType != kmstypes.MultiRegionKeyTypePrimary || md.KeyState != kmstypes.KeyStateEnabled {
		t.Fatalf("primary config %+v state %s", md.MultiRegionConfiguration, md.KeyState)
	}

	rep, err := east.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: md.KeyId, ReplicaRegion: aws.String("us-west-2")})
	if err != nil {
		t.Fatal(err)
	}
	replicaARN := *rep.ReplicaKeyMetadata.Arn
	if want := strings.Replace(*md.Arn, "us-east-1", "us-west-2", 1); replicaARN != want || rep.ReplicaKeyMetadata.KeyState != kmstypes.KeyStateCreating {
		t.Fatalf("replica %s in state %s, want %s Creating", replicaARN, rep.ReplicaKeyMetadata.KeyState, want)
	}

	// Data keys from the primary.
	ec := map[string]string{"table": "T"}
	gdk, err := east.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: md.Arn, NumberOfBytes: aws.Int32(32), EncryptionContext: ec})
	if err != nil || len(gdk.Plaintext) != 32 || *gdk.KeyId != *md.Arn {
		t.Fatalf("GenerateDataKey: %v", err)
	}

	// The replica is Creating: crypto calls fail with KMSInvalidStateException.
	_, err = west.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: ec, KeyId: &replicaARN})
	var invalidState *kmstypes.KMSInvalidStateException
	if !errors.As(err, &invalidState) {
		t.Fatalf("Decrypt with a Creating replica = %v, want KMSInvalidStateException", err)
	}
	e.clock.Advance(30 * time.Second)

	for _, keyID := range []*string{&replicaARN, nil, rep.ReplicaKeyMetadata.KeyId} {
		dec, err := west.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: ec, KeyId: keyID})
		if err != nil {
			t.Fatalf("Decrypt in us-west-2 (KeyId %v): %v", keyID != nil, err)
		}
		if !bytes.Equal(dec.Plaintext, gdk.Plaintext) || *dec.KeyId != replicaARN {
			t.Fatalf("Decrypt returned key %s", *dec.KeyId)
		}
	}

	// A changed encryption context fails authentication.
	_, err = west.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: map[string]string{"table": "U"}})
	var invalidCT *kmstypes.InvalidCiphertextException
	if !errors.As(err, &invalidCT) {
		t.Fatalf("Decrypt with another context = %v, want InvalidCiphertextException", err)
	}

	desc, err := east.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	if r := desc.KeyMetadata.MultiRegionConfiguration.ReplicaKeys; len(r) != 1 || *r[0].Region != "us-west-2" || *r[0].Arn != replicaARN {
		t.Fatalf("DescribeKey replicas %+v", r)
	}
	desc, err = west.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &replicaARN})
	if err != nil || desc.KeyMetadata.MultiRegionConfiguration.MultiRegionKeyType != kmstypes.MultiRegionKeyTypeReplica ||
		*desc.KeyMetadata.MultiRegionConfiguration.PrimaryKey.Arn != *md.Arn || desc.KeyMetadata.KeyState != kmstypes.KeyStateEnabled {
		t.Fatalf("DescribeKey replica: %+v %v", desc, err)
	}

	// Replicating twice, or replicating a replica, is refused.
	if _, err := east.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: md.KeyId, ReplicaRegion: aws.String("us-west-2")}); apiCode(err) != "AlreadyExistsException" {
		t.Errorf("second ReplicateKey = %v", err)
	}
	if _, err := west.ReplicateKey(ctx, &kms.ReplicateKeyInput{KeyId: &replicaARN, ReplicaRegion: aws.String("eu-west-1")}); apiCode(err) != "UnsupportedOperationException" {
		t.Errorf("ReplicateKey of a replica = %v", err)
	}
}

func TestSingleRegionKeysAndWrongKeys(t *testing.T) {
	ctx := context.Background()
	e := start(t, 0)
	east, west := e.client("us-east-1"), e.client("us-west-2")
	a := e.fake.CreateKey("us-east-1", false)
	b := e.fake.CreateKey("us-east-1", false)
	w := e.fake.CreateKey("us-west-2", false)
	enc, err := east.Encrypt(ctx, &kms.EncryptInput{KeyId: &a, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	// Another key named in the request: IncorrectKeyException.
	_, err = east.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: &b})
	var incorrect *kmstypes.IncorrectKeyException
	if !errors.As(err, &incorrect) {
		t.Errorf("Decrypt naming another key = %v, want IncorrectKeyException", err)
	}
	// A single-Region key's ciphertext decrypts nowhere else.
	if _, err := west.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); apiCode(err) != "InvalidCiphertextException" {
		t.Errorf("Decrypt in another Region = %v, want InvalidCiphertextException", err)
	}
	if _, err := west.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: &w}); apiCode(err) != "IncorrectKeyException" {
		t.Errorf("Decrypt in another Region naming a local key = %v, want IncorrectKeyException", err)
	}
	// The us-east-1 ARN sent to us-west-2 names no key there.
	if _, err := west.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: &a}); apiCode(err) != "NotFoundException" {
		t.Errorf("Decrypt with a key ARN of another Region = %v, want NotFoundException", err)
	}
	// ReEncrypt from a to b.
	re, err := east.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: &b})
	if err != nil || *re.SourceKeyId != a || *re.KeyId != b {
		t.Fatalf("ReEncrypt: %v", err)
	}
	dec, err := east.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "secret" || *dec.KeyId != b {
		t.Fatalf("Decrypt after ReEncrypt: %v", err)
	}
	// GenerateDataKeyWithoutPlaintext returns no plaintext.
	gw, err := east.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: &a, KeySpec: kmstypes.DataKeySpecAes256})
	if err != nil || len(gw.CiphertextBlob) == 0 {
		t.Fatalf("GenerateDataKeyWithoutPlaintext: %v", err)
	}
	if d, err := east.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gw.CiphertextBlob}); err != nil || len(d.Plaintext) != 32 {
		t.Fatalf("Decrypt of GenerateDataKeyWithoutPlaintext blob: %v", err)
	}
	if _, err := east.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &a, NumberOfBytes: aws.Int32(2000)}); apiCode(err) != "ValidationException" {
		t.Errorf("GenerateDataKey of 2000 bytes = %v", err)
	}
}

func TestKeyStates(t *testing.T) {
	ctx := context.Background()
	e := start(t, 0)
	c := e.client("us-east-1")
	k := e.fake.CreateKey("us-east-1", false)
	gen := func() error {
		_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &k, NumberOfBytes: aws.Int32(32)})
		return err
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &k}); err != nil {
		t.Fatal(err)
	}
	var disabled *kmstypes.DisabledException
	if err := gen(); !errors.As(err, &disabled) {
		t.Errorf("disabled key: %v, want DisabledException", err)
	}
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: &k}); err != nil || gen() != nil {
		t.Fatalf("EnableKey: %v", err)
	}
	del, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &k, PendingWindowInDays: aws.Int32(7)})
	if err != nil || del.KeyState != kmstypes.KeyStatePendingDeletion {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	var invalidState *kmstypes.KMSInvalidStateException
	if err := gen(); !errors.As(err, &invalidState) {
		t.Errorf("key pending deletion: %v, want KMSInvalidStateException", err)
	}
	if _, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab")}); apiCode(err) != "NotFoundException" {
		t.Errorf("DescribeKey unknown: %v", err)
	}
}

func TestListKeysPerRegion(t *testing.T) {
	ctx := context.Background()
	e := start(t, 0)
	for range 3 {
		e.fake.CreateKey("us-east-1", false)
	}
	e.fake.CreateKey("us-west-2", false)
	var got []string
	p := kms.NewListKeysPaginator(e.client("us-east-1"), &kms.ListKeysInput{Limit: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page.Keys {
			got = append(got, *k.KeyArn)
		}
	}
	if len(got) != 3 || !strings.Contains(got[0], ":us-east-1:") {
		t.Errorf("ListKeys us-east-1 = %v", got)
	}
}

func TestFaultsAndCounters(t *testing.T) {
	ctx := context.Background()
	e := start(t, 0)
	k := e.fake.CreateKey("us-east-1", false)
	c := e.client("us-east-1")
	gen := func(c *kms.Client) error {
		_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &k, NumberOfBytes: aws.Int32(32)})
		return err
	}
	// Two throttles: the SDK's standard retryer (3 attempts) gets through.
	e.fake.Reset()
	e.fake.Inject(ddbenctest.KMSFault{Op: "GenerateDataKey", Kind: ddbenctest.FaultThrottle, N: 2})
	if err := gen(c); err != nil {
		t.Fatalf("after two throttles: %v", err)
	}
	if n := e.fake.Count("GenerateDataKey"); n != 3 {
		t.Errorf("GenerateDataKey calls = %d, want 3", n)
	}
	// Throttling beyond the retries surfaces as ThrottlingException.
	e.fake.Inject(ddbenctest.KMSFault{Kind: ddbenctest.FaultThrottle, N: 5})
	if err := gen(c); apiCode(err) != "ThrottlingException" {
		t.Errorf("persistent throttling: %v", err)
	}
	e.fake.Reset()
	// A 500 without retries: typed KMSInternalException with its HTTP status.
	e.fake.Inject(ddbenctest.KMSFault{Kind: ddbenctest.FaultInternal, N: 1})
	err := gen(e.client("us-east-1", func(o *kms.Options) { o.RetryMaxAttempts = 1 }))
	var internal *kmstypes.KMSInternalException
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &internal) || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInternalServerError {
		t.Errorf("injected 500: %v", err)
	}
	// Latency past the caller's deadline.
	e.fake.Inject(ddbenctest.KMSFault{Kind: ddbenctest.FaultLatency, Delay: 2 * time.Second, N: 1})
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = c.GenerateDataKey(dctx, &kms.GenerateDataKeyInput{KeyId: &k, NumberOfBytes: aws.Int32(32)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("latency past deadline: %v", err)
	}
	calls := e.fake.Calls()
	if last := calls[len(calls)-1]; last.Op != "GenerateDataKey" || last.Region != "us-east-1" || last.KeyID != k {
		t.Errorf("last call %+v", last)
	}
}

// TestSetLatency: a standing latency holds every call (concurrently, not in
// a queue) until it has passed or the caller's context ends; zero and Reset
// remove it. No timing is measured: the held calls are seen in the call log
// and released only by cancelling them.
func TestSetLatency(t *testing.T) {
	ctx := context.Background()
	e := start(t, 0)
	k := e.fake.CreateKey("us-east-1", false)
	c := e.client("us-east-1", func(o *kms.Options) { o.RetryMaxAttempts = 1 })
	gen := func(ctx context.Context) error {
		_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: &k, NumberOfBytes: aws.Int32(32)})
		return err
	}
	e.fake.Reset()
	e.fake.SetLatency(time.Hour)
	cctx, cancel := context.WithCancel(ctx)
	const calls = 3
	errs := make(chan error, calls)
	for range calls {
		go func() { errs <- gen(cctx) }()
	}
	// All three are held at once: none is answered while the others wait.
	for e.fake.Count("GenerateDataKey") < calls {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-errs:
		t.Fatalf("a call was answered under a latency of an hour: %v", err)
	default:
	}
	cancel()
	for range calls {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("held call after cancel: %v, want context.Canceled", err)
		}
	}
	// A short latency still answers.
	e.fake.SetLatency(time.Millisecond)
	if err := gen(ctx); err != nil {
		t.Errorf("with 1ms latency: %v", err)
	}
	// Zero removes it, and so does Reset.
	e.fake.SetLatency(0)
	if err := gen(ctx); err != nil {
		t.Errorf("with latency 0: %v", err)
	}
	e.fake.SetLatency(time.Hour)
	e.fake.Reset()
	if err := gen(ctx); err != nil {
		t.Errorf("after Reset: %v", err)
	}
}

func TestRegionFromSignature(t *testing.T) {
	ctx := context.Background()
	e := start(t, 0)
	out, err := e.client("eu-central-1").CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil || !strings.Contains(*out.KeyMetadata.Arn, ":eu-central-1:") {
		t.Fatalf("CreateKey via eu-central-1: %v", err)
	}
	// An unsigned request is refused.
	resp, err := http.Post(e.url, "application/x-amz-json-1.1", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unsigned request: status %d", resp.StatusCode)
	}
}
