package ddbenc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/internal/ddbjson"
)

// DynamoDBAPI is the part of the DynamoDB client that Client calls, with the
// SDK's own signatures; *dynamodb.Client satisfies it.
type DynamoDBAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	TransactGetItems(ctx context.Context, in *dynamodb.TransactGetItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

var (
	_ DynamoDBAPI                     = (*dynamodb.Client)(nil)
	_ dynamodb.QueryAPIClient         = (*Client)(nil)
	_ dynamodb.ScanAPIClient          = (*Client)(nil)
	_ dynamodb.DescribeTableAPIClient = (*Client)(nil)
)

// Client errors.
var (
	// ErrUnsupportedOperation: the call cannot be made safely on an encrypted
	// table (an expression on an encrypted attribute, an update of a signed
	// attribute, PartiQL). Nothing was sent.
	ErrUnsupportedOperation = errors.New("ddbenc: unsupported operation on an encrypted table")
	// ErrUnknownTable: the table has no configuration and is not passed
	// through. Nothing was sent.
	ErrUnknownTable = errors.New("ddbenc: table not configured")
)

// ClientOptions are the optional settings of NewClient. Settings that are
// facts about one table (its keys, indexes, ordering, signed table name)
// live in its TableConfig.
type ClientOptions struct {
	// PassThroughTables are sent unchanged, without encryption. Every other
	// table without a TableConfig is refused (ErrUnknownTable). A table ARN
	// stands for the table name in it.
	PassThroughTables []string
	// RedactKeys leaves Error.Key empty: by default an error about one of
	// the items of a multi-item call (Query, Scan, batch and transaction
	// calls), and about the item of GetItem, DeleteItem, UpdateItem and
	// PutItem's returned attributes, names the item's primary key values,
	// which are stored in plaintext but may still be personal data.
	RedactKeys bool
}

// Client wraps a DynamoDB client: items written to configured tables are
// encrypted and signed, items read back are verified and decrypted. Its
// methods have the signatures of *dynamodb.Client, so it drops into code
// written for the SDK, including the Query and Scan paginators. It is safe
// for concurrent use.
type Client struct {
	api    DynamoDBAPI
	tables map[string]*table // by table name
	pass   map[string]bool
	redact bool
}

type table struct {
	cfg TableConfig
	enc atomic.Pointer[Encryptor] // set once; read without locking on every call
	mu  sync.Mutex                // serializes the one-time DescribeTable
}

// NewClient returns a Client for the given tables. A TableConfig without
// PartitionKey has its key schema and secondary indexes read once with
// DescribeTable on first use. NewClient does no I/O.
func NewClient(api DynamoDBAPI, tables []TableConfig, optFns ...func(*ClientOptions)) (*Client, error) {
	var opts ClientOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	if api == nil {
		return nil, &Error{Op: "new client", Err: fmt.Errorf("%w: a DynamoDB client is required", ErrInvalidConfig)}
	}
	c := &Client{api: api, tables: map[string]*table{}, pass: map[string]bool{}, redact: opts.RedactKeys}
	for _, cfg := range tables {
		cfg.TableName = tableNameOf(cfg.TableName)
		if _, dup := c.tables[cfg.TableName]; dup {
			return nil, &Error{Op: "new client", Table: cfg.TableName, Err: fmt.Errorf("%w: table configured twice", ErrInvalidConfig)}
		}
		cfg.Actions.Attributes = maps.Clone(cfg.Actions.Attributes)
		cfg.Indexes = slices.Clone(cfg.Indexes)
		t := &table{cfg: cfg}
		if cfg.PartitionKey != "" {
			enc, err := c.newEncryptor(cfg)
			if err != nil {
				return nil, err
			}
			t.enc.Store(enc)
		} else if cfg.TableName == "" {
			return nil, &Error{Op: "new client", Err: fmt.Errorf("%w: table name is required", ErrInvalidConfig)}
		} else if len(cfg.Indexes) > 0 {
			return nil, &Error{Op: "new client", Table: cfg.TableName, Err: fmt.Errorf("%w: Indexes given without PartitionKey: give the key schema and the indexes, or neither to read both with DescribeTable", ErrInvalidConfig)}
		} else if err := cfg.Actions.Validate(); err != nil {
			return nil, &Error{Op: "new client", Table: cfg.TableName, Err: fmt.Errorf("%w: %w", ErrInvalidConfig, err)}
		}
		c.tables[cfg.TableName] = t
	}
	for _, name := range opts.PassThroughTables {
		name = tableNameOf(name)
		if _, ok := c.tables[name]; ok {
			return nil, &Error{Op: "new client", Table: name, Err: fmt.Errorf("%w: table is both configured and passed through", ErrInvalidConfig)}
		}
		c.pass[name] = true
	}
	return c, nil
}

func (c *Client) newEncryptor(cfg TableConfig) (*Encryptor, error) {
	enc, err := NewEncryptor(cfg)
	if err != nil {
		return nil, err
	}
	enc.redactKeys = c.redact
	return enc, nil
}

// encryptor returns the table's Encryptor, or nil for a pass-through table.
// name may be a table name or a table ARN.
func (c *Client) encryptor(ctx context.Context, op string, name *string) (*Encryptor, error) {
	n := tableNameOf(deref(name))
	t, ok := c.tables[n]
	if !ok {
		if c.pass[n] {
			return nil, nil
		}
		return nil, &Error{Op: op, Table: n, Err: ErrUnknownTable}
	}
	if enc := t.enc.Load(); enc != nil {
		return enc, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if enc := t.enc.Load(); enc != nil {
		return enc, nil
	}
	out, err := c.api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &n})
	if err != nil {
		return nil, &Error{Op: op, Table: n, Err: fmt.Errorf("reading the key schema: %w", err)}
	}
	if out.Table == nil {
		return nil, &Error{Op: op, Table: n, Err: fmt.Errorf("%w: reading the key schema: DescribeTable returned no table", ErrMalformed)}
	}
	cfg := t.cfg
	for _, k := range out.Table.KeySchema {
		switch k.KeyType {
		case types.KeyTypeHash:
			cfg.PartitionKey = deref(k.AttributeName)
		case types.KeyTypeRange:
			cfg.SortKey = deref(k.AttributeName)
		}
	}
	cfg.Indexes = indexesFromDescription(out.Table)
	enc, err := c.newEncryptor(cfg)
	if err != nil {
		return nil, err
	}
	t.enc.Store(enc)
	return enc, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// stripProjection removes a projection from a request so that whole items
// come back for verification; the projection is applied after decryption.
// Attribute-name placeholders only the projection used are dropped (DynamoDB
// rejects unused ones).
func (e *Encryptor) stripProjection(op string, proj **string, attrsToGet *[]string, names *map[string]string, others ...*string) (projection, bool, error) {
	if *proj == nil && len(*attrsToGet) == 0 {
		return nil, false, nil
	}
	p, err := parseProjection(deref(*proj), *attrsToGet, *names)
	if err != nil {
		return nil, false, unsupported(op, e.TableName(), "", "%v", err)
	}
	for _, a := range p {
		if isReserved(a) {
			return nil, false, unsupported(op, e.TableName(), a, "projection refers to an attribute the encryptor writes")
		}
	}
	*proj, *attrsToGet = nil, nil
	if *names != nil {
		used := map[string]bool{}
		for _, o := range others {
			if o != nil {
				r, _ := scanExpr(*o, *names)
				for _, ph := range r.placeholders {
					used[ph] = true
				}
			}
		}
		kept := map[string]string{}
		for k, v := range *names {
			if used[k] {
				kept[k] = v
			}
		}
		*names = kept
		if len(kept) == 0 {
			*names = nil
		}
	}
	return p, true, nil
}

func (p projection) apply(item map[string]types.AttributeValue, on bool) map[string]types.AttributeValue {
	if !on || item == nil {
		return item
	}
	out := make(map[string]types.AttributeValue, len(p))
	for _, name := range p {
		if v, ok := item[name]; ok {
			out[name] = v
		}
	}
	return out
}

// keyString renders an item's primary key for error messages. Key values are
// stored in plaintext; numbers are shown canonical.
func (e *Encryptor) keyString(item map[string]types.AttributeValue) string {
	key := map[string]types.AttributeValue{}
	for _, k := range e.keyNames() {
		v := item[k]
		if c, err := canonicalKey(v); err == nil {
			v = c
		}
		if v != nil {
			key[k] = v
		}
	}
	b, err := ddbjson.MarshalItem(key)
	if err != nil {
		return "?"
	}
	return string(b)
}

// decryptOne verifies and decrypts one returned item, naming the operation
// and the item's key in errors.
func (e *Encryptor) decryptOne(ctx context.Context, op string, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	if item == nil {
		return nil, nil
	}
	out, err := e.DecryptItem(ctx, item)
	if err != nil {
		err = withOp(op, err)
		if de, ok := err.(*Error); ok && !e.redactKeys {
			de.Key = e.keyString(item)
		}
		return nil, err
	}
	return out, nil
}

func (e *Encryptor) decryptAll(ctx context.Context, op string, items []map[string]types.AttributeValue, p projection, projected bool) ([]map[string]types.AttributeValue, error) {
	if items == nil {
		return nil, nil
	}
	out := make([]map[string]types.AttributeValue, len(items))
	for i, it := range items {
		d, err := e.decryptOne(ctx, op, it)
		if err != nil {
			return nil, err
		}
		out[i] = p.apply(d, projected)
	}
	return out, nil
}

// decryptConditionFailure decrypts the item a ConditionalCheckFailedException
// carries (ReturnValuesOnConditionCheckFailure=ALL_OLD), in place; an item
// that fails verification is removed rather than returned unverified.
func (e *Encryptor) decryptConditionFailure(ctx context.Context, err error) error {
	var ccf *types.ConditionalCheckFailedException
	if e == nil || !errors.As(err, &ccf) || ccf.Item == nil {
		return err
	}
	d, derr := e.DecryptItem(ctx, ccf.Item)
	ccf.Item = d
	if derr != nil {
		return errors.Join(err, derr)
	}
	return err
}

func legacyKeys[V any](m map[string]V) []string { return slices.Collect(maps.Keys(m)) }

// PutItem encrypts and signs in.Item for a configured table and puts it.
// ReturnValues ALL_OLD attributes come back decrypted.
func (c *Client) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	const op = "PutItem"
	enc, err := c.encryptor(ctx, op, in.TableName)
	if err != nil {
		return nil, err
	}
	if enc == nil { // pass-through table
		return c.api.PutItem(ctx, in, optFns...)
	}
	if err := enc.checkCondition(op, "condition expression", in.ConditionExpression, in.ExpressionAttributeNames, legacyKeys(in.Expected)...); err != nil {
		return nil, err
	}
	item, err := enc.EncryptItem(ctx, in.Item)
	if err != nil {
		return nil, withOp(op, err)
	}
	req := *in
	req.Item = item
	out, err := c.api.PutItem(ctx, &req, optFns...)
	if err != nil {
		return nil, enc.decryptConditionFailure(ctx, err)
	}
	res := *out
	if res.Attributes, err = enc.decryptOne(ctx, op+" (returned attributes; the put succeeded)", out.Attributes); err != nil {
		return nil, err
	}
	return &res, nil
}

// withOp returns a copy of err's *Error with op prefixed (other errors, such
// as context errors, unchanged).
func withOp(op string, err error) error {
	var de *Error
	if errors.As(err, &de) {
		c := *de
		c.Op = op + " " + de.Op
		return &c
	}
	return err
}

// GetItem gets an item and verifies and decrypts it. A projection is applied
// after verification (the whole item is read).
func (c *Client) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	const op = "GetItem"
	enc, err := c.encryptor(ctx, op, in.TableName)
	if err != nil {
		return nil, err
	}
	if enc == nil { // pass-through table
		return c.api.GetItem(ctx, in, optFns...)
	}
	if err := enc.checkKey(op, "Key", in.Key); err != nil {
		return nil, err
	}
	req := *in
	p, projected, err := enc.stripProjection(op, &req.ProjectionExpression, &req.AttributesToGet, &req.ExpressionAttributeNames)
	if err != nil {
		return nil, err
	}
	out, err := c.api.GetItem(ctx, &req, optFns...)
	if err != nil {
		return nil, err
	}
	res := *out
	item, err := enc.decryptOne(ctx, op, out.Item)
	if err != nil {
		return nil, err
	}
	res.Item = p.apply(item, projected)
	return &res, nil
}

// DeleteItem deletes an item. Conditions may not refer to encrypted
// attributes; ReturnValues ALL_OLD attributes come back decrypted.
func (c *Client) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	const op = "DeleteItem"
	enc, err := c.encryptor(ctx, op, in.TableName)
	if err != nil {
		return nil, err
	}
	if enc == nil { // pass-through table
		return c.api.DeleteItem(ctx, in, optFns...)
	}
	if err := enc.checkKey(op, "Key", in.Key); err != nil {
		return nil, err
	}
	if err := enc.checkCondition(op, "condition expression", in.ConditionExpression, in.ExpressionAttributeNames, legacyKeys(in.Expected)...); err != nil {
		return nil, err
	}
	out, err := c.api.DeleteItem(ctx, in, optFns...)
	if err != nil {
		return nil, enc.decryptConditionFailure(ctx, err)
	}
	res := *out
	if res.Attributes, err = enc.decryptOne(ctx, op+" (returned attributes; the delete succeeded)", out.Attributes); err != nil {
		return nil, err
	}
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
	enc, err := c.encryptor(ctx, op, in.TableName)
	if err != nil {
		return nil, err
	}
	if enc == nil { // pass-through table
		return c.api.UpdateItem(ctx, in, optFns...)
	}
	if err := enc.checkKey(op, "Key", in.Key); err != nil {
		return nil, err
	}
	if err := enc.checkUpdate(op, in.UpdateExpression, in.ExpressionAttributeNames, legacyKeys(in.AttributeUpdates)); err != nil {
		return nil, err
	}
	if err := enc.checkCondition(op, "condition expression", in.ConditionExpression, in.ExpressionAttributeNames, legacyKeys(in.Expected)...); err != nil {
		return nil, err
	}
	req := *in
	legacy := in.UpdateExpression == nil && (in.AttributeUpdates != nil || in.Expected != nil)
	if err := enc.requireExisting(op, legacy, &req.ConditionExpression, &req.ExpressionAttributeNames, &req.Expected, in.ConditionalOperator); err != nil {
		return nil, err
	}
	out, err := c.api.UpdateItem(ctx, &req, optFns...)
	if err != nil {
		return nil, enc.decryptConditionFailure(ctx, err)
	}
	res := *out
	if in.ReturnValues == types.ReturnValueAllOld || in.ReturnValues == types.ReturnValueAllNew {
		if res.Attributes, err = enc.decryptOne(ctx, op+" (returned attributes; the update succeeded)", out.Attributes); err != nil {
			return nil, err
		}
	}
	return &res, nil
}

// Query runs a query whose key condition and filter do not refer to
// encrypted attributes, and verifies and decrypts every item; one item that
// fails fails the call (the error names its key). A projection is applied
// after verification.
func (c *Client) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	const op = "Query"
	enc, err := c.encryptor(ctx, op, in.TableName)
	if err != nil {
		return nil, err
	}
	if enc == nil { // pass-through table
		return c.api.Query(ctx, in, optFns...)
	}
	ix, err := enc.checkIndex(op, in.IndexName)
	if err != nil {
		return nil, err
	}
	if err := enc.checkStartKey(op, in.ExclusiveStartKey, ix); err != nil {
		return nil, err
	}
	if err := enc.checkCondition(op, "key condition", in.KeyConditionExpression, in.ExpressionAttributeNames, legacyKeys(in.KeyConditions)...); err != nil {
		return nil, err
	}
	if err := enc.checkCondition(op, "filter expression", in.FilterExpression, in.ExpressionAttributeNames, legacyKeys(in.QueryFilter)...); err != nil {
		return nil, err
	}
	req := *in
	p, projected, err := enc.stripProjection(op, &req.ProjectionExpression, &req.AttributesToGet, &req.ExpressionAttributeNames, req.KeyConditionExpression, req.FilterExpression)
	if err != nil {
		return nil, err
	}
	if projected && req.Select == types.SelectSpecificAttributes {
		req.Select = ""
	}
	out, err := c.api.Query(ctx, &req, optFns...)
	if err != nil {
		return nil, err
	}
	res := *out
	if res.Items, err = enc.decryptAll(ctx, op, out.Items, p, projected); err != nil {
		return nil, err
	}
	return &res, nil
}

// Scan is Query's counterpart for scans.
func (c *Client) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	const op = "Scan"
	enc, err := c.encryptor(ctx, op, in.TableName)
	if err != nil {
		return nil, err
	}
	if enc == nil { // pass-through table
		return c.api.Scan(ctx, in, optFns...)
	}
	ix, err := enc.checkIndex(op, in.IndexName)
	if err != nil {
		return nil, err
	}
	if err := enc.checkStartKey(op, in.ExclusiveStartKey, ix); err != nil {
		return nil, err
	}
	if err := enc.checkCondition(op, "filter expression", in.FilterExpression, in.ExpressionAttributeNames, legacyKeys(in.ScanFilter)...); err != nil {
		return nil, err
	}
	req := *in
	p, projected, err := enc.stripProjection(op, &req.ProjectionExpression, &req.AttributesToGet, &req.ExpressionAttributeNames, req.FilterExpression)
	if err != nil {
		return nil, err
	}
	if projected && req.Select == types.SelectSpecificAttributes {
		req.Select = ""
	}
	out, err := c.api.Scan(ctx, &req, optFns...)
	if err != nil {
		return nil, err
	}
	res := *out
	if res.Items, err = enc.decryptAll(ctx, op, out.Items, p, projected); err != nil {
		return nil, err
	}
	return &res, nil
}

// batchTables resolves the tables of a batch request. Two entries for one
// table (its name and its ARN) are refused: DynamoDB's answer could not be
// matched to them.
func batchTables[V any](c *Client, ctx context.Context, op string, reqs map[string]V) (map[string]*Encryptor, error) {
	encs := make(map[string]*Encryptor, len(reqs)) // by table name; nil for pass-through
	for name := range reqs {
		n := tableNameOf(name)
		if _, dup := encs[n]; dup {
			return nil, unsupported(op, n, "", "the table appears twice in the request (by name and by ARN)")
		}
		enc, err := c.encryptor(ctx, op, &name)
		if err != nil {
			return nil, err
		}
		encs[n] = enc
	}
	return encs, nil
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
// them. UnprocessedKeys come back with the caller's own request settings
// (projection included).
func (c *Client) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	const op = "BatchGetItem"
	encs, err := batchTables(c, ctx, op, in.RequestItems)
	if err != nil {
		return nil, err
	}
	req := *in
	req.RequestItems = make(map[string]types.KeysAndAttributes, len(in.RequestItems))
	projs := map[string]projection{}
	for name, ka := range in.RequestItems {
		if enc := encs[tableNameOf(name)]; enc != nil {
			for _, k := range ka.Keys {
				if err := enc.checkKey(op, "Keys", k); err != nil {
					return nil, err
				}
			}
			p, projected, err := enc.stripProjection(op, &ka.ProjectionExpression, &ka.AttributesToGet, &ka.ExpressionAttributeNames)
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
	for name, items := range out.Responses {
		n := tableNameOf(name)
		enc, known := encs[n]
		if !known {
			return nil, &Error{Op: op, Table: n, Err: fmt.Errorf("%w: the response names a table that was not requested", ErrMalformed)}
		}
		if enc == nil {
			res.Responses[name] = items
			continue
		}
		p, projected := projs[n]
		if res.Responses[name], err = enc.decryptAll(ctx, op, items, p, projected); err != nil {
			return nil, err
		}
	}
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
	encs, err := batchTables(c, ctx, op, in.RequestItems)
	if err != nil {
		return nil, err
	}
	req := *in
	req.RequestItems = make(map[string][]types.WriteRequest, len(in.RequestItems))
	plain := map[string]map[string]map[string]types.AttributeValue{} // table → key → plaintext item
	for name, wrs := range in.RequestItems {
		enc := encs[tableNameOf(name)]
		if enc == nil {
			req.RequestItems[name] = wrs
			continue
		}
		plain[enc.TableName()] = map[string]map[string]types.AttributeValue{}
		out := make([]types.WriteRequest, len(wrs))
		for i, wr := range wrs {
			out[i] = wr
			if (wr.PutRequest == nil) == (wr.DeleteRequest == nil) {
				return nil, unsupported(op, enc.TableName(), "", "write request %d must set exactly one of PutRequest and DeleteRequest", i)
			}
			if wr.DeleteRequest != nil {
				if err := enc.checkKey(op, "DeleteRequest.Key", wr.DeleteRequest.Key); err != nil {
					return nil, err
				}
				continue
			}
			item, err := enc.EncryptItem(ctx, wr.PutRequest.Item)
			if err != nil {
				return nil, withOp(op, err)
			}
			out[i].PutRequest = &types.PutRequest{Item: item}
			plain[enc.TableName()][enc.keyString(item)] = wr.PutRequest.Item
		}
		req.RequestItems[name] = out
	}
	out, err := c.api.BatchWriteItem(ctx, &req, optFns...)
	if err != nil {
		return nil, err
	}
	res := *out
	if out.UnprocessedItems != nil {
		res.UnprocessedItems = make(map[string][]types.WriteRequest, len(out.UnprocessedItems))
		for name, wrs := range out.UnprocessedItems {
			enc := encs[tableNameOf(name)]
			back := make([]types.WriteRequest, len(wrs))
			for i, wr := range wrs {
				back[i] = wr
				if enc != nil && wr.PutRequest != nil {
					orig, ok := plain[enc.TableName()][enc.keyString(wr.PutRequest.Item)]
					if !ok {
						return nil, &Error{Op: op, Table: enc.TableName(), Err: fmt.Errorf("%w: an unprocessed put request matches no request item", ErrMalformed)}
					}
					back[i].PutRequest = &types.PutRequest{Item: orig}
				}
			}
			res.UnprocessedItems[name] = back
		}
	}
	return &res, nil
}

// TransactWriteItems encrypts puts and checks conditions, keys and updates
// as the single-item calls do; each entry must set exactly one of Put,
// Update, Delete and ConditionCheck. Items in the CancellationReasons of a
// TransactionCanceledException come back decrypted (or removed if they fail
// verification).
func (c *Client) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	const op = "TransactWriteItems"
	req := *in
	req.TransactItems = make([]types.TransactWriteItem, len(in.TransactItems))
	encs := make([]*Encryptor, len(in.TransactItems))
	for i, ti := range in.TransactItems {
		req.TransactItems[i] = ti
		set := 0
		for _, isSet := range []bool{ti.Put != nil, ti.Update != nil, ti.Delete != nil, ti.ConditionCheck != nil} {
			if isSet {
				set++
			}
		}
		if set != 1 {
			return nil, &Error{Op: op, Err: fmt.Errorf("%w: transact item %d sets %d operations; exactly one of Put, Update, Delete and ConditionCheck is allowed", ErrUnsupportedOperation, i, set)}
		}
		var err error
		switch {
		case ti.Put != nil:
			if encs[i], err = c.encryptor(ctx, op, ti.Put.TableName); err != nil {
				return nil, err
			}
			if e := encs[i]; e != nil {
				if err := e.checkCondition(op, "condition expression", ti.Put.ConditionExpression, ti.Put.ExpressionAttributeNames); err != nil {
					return nil, err
				}
				item, err := e.EncryptItem(ctx, ti.Put.Item)
				if err != nil {
					return nil, withOp(op, err)
				}
				put := *ti.Put
				put.Item = item
				req.TransactItems[i].Put = &put
			}
		case ti.Delete != nil:
			if encs[i], err = c.encryptor(ctx, op, ti.Delete.TableName); err != nil {
				return nil, err
			}
			if e := encs[i]; e != nil {
				if err := e.checkKey(op, "Delete.Key", ti.Delete.Key); err != nil {
					return nil, err
				}
				if err := e.checkCondition(op, "condition expression", ti.Delete.ConditionExpression, ti.Delete.ExpressionAttributeNames); err != nil {
					return nil, err
				}
			}
		case ti.ConditionCheck != nil:
			if encs[i], err = c.encryptor(ctx, op, ti.ConditionCheck.TableName); err != nil {
				return nil, err
			}
			if e := encs[i]; e != nil {
				if err := e.checkKey(op, "ConditionCheck.Key", ti.ConditionCheck.Key); err != nil {
					return nil, err
				}
				if err := e.checkCondition(op, "condition expression", ti.ConditionCheck.ConditionExpression, ti.ConditionCheck.ExpressionAttributeNames); err != nil {
					return nil, err
				}
			}
		case ti.Update != nil:
			if encs[i], err = c.encryptor(ctx, op, ti.Update.TableName); err != nil {
				return nil, err
			}
			if e := encs[i]; e != nil {
				if err := e.checkKey(op, "Update.Key", ti.Update.Key); err != nil {
					return nil, err
				}
				if err := e.checkUpdate(op, ti.Update.UpdateExpression, ti.Update.ExpressionAttributeNames, nil); err != nil {
					return nil, err
				}
				if err := e.checkCondition(op, "condition expression", ti.Update.ConditionExpression, ti.Update.ExpressionAttributeNames); err != nil {
					return nil, err
				}
				upd := *ti.Update
				var none map[string]types.ExpectedAttributeValue
				if err := e.requireExisting(op, false, &upd.ConditionExpression, &upd.ExpressionAttributeNames, &none, ""); err != nil {
					return nil, err
				}
				req.TransactItems[i].Update = &upd
			}
		}
	}
	out, err := c.api.TransactWriteItems(ctx, &req, optFns...)
	if err != nil {
		var tce *types.TransactionCanceledException
		if errors.As(err, &tce) {
			var failures []error
			for i := range tce.CancellationReasons {
				r := &tce.CancellationReasons[i]
				if r.Item == nil || i >= len(encs) || encs[i] == nil {
					continue
				}
				d, derr := encs[i].decryptOne(ctx, op, r.Item)
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

// TransactGetItems gets items transactionally and verifies and decrypts them.
func (c *Client) TransactGetItems(ctx context.Context, in *dynamodb.TransactGetItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactGetItemsOutput, error) {
	const op = "TransactGetItems"
	req := *in
	req.TransactItems = make([]types.TransactGetItem, len(in.TransactItems))
	encs := make([]*Encryptor, len(in.TransactItems))
	projs := make([]projection, len(in.TransactItems))
	projected := make([]bool, len(in.TransactItems))
	for i, ti := range in.TransactItems {
		req.TransactItems[i] = ti
		if ti.Get == nil {
			return nil, &Error{Op: op, Err: fmt.Errorf("%w: transact item %d has no Get", ErrUnsupportedOperation, i)}
		}
		enc, err := c.encryptor(ctx, op, ti.Get.TableName)
		if err != nil {
			return nil, err
		}
		if enc == nil {
			continue
		}
		if err := enc.checkKey(op, "Get.Key", ti.Get.Key); err != nil {
			return nil, err
		}
		encs[i] = enc
		get := *ti.Get
		var none []string
		if projs[i], projected[i], err = enc.stripProjection(op, &get.ProjectionExpression, &none, &get.ExpressionAttributeNames); err != nil {
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
	for i, r := range out.Responses {
		res.Responses[i] = r
		if i < len(encs) && encs[i] != nil {
			item, err := encs[i].decryptOne(ctx, op, r.Item)
			if err != nil {
				return nil, err
			}
			res.Responses[i].Item = projs[i].apply(item, projected[i])
		}
	}
	return &res, nil
}

// DescribeTable passes through (it returns no items).
func (c *Client) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return c.api.DescribeTable(ctx, in, optFns...)
}

// partiQL refuses PartiQL: statements cannot be encrypted or verified
// client-side. Use a plain client for tables without encryption.
func partiQL(op string) error {
	return &Error{Op: op, Err: fmt.Errorf("%w: PartiQL statements cannot be encrypted or verified; use a plain DynamoDB client for unencrypted tables", ErrUnsupportedOperation)}
}

// ExecuteStatement always fails before any request (PartiQL).
func (c *Client) ExecuteStatement(ctx context.Context, in *dynamodb.ExecuteStatementInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ExecuteStatementOutput, error) {
	return nil, partiQL("ExecuteStatement")
}

// BatchExecuteStatement always fails before any request (PartiQL).
func (c *Client) BatchExecuteStatement(ctx context.Context, in *dynamodb.BatchExecuteStatementInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchExecuteStatementOutput, error) {
	return nil, partiQL("BatchExecuteStatement")
}

// ExecuteTransaction always fails before any request (PartiQL).
func (c *Client) ExecuteTransaction(ctx context.Context, in *dynamodb.ExecuteTransactionInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ExecuteTransactionOutput, error) {
	return nil, partiQL("ExecuteTransaction")
}
