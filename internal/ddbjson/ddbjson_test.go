package ddbjson_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/internal/ddbjson"
	"github.com/ddbec/ddbec-go/internal/testvectors"
)

func TestRoundTrip(t *testing.T) {
	in := `{"b":{"B":"AAEC"},"bool":{"BOOL":false},"bs":{"BS":["AA==","/w=="]},"l":{"L":[{"N":"1"},{"NULL":true}]},"m":{"M":{"<&>":{"S":"x<y"}}},"n":{"N":"1.50"},"ns":{"NS":["1","2"]},"s":{"S":""},"ss":{"SS":["a"]}}`
	item, err := ddbjson.UnmarshalItem([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := ddbjson.MarshalItem(item)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("ddbjson.MarshalItem(ddbjson.UnmarshalItem(x)) =\n%s\nwant\n%s", out, in)
	}
}

func TestErrors(t *testing.T) {
	cases := map[string]string{
		"not an object":    `[1]`,
		"null":             `null`,
		"two type keys":    `{"a":{"S":"x","N":"1"}}`,
		"no type key":      `{"a":{}}`,
		"unknown type":     `{"a":{"Q":"x"}}`,
		"S not string":     `{"a":{"S":1}}`,
		"B not base64":     `{"a":{"B":"!!"}}`,
		"BOOL not bool":    `{"a":{"BOOL":"true"}}`,
		"SS not array":     `{"a":{"SS":"x"}}`,
		"BS bad element":   `{"a":{"BS":["!!"]}}`,
		"L not array":      `{"a":{"L":{}}}`,
		"M not object":     `{"a":{"M":[]}}`,
		"nested bad":       `{"a":{"M":{"b":{"L":[{"X":1}]}}}}`,
		"trailing data":    `{"a":{"S":"x"}} {}`,
		"not json":         `{"a":`,
		"value not object": `{"a":"x"}`,
	}
	for name, in := range cases {
		_, err := ddbjson.UnmarshalItem([]byte(in))
		if !errors.Is(err, ddbjson.ErrSyntax) {
			t.Errorf("%s: UnmarshalItem = %v, want ErrSyntax", name, err)
		}
	}
	// Error messages name the path, not the value.
	_, err := ddbjson.UnmarshalItem([]byte(`{"outer":{"M":{"inner":{"B":"s3cr3t!!"}}}}`))
	if err == nil || !strings.Contains(err.Error(), `"outer"."inner"`) || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %v: want the path and no value", err)
	}
	deep := strings.Repeat(`{"L":[`, 100) + `{"NULL":true}` + strings.Repeat(`]}`, 100)
	if _, err := ddbjson.UnmarshalItem([]byte(`{"a":` + deep + `}`)); !errors.Is(err, ddbjson.ErrSyntax) {
		t.Errorf("deep nesting: %v", err)
	}
}

func FuzzUnmarshalItem(f *testing.F) {
	root, err := testvectors.Root()
	if err != nil {
		f.Fatal(err)
	}
	seeds, err := testvectors.CiphertextItemsJSON(root)
	if err != nil {
		f.Fatal(err)
	}
	if len(seeds) == 0 {
		f.Fatal("empty seed corpus")
	}
	for _, seed := range seeds {
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
