package keyring

import (
	"context"
	"fmt"
	"slices"

	"github.com/ddbec/ddbec-go/ddbenc"
)

// DiscoveryFilter limits the keys a discovery keyring uses: an EDK is tried
// only if its key ARN has this partition and one of these accounts.
type DiscoveryFilter struct {
	Partition string   // e.g. "aws"; required
	Accounts  []string // account ids; at least one
}

// KMSMRKDiscovery is the AWS KMS MRK discovery keyring (docs/dbesdk-format.md
// §8.8): it cannot encrypt; it decrypts any "aws-kms" EDK whose key passes its
// filter, in its own Region: a multi-Region key ARN of another Region is
// rewritten to this Region's replica, a single-Region key of another Region
// is skipped. Every KMS call goes to the keyring's Region.
type KMSMRKDiscovery struct {
	kmsBase
	region string
	filter *DiscoveryFilter
}

// NewKMSMRKDiscovery returns the MRK discovery keyring for region (the
// reader's Region; "" means the client's Region, when the client tells it).
// filter may be nil (any partition and account); otherwise it needs a
// partition and at least one account. It does no I/O.
//
// Decrypt goes through the EDKs in header order: provider id other than
// "aws-kms" → skipped; provider info not a KMS key ARN → the call fails; key
// outside the filter → skipped; single-Region key of another Region →
// skipped; otherwise Decrypt(KeyId = the ARN, with its Region replaced by
// region for a multi-Region key) is sent to region, and KMS must report that
// KeyId.
//
// When the client's Region is known and is not region, the keyring is refused
// unless KMSOptions.AllowCrossRegion is set.
func NewKMSMRKDiscovery(client KMSAPI, region string, filter *DiscoveryFilter, optFns ...func(*KMSOptions)) (*KMSMRKDiscovery, error) {
	b, opts, err := newKMSBase("AWS KMS MRK discovery keyring", client, optFns)
	if err != nil {
		return nil, err
	}
	if region == "" {
		region = b.clientRegion
	}
	if region == "" {
		return nil, kmsConfigErr(b.kind, "a Region is required (the KMS client does not tell its own)")
	}
	if !opts.AllowCrossRegion && b.clientRegion != "" && b.clientRegion != region {
		return nil, kmsConfigErr(b.kind, "the keyring's Region is %s but the KMS client's Region is %s: use a client of Region %s, or set AllowCrossRegion to call Region %s",
			region, b.clientRegion, region, region)
	}
	k := &KMSMRKDiscovery{kmsBase: b, region: region}
	if filter != nil {
		if filter.Partition == "" || len(filter.Accounts) == 0 || slices.Contains(filter.Accounts, "") {
			return nil, kmsConfigErr(b.kind, "a discovery filter needs a partition and at least one (non-empty) account id")
		}
		k.filter = &DiscoveryFilter{Partition: filter.Partition, Accounts: slices.Clone(filter.Accounts)}
	}
	return k, nil
}

// OnEncrypt implements ddbenc.Keyring: a discovery keyring cannot encrypt.
func (k *KMSMRKDiscovery) OnEncrypt(context.Context, *ddbenc.KeyringMaterials) error {
	return fmt.Errorf("%w: keyring: %s cannot encrypt (it has no key); use NewKMSMRK", ddbenc.ErrInvalidConfig, k.kind)
}

// OnDecrypt implements ddbenc.Keyring.
func (k *KMSMRKDiscovery) OnDecrypt(ctx context.Context, m *ddbenc.KeyringMaterials, edks []ddbenc.EncryptedDataKey) error {
	if err := checkDecrypt(m); err != nil {
		return err
	}
	var errs []error
	for _, e := range edks {
		if e.ProviderID != kmsProviderID {
			continue
		}
		key, isKey, err := edkARN(k.kind, e.ProviderInfo)
		if err == nil && !isKey {
			err = fmt.Errorf("%w: keyring: %s: an %q EDK's provider info %q is an alias ARN, not a key ARN", ddbenc.ErrMalformed, k.kind, kmsProviderID, e.ProviderInfo)
		}
		if err != nil {
			return err
		}
		if k.filter != nil && (key.Partition != k.filter.Partition || !slices.Contains(k.filter.Accounts, key.Account)) {
			continue
		}
		keyID := string(e.ProviderInfo)
		if key.MultiRegion() {
			key.Region = k.region
			keyID = key.String()
		} else if key.Region != k.region {
			continue
		}
		err = k.decrypt(ctx, m, e, keyID, k.region)
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
