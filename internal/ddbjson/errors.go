package ddbjson

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrSyntax reports input that is not DynamoDB JSON.
var ErrSyntax = errors.New("ddbjson: invalid DynamoDB JSON")

// ErrUnrepresentable reports an attribute value that DynamoDB JSON cannot
// carry unchanged (a string that is not valid UTF-8, a nil or unknown value).
var ErrUnrepresentable = errors.New("ddbjson: value cannot be written as DynamoDB JSON")

// Error is the error of this package's readers and writers. It wraps
// ErrSyntax or ErrUnrepresentable, and names where the problem is only down
// to the top-level attribute.
type Error struct {
	Kind error // ErrSyntax or ErrUnrepresentable
	// Envelope is "Item" or "Items[i]" when the item is inside the output
	// of `aws dynamodb get-item`, query or scan; empty otherwise.
	Envelope string
	// Attribute is the top-level attribute; empty when the problem concerns
	// the whole input.
	Attribute string
	// Nested reports that the problem is inside the attribute's value (a
	// list element or map entry) rather than at its top level.
	Nested bool
	// Problem never contains attribute values or nested map keys.
	Problem string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	b.WriteString(": ")
	if e.Envelope != "" {
		b.WriteString(e.Envelope)
		b.WriteString(": ")
	}
	if e.Attribute != "" {
		b.WriteString("attribute ")
		b.WriteString(strconv.Quote(e.Attribute))
		if e.Nested {
			b.WriteString(", inside its value")
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap returns Kind.
func (e *Error) Unwrap() error { return e.Kind }

// loc is where a value is: its top-level attribute and whether it is nested
// inside that attribute's value. Deliberately no path.
type loc struct {
	attr   string
	nested bool
}

func (l loc) inside() loc { return loc{attr: l.attr, nested: true} }

func (l loc) err(format string, args ...any) error {
	return &Error{Kind: ErrSyntax, Attribute: l.attr, Nested: l.nested, Problem: fmt.Sprintf(format, args...)}
}
