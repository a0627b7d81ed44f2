package ddbjson_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/testvectors"
)

func TestRoundTrip(t *testing.T) {
	in := `{"b":{"B":"AAEC"},"bool":{"BOOL":false},"bs":{"BS":["AA==","/w=="]},"l":{"L":[{"N":"1"},{"NULL":true}]},"m":{"M":{"<&>":{"S":"x<y"}}},"n":{"N":"1.50"},"ns":{"NS":["1","2"]},"pair":{"S":"\ud83d\ude00 \\udc00"},"s":{"S":""},"ss":{"SS":["a"]}}`
	item, err := ddbjson.UnmarshalItem([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := item["pair"].(*types.AttributeValueMemberS).Value, "\U0001F600 \\udc00"; got != want {
		t.Errorf("surrogate pair and escaped backslash: got %q, want %q", got, want)
	}
	out, err := ddbjson.MarshalItem(item)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(in, `\ud83d\ude00`, "\U0001F600", 1)
	if string(out) != want {
		t.Errorf("ddbjson.MarshalItem(ddbjson.UnmarshalItem(x)) =\n%s\nwant\n%s", out, want)
	}
}

// TestErrors: every error wraps ErrSyntax and names the top-level attribute
// only; nothing inside the attribute's value (keys, values, list indexes)
// appears in the message.
func TestErrors(t *testing.T) {
	cases := []struct {
		name, in   string
		wantAttr   string // top-level attribute the error names ("" for none)
		wantNested bool
		secrets    []string // must not appear in the message
	}{
		{name: "not an object", in: `[1]`},
		{name: "null", in: `null`},
		{name: "not json", in: `{"a":{"S":"s3cr3t`, secrets: []string{"s3cr3t"}},
		{name: "trailing data", in: `{"a":{"S":"x"}} {}`},
		{name: "two type keys", in: `{"a":{"S":"x","N":"1"}}`, wantAttr: "a"},
		{name: "no type key", in: `{"a":{}}`, wantAttr: "a"},
		{name: "value not object", in: `{"a":"s3cr3t"}`, wantAttr: "a", secrets: []string{"s3cr3t"}},
		{name: "unknown type key is not printed", in: `{"a":{"s3cr3t-key":"x"}}`, wantAttr: "a", secrets: []string{"s3cr3t-key"}},
		{name: "S not string", in: `{"a":{"S":12345}}`, wantAttr: "a", secrets: []string{"12345"}},
		{name: "B not base64", in: `{"a":{"B":"s3cr3t!!"}}`, wantAttr: "a", secrets: []string{"s3cr3t"}},
		{name: "BOOL not bool", in: `{"a":{"BOOL":"true"}}`, wantAttr: "a"},
		{name: "SS not array", in: `{"a":{"SS":"x"}}`, wantAttr: "a"},
		{name: "BS bad element", in: `{"a":{"BS":["!!"]}}`, wantAttr: "a"},
		{name: "L not array", in: `{"a":{"L":{}}}`, wantAttr: "a"},
		{name: "M not object", in: `{"a":{"M":[]}}`, wantAttr: "a"},
		{
			name: "bad value in a nested map", in: `{"ssn":{"M":{"mother-maiden-name":{"B":"s3cr3t!!"}}}}`,
			wantAttr: "ssn", wantNested: true, secrets: []string{"mother-maiden-name", "s3cr3t"},
		},
		{
			name: "unknown type in a nested map", in: `{"ssn":{"M":{"mother-maiden-name":{"private-key":"s3cr3t"}}}}`,
			wantAttr: "ssn", wantNested: true, secrets: []string{"mother-maiden-name", "private-key", "s3cr3t"},
		},
		{
			name: "bad element in a nested list", in: `{"a":{"M":{"hidden-key":{"L":[{"N":"1"},{"N":"2"},{"X":"s3cr3t"}]}}}}`,
			wantAttr: "a", wantNested: true, secrets: []string{"hidden-key", "s3cr3t", "[2]", "X"},
		},
		{
			name: "nested too deeply", in: `{"a":` + strings.Repeat(`{"L":[`, 100) + `{"NULL":true}` + strings.Repeat(`]}`, 100) + `}`,
			wantAttr: "a", wantNested: true,
		},
		{name: "invalid UTF-8 in a value", in: "{\"a\":{\"S\":\"s3cr3t\xff\"}}", wantAttr: "a", secrets: []string{"s3cr3t"}},
		{
			name: "invalid UTF-8 in a nested key", in: "{\"a\":{\"M\":{\"hidden-key\xfe\":{\"S\":\"x\"}}}}",
			wantAttr: "a", secrets: []string{"hidden-key"},
		},
		{name: "lone low surrogate", in: `{"a":{"S":"s3cr3t\udc00"}}`, wantAttr: "a", secrets: []string{"s3cr3t"}},
		{name: "high surrogate without low", in: `{"a":{"SS":["s3cr3t\ud800x"]}}`, wantAttr: "a", secrets: []string{"s3cr3t"}},
		{name: "high surrogate then another high", in: `{"a":{"S":"\ud800\ud800"}}`, wantAttr: "a"},
		{name: "invalid UTF-8 in an attribute name", in: "{\"a\xff\":{\"S\":\"x\"}}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ddbjson.UnmarshalItem([]byte(c.in))
			if !errors.Is(err, ddbjson.ErrSyntax) {
				t.Fatalf("UnmarshalItem = %v, want ErrSyntax", err)
			}
			var e *ddbjson.Error
			if !errors.As(err, &e) {
				t.Fatalf("UnmarshalItem = %T, want *ddbjson.Error", err)
			}
			if e.Attribute != c.wantAttr || e.Nested != c.wantNested {
				t.Errorf("attribute %q nested %v, want %q %v (%v)", e.Attribute, e.Nested, c.wantAttr, c.wantNested, err)
			}
			if c.wantAttr != "" && !strings.Contains(err.Error(), `attribute "`+c.wantAttr+`"`) {
				t.Errorf("error %q does not name attribute %q", err, c.wantAttr)
			}
			for _, s := range c.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains %q", err, s)
				}
			}
		})
	}
}

func TestUnmarshalValue(t *testing.T) {
	if _, err := ddbjson.UnmarshalValue([]byte(`{"M":{"hidden-key":{"Q":1}}}`)); !errors.Is(err, ddbjson.ErrSyntax) || strings.Contains(err.Error(), "hidden-key") {
		t.Errorf("UnmarshalValue = %v, want ErrSyntax without the key", err)
	}
	if _, err := ddbjson.UnmarshalValue([]byte("{\"S\":\"\xff\"}")); !errors.Is(err, ddbjson.ErrSyntax) {
		t.Errorf("UnmarshalValue(invalid UTF-8) = %v, want ErrSyntax", err)
	}
}

// TestUnmarshalInput covers the rule telling bare items from the AWS CLI's
// get-item and query/scan envelopes, with the ambiguous-looking cases.
func TestUnmarshalInput(t *testing.T) {
	cases := []struct {
		name     string
		in       string
		wantForm ddbjson.Form
		want     []string // the items, as MarshalItem writes them
	}{
		{"bare item", `{"id":{"S":"a"}}`, ddbjson.FormItem, []string{`{"id":{"S":"a"}}`}},
		{"bare item with an attribute named Item", `{"Item":{"S":"x"},"id":{"S":"a"}}`, ddbjson.FormItem, []string{`{"Item":{"S":"x"},"id":{"S":"a"}}`}},
		{"bare item whose only attribute is Item", `{"Item":{"S":"x"}}`, ddbjson.FormItem, []string{`{"Item":{"S":"x"}}`}},
		{
			"bare item: Item is a map with a key named S", `{"Item":{"M":{"S":{"S":"x"}}}}`,
			ddbjson.FormItem, []string{`{"Item":{"M":{"S":{"S":"x"}}}}`},
		},
		{
			"bare item with attributes Item and ConsumedCapacity", `{"Item":{"M":{}},"ConsumedCapacity":{"N":"1"}}`,
			ddbjson.FormItem, []string{`{"ConsumedCapacity":{"N":"1"},"Item":{"M":{}}}`},
		},
		{
			"bare item with attributes Items, Count and ScannedCount", `{"Items":{"L":[{"S":"x"}]},"Count":{"N":"1"},"ScannedCount":{"N":"2"}}`,
			ddbjson.FormItem, []string{`{"Count":{"N":"1"},"Items":{"L":[{"S":"x"}]},"ScannedCount":{"N":"2"}}`},
		},
		{"get-item", `{"Item":{"id":{"S":"a"},"n":{"N":"1"}}}`, ddbjson.FormGetItem, []string{`{"id":{"S":"a"},"n":{"N":"1"}}`}},
		{
			"get-item, pretty-printed, with ConsumedCapacity",
			"{\n    \"Item\": {\n        \"id\": {\n            \"S\": \"a\"\n        }\n    },\n    \"ConsumedCapacity\": {\n        \"TableName\": \"T\",\n        \"CapacityUnits\": 0.5\n    }\n}\n",
			ddbjson.FormGetItem, []string{`{"id":{"S":"a"}}`},
		},
		{"get-item of an item whose only attribute is S", `{"Item":{"S":{"S":"x"}}}`, ddbjson.FormGetItem, []string{`{"S":{"S":"x"}}`}},
		{"get-item of an item whose only attribute is Item", `{"Item":{"Item":{"S":"x"}}}`, ddbjson.FormGetItem, []string{`{"Item":{"S":"x"}}`}},
		{"get-item of an item whose only attribute is an empty map named M", `{"Item":{"M":{"M":{}}}}`, ddbjson.FormGetItem, []string{`{"M":{"M":{}}}`}},
		{"get-item of an empty item", `{"Item":{}}`, ddbjson.FormGetItem, []string{`{}`}},
		{
			"scan with every field",
			`{"Items":[{"id":{"S":"a"}},{"id":{"S":"b"},"Item":{"S":"x"}}],"Count":2,"ScannedCount":5,"LastEvaluatedKey":{"id":{"S":"b"}},"ConsumedCapacity":{"TableName":"T","CapacityUnits":0.5},"NextToken":"abc"}`,
			ddbjson.FormItems, []string{`{"id":{"S":"a"}}`, `{"Item":{"S":"x"},"id":{"S":"b"}}`},
		},
		{"query with no items", `{"Items":[],"Count":0,"ScannedCount":0,"ConsumedCapacity":null}`, ddbjson.FormItems, nil},
		{"scan of items with attributes named Items and Count", `{"Items":[{"Items":{"SS":["x"]},"Count":{"N":"1"}}],"Count":1}`, ddbjson.FormItems, []string{`{"Count":{"N":"1"},"Items":{"SS":["x"]}}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			items, form, err := ddbjson.UnmarshalInput([]byte(c.in))
			if err != nil {
				t.Fatalf("UnmarshalInput: %v", err)
			}
			if form != c.wantForm {
				t.Errorf("form = %d, want %d", form, c.wantForm)
			}
			var got []string
			for _, it := range items {
				b, err := ddbjson.MarshalItem(it)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(b))
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnmarshalInputErrors(t *testing.T) {
	cases := []struct {
		name         string
		in           string
		wantEnvelope string
		wantAttr     string
		secrets      []string
	}{
		{name: "scan with an unexpected field", in: `{"Items":[],"Count":0,"Extra":1}`},
		{name: "scan with a bare item field", in: `{"Items":[],"id":{"S":"a"}}`},
		{
			name: "bad item in a scan", in: `{"Items":[{"id":{"S":"a"}},{"id":{"S":"b"},"ssn":{"M":{"hidden-key":{"Q":"s3cr3t"}}}}],"Count":2}`,
			wantEnvelope: "Items[1]", wantAttr: "ssn", secrets: []string{"hidden-key", "s3cr3t"},
		},
		{name: "scan item not an object", in: `{"Items":[1]}`, wantEnvelope: "Items[0]"},
		{
			name: "bad item in get-item", in: `{"Item":{"id":{"S":"a"},"ssn":{"M":{"hidden-key":{"B":"s3cr3t!"}}}}}`,
			wantEnvelope: "Item", wantAttr: "ssn", secrets: []string{"hidden-key", "s3cr3t"},
		},
		{name: "get-item with an unexpected field", in: `{"Item":{"id":{"S":"a"}},"Count":1}`, wantAttr: "Count"},
		{name: "Items not an array next to Count", in: `{"Items":{"L":[]},"Count":0}`, wantAttr: "Count"},
		{name: "looks like a bare Item attribute", in: `{"Item":{"S":7}}`, wantAttr: "Item"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ddbjson.UnmarshalInput([]byte(c.in))
			var e *ddbjson.Error
			if !errors.Is(err, ddbjson.ErrSyntax) || !errors.As(err, &e) {
				t.Fatalf("UnmarshalInput = %v, want a *ddbjson.Error wrapping ErrSyntax", err)
			}
			if e.Envelope != c.wantEnvelope || e.Attribute != c.wantAttr {
				t.Errorf("envelope %q attribute %q, want %q %q (%v)", e.Envelope, e.Attribute, c.wantEnvelope, c.wantAttr, err)
			}
			for _, s := range c.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains %q", err, s)
				}
			}
		})
	}
}

// TestMarshalItemRefusesLossyStrings: JSON text cannot carry strings that
// are not valid UTF-8 (encoding/json would replace the bytes); the error
// names the top-level attribute only.
func TestMarshalItemRefusesLossyStrings(t *testing.T) {
	const bad = "s3cr3t-value\xff"
	nested := func(k string, v types.AttributeValue) types.AttributeValue {
		return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"ok": &types.AttributeValueMemberS{Value: "fine"}, k: v}}
	}
	cases := []struct {
		name       string
		item       map[string]types.AttributeValue
		wantAttr   string
		wantNested bool
	}{
		{"S", map[string]types.AttributeValue{"a": &types.AttributeValueMemberS{Value: bad}}, "a", false},
		{"N", map[string]types.AttributeValue{"a": &types.AttributeValueMemberN{Value: bad}}, "a", false},
		{"SS element", map[string]types.AttributeValue{"a": &types.AttributeValueMemberSS{Value: []string{"x", bad}}}, "a", false},
		{"NS element", map[string]types.AttributeValue{"a": &types.AttributeValueMemberNS{Value: []string{bad}}}, "a", false},
		{"value in a nested map", map[string]types.AttributeValue{"ssn": nested("mother-maiden-name", &types.AttributeValueMemberS{Value: bad})}, "ssn", true},
		{"nested map key", map[string]types.AttributeValue{"ssn": nested("mother-maiden-name\xfe", &types.AttributeValueMemberS{Value: "x"})}, "ssn", true},
		{"list in a nested map", map[string]types.AttributeValue{"ssn": nested("mother-maiden-name", &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}, &types.AttributeValueMemberS{Value: bad}}})}, "ssn", true},
		{"nil in a nested map", map[string]types.AttributeValue{"ssn": nested("mother-maiden-name", nil)}, "ssn", true},
		{"attribute name", map[string]types.AttributeValue{"a\xff": &types.AttributeValueMemberS{Value: "x"}}, "a\xff", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := ddbjson.MarshalItem(c.item)
			var e *ddbjson.Error
			if !errors.Is(err, ddbjson.ErrUnrepresentable) || !errors.As(err, &e) {
				t.Fatalf("MarshalItem = %q, %v; want a *ddbjson.Error wrapping ErrUnrepresentable", out, err)
			}
			if e.Attribute != c.wantAttr || e.Nested != c.wantNested {
				t.Errorf("attribute %q nested %v, want %q %v", e.Attribute, e.Nested, c.wantAttr, c.wantNested)
			}
			for _, s := range []string{"s3cr3t", "mother-maiden-name", "fine", "ok", "[1]"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains %q", err, s)
				}
			}
		})
	}
	// ToJSONValue (used to compare values in tests) keeps strings as they are.
	v, err := ddbjson.ToJSONValue(&types.AttributeValueMemberS{Value: bad})
	if err != nil || v.(map[string]any)["S"] != bad {
		t.Errorf("ToJSONValue = %v, %v; want the string unchanged", v, err)
	}
}

func FuzzUnmarshalItem(f *testing.F) {
	for _, seed := range testvectors.Seeds(f, testvectors.CiphertextItemSeeds) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		item, err := ddbjson.UnmarshalItem(data)
		if err != nil {
			return
		}
		out, err := ddbjson.MarshalItem(item)
		if err != nil {
			t.Fatalf("MarshalItem: %v", err)
		}
		again, err := ddbjson.UnmarshalItem(out)
		if err != nil {
			t.Fatalf("ddbjson.UnmarshalItem(ddbjson.MarshalItem(x)): %v", err)
		}
		out2, _ := ddbjson.MarshalItem(again)
		if diff := cmp.Diff(string(out), string(out2)); diff != "" {
			t.Fatalf("not stable:\n%s", diff)
		}
	})
}

// FuzzUnmarshalInput checks the envelope rule is unambiguous: what is read
// as an envelope is never a valid bare item, and a bare item is read as
// UnmarshalItem reads it.
func FuzzUnmarshalInput(f *testing.F) {
	for _, seed := range testvectors.Seeds(f, testvectors.CiphertextItemSeeds) {
		f.Add(seed)
		f.Add([]byte(`{"Item":` + string(seed) + `}`))
		f.Add([]byte(`{"Items":[` + string(seed) + `],"Count":1,"ScannedCount":1}`))
	}
	for _, s := range []string{`{"Item":{"M":{"M":{}}}}`, `{"Item":{"S":{"S":"x"}}}`, `{"Item":{"M":{"S":{"S":"x"}}}}`, `{"Items":[],"Count":0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		items, form, err := ddbjson.UnmarshalInput(data)
		bare, bareErr := ddbjson.UnmarshalItem(data)
		if err != nil {
			if bareErr == nil {
				t.Fatalf("UnmarshalInput fails (%v) on a valid bare item", err)
			}
			return
		}
		switch form {
		case ddbjson.FormItem:
			if bareErr != nil || len(items) != 1 {
				t.Fatalf("bare item: %d items, UnmarshalItem: %v", len(items), bareErr)
			}
			a, _ := ddbjson.MarshalItem(items[0])
			b, _ := ddbjson.MarshalItem(bare)
			if string(a) != string(b) {
				t.Fatalf("bare item read differently:\n%s\n%s", a, b)
			}
		case ddbjson.FormGetItem, ddbjson.FormItems:
			if bareErr == nil {
				t.Fatalf("form %d is also a valid bare item", form)
			}
			if form == ddbjson.FormGetItem && len(items) != 1 {
				t.Fatalf("get-item gave %d items", len(items))
			}
		}
	})
}
