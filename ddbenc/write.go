package ddbenc

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// PutItem encrypts and signs in.Item for a configured table and puts it.
// ReturnValues ALL_OLD attributes come back decrypted.
func (c *Client) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	const op = "PutItem"
	t, err := c.lookup(ctx, op, in.TableName)
	if err != nil {
		return nil, err
	}
	if t == nil { // pass-through table
		return c.api.PutItem(ctx, in, optFns...)
	}
	if err := t.checkCondition(op, "condition expression", in.ConditionExpression, in.ExpressionAttributeNames, legacyKeys(in.Expected)...); err != nil {
		return nil, err
	}
	item, err := t.enc.EncryptItem(ctx, in.Item)
	if err != nil {
		return nil, withOp(op, err)
	}
	req := *in
	req.Item = item
	out, err := c.api.PutItem(ctx, &req, optFns...)
	if err != nil {
		return nil, t.decryptConditionFailure(ctx, err)
	}
	res := *out
	var f ItemFormat
	if res.Attributes, f, err = t.decryptOne(ctx, op+" (returned attributes; the put succeeded)", out.Attributes); err != nil {
		return nil, err
	}
	res.ResultMetadata = out.ResultMetadata.Clone()
	setFormats(&res.ResultMetadata, returnedFormats(out.Attributes, f))
	return &res, nil
}

// DeleteItem deletes an item. Conditions may not refer to encrypted
// attributes; ReturnValues ALL_OLD attributes come back decrypted.
func (c *Client) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	const op = "DeleteItem"
	t, err := c.lookup(ctx, op, in.TableName)
	if err != nil {
		return nil, err
	}
	if t == nil { // pass-through table
		return c.api.DeleteItem(ctx, in, optFns...)
	}
	if err := t.checkKey(op, "Key", in.Key); err != nil {
		return nil, err
	}
	if err := t.checkCondition(op, "condition expression", in.ConditionExpression, in.ExpressionAttributeNames, legacyKeys(in.Expected)...); err != nil {
		return nil, err
	}
	out, err := c.api.DeleteItem(ctx, in, optFns...)
	if err != nil {
		return nil, t.decryptConditionFailure(ctx, err)
	}
	res := *out
	var f ItemFormat
	if res.Attributes, f, err = t.decryptOne(ctx, op+" (returned attributes; the delete succeeded)", out.Attributes); err != nil {
		return nil, err
	}
	res.ResultMetadata = out.ResultMetadata.Clone()
	setFormats(&res.ResultMetadata, returnedFormats(out.Attributes, f))
	return &res, nil
}

// UpdateItem is allowed only when the update touches do-nothing attributes
// (signed content cannot change without a new signature). It never creates an
// item: the wrapper adds attribute_exists(<partition key>) to the condition,
// so an update of a missing key fails with ConditionalCheckFailedException
// instead of writing an item without a signature. Returned ALL_OLD / ALL_NEW
// attributes are verified and decrypted; UPDATED_* return only do-nothing
// attributes, as stored.
func (c *Client) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	const op = "UpdateItem"
	t, err := c.lookup(ctx, op, in.TableName)
	if err != nil {
		return nil, err
	}
	if t == nil { // pass-through table
		return c.api.UpdateItem(ctx, in, optFns...)
	}
	if err := t.checkKey(op, "Key", in.Key); err != nil {
		return nil, err
	}
	if err := t.checkUpdate(op, in.UpdateExpression, in.ExpressionAttributeNames, legacyKeys(in.AttributeUpdates)); err != nil {
		return nil, err
	}
	if err := t.checkCondition(op, "condition expression", in.ConditionExpression, in.ExpressionAttributeNames, legacyKeys(in.Expected)...); err != nil {
		return nil, err
	}
	req := *in
	legacy := in.UpdateExpression == nil && (in.AttributeUpdates != nil || in.Expected != nil)
	if err := t.requireExisting(op, legacy, &req.ConditionExpression, &req.ExpressionAttributeNames, &req.Expected, in.ConditionalOperator); err != nil {
		return nil, err
	}
	out, err := c.api.UpdateItem(ctx, &req, optFns...)
	if err != nil {
		return nil, t.decryptConditionFailure(ctx, err)
	}
	res := *out
	if in.ReturnValues == types.ReturnValueAllOld || in.ReturnValues == types.ReturnValueAllNew {
		var f ItemFormat
		if res.Attributes, f, err = t.decryptOne(ctx, op+" (returned attributes; the update succeeded)", out.Attributes); err != nil {
			return nil, err
		}
		res.ResultMetadata = out.ResultMetadata.Clone()
		setFormats(&res.ResultMetadata, returnedFormats(out.Attributes, f))
	}
	return &res, nil
}
