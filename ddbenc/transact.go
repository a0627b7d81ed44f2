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
	if serial(c.workers, len(in.TransactItems)) {
		for i := range in.TransactItems {
			if err := c.transactWriteAt(ctx, op, in.TransactItems, req.TransactItems, tables, i); err != nil {
				return nil, err
			}
		}
	} else if err := parallel(ctx, c.workers, len(in.TransactItems), func(i int) error {
		return c.transactWriteAt(ctx, op, in.TransactItems, req.TransactItems, tables, i)
	}); err != nil {
		return nil, err
	}
	out, err := c.api.TransactWriteItems(ctx, &req, optFns...)
	if err != nil {
		var tce *types.TransactionCanceledException
		if errors.As(err, &tce) {
			if failures := c.decryptReasons(ctx, op, tce.CancellationReasons, tables); len(failures) > 0 {
				return nil, errors.Join(append([]error{err}, failures...)...)
			}
		}
		return nil, err
	}
	return out, nil
}

// transactWriteAt checks entry i of a TransactWriteItems request (in) and
// sets its table and the entry to send.
func (c *Client) transactWriteAt(ctx context.Context, op string, in, send []types.TransactWriteItem, tables []*table, i int) error {
	var err error
	tables[i], send[i], err = c.transactWriteItem(ctx, op, i, in[i])
	return err
}

// decryptReasons decrypts, in place, the items of the cancellation reasons
// of a TransactionCanceledException: reason i under tables[i]. An item that
// fails, or is plaintext, is removed; the failures are returned in reason
// order.
func (c *Client) decryptReasons(ctx context.Context, op string, reasons []types.CancellationReason, tables []*table) []error {
	n := min(len(reasons), len(tables))
	var failures []error
	if serial(c.workers, n) {
		for i := range n {
			if err := decryptReason(ctx, op, reasons, tables, i); err != nil {
				failures = append(failures, err)
			}
		}
		return failures
	}
	// An item is removed until its decryption succeeds: none is left as
	// stored if ctx ends before its turn.
	stored := make([]map[string]types.AttributeValue, n)
	for i := range n {
		stored[i], reasons[i].Item = reasons[i].Item, nil
	}
	errs := make([]error, n)
	err := parallel(ctx, c.workers, n, func(i int) error {
		reasons[i].Item = stored[i]
		errs[i] = decryptReason(ctx, op, reasons, tables, i)
		return nil
	})
	for _, e := range errs {
		if e != nil {
			failures = append(failures, e)
		}
	}
	if err != nil {
		failures = append(failures, err)
	}
	return failures
}

// decryptReason decrypts the item of reasons[i], if any, under tables[i] (nil
// for a pass-through table, whose items stay), removing it if that fails.
func decryptReason(ctx context.Context, op string, reasons []types.CancellationReason, tables []*table, i int) error {
	r := &reasons[i]
	if r.Item == nil || tables[i] == nil {
		return nil
	}
	d, err := tables[i].decryptVerified(ctx, op, r.Item)
	r.Item = d
	return err
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
			return nil, ti, t.itemErr(op, err, ti.Put.Item)
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
	g := transactGet{op: op, tables: tables, projs: projs, projected: projected, in: out.Responses, out: res.Responses, formats: formats}
	if serial(c.workers, len(out.Responses)) {
		for i := range out.Responses {
			if err := g.decryptAt(ctx, i); err != nil {
				return nil, err
			}
		}
	} else if err := g.parallel(ctx, c.workers); err != nil {
		return nil, err
	}
	res.ResultMetadata = out.ResultMetadata.Clone()
	setFormats(&res.ResultMetadata, formats)
	return &res, nil
}

// transactGet is the decryption of the responses of a TransactGetItems call.
type transactGet struct {
	op        string
	tables    []*table // by request entry; nil for pass-through tables
	projs     []projection
	projected []bool
	in        []types.ItemResponse // as returned
	out       []types.ItemResponse // decrypted and projected
	formats   []ItemFormat
}

// parallel decrypts every response on up to workers goroutines. (g is a
// copy, so that only this path moves it to the heap.)
func (g transactGet) parallel(ctx context.Context, workers int) error {
	return parallel(ctx, workers, len(g.in), func(i int) error { return g.decryptAt(ctx, i) })
}

// decryptAt sets out[i] and formats[i] from response i.
func (g *transactGet) decryptAt(ctx context.Context, i int) error {
	r := g.in[i]
	g.out[i] = r
	if i >= len(g.tables) || g.tables[i] == nil {
		return nil
	}
	item, f, err := g.tables[i].decryptOne(ctx, g.op, r.Item)
	if err != nil {
		return err
	}
	g.out[i].Item = g.projs[i].apply(item, g.projected[i])
	g.formats[i] = f
	return nil
}
