package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/ddbenctest"
	"github.com/ddbec/ddbec-go/internal/avtest"
	"github.com/ddbec/ddbec-go/internal/dbesdk"
	"github.com/ddbec/ddbec-go/keyring"
)

const (
	east = "us-east-1"
	west = "us-west-2"
)

// kmsWorld is a fake KMS with a multi-Region key (primary in us-east-1,
// replica in us-west-2) and single-Region keys.
type kmsWorld struct {
	fake             *ddbenctest.KMSServer
	url              string
	primary, replica string // one MRK
	single           string // single-Region key in us-east-1
	other            string // another single-Region key in us-east-1
}

func newKMSWorld(t *testing.T) *kmsWorld {
	t.Helper()
	fake := ddbenctest.StartKMS(t, ddbenctest.KMSOptions{Seed: []byte("keyring-kms-test")})
	url := fake.URL
	w := &kmsWorld{fake: fake, url: url, primary: fake.CreateKey(east, true), single: fake.CreateKey(east, false), other: fake.CreateKey(east, false)}
	var err error
	if w.replica, err = fake.ReplicateKey(w.primary, west); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *kmsWorld) client(region string) *kms.Client { return ddbenctest.NewKMSClient(w.url, region) }

// mark returns the current length of the call log; since returns the calls
// after a mark.
func (w *kmsWorld) mark() int { return len(w.fake.Calls()) }

func (w *kmsWorld) since(n int) []ddbenctest.KMSCall { return w.fake.Calls()[n:] }

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func newEncryptor(t *testing.T, kr ddbenc.Keyring) *ddbenc.Encryptor {
	t.Helper()
	e, err := ddbenc.NewEncryptor(ddbenc.TableConfig{
		TableName: "T", PartitionKey: "pk", SortKey: "sk", Format: ddbenc.DBESDKFormat, Keyring: kr,
		Actions: actions.Map{Default: actions.DoNothing, Attributes: map[string]actions.Action{"secret": actions.EncryptAndSign, "count": actions.SignOnly}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func testItem() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk":     &types.AttributeValueMemberS{Value: "p1"},
		"sk":     &types.AttributeValueMemberN{Value: "7"},
		"secret": &types.AttributeValueMemberS{Value: "s3cr3t"},
		"count":  &types.AttributeValueMemberN{Value: "3"},
	}
}

// encryptWith encrypts testItem with kr.
func encryptWith(t *testing.T, kr ddbenc.Keyring) map[string]types.AttributeValue {
	t.Helper()
	stored, err := newEncryptor(t, kr).EncryptItem(context.Background(), testItem())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stored[dbesdk.HeadAttribute]; !ok {
		t.Fatalf("stored item has no %s", dbesdk.HeadAttribute)
	}
	if s, ok := stored["secret"].(*types.AttributeValueMemberB); !ok || bytes.Contains(s.Value, []byte("s3cr3t")) {
		t.Fatalf("secret stored as %#v", stored["secret"])
	}
	return stored
}

// decryptWith decrypts stored with kr and checks the result.
func decryptWith(t *testing.T, kr ddbenc.Keyring, stored map[string]types.AttributeValue) {
	t.Helper()
	got, err := newEncryptor(t, kr).DecryptItem(context.Background(), stored)
	if err != nil {
		t.Fatal(err)
	}
	if d := avtest.DiffItems(testItem(), got); d != "" {
		t.Fatalf("decrypted item (-want +got):\n%s", d)
	}
}

// decryptErr decrypts stored with kr and returns the error (nil is a failure).
func decryptErr(t *testing.T, kr ddbenc.Keyring, stored map[string]types.AttributeValue) error {
	t.Helper()
	_, err := newEncryptor(t, kr).DecryptItem(context.Background(), stored)
	if err == nil {
		t.Fatal("DecryptItem succeeded")
	}
	return err
}

// checkCalls asserts that calls are exactly the operations ops, each sent to
// region with KeyId keyID.
func checkCalls(t *testing.T, calls []ddbenctest.KMSCall, region, keyID string, ops ...string) {
	t.Helper()
	var got []string
	for _, c := range calls {
		got = append(got, c.Op)
		if c.Region != region {
			t.Errorf("%s went to %s, want %s", c.Op, c.Region, region)
		}
		if c.KeyID != keyID {
			t.Errorf("%s KeyId = %s, want %s", c.Op, c.KeyID, keyID)
		}
	}
	if !slices.Equal(got, ops) {
		t.Errorf("KMS calls %v, want %v", got, ops)
	}
}

// recKMS records the requests a keyring sends, so tests can check the fields
// the fake's call log does not keep.
type recKMS struct {
	keyring.KMSAPI
	mu  sync.Mutex
	gen []*kms.GenerateDataKeyInput
	dec []*kms.DecryptInput
}

func (r *recKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	r.mu.Lock()
	r.gen = append(r.gen, in)
	r.mu.Unlock()
	return r.KMSAPI.GenerateDataKey(ctx, in, optFns...)
}

func (r *recKMS) Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	r.mu.Lock()
	r.dec = append(r.dec, in)
	r.mu.Unlock()
	return r.KMSAPI.Decrypt(ctx, in, optFns...)
}

// stubKMS answers with canned results.
type stubKMS struct {
	gen func(*kms.GenerateDataKeyInput) (*kms.GenerateDataKeyOutput, error)
	dec func(*kms.DecryptInput) (*kms.DecryptOutput, error)
}

func (s stubKMS) GenerateDataKey(_ context.Context, in *kms.GenerateDataKeyInput, _ ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	return s.gen(in)
}

func (s stubKMS) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	return s.dec(in)
}

func TestKMSRoundTrip(t *testing.T) {
	w := newKMSWorld(t)
	for name, arn := range map[string]string{"single-Region": w.single, "multi-Region": w.primary} {
		t.Run(name, func(t *testing.T) {
			kr := must[*keyring.KMS](t)(keyring.NewKMS(w.client(east), arn, func(o *keyring.KMSOptions) { o.GrantTokens = []string{"gt-1"} }))
			n := w.mark()
			stored := encryptWith(t, kr)
			enc := w.since(n)
			checkCalls(t, enc, east, arn, "GenerateDataKey")
			ec := enc[0].EncryptionContext
			for k, v := range map[string]string{"aws-crypto-table-name": "T", "aws-crypto-partition-name": "pk", "aws-crypto-sort-name": "sk",
				"aws-crypto-attr.pk": "AAFwMQ==", "aws-crypto-attr.sk": "AAI3"} {
				if ec[k] != v {
					t.Errorf("KMS encryption context %s = %q, want %q (context %v)", k, ec[k], v, ec)
				}
			}
			if _, ok := ec["aws-crypto-public-key"]; !ok || len(ec) != 6 {
				t.Errorf("KMS encryption context %v: want the full context with the public key", ec)
			}
			if !slices.Equal(enc[0].GrantTokens, []string{"gt-1"}) {
				t.Errorf("grant tokens %v", enc[0].GrantTokens)
			}
			n = w.mark()
			decryptWith(t, kr, stored)
			dec := w.since(n)
			checkCalls(t, dec, east, arn, "Decrypt")
			if !maps.Equal(dec[0].EncryptionContext, ec) || !slices.Equal(dec[0].GrantTokens, []string{"gt-1"}) {
				t.Errorf("Decrypt context %v, grant tokens %v; want %v, [gt-1]", dec[0].EncryptionContext, dec[0].GrantTokens, ec)
			}
		})
	}
}

// TestKMSEDK checks the EDK and the KMS requests field by field (§7.4, §8.6):
// GenerateDataKey for every EDK, generator or not, with NumberOfBytes 32; the
// EDK is ("aws-kms", key ARN, wrapped PDK ‖ KMS blob), and the KMS plaintext
// is the intermediate key.
func TestKMSEDK(t *testing.T) {
	w := newKMSWorld(t)
	ctx := context.Background()
	rec := &recKMS{KMSAPI: w.client(east)}
	gen := must[*keyring.KMS](t)(keyring.NewKMS(rec, w.primary))
	child := must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(rec, w.single))
	multi := must[*keyring.Multi](t)(keyring.NewMulti(gen, child))
	ec := map[string]string{"aws-crypto-table-name": "T", "k": "v"}
	m := &ddbenc.KeyringMaterials{Suite: ddbenc.SuiteSymmetricOnly, EncryptionContext: ec}
	if err := multi.OnEncrypt(ctx, m); err != nil {
		t.Fatal(err)
	}
	if len(rec.gen) != 2 || w.fake.Count("Encrypt") != 0 || w.fake.Count("GenerateDataKey") != 2 {
		t.Fatalf("GenerateDataKey calls %d (fake %d), Encrypt calls %d; want 2, 2, 0", len(rec.gen), w.fake.Count("GenerateDataKey"), w.fake.Count("Encrypt"))
	}
	for i, want := range []string{w.primary, w.single} {
		in := rec.gen[i]
		if aws.ToString(in.KeyId) != want || aws.ToInt32(in.NumberOfBytes) != 32 || in.KeySpec != "" || !maps.Equal(in.EncryptionContext, ec) {
			t.Errorf("GenerateDataKey %d: KeyId %s, NumberOfBytes %d, KeySpec %q, context %v", i, aws.ToString(in.KeyId), aws.ToInt32(in.NumberOfBytes), in.KeySpec, in.EncryptionContext)
		}
		e := m.EncryptedDataKeys[i]
		if e.ProviderID != "aws-kms" || string(e.ProviderInfo) != want || len(e.Ciphertext) <= dbesdk.WrappedPDKLen {
			t.Fatalf("EDK %d = %q, %q, %d bytes", i, e.ProviderID, e.ProviderInfo, len(e.Ciphertext))
		}
		out, err := w.client(east).Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(want), CiphertextBlob: e.Ciphertext[dbesdk.WrappedPDKLen:], EncryptionContext: ec})
		if err != nil {
			t.Fatal(err)
		}
		pdk, mac, err := dbesdk.UnwrapWithIntermediate(out.Plaintext, e.Ciphertext[:dbesdk.WrappedPDKLen], ec)
		if err != nil || !bytes.Equal(pdk, m.PlaintextDataKey) || !bytes.Equal(mac, m.SymmetricSigningKeys[i]) {
			t.Errorf("EDK %d: the KMS plaintext is not the intermediate key of the wrapped PDK (%v)", i, err)
		}
	}
	if bytes.Equal(m.SymmetricSigningKeys[0], m.SymmetricSigningKeys[1]) {
		t.Error("the two EDKs share an intermediate key")
	}
	// Each keyring alone decrypts its own EDK with KeyId = its ARN.
	for i, kr := range []ddbenc.Keyring{gen, child} {
		d := &ddbenc.KeyringMaterials{Suite: m.Suite, EncryptionContext: ec}
		if err := kr.OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) || !bytes.Equal(d.SymmetricSigningKeys[0], m.SymmetricSigningKeys[i]) {
			t.Errorf("keyring %d recovered the wrong keys", i)
		}
		if last := rec.dec[len(rec.dec)-1]; aws.ToString(last.KeyId) != string(m.EncryptedDataKeys[i].ProviderInfo) {
			t.Errorf("Decrypt KeyId %s", aws.ToString(last.KeyId))
		}
		if err := kr.OnDecrypt(ctx, d, m.EncryptedDataKeys); !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("decrypt into materials holding a key: %v", err)
		}
	}
}

func TestKMSStrictExactMatch(t *testing.T) {
	w := newKMSWorld(t)
	stored := encryptWith(t, must[*keyring.KMS](t)(keyring.NewKMS(w.client(east), w.primary)))
	for name, kr := range map[string]ddbenc.Keyring{
		"replica of the same MRK": must[*keyring.KMS](t)(keyring.NewKMS(w.client(west), w.replica)),
		"other key":               must[*keyring.KMS](t)(keyring.NewKMS(w.client(east), w.other)),
	} {
		n := w.mark()
		err := decryptErr(t, kr, stored)
		if !errors.Is(err, ddbenc.ErrWrongKey) || !errors.Is(err, keyring.ErrNoMatchingKey) {
			t.Errorf("%s: %v, want ErrWrongKey and ErrNoMatchingKey", name, err)
		}
		if c := w.since(n); len(c) != 0 {
			t.Errorf("%s: KMS calls %v for an EDK that does not match", name, c)
		}
	}
}

func TestKMSConfig(t *testing.T) {
	w := newKMSWorld(t)
	for _, bad := range []string{"", "1234abcd-12ab-34cd-56ef-1234567890ab", "mrk-1234", "alias/x",
		"arn:aws:kms:us-east-1:111122223333:alias/x", "arn:aws:kms:us-east-1:111122223333:key/a:b", "arn:aws:s3:::bucket"} {
		if _, err := keyring.NewKMS(w.client(east), bad); !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("NewKMS(%q): %v", bad, err)
		}
		if _, err := keyring.NewKMSMRK(w.client(east), bad); !errors.Is(err, ddbenc.ErrInvalidConfig) {
			t.Errorf("NewKMSMRK(%q): %v", bad, err)
		}
	}
	if _, err := keyring.NewKMS(nil, w.primary); !errors.Is(err, ddbenc.ErrInvalidConfig) {
		t.Errorf("nil client: %v", err)
	}
	// Another Region's MRK with a client whose Region is known: refused,
	// naming the local replica (here: the primary's ARN).
	for name, f := range map[string]func(...func(*keyring.KMSOptions)) (ddbenc.Keyring, error){
		"NewKMS": func(o ...func(*keyring.KMSOptions)) (ddbenc.Keyring, error) {
			return keyring.NewKMS(w.client(east), w.replica, o...)
		},
		"NewKMSMRK": func(o ...func(*keyring.KMSOptions)) (ddbenc.Keyring, error) {
			return keyring.NewKMSMRK(w.client(east), w.replica, o...)
		},
	} {
		if _, err := f(); !errors.Is(err, ddbenc.ErrInvalidConfig) || !strings.Contains(err.Error(), w.primary) {
			t.Errorf("%s with another Region's MRK: %v", name, err)
		}
		kr, err := f(func(o *keyring.KMSOptions) { o.AllowCrossRegion = true })
		if err != nil {
			t.Fatalf("%s with AllowCrossRegion: %v", name, err)
		}
		n := w.mark()
		decryptWith(t, kr, encryptWith(t, kr))
		checkCalls(t, w.since(n), west, w.replica, "GenerateDataKey", "Decrypt")
	}
	// A single-Region key of another Region is accepted; calls go there.
	westKey := w.fake.CreateKey(west, false)
	kr := must[*keyring.KMS](t)(keyring.NewKMS(w.client(east), westKey))
	n := w.mark()
	decryptWith(t, kr, encryptWith(t, kr))
	checkCalls(t, w.since(n), west, westKey, "GenerateDataKey", "Decrypt")
	// A client that does not tell its Region: no refusal, calls still pinned.
	kr2 := must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(&recKMS{KMSAPI: w.client(east)}, w.replica))
	n = w.mark()
	decryptWith(t, kr2, encryptWith(t, kr2))
	checkCalls(t, w.since(n), west, w.replica, "GenerateDataKey", "Decrypt")
}

func TestKMSErrors(t *testing.T) {
	w := newKMSWorld(t)
	ctx := context.Background()
	kr := must[*keyring.KMS](t)(keyring.NewKMS(w.client(east), w.single))
	stored := encryptWith(t, kr)
	ec := map[string]string{"k": "v"}
	m := &ddbenc.KeyringMaterials{Suite: ddbenc.SuiteSymmetricOnly, EncryptionContext: ec}
	if err := kr.OnEncrypt(ctx, m); err != nil {
		t.Fatal(err)
	}
	edks := m.EncryptedDataKeys
	onDecrypt := func(kr ddbenc.Keyring, ec map[string]string, edks []ddbenc.EncryptedDataKey) error {
		t.Helper()
		err := kr.OnDecrypt(ctx, &ddbenc.KeyringMaterials{Suite: ddbenc.SuiteSymmetricOnly, EncryptionContext: ec}, edks)
		if err == nil {
			t.Fatal("OnDecrypt succeeded")
		}
		return err
	}
	var api smithy.APIError

	t.Run("throttling", func(t *testing.T) {
		w.fake.Inject(ddbenctest.KMSFault{Op: "Decrypt", Kind: ddbenctest.FaultThrottle, N: 100})
		defer w.fake.Reset()
		err := onDecrypt(kr, ec, edks)
		if !errors.Is(err, ddbenc.ErrKeyUnavailable) || errors.Is(err, ddbenc.ErrWrongKey) || !errors.As(err, &api) || api.ErrorCode() != "ThrottlingException" {
			t.Errorf("keyring: %v", err)
		}
		if err := decryptErr(t, kr, stored); !errors.Is(err, ddbenc.ErrKeyUnavailable) || !errors.As(err, &api) {
			t.Errorf("DecryptItem: %v", err)
		}
	})
	t.Run("internal error on encrypt", func(t *testing.T) {
		w.fake.Inject(ddbenctest.KMSFault{Op: "GenerateDataKey", Kind: ddbenctest.FaultInternal, N: 100})
		defer w.fake.Reset()
		_, err := newEncryptor(t, kr).EncryptItem(ctx, testItem())
		if !errors.Is(err, ddbenc.ErrKeyUnavailable) || !errors.As(err, &api) || api.ErrorCode() != "KMSInternalException" {
			t.Errorf("EncryptItem: %v", err)
		}
	})
	t.Run("disabled key", func(t *testing.T) {
		if err := w.fake.SetKeyState(w.single, ddbenctest.KeyStateDisabled); err != nil {
			t.Fatal(err)
		}
		defer w.fake.SetKeyState(w.single, ddbenctest.KeyStateEnabled)
		var disabled *kmstypes.DisabledException
		if err := onDecrypt(kr, ec, edks); !errors.Is(err, ddbenc.ErrKeyUnavailable) || !errors.As(err, &disabled) {
			t.Errorf("keyring: %v", err)
		}
	})
	t.Run("context differs", func(t *testing.T) {
		var invalid *kmstypes.InvalidCiphertextException
		err := onDecrypt(kr, map[string]string{"k": "other"}, edks)
		if !errors.Is(err, ddbenc.ErrDecryption) || !errors.Is(err, ddbenc.ErrSignature) || !errors.As(err, &invalid) {
			t.Errorf("keyring: %v", err)
		}
		changed := maps.Clone(stored)
		changed["pk"] = &types.AttributeValueMemberS{Value: "p2"}
		if err := decryptErr(t, kr, changed); !errors.Is(err, ddbenc.ErrSignature) || !errors.As(err, &invalid) {
			t.Errorf("DecryptItem of an item moved to another key: %v", err)
		}
	})
	t.Run("damaged wrapped PDK", func(t *testing.T) {
		bad := slices.Clone(edks)
		bad[0].Ciphertext = slices.Clone(bad[0].Ciphertext)
		bad[0].Ciphertext[3] ^= 1
		if err := onDecrypt(kr, ec, bad); !errors.Is(err, ddbenc.ErrDecryption) {
			t.Errorf("keyring: %v", err)
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := kr.OnDecrypt(cctx, &ddbenc.KeyringMaterials{EncryptionContext: ec}, edks)
		if !errors.Is(err, context.Canceled) || errors.Is(err, ddbenc.ErrKeyUnavailable) || errors.Is(err, ddbenc.ErrWrongKey) {
			t.Errorf("OnDecrypt: %v", err)
		}
		if _, err := newEncryptor(t, kr).EncryptItem(cctx, testItem()); !errors.Is(err, context.Canceled) || errors.Is(err, ddbenc.ErrKeyUnavailable) {
			t.Errorf("EncryptItem: %v", err)
		}
	})

	// Responses and errors KMS can give but the fake does not produce.
	arn := w.single
	good := func(in *kms.DecryptInput) (*kms.DecryptOutput, error) {
		return w.client(east).Decrypt(ctx, in)
	}
	for name, c := range map[string]struct {
		dec  func(*kms.DecryptInput) (*kms.DecryptOutput, error)
		want error
		as   any
	}{
		"incorrect key": {func(*kms.DecryptInput) (*kms.DecryptOutput, error) {
			return nil, &kmstypes.IncorrectKeyException{Message: aws.String("no")}
		}, ddbenc.ErrWrongKey, new(*kmstypes.IncorrectKeyException)},
		"not found": {func(*kms.DecryptInput) (*kms.DecryptOutput, error) {
			return nil, &kmstypes.NotFoundException{Message: aws.String("no")}
		}, ddbenc.ErrWrongKey, new(*kmstypes.NotFoundException)},
		"invalid state": {func(*kms.DecryptInput) (*kms.DecryptOutput, error) {
			return nil, &kmstypes.KMSInvalidStateException{Message: aws.String("pending deletion")}
		}, ddbenc.ErrKeyUnavailable, new(*kmstypes.KMSInvalidStateException)},
		"reports another key": {func(in *kms.DecryptInput) (*kms.DecryptOutput, error) {
			out, err := good(in)
			if err == nil {
				out.KeyId = aws.String(w.other)
			}
			return out, err
		}, ddbenc.ErrWrongKey, nil},
		"short plaintext": {func(in *kms.DecryptInput) (*kms.DecryptOutput, error) {
			out, err := good(in)
			if err == nil {
				out.Plaintext = out.Plaintext[:16]
			}
			return out, err
		}, ddbenc.ErrDecryption, nil},
	} {
		kr := must[*keyring.KMS](t)(keyring.NewKMS(stubKMS{dec: c.dec}, arn))
		err := onDecrypt(kr, ec, edks)
		if !errors.Is(err, c.want) || c.as != nil && !errors.As(err, c.as) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	goodGen := func(in *kms.GenerateDataKeyInput) (*kms.GenerateDataKeyOutput, error) {
		return w.client(east).GenerateDataKey(ctx, in)
	}
	for name, gen := range map[string]func(*kms.GenerateDataKeyInput) (*kms.GenerateDataKeyOutput, error){
		"reports an alias": func(in *kms.GenerateDataKeyInput) (*kms.GenerateDataKeyOutput, error) {
			out, err := goodGen(in)
			out.KeyId = aws.String("arn:aws:kms:us-east-1:111122223333:alias/x")
			return out, err
		},
		"reports another key": func(in *kms.GenerateDataKeyInput) (*kms.GenerateDataKeyOutput, error) {
			out, err := goodGen(in)
			out.KeyId = aws.String(w.other)
			return out, err
		},
		"short plaintext": func(in *kms.GenerateDataKeyInput) (*kms.GenerateDataKeyOutput, error) {
			out, err := goodGen(in)
			out.Plaintext = out.Plaintext[:31]
			return out, err
		},
		"no blob": func(in *kms.GenerateDataKeyInput) (*kms.GenerateDataKeyOutput, error) {
			out, err := goodGen(in)
			out.CiphertextBlob = nil
			return out, err
		},
	} {
		kr := must[*keyring.KMS](t)(keyring.NewKMS(stubKMS{gen: gen}, arn))
		if err := kr.OnEncrypt(ctx, &ddbenc.KeyringMaterials{EncryptionContext: ec}); !errors.Is(err, ddbenc.ErrKeyUnavailable) {
			t.Errorf("GenerateDataKey %s: %v", name, err)
		}
	}
}

// TestKMSProviderInfo checks the candidate rules shared by the three KMS
// keyrings: other provider ids are skipped, an "aws-kms" EDK whose provider
// info is not a KMS ARN fails the whole call (§8.6), an alias ARN is a valid
// ARN that never matches (strict keyrings) or fails (discovery, §8.8 step 2).
func TestKMSProviderInfo(t *testing.T) {
	w := newKMSWorld(t)
	ctx := context.Background()
	ec := map[string]string{"k": "v"}
	m := &ddbenc.KeyringMaterials{EncryptionContext: ec}
	strict := must[*keyring.KMS](t)(keyring.NewKMS(w.client(east), w.primary))
	if err := strict.OnEncrypt(ctx, m); err != nil {
		t.Fatal(err)
	}
	good := m.EncryptedDataKeys[0]
	mrk := must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(w.client(west), w.replica))
	disc := must[*keyring.KMSMRKDiscovery](t)(keyring.NewKMSMRKDiscovery(w.client(west), west, nil))
	krs := map[string]ddbenc.Keyring{"strict": strict, "mrk": mrk, "discovery": disc}
	edk := func(id, info string, ct []byte) ddbenc.EncryptedDataKey {
		return ddbenc.EncryptedDataKey{ProviderID: id, ProviderInfo: []byte(info), Ciphertext: ct}
	}
	run := func(kr ddbenc.Keyring, edks ...ddbenc.EncryptedDataKey) error {
		return kr.OnDecrypt(ctx, &ddbenc.KeyringMaterials{EncryptionContext: ec}, edks)
	}
	for name, kr := range krs {
		if err := run(kr, edk("other", "x", []byte{1}), edk("aws-kms-hierarchy", "x", nil), good); err != nil {
			t.Errorf("%s: other provider ids before a good EDK: %v", name, err)
		}
		for _, info := range []string{"not an arn", "\xff" + w.primary, "arn:aws:kms:us-east-1:111122223333:key/", "arn:aws:kms:us-east-1:111122223333:mrk/x",
			"arn:aws:kms:us-east-1:111122223333:key/x:y", "arn:aws:sqs:us-east-1:111122223333:key/x", "arn:aws:kms::111122223333:key/x"} {
			if err := run(kr, edk("aws-kms", info, good.Ciphertext), good); !errors.Is(err, ddbenc.ErrMalformed) {
				t.Errorf("%s: provider info %q before a good EDK: %v, want ErrMalformed", name, info, err)
			}
		}
		alias := edk("aws-kms", "arn:aws:kms:us-east-1:111122223333:alias/x", good.Ciphertext)
		err := run(kr, alias, good)
		if name == "discovery" {
			if !errors.Is(err, ddbenc.ErrMalformed) {
				t.Errorf("discovery: alias ARN: %v, want ErrMalformed", err)
			}
		} else if err != nil {
			t.Errorf("%s: alias ARN before a good EDK: %v", name, err)
		}
		short := edk("aws-kms", string(good.ProviderInfo), good.Ciphertext[:dbesdk.WrappedPDKLen])
		if err := run(kr, short, good); err != nil {
			t.Errorf("%s: a short candidate before a good one: %v", name, err)
		}
		if err := run(kr, short); !errors.Is(err, ddbenc.ErrWrongKey) || !errors.Is(err, ddbenc.ErrMalformed) {
			t.Errorf("%s: only a short candidate: %v", name, err)
		}
		if err := run(kr); !errors.Is(err, ddbenc.ErrWrongKey) {
			t.Errorf("%s: no EDKs: %v", name, err)
		}
	}
}

// TestKMSInMulti: a KMS generator and a raw AES child; each alone decrypts.
func TestKMSInMulti(t *testing.T) {
	w := newKMSWorld(t)
	kmsKR := must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(w.client(east), w.primary))
	aesKR := must[*keyring.RawAES](t)(keyring.NewRawAES("ns", "aes", bytes.Repeat([]byte{7}, 32)))
	multi := must[*keyring.Multi](t)(keyring.NewMulti(kmsKR, aesKR))
	n := w.mark()
	stored := encryptWith(t, multi)
	checkCalls(t, w.since(n), east, w.primary, "GenerateDataKey")
	decryptWith(t, multi, stored)
	decryptWith(t, kmsKR, stored)
	n = w.mark()
	decryptWith(t, aesKR, stored)
	if c := w.since(n); len(c) != 0 {
		t.Errorf("raw AES decrypt called KMS: %v", c)
	}
	// The us-west-2 replica reads the multi-keyring's item too.
	n = w.mark()
	decryptWith(t, must[*keyring.KMSMRK](t)(keyring.NewKMSMRK(w.client(west), w.replica)), stored)
	checkCalls(t, w.since(n), west, w.replica, "Decrypt")
	// With KMS down, the multi-keyring falls back on its AES child.
	w.fake.Inject(ddbenctest.KMSFault{Op: "Decrypt", Kind: ddbenctest.FaultThrottle, N: 100})
	defer w.fake.Reset()
	decryptWith(t, multi, stored)
	if err := decryptErr(t, kmsKR, stored); !errors.Is(err, ddbenc.ErrKeyUnavailable) {
		t.Errorf("KMS alone while throttled: %v", err)
	}
}
