package ddbenc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/internal/ddbjson"
)

// The Client, its options and its tables. The operations live in one file
// per family: write.go (PutItem, DeleteItem, UpdateItem), get.go, query.go
// (Query, Scan), batch.go, transact.go and partiql.go; the request checks in
// expr.go.

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

// Options are the optional settings of NewClient. Settings that are facts
// about one table (its keys, indexes, ordering, signed table name) live in
// its TableConfig.
type Options struct {
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
	// Concurrency is how many items of one multi-item call (Query, Scan,
	// BatchGetItem, BatchWriteItem, TransactGetItems, TransactWriteItems)
	// are encrypted or decrypted at once, so that their KMS round trips
	// overlap. Zero means DefaultConcurrency; 1 processes the items one
	// after another in the calling goroutine; a negative value is an
	// ErrInvalidConfig. The work uses the call's context, results keep the
	// items' order, a call still fails whole when one item fails (with the
	// error of the first failing item in item order), and no goroutine
	// outlives the call.
	Concurrency int
}

// Client wraps a DynamoDB client: items written to configured tables are
// encrypted and signed, items read back are verified and decrypted. Its
// methods have the signatures of *dynamodb.Client, so it drops into code
// written for the SDK, including the Query and Scan paginators. It is safe
// for concurrent use.
type Client struct {
	api     DynamoDBAPI
	tables  map[string]*tableEntry // by table name
	pass    map[string]bool
	redact  bool
	workers int // Options.Concurrency, DefaultConcurrency for zero
}

// table is a configured table as the Client uses it: the table's Encryptor
// and the Client's settings for it. The Client's request checks (expr.go),
// request rewrites and the decryption of returned items are its methods. A
// nil *table stands for a pass-through table.
type table struct {
	enc     *Encryptor
	redact  bool // Options.RedactKeys: no key values in Error.Key
	workers int  // Options.Concurrency: items processed at once
}

// tableEntry is a configured table whose key schema may still have to be read
// with DescribeTable.
type tableEntry struct {
	cfg TableConfig
	t   atomic.Pointer[table] // set once; read without locking on every call

	mu       sync.Mutex // guards inflight; never held across I/O
	inflight *discovery // the DescribeTable in progress, if any
}

// discovery is one DescribeTable that every first caller of a table waits
// for; done is closed when t or err is set.
type discovery struct {
	done chan struct{}
	t    *table
	err  error
}

// NewClient returns a Client for the given tables. A TableConfig without
// PartitionKey has its key schema and secondary indexes read once with
// DescribeTable on first use. NewClient does no I/O.
func NewClient(api DynamoDBAPI, tables []TableConfig, optFns ...func(*Options)) (*Client, error) {
	var opts Options
	for _, fn := range optFns {
		fn(&opts)
	}
	if api == nil {
		return nil, &Error{Op: "new client", Err: fmt.Errorf("%w: a DynamoDB client is required", ErrInvalidConfig)}
	}
	if opts.Concurrency < 0 {
		return nil, &Error{Op: "new client", Err: fmt.Errorf("%w: Concurrency is %d; give 0 for the default (%d), 1 for one item at a time, or more", ErrInvalidConfig, opts.Concurrency, DefaultConcurrency)}
	}
	workers := opts.Concurrency
	if workers == 0 {
		workers = DefaultConcurrency
	}
	c := &Client{api: api, tables: map[string]*tableEntry{}, pass: map[string]bool{}, redact: opts.RedactKeys, workers: workers}
	for _, cfg := range tables {
		cfg.TableName = tableNameOf(cfg.TableName)
		if _, dup := c.tables[cfg.TableName]; dup {
			return nil, &Error{Op: "new client", Table: cfg.TableName, Err: fmt.Errorf("%w: table configured twice", ErrInvalidConfig)}
		}
		cfg.Actions.Attributes = maps.Clone(cfg.Actions.Attributes)
		cfg.AllowedUnsignedAttributes = slices.Clone(cfg.AllowedUnsignedAttributes)
		cfg.Indexes = slices.Clone(cfg.Indexes)
		if cfg.Legacy != nil {
			lc := *cfg.Legacy
			lc.Actions.Attributes = maps.Clone(lc.Actions.Attributes)
			cfg.Legacy = &lc
		}
		te := &tableEntry{cfg: cfg}
		if cfg.PartitionKey != "" {
			t, err := c.newTable(cfg)
			if err != nil {
				return nil, err
			}
			te.t.Store(t)
		} else if cfg.TableName == "" {
			return nil, &Error{Op: "new client", Err: fmt.Errorf("%w: table name is required", ErrInvalidConfig)}
		} else if !cfg.Format.valid() {
			return nil, &Error{Op: "new client", Table: cfg.TableName, Err: fmt.Errorf("%w: unknown item format %s", ErrInvalidConfig, cfg.Format)}
		} else if len(cfg.Indexes) > 0 {
			return nil, &Error{Op: "new client", Table: cfg.TableName, Err: fmt.Errorf("%w: Indexes given without PartitionKey: give the key schema and the indexes, or neither to read both with DescribeTable", ErrInvalidConfig)}
		} else if err := cfg.Actions.Validate(); err != nil {
			return nil, &Error{Op: "new client", Table: cfg.TableName, Err: fmt.Errorf("%w: %w", ErrInvalidConfig, err)}
		}
		c.tables[cfg.TableName] = te
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

func (c *Client) newTable(cfg TableConfig) (*table, error) {
	enc, err := NewEncryptor(cfg)
	if err != nil {
		return nil, err
	}
	return &table{enc: enc, redact: c.redact, workers: c.workers}, nil
}

// lookup returns the named table, or nil for a pass-through table; name may
// be a table name or a table ARN. A table configured without its key schema
// has it read with DescribeTable on first use.
func (c *Client) lookup(ctx context.Context, op string, name *string) (*table, error) {
	n := tableNameOf(aws.ToString(name))
	te, ok := c.tables[n]
	if !ok {
		if c.pass[n] {
			return nil, nil
		}
		return nil, &Error{Op: op, Table: n, Err: ErrUnknownTable}
	}
	for {
		if t := te.t.Load(); t != nil {
			return t, nil
		}
		te.mu.Lock()
		d := te.inflight
		if d == nil {
			// This caller reads the key schema; later callers wait for it
			// without holding a lock across the request.
			d = &discovery{done: make(chan struct{})}
			te.inflight = d
			te.mu.Unlock()
			func() {
				defer func() {
					te.mu.Lock()
					te.inflight = nil // a failure is not cached: the next caller tries again
					te.mu.Unlock()
					close(d.done) // also when discover panics: no waiter hangs
				}()
				d.err = errDiscoveryPanicked
				d.t, d.err = c.discover(ctx, op, n, te.cfg)
				if d.err == nil {
					te.t.Store(d.t)
				}
			}()
			return d.t, d.err
		}
		te.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-d.done:
		}
		if d.err == nil {
			return d.t, nil
		}
		if errors.Is(d.err, context.Canceled) || errors.Is(d.err, context.DeadlineExceeded) {
			continue // the reader's own context ended; try with ours
		}
		var de *Error
		if errors.As(d.err, &de) {
			cp := *de
			cp.Op = op
			return nil, &cp
		}
		return nil, d.err
	}
}

// errDiscoveryPanicked is what waiters see when the DescribeTable of the
// caller they waited for panicked.
var errDiscoveryPanicked = errors.New("ddbenc: reading the key schema did not complete")

// discover reads a table's key schema and indexes with DescribeTable and
// builds its table.
func (c *Client) discover(ctx context.Context, op, n string, cfg TableConfig) (*table, error) {
	out, err := c.api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &n})
	if err != nil {
		return nil, &Error{Op: op, Table: n, Err: fmt.Errorf("reading the key schema: %w", err)}
	}
	if out.Table == nil {
		return nil, &Error{Op: op, Table: n, Err: fmt.Errorf("%w: reading the key schema: DescribeTable returned no table", ErrMalformed)}
	}
	for _, k := range out.Table.KeySchema {
		switch k.KeyType {
		case types.KeyTypeHash:
			cfg.PartitionKey = aws.ToString(k.AttributeName)
		case types.KeyTypeRange:
			cfg.SortKey = aws.ToString(k.AttributeName)
		}
	}
	cfg.Indexes = indexesFromDescription(out.Table)
	return c.newTable(cfg)
}

// Encryptor returns the Encryptor of a configured table, for items the
// Client does not read itself: the images of the table's stream
// (DecryptStreamRecord, package lambdaevents). table is a table name or a
// table ARN. A table configured without its key schema has it read with
// DescribeTable first, as on its first call. A table without a TableConfig
// fails with ErrUnknownTable, and so does a pass-through table: it has no
// Encryptor, and its items are not encrypted.
func (c *Client) Encryptor(ctx context.Context, table string) (*Encryptor, error) {
	const op = "encryptor"
	t, err := c.lookup(ctx, op, &table)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, &Error{Op: op, Table: tableNameOf(table), Err: fmt.Errorf("%w: the table is passed through (Options.PassThroughTables): it has no Encryptor", ErrUnknownTable)}
	}
	return t.enc, nil
}

// DescribeTable passes through (it returns no items).
func (c *Client) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return c.api.DescribeTable(ctx, in, optFns...)
}

func legacyKeys[V any](m map[string]V) []string { return slices.Collect(maps.Keys(m)) }

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

// keyString renders an item's primary key for error messages. Key values are
// stored in plaintext; numbers are shown canonical.
func (t *table) keyString(item map[string]types.AttributeValue) string { return t.enc.keyString(item) }

// KeyString returns the table's primary key attributes of item in DynamoDB
// JSON, numbers canonical, as Error.Key shows them; "?" when they cannot be
// rendered. Key values are stored in plaintext but may be personal data.
func (e *Encryptor) KeyString(item map[string]types.AttributeValue) string { return e.keyString(item) }

// keyString is KeyString.
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

// decryptOne verifies and decrypts one returned item under the table's
// policies and says which format it was read as, naming the operation and,
// unless keys are redacted, the item's key in errors.
func (t *table) decryptOne(ctx context.Context, op string, item map[string]types.AttributeValue) (map[string]types.AttributeValue, ItemFormat, error) {
	if item == nil {
		return nil, 0, nil
	}
	out, f, err := t.enc.ReadItem(ctx, item)
	if err != nil {
		return nil, 0, t.itemErr(op, err, item)
	}
	return out, f, nil
}

// itemErr is err of an item of an op: its *Error with op prefixed and,
// unless keys are redacted, the item's key (other errors, such as context
// errors, unchanged).
func (t *table) itemErr(op string, err error, item map[string]types.AttributeValue) error {
	err = withOp(op, err)
	if de, ok := err.(*Error); ok && !t.redact {
		de.Key = t.keyString(item)
	}
	return err
}

// decryptAll verifies and decrypts returned items and applies the caller's
// projection to each; one item that fails fails the call. It returns the
// format of each item.
func (t *table) decryptAll(ctx context.Context, op string, items []map[string]types.AttributeValue, p projection, projected bool) ([]map[string]types.AttributeValue, []ItemFormat, error) {
	if items == nil {
		return nil, []ItemFormat{}, nil
	}
	out := make([]map[string]types.AttributeValue, len(items))
	formats := make([]ItemFormat, len(items))
	if serial(t.workers, len(items)) {
		for i := range items {
			if err := t.decryptAt(ctx, op, items, out, formats, i, p, projected); err != nil {
				return nil, nil, err
			}
		}
	} else if err := parallel(ctx, t.workers, len(items), func(i int) error {
		return t.decryptAt(ctx, op, items, out, formats, i, p, projected)
	}); err != nil {
		return nil, nil, err
	}
	return out, formats, nil
}

// decryptAt is decryptAll's work on item i: it decrypts items[i] into
// out[i] and its format into formats[i].
func (t *table) decryptAt(ctx context.Context, op string, items, out []map[string]types.AttributeValue, formats []ItemFormat, i int, p projection, projected bool) error {
	d, f, err := t.decryptOne(ctx, op, items[i])
	if err != nil {
		return err
	}
	out[i], formats[i] = p.apply(d, projected), f
	return nil
}

// returnedFormats is the ItemFormats record of an item a call returned: one
// entry, or none when there is no item.
func returnedFormats(item map[string]types.AttributeValue, f ItemFormat) []ItemFormat {
	if item == nil {
		return []ItemFormat{}
	}
	return []ItemFormat{f}
}

// decryptVerified verifies and decrypts an item a call's error carries
// (which has no ResultMetadata to mark a plaintext item in): plaintext items
// are refused (ErrPlaintextItem) like items that fail verification.
func (t *table) decryptVerified(ctx context.Context, op string, item map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	out, err := t.enc.DecryptItem(ctx, item)
	if err != nil {
		return nil, t.itemErr(op, err, item)
	}
	return out, nil
}

// decryptConditionFailure decrypts the item a ConditionalCheckFailedException
// carries (ReturnValuesOnConditionCheckFailure=ALL_OLD), in place; an item
// that fails verification, or is plaintext (an error has no ResultMetadata
// to mark it in), is removed rather than returned unverified.
func (t *table) decryptConditionFailure(ctx context.Context, err error) error {
	var ccf *types.ConditionalCheckFailedException
	if t == nil || !errors.As(err, &ccf) || ccf.Item == nil {
		return err
	}
	d, derr := t.decryptVerified(ctx, "condition check failure item", ccf.Item)
	ccf.Item = d
	if derr != nil {
		return errors.Join(err, derr)
	}
	return err
}
