package actions

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/internal/legacy"
)

func TestZeroValueInvalid(t *testing.T) {
	var a Action
	if a.Valid() {
		t.Fatal("zero Action is valid")
	}
	if err := (Map{}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Map{}.Validate() = %v, want ErrInvalid", err)
	}
	if err := (Map{Default: SignOnly, Attributes: map[string]Action{"x": 0}}).Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Validate with a zero override = %v, want ErrInvalid", err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		m    Map
		ok   bool
	}{
		{"default only", Map{Default: EncryptAndSign}, true},
		{"reserved desc", Map{Default: SignOnly, Attributes: map[string]Action{legacy.MaterialDescriptionAttribute: DoNothing}}, false},
		{"reserved sig", Map{Default: SignOnly, Attributes: map[string]Action{legacy.SignatureAttribute: SignOnly}}, false},
		{"rep signed", Map{Default: SignOnly, Attributes: map[string]Action{"aws:rep:updatetime": SignOnly}}, false},
		{"rep encrypted", Map{Default: SignOnly, Attributes: map[string]Action{"aws:rep:deleting": EncryptAndSign}}, false},
		{"rep do nothing", Map{Default: SignOnly, Attributes: map[string]Action{"aws:rep:updateregion": DoNothing}}, true},
		{"bad action", Map{Default: SignOnly, Attributes: map[string]Action{"a": 9}}, false},
	}
	for _, c := range cases {
		err := c.m.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate() = %v, not ErrInvalid", c.name, err)
		}
	}
}

func TestGet(t *testing.T) {
	m := Map{Default: EncryptAndSign, Attributes: map[string]Action{"s": SignOnly, "n": DoNothing}}
	for name, want := range map[string]Action{
		"s": SignOnly, "n": DoNothing, "other": EncryptAndSign,
		"aws:rep:deleting": DoNothing, "aws:rep:updatetime": DoNothing, "aws:rep:updateregion": DoNothing,
		legacy.MaterialDescriptionAttribute: DoNothing, legacy.SignatureAttribute: DoNothing,
	} {
		if got := m.Get(name); got != want {
			t.Errorf("Get(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestAllDoNothing(t *testing.T) {
	if !(Map{Default: DoNothing, Attributes: map[string]Action{"a": DoNothing}}).AllDoNothing() {
		t.Error("all do-nothing map not recognised")
	}
	if (Map{Default: DoNothing, Attributes: map[string]Action{"a": SignOnly}}).AllDoNothing() {
		t.Error("map with a signed attribute reported as all do-nothing")
	}
}

func TestJSON(t *testing.T) {
	var m Map
	if err := json.Unmarshal([]byte(`{"default":"encrypt_and_sign","attributes":{"a":"sign","b":"do_nothing","c":"encrypt"}}`), &m); err != nil {
		t.Fatal(err)
	}
	want := Map{Default: EncryptAndSign, Attributes: map[string]Action{"a": SignOnly, "b": DoNothing, "c": EncryptAndSign}}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("json.Unmarshal (-want +got):\n%s", diff)
	}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != `{"default":"encrypt_and_sign","attributes":{"a":"sign","b":"do_nothing","c":"encrypt_and_sign"}}` {
		t.Errorf("json.Marshal = %s", got)
	}
	if err := json.Unmarshal([]byte(`{"default":"scramble"}`), &m); err == nil {
		t.Error("unknown action accepted")
	}
}
