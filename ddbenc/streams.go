package ddbenc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streamstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// DynamoDB Streams: the images of a stream record are stored items, as
// encrypted and signed as the table's items, and are read like them, with the
// table's Encryptor (Client.Encryptor) and its policies (ReadItem). Package
// lambdaevents does the same for the records Lambda delivers.

// StreamImages are the images of one stream record, verified and decrypted.
type StreamImages struct {
	// Keys are the record's primary key attributes, as the record carries
	// them (keys are stored in plaintext). They are not covered by a
	// signature themselves; when the record has an image, they were checked
	// to be the key of that verified image.
	Keys map[string]types.AttributeValue
	// NewImage is the item after the change; nil when the record has none
	// (a REMOVE, or a stream of view type KEYS_ONLY or OLD_IMAGE).
	NewImage map[string]types.AttributeValue
	// NewFormat is the format NewImage was read as (ReadItem): a
	// PlaintextItem was not verified and comes back only under a
	// PlaintextPolicy that allows plaintext reads. It is the zero value,
	// PlaintextItem, when NewImage is nil.
	NewFormat ItemFormat
	// OldImage and OldFormat are the item before the change (a MODIFY or
	// REMOVE of a stream of view type OLD_IMAGE or NEW_AND_OLD_IMAGES), as
	// NewImage and NewFormat are.
	OldImage  map[string]types.AttributeValue
	OldFormat ItemFormat
}

// StreamOptions are the optional settings of DecryptStreamRecord and
// DecryptStreamImages.
type StreamOptions struct {
	// RedactKeys leaves Error.Key empty; by default an error names the
	// record's primary key, as a Client's errors do (Options.RedactKeys).
	RedactKeys bool
}

// DecryptStreamRecord verifies and decrypts the images of a record of the
// table's stream, as read with the DynamoDB Streams API (GetRecords), with
// the table's Encryptor (Client.Encryptor): each image is read with
// ReadItem, so the table's migration policies apply and its format is
// reported in StreamImages. A record without images (KEYS_ONLY, or the
// missing image of an INSERT or REMOVE) gives nil images and no error; an
// empty image is treated as missing. An image that fails verification or
// decryption fails the record, and nothing of either image is returned; the
// *Error names the table, the image ("decrypt stream NewImage" or "...
// OldImage") and, unless StreamOptions.RedactKeys, the record's key.
func DecryptStreamRecord(ctx context.Context, enc *Encryptor, r streamstypes.Record, optFns ...func(*StreamOptions)) (StreamImages, error) {
	if enc == nil {
		return StreamImages{}, &Error{Op: "decrypt stream record", Err: fmt.Errorf("%w: an Encryptor is required", ErrInvalidConfig)}
	}
	if r.Dynamodb == nil {
		return StreamImages{}, nil
	}
	var in StreamImages
	for _, im := range []struct {
		name string
		src  map[string]streamstypes.AttributeValue
		dst  *map[string]types.AttributeValue
	}{{"Keys", r.Dynamodb.Keys, &in.Keys}, {"NewImage", r.Dynamodb.NewImage, &in.NewImage}, {"OldImage", r.Dynamodb.OldImage, &in.OldImage}} {
		m, err := ConvertStreamItem(im.src)
		if err != nil {
			var de *Error
			if !errors.As(err, &de) {
				return StreamImages{}, err
			}
			c := *de
			c.Op, c.Table = "decrypt stream "+im.name, enc.TableName()
			if len(in.Keys) > 0 && !redact(optFns) {
				c.Key = enc.keyString(in.Keys)
			}
			return StreamImages{}, &c
		}
		*im.dst = m
	}
	return DecryptStreamImages(ctx, enc, in, optFns...)
}

// DecryptStreamImages is DecryptStreamRecord for images already converted to
// the DynamoDB types (in.Keys, in.NewImage, in.OldImage as stored; the
// formats of in are ignored). Package lambdaevents uses it.
func DecryptStreamImages(ctx context.Context, enc *Encryptor, in StreamImages, optFns ...func(*StreamOptions)) (StreamImages, error) {
	if enc == nil {
		return StreamImages{}, &Error{Op: "decrypt stream record", Err: fmt.Errorf("%w: an Encryptor is required", ErrInvalidConfig)}
	}
	redacted := redact(optFns)
	keyOf := func(img map[string]types.AttributeValue) string {
		if redacted {
			return ""
		}
		if len(in.Keys) > 0 {
			return enc.keyString(in.Keys)
		}
		return enc.keyString(img)
	}
	out := StreamImages{Keys: maps.Clone(in.Keys)}
	for _, im := range []struct {
		name   string
		img    map[string]types.AttributeValue
		dst    *map[string]types.AttributeValue
		format *ItemFormat
	}{{"NewImage", in.NewImage, &out.NewImage, &out.NewFormat}, {"OldImage", in.OldImage, &out.OldImage, &out.OldFormat}} {
		if len(im.img) == 0 {
			continue
		}
		op := "decrypt stream " + im.name
		if len(in.Keys) > 0 && !sameKey(enc, in.Keys, im.img) {
			return StreamImages{}, &Error{Op: op, Table: enc.TableName(), Key: keyOf(im.img),
				Err: fmt.Errorf("%w: the record's Keys are not the primary key of its %s", ErrMalformed, im.name)}
		}
		d, f, err := enc.ReadItem(ctx, im.img)
		if err != nil {
			var de *Error
			if errors.As(err, &de) {
				c := *de
				c.Op = op
				c.Key = keyOf(im.img)
				return StreamImages{}, &c
			}
			return StreamImages{}, err // context errors, unchanged
		}
		*im.dst, *im.format = d, f
	}
	return out, nil
}

func redact(optFns []func(*StreamOptions)) bool {
	var opts StreamOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	return opts.RedactKeys
}

// sameKey reports whether two items have the same primary key attributes of
// the table (numbers compared canonical).
func sameKey(enc *Encryptor, a, b map[string]types.AttributeValue) bool {
	for _, k := range enc.keyNames() {
		va, vb := a[k], b[k]
		if va == nil && vb == nil {
			continue // no such key in either: the image's own check refuses it
		}
		if va == nil || vb == nil {
			return false
		}
		ca, errA := canonicalKey(va)
		cb, errB := canonicalKey(vb)
		if errA != nil || errB != nil {
			return false
		}
		switch x := ca.(type) {
		case *types.AttributeValueMemberS:
			y, ok := cb.(*types.AttributeValueMemberS)
			if !ok || x.Value != y.Value {
				return false
			}
		case *types.AttributeValueMemberN:
			y, ok := cb.(*types.AttributeValueMemberN)
			if !ok || x.Value != y.Value {
				return false
			}
		case *types.AttributeValueMemberB:
			y, ok := cb.(*types.AttributeValueMemberB)
			if !ok || !bytes.Equal(x.Value, y.Value) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// ConvertStreamItem converts an item of the DynamoDB Streams types (a
// record's Keys, NewImage or OldImage) into the DynamoDB types, value for
// value: every type (S, N, B, SS, NS, BS, M, L, NULL, BOOL), nested maps and
// lists, numbers as their strings, and bytes copied. A nil item gives nil.
// A nil value or a union member the SDK did not know is an *Error wrapping
// ErrMalformed that names the top-level attribute.
func ConvertStreamItem(item map[string]streamstypes.AttributeValue) (map[string]types.AttributeValue, error) {
	if item == nil {
		return nil, nil
	}
	out := make(map[string]types.AttributeValue, len(item))
	for name, v := range item {
		c, err := convertStream(v, 0)
		if err != nil {
			return nil, &Error{Op: "convert stream item", Attribute: name, Err: err}
		}
		out[name] = c
	}
	return out, nil
}

// ConvertStreamValue converts one attribute value of the DynamoDB Streams
// types into the DynamoDB types, as ConvertStreamItem does.
func ConvertStreamValue(v streamstypes.AttributeValue) (types.AttributeValue, error) {
	c, err := convertStream(v, 0)
	if err != nil {
		return nil, &Error{Op: "convert stream value", Err: err}
	}
	return c, nil
}

// maxStreamDepth bounds the nesting of converted values; DynamoDB allows 32
// levels.
const maxStreamDepth = 64

func convertStream(v streamstypes.AttributeValue, depth int) (types.AttributeValue, error) {
	if depth > maxStreamDepth {
		return nil, fmt.Errorf("%w: value nested deeper than %d levels", ErrMalformed, maxStreamDepth)
	}
	if v == nil || reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil() {
		return nil, fmt.Errorf("%w: nil attribute value", ErrMalformed)
	}
	switch v := v.(type) {
	case *streamstypes.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: v.Value}, nil
	case *streamstypes.AttributeValueMemberN:
		return &types.AttributeValueMemberN{Value: v.Value}, nil
	case *streamstypes.AttributeValueMemberB:
		return &types.AttributeValueMemberB{Value: bytes.Clone(v.Value)}, nil
	case *streamstypes.AttributeValueMemberSS:
		return &types.AttributeValueMemberSS{Value: slices.Clone(v.Value)}, nil
	case *streamstypes.AttributeValueMemberNS:
		return &types.AttributeValueMemberNS{Value: slices.Clone(v.Value)}, nil
	case *streamstypes.AttributeValueMemberBS:
		var bs [][]byte
		if v.Value != nil {
			bs = make([][]byte, len(v.Value))
			for i, b := range v.Value {
				bs[i] = bytes.Clone(b)
			}
		}
		return &types.AttributeValueMemberBS{Value: bs}, nil
	case *streamstypes.AttributeValueMemberBOOL:
		return &types.AttributeValueMemberBOOL{Value: v.Value}, nil
	case *streamstypes.AttributeValueMemberNULL:
		return &types.AttributeValueMemberNULL{Value: v.Value}, nil
	case *streamstypes.AttributeValueMemberL:
		var l []types.AttributeValue
		if v.Value != nil {
			l = make([]types.AttributeValue, len(v.Value))
			for i, e := range v.Value {
				c, err := convertStream(e, depth+1)
				if err != nil {
					return nil, err
				}
				l[i] = c
			}
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	case *streamstypes.AttributeValueMemberM:
		var m map[string]types.AttributeValue
		if v.Value != nil {
			m = make(map[string]types.AttributeValue, len(v.Value))
			for k, e := range v.Value {
				c, err := convertStream(e, depth+1)
				if err != nil {
					return nil, err
				}
				m[k] = c
			}
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("%w: unknown attribute value type %T", ErrMalformed, v)
}
