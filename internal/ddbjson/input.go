package ddbjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Form is the shape of an input document that UnmarshalInput found.
type Form int

const (
	// FormItem is a bare item: {"name": {"S": "..."}}.
	FormItem Form = iota
	// FormGetItem is the output of `aws dynamodb get-item`:
	// {"Item": {...}, "ConsumedCapacity": ...}.
	FormGetItem
	// FormItems is the output of `aws dynamodb query` or `scan`:
	// {"Items": [...], "Count": N, "ScannedCount": N, ...}.
	FormItems
)

// getItemFields and itemsFields are the top-level fields the AWS CLI prints
// for get-item and for query/scan.
var (
	getItemFields = map[string]bool{"Item": true, "ConsumedCapacity": true}
	itemsFields   = map[string]bool{"Items": true, "Count": true, "ScannedCount": true, "LastEvaluatedKey": true, "ConsumedCapacity": true, "NextToken": true}
)

// UnmarshalInput parses one input document: a bare item, the output of
// `aws dynamodb get-item` ({"Item": {...}}), or the output of `aws dynamodb
// query` or `scan` ({"Items": [...], "Count": N, ...}), and returns its
// items and which form it is.
//
// The rule is unambiguous because no document is both a valid bare item and
// a valid envelope:
//
//   - "Items" holding a JSON array makes a query/scan result: in a bare item
//     every attribute value is an object. Its other fields must be the ones
//     the AWS CLI prints (Count, ScannedCount, LastEvaluatedKey,
//     ConsumedCapacity, NextToken).
//   - Any document that is a valid bare item is a bare item, whatever its
//     attribute names (an attribute named "Item" holds an attribute value).
//   - Otherwise, a document whose fields are "Item" and optionally
//     "ConsumedCapacity" is a get-item result, and "Item" must hold an item.
//     An item is never also an attribute value: an attribute value has one
//     key, a type, whose content is an object only for "M", and then that
//     content would have to be an attribute value and an item again, which
//     no finite JSON is.
//
// The form is returned with an error, too, when it was recognised.
func UnmarshalInput(data []byte) ([]map[string]types.AttributeValue, Form, error) {
	raw, err := object(data)
	if err != nil {
		return nil, FormItem, err
	}
	if r, ok := raw["Items"]; ok && jsonKind(r) == '[' {
		for k := range raw {
			if !itemsFields[k] {
				return nil, FormItems, &Error{Kind: ErrSyntax, Problem: fmt.Sprintf("query/scan output has an unexpected field %q", k)}
			}
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(r, &elems); err != nil {
			return nil, FormItems, &Error{Kind: ErrSyntax, Problem: "Items is not an array"}
		}
		items := make([]map[string]types.AttributeValue, len(elems))
		for i, e := range elems {
			it, err := UnmarshalItem(e)
			if err != nil {
				return nil, FormItems, inEnvelope(err, fmt.Sprintf("Items[%d]", i))
			}
			items[i] = it
		}
		return items, FormItems, nil
	}
	item, bareErr := itemFromRaw(raw, data)
	if bareErr == nil {
		return []map[string]types.AttributeValue{item}, FormItem, nil
	}
	r, ok := raw["Item"]
	if !ok || jsonKind(r) != '{' || !onlyFields(raw, getItemFields) {
		return nil, FormItem, bareErr
	}
	inner, err := UnmarshalItem(r)
	if err == nil {
		return []map[string]types.AttributeValue{inner}, FormGetItem, nil
	}
	// Neither reading works: report the one the input looks like.
	if looksLikeValue(r) {
		return nil, FormItem, bareErr
	}
	return nil, FormGetItem, inEnvelope(err, "Item")
}

func inEnvelope(err error, where string) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Envelope = where
		return &c
	}
	return err
}

func onlyFields(raw map[string]json.RawMessage, allowed map[string]bool) bool {
	for k := range raw {
		if !allowed[k] {
			return false
		}
	}
	return true
}

// jsonKind returns the first non-space byte of a JSON value.
func jsonKind(r json.RawMessage) byte {
	if t := bytes.TrimLeft(r, " \t\r\n"); len(t) > 0 {
		return t[0]
	}
	return 0
}

// looksLikeValue reports whether r is an object with one key, a type key.
func looksLikeValue(r json.RawMessage) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(r, &obj) != nil || len(obj) != 1 {
		return false
	}
	for k := range obj {
		return typeKeys[k]
	}
	return false
}
