package ddbenc

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// GetItem gets an item and verifies and decrypts it. A projection is applied
// after verification (the whole item is read).
func (c *Client) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	const op = "GetItem"
	t, err := c.lookup(ctx, op, in.TableName)
	if err != nil {
		return nil, err
	}
	if t == nil { // pass-through table
		out, err := c.api.GetItem(ctx, in, optFns...)
		if err == nil && out != nil {
			setFormats(&out.ResultMetadata, returnedFormats(out.Item, PlaintextItem))
		}
		return out, err
	}
	if err := t.checkKey(op, "Key", in.Key); err != nil {
		return nil, err
	}
	req := *in
	p, projected, err := t.stripProjection(op, &req.ProjectionExpression, &req.AttributesToGet, &req.ExpressionAttributeNames)
	if err != nil {
		return nil, err
	}
	out, err := c.api.GetItem(ctx, &req, optFns...)
	if err != nil {
		return nil, err
	}
	res := *out
	item, f, err := t.decryptOne(ctx, op, out.Item)
	if err != nil {
		return nil, err
	}
	res.Item = p.apply(item, projected)
	res.ResultMetadata = out.ResultMetadata.Clone()
	setFormats(&res.ResultMetadata, returnedFormats(out.Item, f))
	return &res, nil
}
