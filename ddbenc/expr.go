package ddbenc

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbec/ddbec-go/actions"
)

// The expressions of a request and the checks a Client makes before the
// request leaves the process.

// exprRefs is what an expression refers to.
type exprRefs struct {
	attrs        []string // top-level attribute names (placeholders resolved)
	placeholders []string // #name placeholders used anywhere
	nested       bool     // some path goes below the top level (a.b, a[0])
}

var exprKeywords = map[string]bool{"and": true, "or": true, "not": true, "between": true, "in": true,
	"set": true, "remove": true, "add": true, "delete": true}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// scanExpr finds the attributes a condition, filter, key-condition,
// projection or update expression refers to. Function names (followed by
// "("), keywords and :value placeholders are skipped; an identifier after "."
// is a nested path element, not a top-level attribute.
func scanExpr(expr string, names map[string]string) (exprRefs, error) {
	var r exprRefs
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == '#' || c == ':' || isIdentByte(c):
			start := i
			i++
			for i < len(expr) && isIdentByte(expr[i]) {
				i++
			}
			tok := expr[start:i]
			prev := prevNonSpace(expr, start)
			next := nextNonSpace(expr, i)
			afterDot := prev == '.'
			if next == '.' || next == '[' {
				r.nested = true
			}
			switch {
			case c == ':':
				// value placeholder
			case c == '#':
				r.placeholders = append(r.placeholders, tok)
				if afterDot {
					continue
				}
				name, ok := names[tok]
				if !ok {
					return r, fmt.Errorf("expression attribute name %s is not defined", tok)
				}
				r.attrs = append(r.attrs, name)
			case afterDot || next == '(' || exprKeywords[strings.ToLower(tok)] || c >= '0' && c <= '9':
				// nested element, function, keyword or list index
			default:
				r.attrs = append(r.attrs, tok)
			}
		default:
			i++
		}
	}
	return r, nil
}

func prevNonSpace(s string, i int) byte {
	for i--; i >= 0; i-- {
		if s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
			return s[i]
		}
	}
	return 0
}

func nextNonSpace(s string, i int) byte {
	for ; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
			return s[i]
		}
	}
	return 0
}

// projection is a parsed projection: the top-level attributes to return.
type projection []string

// parseProjection reads a ProjectionExpression or AttributesToGet list. Only
// top-level attributes can be projected after verification.
func parseProjection(expr string, attributesToGet []string, names map[string]string) (projection, error) {
	if expr == "" {
		return projection(attributesToGet), nil
	}
	r, err := scanExpr(expr, names)
	if err != nil {
		return nil, err
	}
	if r.nested {
		return nil, errors.New("projections of nested paths are not supported on encrypted tables; project the attribute and read the path from it")
	}
	return projection(r.attrs), nil
}

// The checks a Client makes before a request leaves the process. Each
// returns an *Error wrapping ErrUnsupportedOperation (or ErrInvalidConfig)
// and naming the table and the attribute concerned, never a value; nothing is
// sent when one fails.

// unsupported reports a request problem before any request.
func unsupported(op, table, attr, format string, args ...any) error {
	return &Error{Op: op, Table: table, Attribute: attr, Err: fmt.Errorf("%w: "+format, append([]any{ErrUnsupportedOperation}, args...)...)}
}

// refs returns the top-level attributes an expression and a legacy field
// refer to, refusing the attributes the encryptor writes: no expression,
// projection or update may read, compare, set or remove them.
func (t *table) refs(op, kind string, expr *string, names map[string]string, legacy []string) ([]string, error) {
	var attrs []string
	if expr != nil {
		r, err := scanExpr(*expr, names)
		if err != nil {
			return nil, unsupported(op, t.enc.TableName(), "", "%s: %v", kind, err)
		}
		attrs = r.attrs
	}
	attrs = append(attrs, legacy...)
	for _, a := range attrs {
		if t.enc.reservedName(a) {
			return nil, unsupported(op, t.enc.TableName(), a, "%s refers to an attribute the encryptor writes", kind)
		}
	}
	return attrs, nil
}

// checkCondition refuses condition, filter and key-condition expressions
// (and their legacy map forms) that refer to an encrypted attribute: DynamoDB
// would compare ciphertext. On a DBESDKFormat table it also refuses an
// attribute outside the configuration (no action, no default, not allowed
// unsigned): no valid item holds one, so the condition can only be a mistake,
// and the caller's value compared with it may be one meant to be encrypted.
func (t *table) checkCondition(op, kind string, expr *string, names map[string]string, legacy ...string) error {
	attrs, err := t.refs(op, kind, expr, names, legacy)
	if err != nil {
		return err
	}
	for _, a := range attrs {
		switch act := t.enc.Action(a); {
		case act == actions.EncryptAndSign:
			return unsupported(op, t.enc.TableName(), a, "%s refers to an encrypted attribute", kind)
		case !act.Valid():
			return unsupported(op, t.enc.TableName(), a, "%s refers to an attribute outside the table's configuration (neither configured nor allowed unsigned)", kind)
		}
	}
	return nil
}

// checkUpdate allows updates that touch only do-nothing attributes: anything
// else would change signed content without a new signature. On a
// DBESDKFormat table those are the allowed unsigned attributes (listed or by
// prefix).
func (t *table) checkUpdate(op string, expr *string, names map[string]string, legacy []string) error {
	attrs, err := t.refs(op, "update expression", expr, names, legacy)
	if err != nil {
		return err
	}
	for _, a := range attrs {
		switch act := t.enc.Action(a); {
		case !act.Valid():
			return unsupported(op, t.enc.TableName(), a, "UpdateItem may only touch do-nothing attributes; this one is outside the table's configuration (neither configured nor allowed unsigned)")
		case act != actions.DoNothing:
			return unsupported(op, t.enc.TableName(), a, "UpdateItem may only touch do-nothing attributes; this one is %s (read, change and put the item instead)", act)
		}
	}
	return nil
}

// checkKey refuses a key map (GetItem, DeleteItem, UpdateItem, BatchGetItem,
// the transaction calls) holding anything but the table's primary key
// attributes: any other attribute's value would leave the process in
// plaintext.
func (t *table) checkKey(op, what string, key map[string]types.AttributeValue) error {
	for name := range key {
		if !t.isPrimaryKey(name) {
			return unsupported(op, t.enc.TableName(), name, "%s may hold only the primary key attributes (%s)", what, t.enc.keyList())
		}
	}
	return nil
}

// checkIndex refuses a Query or Scan on an index the Encryptor does not know:
// the request cannot be checked without its key attributes.
func (t *table) checkIndex(op string, index *string) (Index, error) {
	if index == nil {
		return Index{}, nil
	}
	ix, ok := t.enc.index(*index)
	if !ok {
		return Index{}, &Error{Op: op, Table: t.enc.TableName(), Err: fmt.Errorf("%w: index %q is not among the table's indexes (TableConfig.Indexes, or DescribeTable when the key schema is discovered): its key attributes must be known to check the request", ErrInvalidConfig, *index)}
	}
	return ix, nil
}

// checkStartKey refuses an ExclusiveStartKey holding anything but the
// table's primary key attributes and the queried index's key attributes.
func (t *table) checkStartKey(op string, key map[string]types.AttributeValue, ix Index) error {
	for name := range key {
		if !t.isPrimaryKey(name) && name != ix.PartitionKey && name != ix.SortKey {
			return unsupported(op, t.enc.TableName(), name, "ExclusiveStartKey may hold only the key attributes of the table and of the index queried")
		}
	}
	return nil
}

// isPrimaryKey reports whether name is one of the table's primary key
// attributes.
func (t *table) isPrimaryKey(name string) bool {
	return slices.Contains(t.enc.keyNames(), name)
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
func (t *table) requireExisting(op string, legacy bool, cond **string, names *map[string]string, expected *map[string]types.ExpectedAttributeValue, condOp types.ConditionalOperator) error {
	if t.enc.signsNothing() {
		return nil
	}
	pk := t.enc.partitionKey()
	if legacy && *cond == nil {
		if _, ok := (*expected)[pk]; ok {
			return unsupported(op, t.enc.TableName(), pk, "the update's Expected already has an entry for the partition key; use ConditionExpression (the wrapper adds attribute_exists on the partition key so that an update never creates an unsigned item)")
		}
		if condOp == types.ConditionalOperatorOr && len(*expected) > 0 {
			return unsupported(op, t.enc.TableName(), "", "Expected with ConditionalOperator OR cannot be combined with the existence check the wrapper adds; use ConditionExpression")
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

// stripProjection removes a projection from a request so that whole items
// come back for verification; the projection is applied after decryption.
// Attribute-name placeholders only the projection used are dropped (DynamoDB
// rejects unused ones): a placeholder is kept when one of others, the
// request's other expressions, uses it.
func (t *table) stripProjection(op string, proj **string, attrsToGet *[]string, names *map[string]string, others ...*string) (projection, bool, error) {
	if *proj == nil && len(*attrsToGet) == 0 {
		return nil, false, nil
	}
	p, err := parseProjection(aws.ToString(*proj), *attrsToGet, *names)
	if err != nil {
		return nil, false, unsupported(op, t.enc.TableName(), "", "%v", err)
	}
	for _, a := range p {
		if t.enc.reservedName(a) {
			return nil, false, unsupported(op, t.enc.TableName(), a, "projection refers to an attribute the encryptor writes")
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

// apply returns the projected attributes of a decrypted item when on is set,
// the item itself otherwise.
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
