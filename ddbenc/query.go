package ddbenc

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Query runs a query whose key condition and filter do not refer to
// encrypted attributes, and verifies and decrypts every item; one item that
// fails fails the call (the error names its key). A projection is applied
// after verification.
func (c *Client) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	const op = "Query"
	t, err := c.lookup(ctx, op, in.TableName)
	if err != nil {
		return nil, err
	}
	if t == nil { // pass-through table
		out, err := c.api.Query(ctx, in, optFns...)
		if err == nil && out != nil {
			setFormats(&out.ResultMetadata, plaintextFormats(len(out.Items)))
		}
		return out, err
	}
	req := *in
	var out *dynamodb.QueryOutput
	items, formats, err := t.read(ctx, op, readRequest{
		index:    req.IndexName,
		startKey: req.ExclusiveStartKey,
		conditions: []condition{
			{"key condition", req.KeyConditionExpression, legacyKeys(req.KeyConditions)},
			{"filter expression", req.FilterExpression, legacyKeys(req.QueryFilter)},
		},
		names:           &req.ExpressionAttributeNames,
		projection:      &req.ProjectionExpression,
		attributesToGet: &req.AttributesToGet,
		sel:             &req.Select,
	}, func() (items []map[string]types.AttributeValue, err error) {
		if out, err = c.api.Query(ctx, &req, optFns...); err != nil {
			return nil, err
		}
		return out.Items, nil
	})
	if err != nil {
		return nil, err
	}
	res := *out
	res.Items = items
	res.ResultMetadata = out.ResultMetadata.Clone()
	setFormats(&res.ResultMetadata, formats)
	return &res, nil
}

// Scan is Query's counterpart for scans.
func (c *Client) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	const op = "Scan"
	t, err := c.lookup(ctx, op, in.TableName)
	if err != nil {
		return nil, err
	}
	if t == nil { // pass-through table
		out, err := c.api.Scan(ctx, in, optFns...)
		if err == nil && out != nil {
			setFormats(&out.ResultMetadata, plaintextFormats(len(out.Items)))
		}
		return out, err
	}
	req := *in
	var out *dynamodb.ScanOutput
	items, formats, err := t.read(ctx, op, readRequest{
		index:    req.IndexName,
		startKey: req.ExclusiveStartKey,
		conditions: []condition{
			{"filter expression", req.FilterExpression, legacyKeys(req.ScanFilter)},
		},
		names:           &req.ExpressionAttributeNames,
		projection:      &req.ProjectionExpression,
		attributesToGet: &req.AttributesToGet,
		sel:             &req.Select,
	}, func() (items []map[string]types.AttributeValue, err error) {
		if out, err = c.api.Scan(ctx, &req, optFns...); err != nil {
			return nil, err
		}
		return out.Items, nil
	})
	if err != nil {
		return nil, err
	}
	res := *out
	res.Items = items
	res.ResultMetadata = out.ResultMetadata.Clone()
	setFormats(&res.ResultMetadata, formats)
	return &res, nil
}

// condition is an expression of a request to check, with the attribute
// names of its legacy map form (KeyConditions, QueryFilter, ScanFilter).
type condition struct {
	kind   string // "key condition", "filter expression": for errors
	expr   *string
	legacy []string
}

// readRequest points into the copy of a Query or Scan request that is sent:
// the fields read checks and rewrites.
type readRequest struct {
	index           *string
	startKey        map[string]types.AttributeValue
	conditions      []condition
	names           *map[string]string
	projection      **string
	attributesToGet *[]string
	sel             *types.Select
}

// read is the logic Query and Scan share. It checks the index, the
// ExclusiveStartKey and the conditions; strips the projection (whole items
// must come back for verification), dropping the placeholders only the
// projection used and resetting Select SPECIFIC_ATTRIBUTES to the default;
// calls send; and returns the items send returns verified, decrypted and
// projected, with the format of each. Nothing is sent when a check fails; an
// error of send is returned unchanged.
func (t *table) read(ctx context.Context, op string, r readRequest, send func() ([]map[string]types.AttributeValue, error)) ([]map[string]types.AttributeValue, []ItemFormat, error) {
	ix, err := t.checkIndex(op, r.index)
	if err != nil {
		return nil, nil, err
	}
	if err := t.checkStartKey(op, r.startKey, ix); err != nil {
		return nil, nil, err
	}
	exprs := make([]*string, 0, len(r.conditions))
	for _, cond := range r.conditions {
		if err := t.checkCondition(op, cond.kind, cond.expr, *r.names, cond.legacy...); err != nil {
			return nil, nil, err
		}
		exprs = append(exprs, cond.expr)
	}
	p, projected, err := t.stripProjection(op, r.projection, r.attributesToGet, r.names, exprs...)
	if err != nil {
		return nil, nil, err
	}
	if projected && *r.sel == types.SelectSpecificAttributes {
		*r.sel = ""
	}
	items, err := send()
	if err != nil {
		return nil, nil, err
	}
	return t.decryptAll(ctx, op, items, p, projected)
}
