package keyring

import (
	"context"
	"fmt"

	"github.com/ddbec/ddbec-go/ddbenc"
)

// Multi is the multi-keyring (docs/dbesdk-format.md §8.9): an optional
// generator and ordered children. Encrypt runs the generator, then every
// child (one EDK each); decrypt tries the generator, then the children, in
// order, each with all EDKs, and returns the first success.
type Multi struct {
	generator ddbenc.Keyring
	children  []ddbenc.Keyring
}

// NewMulti returns a multi-keyring. generator may be nil; then encryption
// materials must already carry a data key.
func NewMulti(generator ddbenc.Keyring, children ...ddbenc.Keyring) (*Multi, error) {
	if generator == nil && len(children) == 0 {
		return nil, fmt.Errorf("%w: a multi-keyring needs a generator or children", ddbenc.ErrInvalidConfig)
	}
	for _, c := range children {
		if c == nil {
			return nil, fmt.Errorf("%w: nil child keyring", ddbenc.ErrInvalidConfig)
		}
	}
	return &Multi{generator: generator, children: append([]ddbenc.Keyring(nil), children...)}, nil
}

// OnEncrypt implements ddbenc.Keyring.
func (k *Multi) OnEncrypt(ctx context.Context, m *ddbenc.KeyringMaterials) error {
	if k.generator != nil {
		if m.PlaintextDataKey != nil {
			return fmt.Errorf("%w: a multi-keyring with a generator got materials that already hold a data key", ddbenc.ErrInvalidConfig)
		}
		if err := k.generator.OnEncrypt(ctx, m); err != nil {
			return err
		}
	} else if m.PlaintextDataKey == nil {
		return fmt.Errorf("%w: a multi-keyring without a generator needs a data key", ddbenc.ErrInvalidConfig)
	}
	for _, c := range k.children {
		if err := c.OnEncrypt(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// OnDecrypt implements ddbenc.Keyring.
func (k *Multi) OnDecrypt(ctx context.Context, m *ddbenc.KeyringMaterials, edks []ddbenc.EncryptedDataKey) error {
	if err := checkDecrypt(m); err != nil {
		return err
	}
	all := k.children
	if k.generator != nil {
		all = append([]ddbenc.Keyring{k.generator}, all...)
	}
	var errs []error
	for _, c := range all {
		err := c.OnDecrypt(ctx, m, edks)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		m.PlaintextDataKey, m.SymmetricSigningKeys = nil, nil
		errs = append(errs, err)
	}
	return noMatch("multi-keyring", errs)
}
