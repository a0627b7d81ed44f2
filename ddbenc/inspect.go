package ddbenc

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/internal/dbesdk"
)

// The attributes a DBESDKFormat item stores besides its own
// (docs/dbesdk-format.md §6.2, §6.6).
const (
	HeaderAttribute = dbesdk.HeadAttribute // "aws_dbe_head"
	FooterAttribute = dbesdk.FootAttribute // "aws_dbe_foot"
)

// HeaderInfo describes the header (aws_dbe_head) of a stored DBESDKFormat
// item without any key: its structure and sizes, never key bytes, the
// commitment or values of the encryption context.
type HeaderInfo struct {
	// Version is the header version, 1 or 2.
	Version int
	// Suite is the item's algorithm suite.
	Suite AlgorithmSuite
	// Legend has one byte per signed attribute, in the order of the signed
	// fields (docs/dbesdk-format.md §3.2): 'e' encrypted and signed, 's'
	// signed only, 'c' signed and included in the encryption context.
	Legend string
	// ContextKeys are the keys of the stored encryption context, in header
	// order (their values are not reported).
	ContextKeys []string
	// EncryptedDataKeys are the item's EDKs, one per keyring that can
	// decrypt it.
	EncryptedDataKeys []EncryptedDataKeyInfo
	// Bytes is the length of the whole header.
	Bytes int
}

// EncryptedDataKeyInfo describes one encrypted data key of a header: its
// provider id ("aws-kms" for the KMS keyrings, "aws-kms-hierarchy" for the
// hierarchical keyring, the namespace of a raw keyring) and the lengths of
// its provider info and ciphertext, never their bytes.
type EncryptedDataKeyInfo struct {
	ProviderID        string
	ProviderInfoBytes int
	CiphertextBytes   int
}

// InspectHeader parses the header of a stored DBESDKFormat item: raw is the
// value of its aws_dbe_head attribute, as a plain DynamoDB client reads it.
// It needs no key and verifies nothing: it is for display and diagnostics
// (cmd/ddbec inspect, examples/globaltable). A header that cannot be parsed
// gives an *Error wrapping ErrMalformed.
func InspectHeader(raw []byte) (*HeaderInfo, error) {
	h, err := dbesdk.InspectHeader(raw)
	if err != nil {
		return nil, &Error{Op: "inspect", Attribute: HeaderAttribute, Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	out := &HeaderInfo{Version: h.Version, Suite: AlgorithmSuite(h.Suite), Legend: h.Legend, ContextKeys: h.ContextKeys, Bytes: h.Bytes}
	for _, e := range h.EDKs {
		out.EncryptedDataKeys = append(out.EncryptedDataKeys, EncryptedDataKeyInfo(e))
	}
	return out, nil
}

// InspectItemHeader is InspectHeader of a stored item's aws_dbe_head
// attribute. It fails with ErrMissingAttribute if the item has none (a
// legacy or plaintext item) and ErrMalformed if it is not binary.
func InspectItemHeader(item map[string]types.AttributeValue) (*HeaderInfo, error) {
	v, ok := item[HeaderAttribute]
	if !ok {
		return nil, &Error{Op: "inspect", Attribute: HeaderAttribute, Err: fmt.Errorf("%w: the item has no %s: it is not a DBESDKFormat item", ErrMissingAttribute, HeaderAttribute)}
	}
	b, ok := v.(*types.AttributeValueMemberB)
	if !ok {
		return nil, &Error{Op: "inspect", Attribute: HeaderAttribute, Err: fmt.Errorf("%w: %s is not binary", ErrMalformed, HeaderAttribute)}
	}
	return InspectHeader(b.Value)
}
