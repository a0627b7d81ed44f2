package actions_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/ddbec/ddbec-go/actions"
)

// forT is For without options, as a func() value.
func forT[T any]() (actions.Map, error) { return actions.For[T]() }

func TestParseTag(t *testing.T) {
	for v, want := range map[string]actions.Action{
		"encrypt":      actions.EncryptAndSign,
		"sign":         actions.SignOnly,
		"sign-include": actions.SignAndIncludeInEncryptionContext,
		"none":         actions.DoNothing,
	} {
		got, err := actions.ParseTag(v)
		if err != nil || got != want {
			t.Errorf("ParseTag(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "Encrypt", "ENCRYPT", "encrypt_and_sign", "sign_only", " sign", "sign,omitempty", "include", "do_nothing", "nothing", "-"} {
		if a, err := actions.ParseTag(v); !errors.Is(err, actions.ErrUnknownTag) {
			t.Errorf("ParseTag(%q) = %v, %v; want ErrUnknownTag", v, a, err)
		}
	}
}

// Types for the naming tests. Every one is marshalled by attributevalue and
// the keys it writes are compared with the names FromStruct assigns.
type (
	Base struct {
		ID      string `dynamodbav:"id"`
		Created string
	}
	base struct {
		Hidden string `dynamodbav:"from_unexported_embedded"`
		inner  string //nolint:unused // unexported: not an attribute
	}
	Label string
	Deep  struct{ Bottom string }
	Mid   struct {
		Deep
		Middle string `dynamodbav:"middle"`
	}
	TaggedFoo struct {
		Foo string `dynamodbav:"Foo"`
	}
	UntaggedFoo struct{ Foo string }
	// tagBreaksTie: attributevalue marshals TaggedFoo.Foo and drops
	// UntaggedFoo.Foo; FromStruct refuses.
	tagBreaksTie struct {
		TaggedFoo
		UntaggedFoo
	}
	Left  struct{ Common string }
	Right struct{ Common string }
)

type plain struct {
	A      string
	B      int    `dynamodbav:"bee"`
	C      string `dynamodbav:",omitempty"`
	D      string `dynamodbav:"-"`
	E      string `dynamodbav:"-,omitempty"`
	F      []byte `dynamodbav:"f,binaryset"`
	G      string `json:"gee"` // not read without TagKey
	hidden string
}

type embedded struct {
	Base
	Name string
}

type embeddedPtr struct {
	*Base
	Name string `dynamodbav:"name"`
}

type embeddedUnexported struct {
	base
	Name string
}

type embeddedNamed struct {
	Base  `dynamodbav:"base"`
	Other string
}

type shadowing struct {
	Base
	ID string `dynamodbav:"id"` // hides Base.ID
}

type shadowingUntagged struct {
	Base
	Created int // hides Base.Created
}

type deep struct {
	Mid
	Top string
}

// embeddedScalars: an embedded unexported non-struct type (say "label")
// would be a field to attributevalue too, but MarshalMap panics on it.
type embeddedScalars struct {
	Label
	X string
}

type embeddedScalarPtr struct {
	*Label
	X string
}

type deeperLoses struct {
	Left           // Left.Common is deeper than Common below
	Common  string `dynamodbav:"Common"`
	Another string
}

type jsonTags struct {
	A string `json:"a"`
	B string `dynamodbav:"bee" json:"b"`          // the custom key wins
	C string `dynamodbav:"cee" json:",omitempty"` // custom tag with no name: the field name
	D string `json:"-"`
	E string `dynamodbav:"-" json:"e"` // custom tag un-ignores
	F string `dynamodbav:"eff"`        // no custom tag: dynamodbav
}

func TestStructAttributeNamesMatchAttributevalue(t *testing.T) {
	l := Label("l")
	cases := []struct {
		name   string
		v      any
		tagKey string
	}{
		{"plain", plain{C: "c"}, ""},
		{"embedded", embedded{}, ""},
		{"embedded pointer", embeddedPtr{Base: &Base{}}, ""},
		{"embedded unexported", embeddedUnexported{}, ""},
		{"embedded with a tag name", embeddedNamed{}, ""},
		{"shadowing tagged", shadowing{}, ""},
		{"shadowing untagged", shadowingUntagged{}, ""},
		{"deep", deep{}, ""},
		{"embedded scalars", embeddedScalars{}, ""},
		{"embedded scalar pointer", embeddedScalarPtr{Label: &l}, ""},
		{"deeper loses", deeperLoses{}, ""},
		{"json tag key", jsonTags{C: "c"}, "json"},
		{"dynamodbav tag key", plain{C: "c"}, "dynamodbav"},
		{"pointer to struct", &embedded{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			item, err := attributevalue.MarshalMapWithOptions(tc.v, func(o *attributevalue.EncoderOptions) {
				if tc.tagKey != "" {
					o.TagKey = tc.tagKey
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Sorted(maps.Keys(item))
			got, err := actions.AttributeNames(tc.v, tc.tagKey)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("attribute names (-attributevalue +FromStruct):\n%s", diff)
			}
		})
	}
}

type tagged struct {
	Base
	Secret string            `dynamodbav:"secret" ddbenc:"encrypt"`
	Team   string            `dynamodbav:"team" ddbenc:"sign"`
	Tenant string            `dynamodbav:"tenant" ddbenc:"sign-include"`
	TTL    int64             `dynamodbav:"ttl,omitempty" ddbenc:"none"`
	Notes  map[string]string // the default
	Nested struct {
		Inner string `ddbenc:"sign"` // inside an encrypted attribute: fine
	}
}

func TestFromStruct(t *testing.T) {
	want := actions.Map{Default: actions.EncryptAndSign, Attributes: map[string]actions.Action{
		"secret": actions.EncryptAndSign, "team": actions.SignOnly,
		"tenant": actions.SignAndIncludeInEncryptionContext, "ttl": actions.DoNothing,
	}}
	for name, get := range map[string]func() (actions.Map, error){
		"value":       func() (actions.Map, error) { return actions.FromStruct(tagged{}) },
		"pointer":     func() (actions.Map, error) { return actions.FromStruct(&tagged{}) },
		"nil pointer": func() (actions.Map, error) { return actions.FromStruct((*tagged)(nil)) },
		"For":         forT[tagged],
		"For pointer": forT[*tagged],
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}

	got, err := actions.For[embeddedNamed](func(o *actions.StructOptions) { o.Default = actions.SignOnly })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(actions.Map{Default: actions.SignOnly}, got); diff != "" {
		t.Errorf("with Default SignOnly (-want +got):\n%s", diff)
	}
	// With a default that does not encrypt, the tagged field inside Nested
	// would be silently overruled.
	if _, err := actions.For[tagged](func(o *actions.StructOptions) { o.Default = actions.SignOnly }); !errors.Is(err, actions.ErrIgnoredField) || !strings.Contains(err.Error(), "Nested.Inner") {
		t.Errorf("For[tagged] with Default SignOnly: %v, want ErrIgnoredField naming Nested.Inner", err)
	}
	got, err = actions.For[tagged](func(o *actions.StructOptions) { o.Default = actions.DoNothing })
	if err == nil {
		t.Errorf("For[tagged] with Default DoNothing: %+v, want ErrIgnoredField", got)
	}

	// No ddbenc tag at all: everything is the default, encrypted.
	got, err = actions.For[embedded]()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(actions.Map{Default: actions.EncryptAndSign}, got); diff != "" {
		t.Errorf("untagged struct (-want +got):\n%s", diff)
	}

	// A custom tag key names the attribute the ddbenc tag applies to.
	type withJSON struct {
		A string `json:"a" ddbenc:"sign"`
		B string `dynamodbav:"bee" json:"b" ddbenc:"none"`
	}
	got, err = actions.For[withJSON](func(o *actions.StructOptions) { o.TagKey = "json" })
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]actions.Action{"a": actions.SignOnly, "b": actions.DoNothing}, got.Attributes); diff != "" {
		t.Errorf("TagKey json (-want +got):\n%s", diff)
	}

	// A hidden field whose tag agrees with the winner is accepted.
	type agree struct {
		Base
		ID string `dynamodbav:"id" ddbenc:"sign"`
	}
	type agreeInner struct {
		Base2 struct {
			ID string `dynamodbav:"id" ddbenc:"sign"`
		} `dynamodbav:"b2"`
		agree
	}
	if got, err := actions.For[agree](); err != nil || got.Attributes["id"] != actions.SignOnly {
		t.Errorf("For[agree]() = %+v, %v", got, err)
	}
	if _, err := actions.For[agreeInner](func(o *actions.StructOptions) { o.Default = actions.SignOnly }); !errors.Is(err, actions.ErrIgnoredField) {
		// b2 is SignOnly (the default) and has a tagged field inside.
		t.Errorf("For[agreeInner]() = %v, want ErrIgnoredField", err)
	}
}

type marshalsItself struct{ A string }

func (marshalsItself) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	return &types.AttributeValueMemberS{Value: "x"}, nil
}

type marshalsItselfPtr struct{ A string }

func (*marshalsItselfPtr) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	return &types.AttributeValueMemberS{Value: "x"}, nil
}

type myTime time.Time

func TestFromStructErrors(t *testing.T) {
	type (
		unknownTag struct {
			A string `dynamodbav:"a" ddbenc:"encrypted"`
		}
		emptyTag struct {
			A string `ddbenc:""`
		}
		sameName struct {
			A string `dynamodbav:"x"`
			B string `dynamodbav:"x" ddbenc:"sign"`
		}
		sameNameField struct {
			X string
			Y string `dynamodbav:"X"`
		}
		twoEmbedded struct {
			Left
			Right
		}
		twice struct {
			A struct{ Left }
			embeddedTwiceA
			embeddedTwiceB
		}
		hiddenTagged struct {
			shadowed
			Secret string `dynamodbav:"secret" ddbenc:"sign"`
		}
		hiddenByDefault struct {
			shadowed
			Secret string `dynamodbav:"secret"` // the default (EncryptAndSign) vs the hidden none
		}
		skipped struct {
			A string `dynamodbav:"-" ddbenc:"encrypt"`
		}
		skippedByCustomKey struct {
			A string `json:"-" ddbenc:"sign"`
		}
		unexported struct {
			a string `ddbenc:"sign"` //nolint:unused // the point of the test
		}
		flattened struct {
			Base `ddbenc:"sign"`
		}
		nestedSigned struct {
			Address struct {
				Street string `ddbenc:"encrypt"`
			} `dynamodbav:"address" ddbenc:"sign"`
		}
		nestedInSlice struct {
			Lines []struct {
				Text *struct {
					S string `ddbenc:"encrypt"`
				}
			} `ddbenc:"none"`
		}
		reserved struct {
			Sig string `dynamodbav:"*amzn-ddb-map-sig*" ddbenc:"sign"`
		}
	)
	cases := []struct {
		name    string
		get     func() (actions.Map, error)
		want    error
		field   string // StructError.Field
		attr    string // StructError.Attribute
		inError []string
	}{
		{"nil", func() (actions.Map, error) { return actions.FromStruct(nil) }, actions.ErrNotStruct, "", "", []string{"<nil>"}},
		{"int", func() (actions.Map, error) { return actions.FromStruct(3) }, actions.ErrNotStruct, "", "", []string{"type int:", "kind int"}},
		{"pointer to int", forT[*int], actions.ErrNotStruct, "", "", []string{"*int"}},
		{"map", forT[map[string]any], actions.ErrNotStruct, "", "", nil},
		{"marshaler", forT[marshalsItself], actions.ErrNotStruct, "", "", []string{"actions_test.marshalsItself", "attributevalue.Marshaler"}},
		{"pointer marshaler", forT[marshalsItselfPtr], actions.ErrNotStruct, "", "", []string{"attributevalue.Marshaler"}},
		{"time", forT[myTime], actions.ErrNotStruct, "", "", []string{"time"}},
		{"unknown tag", forT[unknownTag], actions.ErrUnknownTag, "A", "a", []string{"actions_test.unknownTag", "field A", `"encrypted"`}},
		{"empty tag", forT[emptyTag], actions.ErrUnknownTag, "A", "A", []string{`""`}},
		{"same tag name", forT[sameName], actions.ErrDuplicateAttribute, "A", "x", []string{"field B"}},
		{"tag name equals field name", forT[sameNameField], actions.ErrDuplicateAttribute, "Y", "X", []string{"field X"}},
		{"tag breaks a tie in attributevalue", forT[tagBreaksTie], actions.ErrDuplicateAttribute, "TaggedFoo.Foo", "Foo", []string{"field UntaggedFoo.Foo"}},
		{"two embedded structs", forT[twoEmbedded], actions.ErrDuplicateAttribute, "Left.Common", "Common", []string{"field Right.Common"}},
		{"same struct embedded twice", forT[twice], actions.ErrDuplicateAttribute, "embeddedTwiceA.Left.Common", "Common", []string{"embedded twice"}},
		{"hidden field with another tag", forT[hiddenTagged], actions.ErrDuplicateAttribute, "shadowed.Secret", "secret", []string{"hidden by field Secret", "sign"}},
		{"hidden field against the default", forT[hiddenByDefault], actions.ErrDuplicateAttribute, "shadowed.Secret", "secret", []string{"encrypt_and_sign"}},
		{"dash", forT[skipped], actions.ErrIgnoredField, "A", "", []string{`dynamodbav tag is "-"`}},
		{"dash under the custom key", func() (actions.Map, error) {
			return actions.For[skippedByCustomKey](func(o *actions.StructOptions) { o.TagKey = "json" })
		}, actions.ErrIgnoredField, "A", "", []string{`json tag is "-"`}},
		{"unexported", forT[unexported], actions.ErrIgnoredField, "a", "", []string{"unexported"}},
		{"flattened embedded", forT[flattened], actions.ErrIgnoredField, "Base", "", []string{"flattened"}},
		{"nested tag under sign", forT[nestedSigned], actions.ErrIgnoredField, "Address", "address", []string{"Address.Street has a ddbenc tag", "is sign"}},
		{"nested tag in a slice", forT[nestedInSlice], actions.ErrIgnoredField, "Lines", "Lines", []string{"Lines.Text.S"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := tc.get()
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %+v, %v; want %v", m, err, tc.want)
			}
			var se *actions.StructError
			if !errors.As(err, &se) {
				t.Fatalf("%v is not a *StructError", err)
			}
			if se.Field != tc.field || se.Attribute != tc.attr {
				t.Errorf("Field, Attribute = %q, %q; want %q, %q", se.Field, se.Attribute, tc.field, tc.attr)
			}
			if tc.want != actions.ErrNotStruct && (se.Type == nil || !strings.Contains(err.Error(), se.Type.String())) {
				t.Errorf("%q does not name the type %v", err, se.Type)
			}
			for _, s := range tc.inError {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not contain %q", err, s)
				}
			}
		})
	}

	// Map.Validate's own errors come through unchanged.
	if _, err := actions.For[reserved](); !errors.Is(err, actions.ErrInvalid) {
		t.Errorf("reserved attribute: %v, want ErrInvalid", err)
	}
	if _, err := actions.For[tagged](func(o *actions.StructOptions) { o.Default = 42 }); !errors.Is(err, actions.ErrInvalid) {
		t.Errorf("invalid default: %v, want ErrInvalid", err)
	}
}

type (
	shadowed struct {
		Secret string `dynamodbav:"secret" ddbenc:"none"`
	}
	embeddedTwiceA struct{ Left }
	embeddedTwiceB struct{ Left }
)
