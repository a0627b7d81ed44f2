package keyring

import (
	"context"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/awsarn"
)

// KMSMRK is the AWS KMS MRK keyring (docs/dbesdk-format.md §8.7): strict like
// KMS, but multi-Region aware. It decrypts the EDKs whose provider info is
// its key ARN or another Region's replica of the same multi-Region key, always
// with its own (local) ARN, so every KMS call goes to the configured ARN's
// Region: an item written with the us-east-1 replica of mrk-… is read in
// us-west-2 by a keyring on the us-west-2 replica without a cross-Region call.
type KMSMRK struct {
	kmsBase
	key awsarn.KMSKey
	arn string
}

// NewKMSMRK returns the strict multi-Region-aware KMS keyring for keyARN, a
// full key ARN (normally the replica of a multi-Region key in the client's
// Region; a single-Region key ARN makes it behave as NewKMS). It does no
// I/O.
//
// Encrypt is NewKMS's: GenerateDataKey(KeyId = keyARN, NumberOfBytes = 32,
// EncryptionContext = the full context). Decrypt tries, in header order, the
// EDKs with provider id "aws-kms" whose provider info MRK-matches keyARN
// (§8.11: equal, or both multi-Region key ARNs equal but for the Region), with
// Decrypt(KeyId = keyARN) sent to keyARN's Region, and requires KMS to report
// keyARN.
//
// When the client's Region is known, a multi-Region key ARN of another Region
// is refused (naming the local replica's ARN) unless
// KMSOptions.AllowCrossRegion is set.
func NewKMSMRK(client KMSAPI, keyARN string, optFns ...func(*KMSOptions)) (*KMSMRK, error) {
	b, opts, err := newKMSBase("AWS KMS MRK keyring", client, optFns)
	if err != nil {
		return nil, err
	}
	k, err := b.parseConfiguredKey(keyARN, opts)
	if err != nil {
		return nil, err
	}
	return &KMSMRK{kmsBase: b, key: k, arn: keyARN}, nil
}

// mrkMatch is the MRK match of §8.11 between a configured key ARN and a
// stored provider info (a key ARN, or isKey false for an alias ARN).
func mrkMatch(configured awsarn.KMSKey, configuredARN string, stored awsarn.KMSKey, isKey bool, storedARN string) bool {
	if configuredARN == storedARN {
		return true
	}
	return isKey && configured.MultiRegion() && stored.MultiRegion() &&
		configured.Partition == stored.Partition && configured.Account == stored.Account && configured.ID == stored.ID
}

// OnEncrypt implements ddbenc.Keyring.
func (k *KMSMRK) OnEncrypt(ctx context.Context, m *ddbenc.KeyringMaterials) error {
	return k.generate(ctx, m, k.arn, k.key.Region)
}

// OnDecrypt implements ddbenc.Keyring.
func (k *KMSMRK) OnDecrypt(ctx context.Context, m *ddbenc.KeyringMaterials, edks []ddbenc.EncryptedDataKey) error {
	if err := checkDecrypt(m); err != nil {
		return err
	}
	var errs []error
	for _, e := range edks {
		if e.ProviderID != kmsProviderID {
			continue
		}
		stored, isKey, err := edkARN(k.kind, e.ProviderInfo)
		if err != nil {
			return err
		}
		if !mrkMatch(k.key, k.arn, stored, isKey, string(e.ProviderInfo)) {
			continue
		}
		err = k.decrypt(ctx, m, e, k.arn, k.key.Region)
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
