package ddbenc

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// batchTables resolves the tables of a batch request, by table name (nil for
// a pass-through table). Two entries for one table (its name and its ARN) are
// refused: DynamoDB's answer could not be matched to them.
func batchTables[V any](ctx context.Context, c *Client, op string, reqs map[string]V) (map[string]*table, error) {
	tables := make(map[string]*table, len(reqs))
	for name := range reqs {
		n := tableNameOf(name)
		if _, dup := tables[n]; dup {
			return nil, unsupported(op, n, "", "the table appears twice in the request (by name and by ARN)")
		}
		t, err := c.lookup(ctx, op, &name)
		if err != nil {
			return nil, err
		}
		tables[n] = t
	}
	return tables, nil
}

// requestKey returns the key of reqs that names table (a name or an ARN).
func requestKey[V any](reqs map[string]V, table string) (string, bool) {
	if _, ok := reqs[table]; ok {
		return table, true
	}
	n := tableNameOf(table)
	for k := range reqs {
		if tableNameOf(k) == n {
			return k, true
		}
	}
	return "", false
}

// BatchGetItem gets items from several tables and verifies and decrypts
// them; BatchItemFormats tells the format each was read as. UnprocessedKeys come back with the caller's own request settings
// (projection included).
func (c *Client) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	const op = "BatchGetItem"
	tables, err := batchTables(ctx, c, op, in.RequestItems)
	if err != nil {
		return nil, err
	}
	req := *in
	req.RequestItems = make(map[string]types.KeysAndAttributes, len(in.RequestItems))
	projs := map[string]projection{}
	for name, ka := range in.RequestItems {
		if t := tables[tableNameOf(name)]; t != nil {
			for _, k := range ka.Keys {
				if err := t.checkKey(op, "Keys", k); err != nil {
					return nil, err
				}
			}
			p, projected, err := t.stripProjection(op, &ka.ProjectionExpression, &ka.AttributesToGet, &ka.ExpressionAttributeNames)
			if err != nil {
				return nil, err
			}
			if projected {
				projs[tableNameOf(name)] = p
			}
		}
		req.RequestItems[name] = ka
	}
	out, err := c.api.BatchGetItem(ctx, &req, optFns...)
	if err != nil {
		return nil, err
	}
	res := *out
	res.Responses = make(map[string][]map[string]types.AttributeValue, len(out.Responses))
	formats := make(map[string][]ItemFormat, len(out.Responses))
	// Tables in name order: when items of several fail, the error is
	// always that of the same one.
	for _, name := range slices.Sorted(maps.Keys(out.Responses)) {
		items := out.Responses[name]
		n := tableNameOf(name)
		t, known := tables[n]
		if !known {
			return nil, &Error{Op: op, Table: n, Err: fmt.Errorf("%w: the response names a table that was not requested", ErrMalformed)}
		}
		if t == nil {
			res.Responses[name] = items
			formats[name] = plaintextFormats(len(items))
			continue
		}
		p, projected := projs[n]
		if res.Responses[name], formats[name], err = t.decryptAll(ctx, op, items, p, projected); err != nil {
			return nil, err
		}
	}
	res.ResultMetadata = out.ResultMetadata.Clone()
	res.ResultMetadata.Set(batchItemFormatsKey{}, formats)
	if out.UnprocessedKeys != nil {
		res.UnprocessedKeys = make(map[string]types.KeysAndAttributes, len(out.UnprocessedKeys))
		for name, ka := range out.UnprocessedKeys {
			k, ok := requestKey(in.RequestItems, name)
			if !ok {
				return nil, &Error{Op: op, Table: tableNameOf(name), Err: fmt.Errorf("%w: unprocessed keys of a table that was not requested", ErrMalformed)}
			}
			orig := in.RequestItems[k]
			orig.Keys = ka.Keys
			res.UnprocessedKeys[k] = orig
		}
	}
	return &res, nil
}

// BatchWriteItem encrypts put requests for configured tables. Unprocessed
// put requests come back as the caller's plaintext items. Each write request
// must set exactly one of PutRequest and DeleteRequest, and a delete's key
// may hold only the primary key attributes.
func (c *Client) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	const op = "BatchWriteItem"
	tables, err := batchTables(ctx, c, op, in.RequestItems)
	if err != nil {
		return nil, err
	}
	req := *in
	req.RequestItems = make(map[string][]types.WriteRequest, len(in.RequestItems))
	// The write requests of configured tables, tables in name order (so that
	// the first failing request is always the same one) and each table's in
	// request order: checked, and puts encrypted, concurrently.
	var wts []batchWriteTable
	n := 0
	for _, name := range slices.Sorted(maps.Keys(in.RequestItems)) {
		wrs := in.RequestItems[name]
		t := tables[tableNameOf(name)]
		if t == nil {
			req.RequestItems[name] = wrs
			continue
		}
		wts = append(wts, batchWriteTable{name: name, t: t, wrs: wrs, out: make([]types.WriteRequest, len(wrs)), start: n})
		n += len(wrs)
	}
	if serial(c.workers, n) {
		for k := range wts {
			for i := range wts[k].wrs {
				if err := wts[k].prepare(ctx, op, i); err != nil {
					return nil, err
				}
			}
		}
	} else if err := parallel(ctx, c.workers, n, func(j int) error {
		k := batchWriteIndex(wts, j)
		return wts[k].prepare(ctx, op, j-wts[k].start)
	}); err != nil {
		return nil, err
	}
	plain := make(map[string]map[string]map[string]types.AttributeValue, len(wts)) // table → key → plaintext item
	for _, wt := range wts {
		tn := wt.t.enc.TableName()
		plain[tn] = map[string]map[string]types.AttributeValue{}
		for i, wr := range wt.out {
			if wr.PutRequest != nil {
				plain[tn][wt.t.keyString(wr.PutRequest.Item)] = wt.wrs[i].PutRequest.Item
			}
		}
		req.RequestItems[wt.name] = wt.out
	}
	out, err := c.api.BatchWriteItem(ctx, &req, optFns...)
	if err != nil {
		return nil, err
	}
	res := *out
	if out.UnprocessedItems != nil {
		res.UnprocessedItems = make(map[string][]types.WriteRequest, len(out.UnprocessedItems))
		for name, wrs := range out.UnprocessedItems {
			t := tables[tableNameOf(name)]
			back := make([]types.WriteRequest, len(wrs))
			for i, wr := range wrs {
				back[i] = wr
				if t != nil && wr.PutRequest != nil {
					orig, ok := plain[t.enc.TableName()][t.keyString(wr.PutRequest.Item)]
					if !ok {
						return nil, &Error{Op: op, Table: t.enc.TableName(), Err: fmt.Errorf("%w: an unprocessed put request matches no request item", ErrMalformed)}
					}
					back[i].PutRequest = &types.PutRequest{Item: orig}
				}
			}
			res.UnprocessedItems[name] = back
		}
	}
	return &res, nil
}

// batchWriteTable is the write requests of one configured table of a
// BatchWriteItem call and the requests to send in their place.
type batchWriteTable struct {
	name  string // the request's key: a table name or ARN
	t     *table
	wrs   []types.WriteRequest // as given
	out   []types.WriteRequest // to send
	start int                  // the index of wrs[0] among the call's requests
}

// prepare checks write request i and sets out[i]: the request, with a put's
// item encrypted.
func (wt *batchWriteTable) prepare(ctx context.Context, op string, i int) error {
	wr := wt.wrs[i]
	wt.out[i] = wr
	if (wr.PutRequest == nil) == (wr.DeleteRequest == nil) {
		return unsupported(op, wt.t.enc.TableName(), "", "write request %d must set exactly one of PutRequest and DeleteRequest", i)
	}
	if wr.DeleteRequest != nil {
		return wt.t.checkKey(op, "DeleteRequest.Key", wr.DeleteRequest.Key)
	}
	item, err := wt.t.enc.EncryptItem(ctx, wr.PutRequest.Item)
	if err != nil {
		return wt.t.itemErr(op, err, wr.PutRequest.Item)
	}
	wt.out[i].PutRequest = &types.PutRequest{Item: item}
	return nil
}

// batchWriteIndex returns the index in wts of the table of request j (of
// all the call's requests, numbered in wts order).
func batchWriteIndex(wts []batchWriteTable, j int) int {
	k, found := slices.BinarySearchFunc(wts, j, func(wt batchWriteTable, j int) int { return cmp.Compare(wt.start, j) })
	if found {
		// The first table starting at j: tables with no requests start
		// where the next one does.
		for k+1 < len(wts) && wts[k+1].start == j {
			k++
		}
		return k
	}
	return k - 1
}
