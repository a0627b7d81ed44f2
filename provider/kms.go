package provider

import (
	"cmp"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/awsarn"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/signing"
)

// KMSAPI is the part of the KMS client that NewDirectKMS calls; *kms.Client
// satisfies it.
type KMSAPI interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, optFns ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

var _ KMSAPI = (*kms.Client)(nil)

// KMSDecryptMode says how DirectKMS checks which key protected an item.
type KMSDecryptMode int

const (
	// KMSStrict (the default) sends Decrypt with KeyId = the configured key
	// ARN and accepts the data key only if KMS reports that key, or a related
	// multi-Region key (same partition, account and mrk- id, any Region).
	KMSStrict KMSDecryptMode = iota
	// KMSDiscovery sends Decrypt without KeyId and accepts the data key only
	// if the key KMS reports passes DirectKMSOptions.Discovery.
	KMSDiscovery
	// KMSUncheckedLegacy sends Decrypt without KeyId and accepts whatever key
	// KMS used, as the legacy Java and Python clients do: any key the caller
	// may use can then have protected the item. Only for migrations.
	KMSUncheckedLegacy
)

// DiscoveryFilter limits the keys KMSDiscovery accepts.
type DiscoveryFilter struct {
	Partition string   // e.g. "aws"; required
	Accounts  []string // account ids; at least one
}

// DirectKMSOptions are the optional settings of NewDirectKMS.
type DirectKMSOptions struct {
	// Mode is the decrypt mode (default KMSStrict).
	Mode KMSDecryptMode
	// Discovery is the filter for KMSDiscovery.
	Discovery DiscoveryFilter
	// GrantTokens are sent with every KMS request.
	GrantTokens []string
	// ContentKeyAlgorithm is the content key descriptor written to
	// amzn-ddb-env-alg: "AES/128", "AES/192" or "AES/256" (the default).
	ContentKeyAlgorithm string
	// SigningAlgorithm is the MAC descriptor written to amzn-ddb-sig-alg:
	// "HmacSHA256/256" (the default), or another HmacSHA* with a bit length.
	SigningAlgorithm string
	// MaterialDescription adds entries to every item's description (the Java
	// client copies its configured description this way).
	MaterialDescription map[string]string
	// AllowKeyIDOrAlias accepts a bare key id, an alias name or an alias ARN
	// instead of a key ARN. Then the provider cannot know the key's Region or
	// ARN: KMS calls go to the client's own Region, and KMSStrict relies on
	// KMS alone (Decrypt with that KeyId fails for other keys) without
	// comparing the key KMS reports.
	AllowKeyIDOrAlias bool
	// AllowCrossRegion accepts a multi-Region key ARN (key id "mrk-…") of
	// another Region than the KMS client's: every KMS call then crosses
	// Regions to the ARN's Region. Without it NewDirectKMS refuses such an
	// ARN and names the local replica's ARN (the same ARN in the client's
	// Region), because in a global table each Region uses its own replica.
	// It has no effect on single-Region keys (they exist in one Region only,
	// so calls always go to their ARN's Region) nor when the client's Region
	// is unknown (a KMSAPI without an Options() kms.Options method, or an
	// empty Region).
	AllowCrossRegion bool
}

// sameOrRelatedMRK reports whether got is want, or a replica of the same
// multi-Region key in another Region.
func sameOrRelatedMRK(want, got awsarn.KMSKey) bool {
	if got == want {
		return true
	}
	return want.MultiRegion() && got.ID == want.ID && got.Partition == want.Partition && got.Account == want.Account
}

// DirectKMS is the direct KMS materials provider (Java
// DirectKmsMaterialProvider, Python AwsKmsCryptographicMaterialsProvider)
// bound to one KMS key: a data key from GenerateDataKey per item, HKDF-SHA256
// derivation of an AES key and an HMAC key, the KMS encryption context of
// docs/legacy-format.md §6.5. Every KMS call goes to the key ARN's Region.
type DirectKMS struct {
	client       KMSAPI
	clientRegion string        // the client's configured Region, "" when unknown
	keyID        string        // as configured
	arn          awsarn.KMSKey // zero when AllowKeyIDOrAlias accepted a non-ARN
	opts         DirectKMSOptions
	contentAlg   string
	contentBits  int
	macAlg       string // descriptor, e.g. "HmacSHA256/256"
	macName      string // its algorithm, e.g. "HmacSHA256"
	macBits      int
}

// Defaults of the KMS provider's descriptors.
const (
	defaultKMSContentKeyAlgorithm = "AES/256"
	defaultKMSSigningAlgorithm    = "HmacSHA256/256"
	kmsDataKeyBytes               = 32
)

// NewDirectKMS returns a provider for the KMS key keyARN (a full key ARN, e.g.
// the local Region's replica of a multi-Region key). It does no I/O.
//
// When the client's Region is known (client has an Options() kms.Options
// method, as *kms.Client does, and its Region is set), a multi-Region key ARN
// of another Region is refused with ErrInvalidConfig naming the local
// replica's ARN, unless DirectKMSOptions.AllowCrossRegion is set.
// Single-Region key ARNs of any Region are accepted.
func NewDirectKMS(client KMSAPI, keyARN string, optFns ...func(*DirectKMSOptions)) (*DirectKMS, error) {
	var opts DirectKMSOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: provider: "+format, append([]any{ddbenc.ErrInvalidConfig}, args...)...)
	}
	if client == nil {
		return nil, bad("a KMS client is required")
	}
	p := &DirectKMS{client: client, clientRegion: regionOf(client), keyID: keyARN, opts: opts}
	p.opts.GrantTokens = slices.Clone(opts.GrantTokens)
	p.opts.MaterialDescription = maps.Clone(opts.MaterialDescription)
	p.opts.Discovery.Accounts = slices.Clone(opts.Discovery.Accounts)
	if a, ok := awsarn.ParseKMSKey(keyARN); ok {
		p.arn = a
	} else if !opts.AllowKeyIDOrAlias || keyARN == "" {
		return nil, bad("KMS key must be a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID); a key id or alias needs AllowKeyIDOrAlias")
	}
	if p.arn.MultiRegion() && !opts.AllowCrossRegion && p.clientRegion != "" && p.clientRegion != p.arn.Region {
		local := p.arn
		local.Region = p.clientRegion
		return nil, bad("multi-Region KMS key %s is in Region %s but the KMS client's Region is %s: configure the local replica %s, or set AllowCrossRegion to call Region %s", p.arn, p.arn.Region, p.clientRegion, local, p.arn.Region)
	}
	switch opts.Mode {
	case KMSStrict, KMSUncheckedLegacy:
	case KMSDiscovery:
		if opts.Discovery.Partition == "" || len(opts.Discovery.Accounts) == 0 {
			return nil, bad("discovery mode needs a partition and at least one account")
		}
	default:
		return nil, bad("unknown KMS decrypt mode %d", opts.Mode)
	}
	var err error
	p.contentAlg = cmp.Or(opts.ContentKeyAlgorithm, defaultKMSContentKeyAlgorithm)
	if p.contentBits, err = legacy.ContentKeyBits(p.contentAlg); err != nil {
		return nil, bad("%v", err)
	}
	p.macAlg = cmp.Or(opts.SigningAlgorithm, defaultKMSSigningAlgorithm)
	if p.macName, p.macBits, err = legacy.MACKeySpec(p.macAlg); err != nil {
		return nil, bad("%v", err)
	}
	if k, ok := legacy.EncryptorEntry(opts.MaterialDescription); ok {
		return nil, bad("material description entry %q is written by the encryptor and cannot be configured", k)
	}
	for _, k := range []string{legacy.EnvelopeKey, legacy.WrapAlgorithm} {
		if _, ok := opts.MaterialDescription[k]; ok {
			return nil, bad("material description entry %q is written by the provider and cannot be configured", k)
		}
	}
	return p, nil
}

// regionOf returns the Region client is configured with, or "" when the
// client does not tell (only *kms.Client and types with its Options method).
func regionOf(client KMSAPI) string {
	if c, ok := client.(interface{ Options() kms.Options }); ok {
		return c.Options().Region
	}
	return ""
}

// region pins a call to the key ARN's Region, whatever the client's Region.
func (p *DirectKMS) region(o *kms.Options) {
	if p.arn.Region != "" {
		o.Region = p.arn.Region
	}
}

// callRegion is the Region KMS calls go to, "" when unknown.
func (p *DirectKMS) callRegion() string { return cmp.Or(p.arn.Region, p.clientRegion) }

// kmsContext builds the legacy KMS encryption context (docs/legacy-format.md §6.5).
func kmsContext(ec ddbenc.EncryptionContext, contentAlg, macAlg string) (map[string]string, error) {
	out := map[string]string{
		"*amzn-ddb-env-alg*": contentAlg,
		"*amzn-ddb-sig-alg*": macAlg,
	}
	if ec.TableName != "" {
		out["*aws-kms-table*"] = ec.TableName
	}
	for _, name := range []string{ec.PartitionKeyName, ec.SortKeyName} {
		if name == "" {
			continue
		}
		switch v := ec.Item[name].(type) {
		case *types.AttributeValueMemberS:
			out[name] = v.Value
		case *types.AttributeValueMemberN:
			out[name] = v.Value // literal, not canonicalized (the encryptor stores keys canonical)
		case *types.AttributeValueMemberB:
			out[name] = base64.StdEncoding.EncodeToString(v.Value)
		case nil:
			return nil, fmt.Errorf("%w: provider: key attribute %q missing from item", ddbenc.ErrMissingAttribute, name)
		default:
			return nil, fmt.Errorf("%w: provider: key attribute %q must be S, N or B for the KMS encryption context", ddbenc.ErrInvalidItem, name)
		}
	}
	return out, nil
}

// deriveKeys runs HKDF-SHA256 (no salt) over the data key: info "Encryption"
// gives the AES key, info "Signing" the MAC key.
func deriveKeys(dataKey []byte, contentBits, macBits int) (enc, mac []byte, err error) {
	prk, err := hkdf.Extract(sha256.New, dataKey, nil)
	if err != nil {
		return nil, nil, err
	}
	if enc, err = hkdf.Expand(sha256.New, prk, "Encryption", contentBits/8); err != nil {
		return nil, nil, err
	}
	if mac, err = hkdf.Expand(sha256.New, prk, "Signing", macBits/8); err != nil {
		return nil, nil, err
	}
	return enc, mac, nil
}

// EncryptionMaterials calls GenerateDataKey and derives the item's keys.
func (p *DirectKMS) EncryptionMaterials(ctx context.Context, ec ddbenc.EncryptionContext) (*ddbenc.EncryptionMaterials, error) {
	kmsEC, err := kmsContext(ec, p.contentAlg, p.macAlg)
	if err != nil {
		return nil, err
	}
	out, err := p.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             &p.keyID,
		NumberOfBytes:     aws.Int32(kmsDataKeyBytes),
		EncryptionContext: kmsEC,
		GrantTokens:       p.opts.GrantTokens,
	}, p.region)
	if err != nil {
		return nil, p.kmsError("GenerateDataKey", true, ec, err)
	}
	if len(out.Plaintext) != kmsDataKeyBytes || len(out.CiphertextBlob) == 0 {
		return nil, fmt.Errorf("%w: provider: KMS GenerateDataKey returned a malformed data key", ddbenc.ErrKeyUnavailable)
	}
	if p.arn.ID != "" {
		got, ok := awsarn.ParseKMSKey(aws.ToString(out.KeyId))
		if !ok || got != p.arn {
			return nil, fmt.Errorf("%w: provider: KMS GenerateDataKey used key %q, not the configured %s", ddbenc.ErrWrongKey, aws.ToString(out.KeyId), p.arn)
		}
	}
	enc, mac, err := deriveKeys(out.Plaintext, p.contentBits, p.macBits)
	clear(out.Plaintext)
	if err != nil {
		return nil, err
	}
	signer, err := signing.NewHMAC(p.macName, mac)
	if err != nil {
		return nil, err
	}
	desc := maps.Clone(p.opts.MaterialDescription)
	if desc == nil {
		desc = map[string]string{}
	}
	desc[legacy.KMSContextAttr] = "*keys*"
	desc[legacy.WrapAlgorithm] = "kms"
	desc[legacy.ContentKeyAlg] = p.contentAlg
	desc[legacy.MACAlgorithm] = p.macAlg
	desc[legacy.EnvelopeKey] = base64.StdEncoding.EncodeToString(out.CiphertextBlob)
	return &ddbenc.EncryptionMaterials{EncryptionKey: enc, Signer: signer, MaterialDescription: desc}, nil
}

// DecryptionMaterials calls Decrypt on the item's data key, checks which key
// KMS used (per the decrypt mode) and derives the item's keys.
func (p *DirectKMS) DecryptionMaterials(ctx context.Context, ec ddbenc.EncryptionContext) (*ddbenc.DecryptionMaterials, error) {
	d := ec.MaterialDescription
	if d[legacy.WrapAlgorithm] != "kms" {
		return nil, fmt.Errorf("%w: provider: item's key is not protected by KMS", ddbenc.ErrWrongKey)
	}
	blob, err := legacy.DecodeEnvelopeKey(d[legacy.EnvelopeKey])
	if err != nil || len(blob) == 0 {
		return nil, fmt.Errorf("%w: provider: item has no valid KMS data key", ddbenc.ErrMalformed)
	}
	contentAlg := cmp.Or(d[legacy.ContentKeyAlg], defaultKMSContentKeyAlgorithm)
	contentBits, err := legacy.ContentKeyBits(contentAlg)
	if err != nil {
		return nil, fmt.Errorf("%w: provider: %v", ddbenc.ErrMalformed, err)
	}
	macAlg := cmp.Or(d[legacy.MACAlgorithm], defaultKMSSigningAlgorithm)
	macName, macBits, err := legacy.MACKeySpec(macAlg)
	if err != nil {
		return nil, fmt.Errorf("%w: provider: %v", ddbenc.ErrMalformed, err)
	}
	// On read the context uses the item's descriptors as stored.
	kmsEC, err := kmsContext(ec, contentAlg, macAlg)
	if err != nil {
		return nil, err
	}
	in := &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: kmsEC, GrantTokens: p.opts.GrantTokens}
	if p.opts.Mode == KMSStrict {
		in.KeyId = &p.keyID
	}
	out, err := p.client.Decrypt(ctx, in, p.region)
	if err != nil {
		return nil, p.kmsError("Decrypt", in.KeyId != nil, ec, err)
	}
	defer clear(out.Plaintext)
	if err := p.checkDecryptKey(aws.ToString(out.KeyId)); err != nil {
		return nil, err
	}
	if len(out.Plaintext) != kmsDataKeyBytes {
		return nil, fmt.Errorf("%w: provider: KMS returned a data key of the wrong size", ddbenc.ErrDecryption)
	}
	enc, mac, err := deriveKeys(out.Plaintext, contentBits, macBits)
	if err != nil {
		return nil, err
	}
	verifier, err := signing.NewHMAC(macName, mac)
	if err != nil {
		return nil, err
	}
	return &ddbenc.DecryptionMaterials{DecryptionKey: enc, Verifier: verifier}, nil
}

// checkDecryptKey applies the decrypt mode to the key KMS says it used.
func (p *DirectKMS) checkDecryptKey(reported string) error {
	got, ok := awsarn.ParseKMSKey(reported)
	switch p.opts.Mode {
	case KMSUncheckedLegacy:
		return nil
	case KMSDiscovery:
		if ok && got.Partition == p.opts.Discovery.Partition && slices.Contains(p.opts.Discovery.Accounts, got.Account) {
			return nil
		}
		return fmt.Errorf("%w: provider: item's data key was protected by %q, which the discovery filter does not allow", ddbenc.ErrWrongKey, reported)
	}
	if p.arn.ID == "" {
		return nil // AllowKeyIDOrAlias: KMS checked the KeyId
	}
	if ok && sameOrRelatedMRK(p.arn, got) {
		return nil
	}
	return fmt.Errorf("%w: provider: item's data key was protected by %q, not the configured %s", ddbenc.ErrWrongKey, reported, p.arn)
}

var _ ddbenc.MaterialsProvider = (*DirectKMS)(nil)
