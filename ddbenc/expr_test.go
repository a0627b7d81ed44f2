package ddbenc

import (
	"slices"
	"testing"
)

func TestScanExpr(t *testing.T) {
	names := map[string]string{"#n": "name", "#s": "status", "#x": "inner"}
	cases := []struct {
		expr   string
		attrs  []string
		nested bool
	}{
		{"pk = :p AND begins_with(sk, :s)", []string{"pk", "sk"}, false},
		{"attribute_exists(#n) OR size(tags) > :z", []string{"name", "tags"}, false},
		{"#s IN (:a, :b) AND NOT contains(email, :e)", []string{"status", "email"}, false},
		{"SET #s = :v, counter = counter + :one REMOVE obsolete", []string{"status", "counter", "counter", "obsolete"}, false},
		{"address.city = :c", []string{"address"}, true},
		{"list[0] = :c AND m.#x = :d", []string{"list", "m"}, true},
		{"a BETWEEN :lo AND :hi", []string{"a"}, false},
		{"if_not_exists(views, :zero)", []string{"views"}, false},
	}
	for _, c := range cases {
		r, err := scanExpr(c.expr, names)
		if err != nil {
			t.Errorf("scanExpr(%q): %v", c.expr, err)
			continue
		}
		if !slices.Equal(r.attrs, c.attrs) || r.nested != c.nested {
			t.Errorf("scanExpr(%q) = %v nested=%v; want %v nested=%v", c.expr, r.attrs, r.nested, c.attrs, c.nested)
		}
	}
	if _, err := scanExpr("#undefined = :v", names); err == nil {
		t.Error("undefined placeholder accepted")
	}
	p, err := parseProjection("#n, email, pk", nil, names)
	if err != nil || !slices.Equal(p, projection{"name", "email", "pk"}) {
		t.Errorf("parseProjection = %v, %v", p, err)
	}
	if _, err := parseProjection("address.city", nil, names); err == nil {
		t.Error("nested projection accepted")
	}
}
