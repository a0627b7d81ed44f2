// Package lambdaevents reads the DynamoDB stream records that AWS Lambda
// delivers (github.com/aws/aws-lambda-go/events: DynamoDBEvent,
// DynamoDBEventRecord, DynamoDBAttributeValue) for tables encrypted with
// package ddbenc: it converts their images into the DynamoDB types and
// verifies and decrypts them with the table's Encryptor, as
// ddbenc.DecryptStreamRecord does for records read with the DynamoDB Streams
// API. It is a package of its own so that ddbenc does not depend on
// aws-lambda-go.
//
// A handler gets the Encryptor from the Client that writes the table:
//
//	func handle(ctx context.Context, ev events.DynamoDBEvent) error {
//		recs, err := lambdaevents.DecryptEvent(ctx, client, ev)
//		if err != nil {
//			return err // names the record, the table and the item's key
//		}
//		for _, r := range recs {
//			if r.NewImage != nil && r.NewFormat == ddbenc.PlaintextItem {
//				// not verified: only under a plaintext-read policy
//			}
//		}
//		return nil
//	}
//
// For Lambda's partial batch responses, call DecryptRecord for each record
// and report the SequenceNumber of the ones that fail.
package lambdaevents

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/internal/awsarn"
)

// ConvertItem converts an item of a Lambda DynamoDB event (a record's Keys,
// NewImage or OldImage) into the DynamoDB types, value for value: every type
// (S, N, B, SS, NS, BS, M, L, NULL, BOOL), nested maps and lists, numbers as
// their strings, bytes copied. A nil item gives nil. A value that cannot be
// converted (the zero DynamoDBAttributeValue, which holds no value) is a
// *ddbenc.Error wrapping ddbenc.ErrMalformed that names the top-level
// attribute.
func ConvertItem(item map[string]events.DynamoDBAttributeValue) (map[string]types.AttributeValue, error) {
	if item == nil {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(item))
	for name, v := range item {
		c, err := convert(v, 0)
		if err != nil {
			return nil, &ddbenc.Error{Op: "convert Lambda event item", Attribute: name, Err: err}
		}
		out[name] = c
	}
	return out, nil
}

// ConvertValue converts one attribute value of a Lambda DynamoDB event into
// the DynamoDB types, as ConvertItem does.
func ConvertValue(v events.DynamoDBAttributeValue) (types.AttributeValue, error) {
	c, err := convert(v, 0)
	if err != nil {
		return nil, &ddbenc.Error{Op: "convert Lambda event value", Err: err}
	}
	return c, nil
}

// maxDepth bounds the nesting of converted values; DynamoDB allows 32
// levels.
const maxDepth = 64

func convert(v events.DynamoDBAttributeValue, depth int) (out types.AttributeValue, err error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: value nested deeper than %d levels", ddbenc.ErrMalformed, maxDepth)
	}
	// The accessors panic on a value that holds nothing of its type (the
	// zero DynamoDBAttributeValue claims to be binary and holds nil).
	defer func() {
		if recover() != nil {
			out, err = nil, fmt.Errorf("%w: attribute value holds no value of its type", ddbenc.ErrMalformed)
		}
	}()
	switch v.DataType() {
	case events.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case events.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case events.DataTypeBinary:
		b := v.Binary()
		if b == nil {
			b = []byte{}
		}
		return &types.AttributeValueMemberB{Value: append([]byte{}, b...)}, nil
	case events.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: append([]string(nil), v.StringSet()...)}, nil
	case events.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: append([]string(nil), v.NumberSet()...)}, nil
	case events.DataTypeBinarySet:
		src := v.BinarySet()
		var bs [][]byte
		if src != nil {
			bs = make([][]byte, len(src))
			for i, b := range src {
				bs[i] = append([]byte{}, b...)
			}
		}
		return &types.AttributeValueMemberBS{Value: bs}, nil
	case events.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case events.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case events.DataTypeList:
		src := v.List()
		var l []types.AttributeValue
		if src != nil {
			l = make([]types.AttributeValue, len(src))
			for i, e := range src {
				c, err := convert(e, depth+1)
				if err != nil {
					return nil, err
				}
				l[i] = c
			}
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case events.DataTypeMap:
		src := v.Map()
		var m map[string]types.AttributeValue
		if src != nil {
			m = make(map[string]types.AttributeValue, len(src))
			for k, e := range src {
				c, err := convert(e, depth+1)
				if err != nil {
					return nil, err
				}
				m[k] = c
			}
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("%w: unknown attribute value type %d", ddbenc.ErrMalformed, v.DataType())
}

// DecryptRecord verifies and decrypts the images of one record of a Lambda
// DynamoDB event with the table's Encryptor (ddbenc.Client.Encryptor), as
// ddbenc.DecryptStreamRecord does: images are read with ReadItem under the
// table's policies, missing images give nil and no error, and an image that
// fails fails the record with nothing returned; the *ddbenc.Error names the
// table, the image and (unless RedactKeys) the record's key.
func DecryptRecord(ctx context.Context, enc *ddbenc.Encryptor, r events.DynamoDBEventRecord, optFns ...func(*ddbenc.StreamOptions)) (ddbenc.StreamImages, error) {
	if enc == nil {
		return ddbenc.StreamImages{}, &ddbenc.Error{Op: "decrypt Lambda event record", Err: fmt.Errorf("%w: an Encryptor is required", ddbenc.ErrInvalidConfig)}
	}
	var opts ddbenc.StreamOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	var in ddbenc.StreamImages
	for _, im := range []struct {
		name string
		src  map[string]events.DynamoDBAttributeValue
		dst  *map[string]types.AttributeValue
	}{{"Keys", r.Change.Keys, &in.Keys}, {"NewImage", r.Change.NewImage, &in.NewImage}, {"OldImage", r.Change.OldImage, &in.OldImage}} {
		m, err := ConvertItem(im.src)
		if err != nil {
			de := *err.(*ddbenc.Error) // ConvertItem returns only *ddbenc.Error
			de.Op, de.Table = "decrypt stream "+im.name, enc.TableName()
			if len(in.Keys) > 0 && !opts.RedactKeys {
				de.Key = enc.KeyString(in.Keys)
			}
			return ddbenc.StreamImages{}, &de
		}
		*im.dst = m
	}
	return ddbenc.DecryptStreamImages(ctx, enc, in, optFns...)
}

// TableName returns the name of the table whose stream a record comes from,
// from its eventSourceARN (arn:...:table/NAME/stream/LABEL).
func TableName(r events.DynamoDBEventRecord) (string, error) {
	name, ok := awsarn.DynamoDBStreamTable(r.EventSourceArn)
	if !ok {
		return "", &ddbenc.Error{Op: "decrypt Lambda event record", Err: fmt.Errorf("%w: the record's eventSourceARN %q is not a DynamoDB stream ARN", ddbenc.ErrUnknownTable, r.EventSourceArn)}
	}
	return name, nil
}

// DecryptEvent verifies and decrypts the images of every record of a Lambda
// DynamoDB event, each with the Encryptor of its table (named by its
// eventSourceARN) from the Client: DecryptRecord for each record, in order.
// A table the Client does not encrypt (ErrUnknownTable, also for a
// pass-through table) or a record that fails fails the event, and nothing is
// returned; the error names the record (its index, eventID and sequence
// number) and wraps the record's *ddbenc.Error.
func DecryptEvent(ctx context.Context, c *ddbenc.Client, ev events.DynamoDBEvent, optFns ...func(*ddbenc.StreamOptions)) ([]ddbenc.StreamImages, error) {
	if c == nil {
		return nil, &ddbenc.Error{Op: "decrypt Lambda event", Err: fmt.Errorf("%w: a Client is required", ddbenc.ErrInvalidConfig)}
	}
	out := make([]ddbenc.StreamImages, len(ev.Records))
	encs := map[string]*ddbenc.Encryptor{}
	for i, r := range ev.Records {
		fail := func(err error) ([]ddbenc.StreamImages, error) {
			return nil, fmt.Errorf("lambdaevents: record %d (eventID %q, sequence number %q): %w", i, r.EventID, r.Change.SequenceNumber, err)
		}
		table, err := TableName(r)
		if err != nil {
			return fail(err)
		}
		enc := encs[table]
		if enc == nil {
			if enc, err = c.Encryptor(ctx, table); err != nil {
				return fail(err)
			}
			encs[table] = enc
		}
		if out[i], err = DecryptRecord(ctx, enc, r, optFns...); err != nil {
			return fail(err)
		}
	}
	return out, nil
}
