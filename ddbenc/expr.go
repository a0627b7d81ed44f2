package ddbenc

import (
	"errors"
	"fmt"
	"strings"
)

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
