package ddbenc

import (
	"fmt"
	"maps"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
)

// The checks a Client makes before a request leaves the process. Each
// returns an *Error wrapping ErrUnsupportedOperation (or ErrInvalidConfig)
// and naming the attribute concerned; nothing is sent when one fails.

// unsupported reports a request problem before any request.
func unsupported(op, table, attr, format string, args ...any) error {
	return &Error{Op: op, Table: table, Attribute: attr, Err: fmt.Errorf("%w: "+format, append([]any{ErrUnsupportedOperation}, args...)...)}
}

// refs returns the top-level attributes an expression and a legacy field
// refer to, refusing the attributes the encryptor writes: no expression,
// projection or update may read, compare, set or remove them.
func (e *Encryptor) refs(op, kind string, expr *string, names map[string]string, legacy []string) ([]string, error) {
	var attrs []string
	if expr != nil {
		r, err := scanExpr(*expr, names)
		if err != nil {
			return nil, unsupported(op, e.TableName(), "", "%s: %v", kind, err)
		}
		attrs = r.attrs
	}
	attrs = append(attrs, legacy...)
	for _, a := range attrs {
		if isReserved(a) {
			return nil, unsupported(op, e.TableName(), a, "%s refers to an attribute the encryptor writes", kind)
		}
	}
	return attrs, nil
}

// checkCondition refuses condition, filter and key-condition expressions
// (and their legacy map forms) that refer to an encrypted attribute: DynamoDB
// would compare ciphertext.
func (e *Encryptor) checkCondition(op, kind string, expr *string, names map[string]string, legacy ...string) error {
	attrs, err := e.refs(op, kind, expr, names, legacy)
	if err != nil {
		return err
	}
	for _, a := range attrs {
		if e.Action(a) == actions.EncryptAndSign {
			return unsupported(op, e.TableName(), a, "%s refers to an encrypted attribute", kind)
		}
	}
	return nil
}

// checkUpdate allows updates that touch only do-nothing attributes: anything
// else would change signed content without a new signature.
func (e *Encryptor) checkUpdate(op string, expr *string, names map[string]string, legacy []string) error {
	attrs, err := e.refs(op, "update expression", expr, names, legacy)
	if err != nil {
		return err
	}
	for _, a := range attrs {
		if e.Action(a) != actions.DoNothing {
			return unsupported(op, e.TableName(), a, "UpdateItem may only touch do-nothing attributes; this one is %s (read, change and put the item instead)", e.Action(a))
		}
	}
	return nil
}

// checkKey refuses a key map (GetItem, DeleteItem, UpdateItem, BatchGetItem,
// the transaction calls) holding anything but the table's primary key
// attributes: any other attribute's value would leave the process in
// plaintext.
func (e *Encryptor) checkKey(op, what string, key map[string]types.AttributeValue) error {
	for name := range key {
		if !e.isPrimaryKey(name) {
			return unsupported(op, e.TableName(), name, "%s may hold only the primary key attributes (%s)", what, e.keyList())
		}
	}
	return nil
}

// checkIndex refuses a Query or Scan on an index the Encryptor does not know:
// the request cannot be checked without its key attributes.
func (e *Encryptor) checkIndex(op string, index *string) (Index, error) {
	if index == nil {
		return Index{}, nil
	}
	ix, ok := e.indexes[*index]
	if !ok {
		return Index{}, &Error{Op: op, Table: e.TableName(), Err: fmt.Errorf("%w: index %q is not among the table's indexes (TableConfig.Indexes, or DescribeTable when the key schema is discovered): its key attributes must be known to check the request", ErrInvalidConfig, *index)}
	}
	return ix, nil
}

// checkStartKey refuses an ExclusiveStartKey holding anything but the
// table's primary key attributes and the queried index's key attributes.
func (e *Encryptor) checkStartKey(op string, key map[string]types.AttributeValue, ix Index) error {
	for name := range key {
		if !e.isPrimaryKey(name) && name != ix.PartitionKey && name != ix.SortKey {
			return unsupported(op, e.TableName(), name, "ExclusiveStartKey may hold only the key attributes of the table and of the index queried")
		}
	}
	return nil
}

func (e *Encryptor) isPrimaryKey(name string) bool {
	return name == e.cfg.PartitionKey || (e.cfg.SortKey != "" && name == e.cfg.SortKey)
}

func (e *Encryptor) keyList() string {
	if e.cfg.SortKey == "" {
		return strconv.Quote(e.cfg.PartitionKey)
	}
	return strconv.Quote(e.cfg.PartitionKey) + ", " + strconv.Quote(e.cfg.SortKey)
}

// requireExisting makes an update fail with ConditionalCheckFailedException
// instead of creating an item: an item an update creates carries neither
// signature nor material description, and reading it would fail. It adds
// attribute_exists(<partition key>) to the condition expression (under a
// placeholder that collides with none of the caller's), or, when the caller
// uses the legacy Expected/AttributeUpdates parameters (DynamoDB does not
// allow mixing them with expressions), a NOT_NULL expectation. The caller's
// maps are not modified. A table whose actions are all DoNothing signs
// nothing and is left alone.
func (e *Encryptor) requireExisting(op string, legacy bool, cond **string, names *map[string]string, expected *map[string]types.ExpectedAttributeValue, condOp types.ConditionalOperator) error {
	if e.allNothing {
		return nil
	}
	pk := e.cfg.PartitionKey
	if legacy && *cond == nil {
		if _, ok := (*expected)[pk]; ok {
			return unsupported(op, e.TableName(), pk, "the update's Expected already has an entry for the partition key; use ConditionExpression (the wrapper adds attribute_exists on the partition key so that an update never creates an unsigned item)")
		}
		if condOp == types.ConditionalOperatorOr && len(*expected) > 0 {
			return unsupported(op, e.TableName(), "", "Expected with ConditionalOperator OR cannot be combined with the existence check the wrapper adds; use ConditionExpression")
		}
		exp := maps.Clone(*expected)
		if exp == nil {
			exp = map[string]types.ExpectedAttributeValue{}
		}
		exp[pk] = types.ExpectedAttributeValue{ComparisonOperator: types.ComparisonOperatorNotNull}
		*expected = exp
		return nil
	}
	ph := "#ddbenc_pk"
	for i := 1; ; i++ {
		if _, taken := (*names)[ph]; !taken {
			break
		}
		ph = "#ddbenc_pk" + strconv.Itoa(i)
	}
	n := maps.Clone(*names)
	if n == nil {
		n = map[string]string{}
	}
	n[ph] = pk
	*names = n
	c := "attribute_exists(" + ph + ")"
	if *cond != nil && **cond != "" {
		c = "(" + **cond + ") AND " + c
	}
	*cond = &c
	return nil
}
