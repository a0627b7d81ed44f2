package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha512"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/awsarn"
	"github.com/ddbec/ddbec-go/internal/dbesdk"
	"github.com/ddbec/ddbec-go/provider"
)

// This file has the AWS KMS keyring (docs/dbesdk-format.md §8.6) and what the
// three KMS keyrings share: options, Region pinning, the GenerateDataKey
// encrypt path, the Decrypt call and its checks, ARN rules (§8.11) and the
// mapping of KMS errors onto ddbenc's sentinels. kmsmrk.go has the MRK
// keyring (§8.7), kmsdiscovery.go the MRK discovery keyring (§8.8).

// KMSAPI is the part of the KMS client the KMS keyrings call
// (GenerateDataKey and Decrypt); *kms.Client satisfies it. It is
// provider.KMSAPI, so one client value serves both formats.
type KMSAPI = provider.KMSAPI

var _ KMSAPI = (*kms.Client)(nil)

// KMSOptions are the optional settings of NewKMS, NewKMSMRK and
// NewKMSMRKDiscovery.
type KMSOptions struct {
	// GrantTokens are sent with every KMS request.
	GrantTokens []string
	// AllowCrossRegion lets every KMS call cross Regions. Without it, when
	// the KMS client's Region is known (a client with an Options()
	// kms.Options method, as *kms.Client, and a non-empty Region), NewKMS and
	// NewKMSMRK refuse a multi-Region key ARN of another Region and name the
	// local replica's ARN, and NewKMSMRKDiscovery refuses a Region other than
	// the client's, as provider.NewDirectKMS does. Single-Region key ARNs of
	// any Region are always accepted: they exist in one Region only, so their
	// calls go there.
	AllowCrossRegion bool
}

// kmsProviderID is the EDK provider id of every KMS keyring (§8.6).
const kmsProviderID = reservedProviderID

// kmsBase is what the KMS keyrings share.
type kmsBase struct {
	client       KMSAPI
	clientRegion string // the client's configured Region, "" when unknown
	grantTokens  []string
	kind         string // for messages, e.g. "AWS KMS keyring"
}

func newKMSBase(kind string, client KMSAPI, optFns []func(*KMSOptions)) (kmsBase, KMSOptions, error) {
	var opts KMSOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	if client == nil {
		return kmsBase{}, opts, kmsConfigErr(kind, "a KMS client is required")
	}
	return kmsBase{client: client, clientRegion: clientRegion(client), grantTokens: slices.Clone(opts.GrantTokens), kind: kind}, opts, nil
}

func kmsConfigErr(kind, format string, args ...any) error {
	return fmt.Errorf("%w: keyring: %s: "+format, append([]any{ddbenc.ErrInvalidConfig, kind}, args...)...)
}

// clientRegion returns the Region client is configured with, or "" when the
// client does not tell (only *kms.Client and types with its Options method).
func clientRegion(client KMSAPI) string {
	if c, ok := client.(interface{ Options() kms.Options }); ok {
		return c.Options().Region
	}
	return ""
}

// parseConfiguredKey checks the key ARN of a strict keyring and applies the
// cross-Region rule of KMSOptions.AllowCrossRegion.
func (b *kmsBase) parseConfiguredKey(keyARN string, opts KMSOptions) (awsarn.KMSKey, error) {
	k, ok := awsarn.ParseKMSKey(keyARN)
	if !ok || strings.Count(keyARN, ":") != 5 || k.String() != keyARN {
		return awsarn.KMSKey{}, kmsConfigErr(b.kind, "the KMS key must be a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not %q: a key id or an alias cannot be used for Decrypt", keyARN)
	}
	if k.MultiRegion() && !opts.AllowCrossRegion && b.clientRegion != "" && b.clientRegion != k.Region {
		local := k
		local.Region = b.clientRegion
		return awsarn.KMSKey{}, kmsConfigErr(b.kind, "multi-Region KMS key %s is in Region %s but the KMS client's Region is %s: configure the local replica %s, or set AllowCrossRegion to call Region %s",
			k, k.Region, b.clientRegion, local, k.Region)
	}
	return k, nil
}

// pin returns the per-call option that sends a KMS call to region, whatever
// the client's Region (as provider.DirectKMS does).
func pin(region string) func(*kms.Options) {
	return func(o *kms.Options) { o.Region = region }
}

// generate adds the EDK of key keyID (calls go to region) to m: a fresh
// intermediate key from GenerateDataKey — for the generator and for every
// other keyring alike, never Encrypt (§7.4) — wraps m's data key (generated
// first if m has none), and the KMS ciphertext of the intermediate key.
func (b *kmsBase) generate(ctx context.Context, m *ddbenc.KeyringMaterials, keyID, region string) error {
	if err := ensurePDK(m); err != nil {
		return err
	}
	out, err := b.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             aws.String(keyID),
		NumberOfBytes:     aws.Int32(dbesdk.KeyLen),
		EncryptionContext: m.EncryptionContext,
		GrantTokens:       b.grantTokens,
	}, pin(region))
	if err != nil {
		return b.kmsError(ctx, "GenerateDataKey", keyID, region, err)
	}
	defer clear(out.Plaintext)
	reported := aws.ToString(out.KeyId)
	if _, ok := awsarn.ParseKMSKey(reported); !ok || reported != keyID {
		return fmt.Errorf("%w: keyring: %s: KMS GenerateDataKey reported key %q, not the configured %s", ddbenc.ErrKeyUnavailable, b.kind, reported, keyID)
	}
	if len(out.Plaintext) != dbesdk.KeyLen || len(out.CiphertextBlob) == 0 {
		return fmt.Errorf("%w: keyring: %s: KMS GenerateDataKey returned a malformed data key", ddbenc.ErrKeyUnavailable, b.kind)
	}
	wrapped, mac, err := wrapUnder(out.Plaintext, m.PlaintextDataKey, m.EncryptionContext)
	if err != nil {
		return err
	}
	add(m, ddbenc.EncryptedDataKey{
		ProviderID:   kmsProviderID,
		ProviderInfo: []byte(reported),
		Ciphertext:   append(wrapped, out.CiphertextBlob...),
	}, mac)
	return nil
}

// wrapUnder wraps pdk under the given intermediate key ik
// (docs/dbesdk-format.md §7.2): dbesdk.WrapWithIntermediate draws its own
// intermediate key, but a KMS keyring's is GenerateDataKey's plaintext. The
// decrypt side opens the result with dbesdk.UnwrapWithIntermediate, so the
// round-trip tests check that both agree.
func wrapUnder(ik, pdk []byte, ec map[string]string) (wrapped, mac []byte, err error) {
	if len(ik) != dbesdk.KeyLen || len(pdk) != dbesdk.KeyLen {
		return nil, nil, fmt.Errorf("%w: keyring: intermediate or data key has the wrong length", ddbenc.ErrInvalidConfig)
	}
	prk, err := hkdf.Extract(sha512.New, ik, nil)
	if err != nil {
		return nil, nil, err
	}
	if mac, err = hkdf.Expand(sha512.New, prk, "AWS_MPL_INTERMEDIATE_KEYWRAP_MAC", dbesdk.KeyLen); err != nil {
		return nil, nil, err
	}
	kek, err := hkdf.Expand(sha512.New, prk, "AWS_MPL_INTERMEDIATE_KEYWRAP_ENC", dbesdk.KeyLen)
	if err != nil {
		return nil, nil, err
	}
	blk, err := aes.NewCipher(kek)
	if err != nil {
		return nil, nil, err
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, nil, err
	}
	return g.Seal(nil, make([]byte, g.NonceSize()), pdk, dbesdk.SerializeContext(ec)), mac, nil
}

// decrypt sends Decrypt for one candidate EDK with KeyId = keyID to region,
// checks that KMS reports keyID and a 32-byte plaintext, and completes m.
func (b *kmsBase) decrypt(ctx context.Context, m *ddbenc.KeyringMaterials, e ddbenc.EncryptedDataKey, keyID, region string) error {
	if len(e.Ciphertext) <= dbesdk.WrappedPDKLen {
		return fmt.Errorf("%w: keyring: %s: KMS EDK ciphertext is too short", ddbenc.ErrMalformed, b.kind)
	}
	out, err := b.client.Decrypt(ctx, &kms.DecryptInput{
		KeyId:             aws.String(keyID),
		CiphertextBlob:    e.Ciphertext[dbesdk.WrappedPDKLen:],
		EncryptionContext: m.EncryptionContext,
		GrantTokens:       b.grantTokens,
	}, pin(region))
	if err != nil {
		return b.kmsError(ctx, "Decrypt", keyID, region, err)
	}
	defer clear(out.Plaintext)
	if got := aws.ToString(out.KeyId); got != keyID {
		return fmt.Errorf("%w: keyring: %s: KMS Decrypt reported key %q, not the requested %s", ddbenc.ErrWrongKey, b.kind, got, keyID)
	}
	if len(out.Plaintext) != dbesdk.KeyLen {
		return fmt.Errorf("%w: keyring: %s: KMS Decrypt returned an intermediate key of the wrong size", ddbenc.ErrDecryption, b.kind)
	}
	if err := finish(m, out.Plaintext, e.Ciphertext); err != nil {
		return fmt.Errorf("%w: keyring: %s: %w", ddbenc.ErrDecryption, b.kind, err)
	}
	return nil
}

// edkARN reads the provider info of an "aws-kms" EDK: it must be UTF-8 and
// a valid KMS ARN (§8.11: six ':'-separated parts, "arn", a partition, "kms",
// a Region, an account, and key/ID or alias/NAME). A malformed one fails the
// whole keyring call (§8.6). isKey is false for an alias ARN.
func edkARN(kind string, info []byte) (k awsarn.KMSKey, isKey bool, err error) {
	s := string(info)
	bad := fmt.Errorf("%w: keyring: %s: an %q EDK's provider info %q is not a KMS ARN", ddbenc.ErrMalformed, kind, kmsProviderID, s)
	if !utf8.Valid(info) || strings.Count(s, ":") != 5 {
		return awsarn.KMSKey{}, false, bad
	}
	if k, ok := awsarn.ParseKMSKey(s); ok {
		return k, true, nil
	}
	a, perr := arn.Parse(s)
	if name, ok := strings.CutPrefix(a.Resource, "alias/"); perr == nil && ok && name != "" && a.Service == "kms" && a.Partition != "" && a.Region != "" && a.AccountID != "" {
		return awsarn.KMSKey{}, false, nil
	}
	return awsarn.KMSKey{}, false, bad
}

// kmsError maps a KMS failure onto ddbenc's sentinels, keeping the SDK error
// reachable with errors.As. Context errors pass through unchanged.
func (b *kmsBase) kmsError(ctx context.Context, op, keyID, region string, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var (
		incorrect *kmstypes.IncorrectKeyException
		notFound  *kmstypes.NotFoundException
		invalidCT *kmstypes.InvalidCiphertextException
	)
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("%w: keyring: %s: KMS %s: key %s does not exist in Region %s; for a multi-Region key, create its replica there or configure the local replica's ARN: %w",
			ddbenc.ErrWrongKey, b.kind, op, keyID, region, err)
	case errors.As(err, &incorrect):
		return fmt.Errorf("%w: keyring: %s: KMS %s with key %s: %w", ddbenc.ErrWrongKey, b.kind, op, keyID, err)
	case errors.As(err, &invalidCT) && op == "Decrypt":
		// The encryption context (table name, key names and values) is not
		// the writer's, or the blob was changed: an integrity failure.
		return fmt.Errorf("%w: keyring: %s: KMS Decrypt with key %s (the item's integrity check failed: %w): the KMS encryption context differs from the writer's or the data key is damaged: %w",
			ddbenc.ErrDecryption, b.kind, keyID, ddbenc.ErrSignature, err)
	case errors.As(err, &invalidCT):
		return fmt.Errorf("%w: keyring: %s: KMS %s with key %s: %w", ddbenc.ErrDecryption, b.kind, op, keyID, err)
	}
	// Throttling, KMS internal errors, disabled keys, invalid key states,
	// network failures: the key may work later.
	return fmt.Errorf("%w: keyring: %s: KMS %s with key %s in Region %s: %w", ddbenc.ErrKeyUnavailable, b.kind, op, keyID, region, err)
}

// failed is the error of a KMS keyring that decrypted nothing. When a
// candidate failed for a reason that may pass (ErrKeyUnavailable), the error
// is not ErrWrongKey at the top: the key may well be the right one.
func (b *kmsBase) failed(errs []error) error {
	for _, err := range errs {
		if errors.Is(err, ddbenc.ErrKeyUnavailable) {
			return fmt.Errorf("keyring: %s could not decrypt any encrypted data key: %w", b.kind, errors.Join(errs...))
		}
	}
	return noMatch(b.kind, errs)
}

// KMS is the AWS KMS keyring (docs/dbesdk-format.md §8.6), strict: it
// decrypts only EDKs whose provider info is exactly its key ARN. Every KMS
// call goes to the key ARN's Region.
type KMS struct {
	kmsBase
	key awsarn.KMSKey
	arn string
}

// NewKMS returns the strict AWS KMS keyring for keyARN, a full key ARN (a key
// id or an alias cannot be used for Decrypt, §8.6). It does no I/O.
//
// Encrypt calls GenerateDataKey(KeyId = keyARN, NumberOfBytes = 32,
// EncryptionContext = the item's full context) and stores the reported key
// ARN as the EDK's provider info. Decrypt tries, in header order, the EDKs
// with provider id "aws-kms" whose provider info equals keyARN, with
// Decrypt(KeyId = keyARN), and requires KMS to report keyARN.
//
// When the client's Region is known, a multi-Region key ARN of another Region
// is refused (naming the local replica's ARN) unless
// KMSOptions.AllowCrossRegion is set.
func NewKMS(client KMSAPI, keyARN string, optFns ...func(*KMSOptions)) (*KMS, error) {
	b, opts, err := newKMSBase("AWS KMS keyring", client, optFns)
	if err != nil {
		return nil, err
	}
	k, err := b.parseConfiguredKey(keyARN, opts)
	if err != nil {
		return nil, err
	}
	return &KMS{kmsBase: b, key: k, arn: keyARN}, nil
}

// OnEncrypt implements ddbenc.Keyring.
func (k *KMS) OnEncrypt(ctx context.Context, m *ddbenc.KeyringMaterials) error {
	return k.generate(ctx, m, k.arn, k.key.Region)
}

// OnDecrypt implements ddbenc.Keyring.
func (k *KMS) OnDecrypt(ctx context.Context, m *ddbenc.KeyringMaterials, edks []ddbenc.EncryptedDataKey) error {
	if err := checkDecrypt(m); err != nil {
		return err
	}
	var errs []error
	for _, e := range edks {
		if e.ProviderID != kmsProviderID {
			continue
		}
		if _, _, err := edkARN(k.kind, e.ProviderInfo); err != nil {
			return err
		}
		if string(e.ProviderInfo) != k.arn {
			continue
		}
		err := k.decrypt(ctx, m, e, k.arn, k.key.Region)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		errs = append(errs, err)
	}
	return k.failed(errs)
}
