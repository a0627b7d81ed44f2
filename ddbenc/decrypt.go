package ddbenc

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
	"github.com/ddbec/ddbec-go/internal/legacy"
	"github.com/ddbec/ddbec-go/signing"
)

// DecryptItem verifies a stored item's signature and returns its plaintext:
// encrypted attributes decrypted, the reserved attributes removed. The
// signature is verified before anything is decrypted; on any error no part of
// the plaintext is returned. The input is not modified.
//
// A DBESDKFormat table applies its policies: legacy items are verified and
// decrypted under a LegacyConfig that allows it (ErrLegacyItem otherwise);
// plaintext items are always refused with ErrPlaintextItem, also under a
// PlaintextPolicy that allows plaintext reads: DecryptItem returns only
// verified items. Use ReadItem, which reports the format, to read them.
func (e *Encryptor) DecryptItem(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, _, err := e.read(ctx, item, false)
	return out, err
}

// decryptLegacy reads an item in the legacy format.
func (e *Encryptor) decryptLegacy(ctx context.Context, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	const op = "decrypt"
	if e.allNothing {
		return maps.Clone(item), nil
	}
	sigAV, ok := item[legacy.SignatureAttribute]
	if !ok {
		if f, _ := classify(item); f == DBESDKItem {
			return nil, e.err(op, "aws_dbe_head", fmt.Errorf("%w: the item is an %s item (it has aws_dbe_head or aws_dbe_foot), but this table is configured for the %s format", ErrMalformed, f, LegacyItem))
		}
		return nil, e.err(op, legacy.SignatureAttribute, ErrMissingAttribute)
	}
	sig, ok := sigAV.(*types.AttributeValueMemberB)
	if !ok {
		return nil, e.err(op, legacy.SignatureAttribute, fmt.Errorf("%w: signature is not binary", ErrMalformed))
	}
	stored := make(map[string]types.AttributeValue, len(item))
	encrypted := make([]string, 0, len(item))
	for name, v := range item {
		if name == legacy.SignatureAttribute || name == legacy.MaterialDescriptionAttribute {
			continue
		}
		stored[name] = v
		if e.acts.Get(name) == actions.EncryptAndSign {
			encrypted = append(encrypted, name)
		}
	}
	var desc map[string]string // nil (empty) when the item has none
	switch dv := item[legacy.MaterialDescriptionAttribute].(type) {
	case *types.AttributeValueMemberB:
		d, err := legacy.ParseDescription(dv.Value)
		if err != nil {
			return nil, e.err(op, legacy.MaterialDescriptionAttribute, fmt.Errorf("%w: %w", ErrMalformed, err))
		}
		desc = d
	case nil:
		// Java omits an empty description; without one nothing can be
		// decrypted, so it may be missing only when nothing is encrypted.
		if len(encrypted) > 0 {
			return nil, e.err(op, legacy.MaterialDescriptionAttribute, ErrMissingAttribute)
		}
	default:
		return nil, e.err(op, legacy.MaterialDescriptionAttribute, fmt.Errorf("%w: material description is not binary", ErrMalformed))
	}
	for _, k := range e.keyNames() {
		if _, ok := stored[k]; !ok {
			return nil, e.err(op, k, ErrMissingAttribute)
		}
	}

	mats, err := e.cfg.Provider.DecryptionMaterials(ctx, e.context(stored, desc))
	if err != nil {
		return nil, e.err(op, "", err)
	}
	if mats == nil || mats.Verifier == nil {
		return nil, e.err(op, "", fmt.Errorf("%w: provider returned no verification key", ErrInvalidConfig))
	}
	if err := e.verify(stored, sig.Value, desc[legacy.SigningAlgorithm], mats.Verifier); err != nil {
		return nil, err
	}
	if len(encrypted) == 0 {
		return stored, nil
	}

	if mats.DecryptionKey == nil {
		return nil, e.err(op, encrypted[0], fmt.Errorf("%w: the provider gave no decryption key", ErrDecryption))
	}
	if mode, ok := desc[legacy.SymMode]; !ok {
		return nil, e.err(op, legacy.MaterialDescriptionAttribute, fmt.Errorf("%w: no symmetric mode in material description", ErrDecryption))
	} else if mode != legacy.SymModeCBC {
		return nil, e.err(op, legacy.MaterialDescriptionAttribute, fmt.Errorf("%w: unsupported symmetric mode", ErrDecryption))
	}
	// One plaintext buffer for the item: Deserialize copies values out.
	total := 0
	for _, name := range encrypted {
		ct, ok := stored[name].(*types.AttributeValueMemberB)
		if !ok {
			return nil, e.err(op, name, fmt.Errorf("%w: encrypted attribute is not binary", ErrDecryption))
		}
		total = max(total, len(ct.Value))
	}
	dec, err := legacy.NewValueDecrypter(mats.DecryptionKey, total)
	if err != nil {
		return nil, e.err(op, "", fmt.Errorf("%w: content key is not a valid AES key", ErrDecryption))
	}
	for _, name := range encrypted {
		av, err := dec.Decrypt(stored[name].(*types.AttributeValueMemberB).Value)
		if errors.Is(err, legacy.ErrCiphertext) {
			return nil, e.err(op, name, ErrDecryption)
		} else if err != nil {
			return nil, e.err(op, name, fmt.Errorf("%w: %w", ErrDecryption, err))
		}
		stored[name] = av
	}
	return stored, nil
}

// verify checks the signature with the configured ordering and, if that
// fails, with the other one (docs/legacy-format.md §8.1), and with the legacy Python rounding
// when AllowPythonRoundedNumbers is set. Each variant is an injective encoding
// of the stored data, except the rounding, which is opt-in. Variants that give
// the same string to sign are verified once.
func (e *Encryptor) verify(stored map[string]types.AttributeValue, sig []byte, alg string, v signing.Verifier) error {
	const variants = 3 // configured ordering, the other one, legacy Python rounding
	var tried [variants][]byte
	var encodeErr, verifyErr error
	for i := range variants {
		var sts []byte
		var err error
		switch i {
		case 0:
			sts, err = legacy.StringToSign(e.signedTable, stored, e.treat, e.cfg.Ordering.legacy())
		case 1:
			sts, err = legacy.StringToSign(e.signedTable, stored, e.treat, e.cfg.Ordering.Other().legacy())
		case 2:
			if !e.cfg.AllowPythonRoundedNumbers {
				continue
			}
			sts, err = legacy.StringToSignLegacyPython(e.signedTable, stored, e.treat)
		}
		if err != nil {
			encodeErr = cmp.Or(encodeErr, err)
			continue
		}
		if slices.ContainsFunc(tried[:i], func(b []byte) bool { return bytes.Equal(b, sts) }) {
			continue
		}
		tried[i] = sts
		if err := v.Verify(sts, sig, alg); err == nil {
			return nil
		} else {
			verifyErr = cmp.Or(verifyErr, err)
		}
	}
	if verifyErr == nil {
		// No variant can encode a stored value: name it.
		var ae *legacy.AttributeError
		if errors.As(encodeErr, &ae) {
			return e.err("decrypt", ae.Attribute, fmt.Errorf("%w: %w", ErrSignature, ae.Err))
		}
		return e.err("decrypt", "", fmt.Errorf("%w: %w", ErrSignature, encodeErr))
	}
	return e.err("decrypt", legacy.SignatureAttribute, fmt.Errorf("%w: %w (%s)", ErrSignature, verifyErr, e.mustMatch()))
}

// mustMatch says which configuration inputs a reader must share with the
// writer of an item for its signature to verify; it names settings, never
// values from the item.
func (e *Encryptor) mustMatch() string {
	var b strings.Builder
	b.WriteString("the item was changed, or written with another configuration: the signed table name ")
	b.WriteString(strconv.Quote(e.signedTable))
	b.WriteString(", the key attributes ")
	b.WriteString(e.keyList())
	b.WriteString(", every attribute's actions and the signing key must equal the writer's; both orderings were tried")
	if !e.cfg.AllowPythonRoundedNumbers {
		b.WriteString(" (legacy Python items with numbers of more than 28 digits need AllowPythonRoundedNumbers)")
	}
	if !e.cfg.LegacyUnsignedKeys {
		b.WriteString("; legacy writers whose key attributes were do_nothing need TableConfig.LegacyUnsignedKeys")
	}
	return b.String()
}
