package ddbenc

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TransactWriteItems encrypts puts and checks conditions, keys and updates
// as the single-item calls do; each entry must set exactly one of Put,
// Update, Delete and ConditionCheck. Items in the CancellationReasons of a
// TransactionCanceledException come back decrypted (or removed if they fail
// verification or are plaintext: an error cannot mark them).
func (c *Client) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	const op = "TransactWriteItems"
	req := *in
	req.TransactItems = make([]types.TransactWriteItem, len(in.TransactItems))
	tables := make([]*table, len(in.TransactItems)) // nil for pass-through tables
	for i, ti := range in.TransactItems {
		var err error
		if tables[i], req.TransactItems[i], err = c.transactWriteItem(ctx, op, i, ti); err != nil {
			return nil, err
		}
	}
	out, err := c.api.TransactWriteItems(ctx, &req, optFns...)
	if err != nil {
		var tce *types.TransactionCanceledException
		if errors.As(err, &tce) {
			var failures []error
			for i := range tce.CancellationReasons {
				r := &tce.CancellationReasons[i]
				if r.Item == nil || i >= len(tables) || tables[i] == nil {
					continue
				}
				d, derr := tables[i].decryptVerified(ctx, op, r.Item)
				r.Item = d
				if derr != nil {
					failures = append(failures, derr)
				}
			}
			if len(failures) > 0 {
				return nil, errors.Join(append([]error{err}, failures...)...)
			}
		}
		return nil, err
	}
	return out, nil
}

// transactWriteItem checks entry i of a TransactWriteItems request and
// returns its table (nil for a pass-through table) and the entry to send.
func (c *Client) transactWriteItem(ctx context.Context, op string, i int, ti types.TransactWriteItem) (*table, types.TransactWriteItem, error) {
	set := 0
	for _, isSet := range []bool{ti.Put != nil, ti.Update != nil, ti.Delete != nil, ti.ConditionCheck != nil} {
		if isSet {
			set++
		}
	}
	if set != 1 {
		return nil, ti, &Error{Op: op, Err: fmt.Errorf("%w: transact item %d sets %d operations; exactly one of Put, Update, Delete and ConditionCheck is allowed", ErrUnsupportedOperation, i, set)}
	}
	switch {
	case ti.Put != nil:
		t, err := c.lookup(ctx, op, ti.Put.TableName)
		if err != nil || t == nil {
			return nil, ti, err
		}
		if err := t.checkCondition(op, "condition expression", ti.Put.ConditionExpression, ti.Put.ExpressionAttributeNames); err != nil {
			return nil, ti, err
		}
		item, err := t.enc.EncryptItem(ctx, ti.Put.Item)
		if err != nil {
			return nil, ti, withOp(op, err)
		}
		put := *ti.Put
		put.Item = item
		ti.Put = &put
		return t, ti, nil
	case ti.Delete != nil:
		t, err := c.lookup(ctx, op, ti.Delete.TableName)
		if err != nil || t == nil {
			return nil, ti, err
		}
		if err := t.checkKey(op, "Delete.Key", ti.Delete.Key); err != nil {
			return nil, ti, err
		}
		if err := t.checkCondition(op, "condition expression", ti.Delete.ConditionExpression, ti.Delete.ExpressionAttributeNames); err != nil {
			return nil, ti, err
		}
		return t, ti, nil
	case ti.ConditionCheck != nil:
		t, err := c.lookup(ctx, op, ti.ConditionCheck.TableName)
		if err != nil || t == nil {
			return nil, ti, err
		}
		if err := t.checkKey(op, "ConditionCheck.Key", ti.ConditionCheck.Key); err != nil {
			return nil, ti, err
		}
		if err := t.checkCondition(op, "condition expression", ti.ConditionCheck.ConditionExpression, ti.ConditionCheck.ExpressionAttributeNames); err != nil {
			return nil, ti, err
		}
		return t, ti, nil
	default: // ti.Update != nil
		t, err := c.lookup(ctx, op, ti.Update.TableName)
		if err != nil || t == nil {
			return nil, ti, err
		}
		if err := t.checkKey(op, "Update.Key", ti.Update.Key); err != nil {
			return nil, ti, err
		}
		if err := t.checkUpdate(op, ti.Update.UpdateExpression, ti.Update.ExpressionAttributeNames, nil); err != nil {
			return nil, ti, err
		}
		if err := t.checkCondition(op, "condition expression", ti.Update.ConditionExpression, ti.Update.ExpressionAttributeNames); err != nil {
			return nil, ti, err
		}
		upd := *ti.Update
		var none map[string]types.ExpectedAttributeValue
		if err := t.requireExisting(op, false, &upd.ConditionExpression, &upd.ExpressionAttributeNames, &none, ""); err != nil {
			return nil, ti, err
		}
		ti.Update = &upd
		return t, ti, nil
	}
}

// TransactGetItems gets items transactionally and verifies and decrypts
// them; ItemFormats tells the format each was read as.
func (c *Client) TransactGetItems(ctx context.Context, in *dynamodb.TransactGetItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error) {
	const op = "TransactGetItems"
	req := *in
	req.TransactItems = make([]types.TransactGetItem, len(in.TransactItems))
	tables := make([]*table, len(in.TransactItems))
	projs := make([]projection, len(in.TransactItems))
	projected := make([]bool, len(in.TransactItems))
	for i, ti := range in.TransactItems {
		req.TransactItems[i] = ti
		if ti.Get == nil {
			return nil, &Error{Op: op, Err: fmt.Errorf("%w: transact item %d has no Get", ErrUnsupportedOperation, i)}
		}
		t, err := c.lookup(ctx, op, ti.Get.TableName)
		if err != nil {
			return nil, err
		}
		if t == nil {
			continue
		}
		if err := t.checkKey(op, "Get.Key", ti.Get.Key); err != nil {
			return nil, err
		}
		tables[i] = t
		get := *ti.Get
		var none []string
		if projs[i], projected[i], err = t.stripProjection(op, &get.ProjectionExpression, &none, &get.ExpressionAttributeNames); err != nil {
			return nil, err
		}
		req.TransactItems[i].Get = &get
	}
	out, err := c.api.TransactGetItems(ctx, &req, optFns...)
	if err != nil {
		return nil, err
	}
	res := *out
	res.Responses = make([]types.ItemResponse, len(out.Responses))
	formats := make([]ItemFormat, len(out.Responses)) // PlaintextItem for pass-through tables
	for i, r := range out.Responses {
		res.Responses[i] = r
		if i < len(tables) && tables[i] != nil {
			item, f, err := tables[i].decryptOne(ctx, op, r.Item)
			if err != nil {
				return nil, err
			}
			res.Responses[i].Item = projs[i].apply(item, projected[i])
			formats[i] = f
		}
	}
	res.ResultMetadata = out.ResultMetadata.Clone()
	setFormats(&res.ResultMetadata, formats)
	return &res, nil
}
