package ddbenc

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Every error this package returns for an item is an *Error
// that wraps one or more of these; test with errors.Is.
var (
	// ErrSignature: the item's signature does not verify (tampered, signed
	// under other keys, read with other actions or another table name).
	ErrSignature = errors.New("ddbenc: signature verification failed")
	// ErrDecryption: an encrypted attribute or the envelope key could not be
	// decrypted.
	ErrDecryption = errors.New("ddbenc: decryption failed")
	// ErrMissingAttribute: a key attribute, the material description or the
	// signature is missing.
	ErrMissingAttribute = errors.New("ddbenc: missing attribute")
	// ErrWrongKey: the item was protected with a key or provider other than
	// the configured one.
	ErrWrongKey = errors.New("ddbenc: wrong key or provider")
	// ErrKeyUnavailable: the provider could not obtain keys: KMS throttled,
	// failed or unreachable, the key disabled, pending deletion or still being
	// replicated. The underlying SDK error stays reachable with errors.As.
	ErrKeyUnavailable = errors.New("ddbenc: key unavailable")
	// ErrInvalidConfig: the configuration cannot be used.
	ErrInvalidConfig = errors.New("ddbenc: invalid configuration")
	// ErrInvalidItem: the plaintext item cannot be encrypted (a reserved
	// attribute name, an unsupported or invalid value, a bad key value).
	ErrInvalidItem = errors.New("ddbenc: invalid item")
	// ErrMalformed: the stored item's metadata cannot be parsed (material
	// description, signature attribute type, algorithm names).
	ErrMalformed = errors.New("ddbenc: malformed encrypted item")
	// ErrLegacyItem: a DBESDKFormat table read an item in the legacy format
	// without a TableConfig.Legacy that allows such reads.
	ErrLegacyItem = errors.New("ddbenc: legacy item refused")
	// ErrPlaintextItem: a DBESDKFormat table read an item that is not
	// encrypted, and its PlaintextPolicy refuses plaintext reads, or the
	// caller asked for verified items only (DecryptItem; Encryptor.ReadItem
	// and the Client return plaintext items marked as such).
	ErrPlaintextItem = errors.New("ddbenc: plaintext item refused")
)

// Error is the one error type of this package. It names the operation, the
// table and, when one is concerned, the attribute; it never contains
// attribute values, plaintext or key material.
type Error struct {
	Op        string // "encrypt", "decrypt", "new encryptor"
	Table     string
	Attribute string // empty when the error concerns the whole item
	// Key is the item's primary key (DynamoDB JSON) when a Client could not
	// verify or decrypt an item it read: one of several items (Query, Scan,
	// batch and transaction calls), and also the item of GetItem and the
	// returned attributes of PutItem, DeleteItem and UpdateItem; or could
	// not encrypt one of the put items of BatchWriteItem or
	// TransactWriteItems. Key values
	// are stored in plaintext but may be personal data:
	// Options.RedactKeys leaves Key empty.
	Key string
	Err error // wraps at least one sentinel
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ddbenc: ")
	b.WriteString(e.Op)
	if e.Table != "" {
		b.WriteString(" table ")
		b.WriteString(strconv.Quote(e.Table))
	}
	if e.Key != "" {
		b.WriteString(" item ")
		b.WriteString(e.Key)
	}
	if e.Attribute != "" {
		b.WriteString(" attribute ")
		b.WriteString(strconv.Quote(e.Attribute))
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "ddbenc: "))
	return b.String()
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }
