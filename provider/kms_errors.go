package provider

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ddbec/ddbec-go/ddbenc"
)

// kmsError classifies a KMS failure, keeping the SDK error reachable.
// sentKeyID says whether the request named the configured key; ec is the
// item's context (for naming what the KMS encryption context binds). The
// message names keys, Regions, the table and key attribute names, never
// attribute values, encryption context values or blobs.
func (p *DirectKMS) kmsError(op string, sentKeyID bool, ec ddbenc.EncryptionContext, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var (
		incorrect *kmstypes.IncorrectKeyException
		notFound  *kmstypes.NotFoundException
		invalidCT *kmstypes.InvalidCiphertextException
	)
	switch {
	case errors.As(err, &notFound) && sentKeyID:
		return fmt.Errorf("%w: provider: KMS %s: %s: %w", ddbenc.ErrWrongKey, op, p.notFoundText(), err)
	case errors.As(err, &incorrect), errors.As(err, &notFound):
		return fmt.Errorf("%w: provider: KMS %s with key %s: %w", ddbenc.ErrWrongKey, op, p.keyID, err)
	case errors.As(err, &invalidCT) && op == "Decrypt":
		// The item's key values, table or description are not those the data
		// key was bound to, or the blob was changed: an integrity failure, so
		// the error is also an ErrSignature, as with providers that verify
		// the signature first.
		return fmt.Errorf("%w: provider: KMS Decrypt with key %s (the item's integrity check failed: %w): %s: %w", ddbenc.ErrDecryption, p.keyID, ddbenc.ErrSignature, contextMismatchText(ec), err)
	case errors.As(err, &invalidCT):
		return fmt.Errorf("%w: provider: KMS %s with key %s: %w", ddbenc.ErrDecryption, op, p.keyID, err)
	}
	return fmt.Errorf("%w: provider: KMS %s with key %s: %w", ddbenc.ErrKeyUnavailable, op, p.keyID, err)
}

// notFoundText says that the configured key does not exist where it was
// called.
func (p *DirectKMS) notFoundText() string {
	where := "the KMS client's Region"
	if r := p.callRegion(); r != "" {
		where = "Region " + r
	}
	return fmt.Sprintf("KMS key %s does not exist in %s; for a multi-Region key, create its replica there or configure the local replica's ARN", p.keyID, where)
}

// contextMismatchText explains an InvalidCiphertextException on Decrypt:
// what the KMS encryption context binds, naming the configuration inputs
// (the signed table name and the key attribute names) but no values.
func contextMismatchText(ec ddbenc.EncryptionContext) string {
	table := "no table name"
	if ec.TableName != "" {
		table = "the table name (signed table name " + strconv.Quote(ec.TableName) + ")"
	}
	sortKey := "no sort key attribute"
	if ec.SortKeyName != "" {
		sortKey = "the sort key attribute name " + strconv.Quote(ec.SortKeyName)
	}
	return fmt.Sprintf("KMS refused the item's data key (InvalidCiphertextException): the KMS encryption context differs from the writer's, or the data key is damaged; "+
		"%s, the partition key attribute name %q and %s must equal the writer's, and the item's key values and material description (its algorithms) are bound too",
		table, ec.PartitionKeyName, sortKey)
}
