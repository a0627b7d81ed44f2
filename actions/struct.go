package actions

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
)

// StructTag is the struct tag [FromStruct] and [For] read actions from.
const StructTag = "ddbenc"

// avTag is attributevalue's own tag key, always read (attributevalue's
// defaultTagKey).
const avTag = "dynamodbav"

// StructOptions change how [FromStruct] and [For] build a [Map].
type StructOptions struct {
	// Default becomes the Map's Default: the action of every field without
	// a ddbenc tag and of every item attribute that is not a field of the
	// struct. The zero value means EncryptAndSign, so a forgotten tag
	// encrypts instead of leaving data in plaintext. Set DoNothing
	// explicitly for a DBESDKFormat table that should refuse attributes it
	// has no action for (see ddbenc.TableConfig.AllowedUnsignedAttributes).
	Default Action
	// TagKey is the custom tag key given to attributevalue in
	// attributevalue.EncoderOptions.TagKey (and DecoderOptions.TagKey), for
	// example "json". As in attributevalue, the dynamodbav tag is always
	// read and a non-empty TagKey tag on the same field replaces it. Empty
	// means only dynamodbav.
	TagKey string
}

// Errors wrapped by the [*StructError] values [FromStruct] and [For] return.
var (
	// ErrNotStruct: the value or type is not a struct (or pointer to one)
	// that attributevalue marshals field by field.
	ErrNotStruct = errors.New("actions: not a struct attributevalue marshals by field")
	// ErrUnknownTag: a ddbenc tag value is not encrypt, sign, sign-include
	// or none.
	ErrUnknownTag = errors.New("actions: unknown ddbenc tag value")
	// ErrDuplicateAttribute: two fields have the same attribute name at the
	// same embedding depth (attributevalue then marshals neither of them,
	// or only the one named by a tag), or a field hidden by a shallower one
	// of the same name has a ddbenc tag that disagrees with the action of
	// the field attributevalue marshals.
	ErrDuplicateAttribute = errors.New("actions: duplicate attribute name")
	// ErrIgnoredField: a ddbenc tag on a field that is not an attribute of
	// the item (dynamodbav:"-", unexported, or an embedded struct whose
	// fields are flattened), or on a field of a nested struct type whose
	// containing attribute is not EncryptAndSign.
	ErrIgnoredField = errors.New("actions: ddbenc tag on a field that is not an attribute")
)

// StructError is the error [FromStruct] and [For] return for a struct they
// cannot derive actions from. Err is one of ErrNotStruct, ErrUnknownTag,
// ErrDuplicateAttribute, ErrIgnoredField.
type StructError struct {
	Type      reflect.Type // the struct type (as given, before dereferencing pointers)
	Field     string       // Go path of the field, e.g. "Audit.CreatedBy"; empty for ErrNotStruct
	Attribute string       // the field's attribute name, when it has one
	Err       error
	detail    string
}

func (e *StructError) Error() string {
	var b strings.Builder
	b.WriteString("actions: type ")
	if e.Type == nil {
		b.WriteString("<nil>")
	} else {
		b.WriteString(e.Type.String())
	}
	if e.Field != "" {
		fmt.Fprintf(&b, " field %s", e.Field)
	}
	if e.Attribute != "" {
		fmt.Fprintf(&b, " (attribute %q)", e.Attribute)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "actions: "))
	if e.detail != "" {
		b.WriteString(": ")
		b.WriteString(e.detail)
	}
	return b.String()
}

func (e *StructError) Unwrap() error { return e.Err }

// ParseTag reads a ddbenc tag value: "encrypt" (EncryptAndSign), "sign"
// (SignOnly), "sign-include" (SignAndIncludeInEncryptionContext, only for
// ddbenc.DBESDKFormat tables) or "none" (DoNothing). Values are exact:
// lower case, no spaces, no options.
func ParseTag(v string) (Action, error) {
	switch v {
	case "encrypt":
		return EncryptAndSign, nil
	case "sign":
		return SignOnly, nil
	case "sign-include":
		return SignAndIncludeInEncryptionContext, nil
	case "none":
		return DoNothing, nil
	}
	return 0, fmt.Errorf("%w %q (want encrypt, sign, sign-include or none)", ErrUnknownTag, v)
}

// FromStruct derives a Map from the ddbenc tags of v's struct type; v is a
// struct or a pointer to one (a nil pointer is fine: only the type is read).
// See [For].
func FromStruct(v any, optFns ...func(*StructOptions)) (Map, error) {
	return fromType(reflect.TypeOf(v), optFns)
}

// For derives a Map from the ddbenc tags of struct type T (or of the struct
// T points to), beside the dynamodbav tags attributevalue marshals it with:
//
//	type Customer struct {
//		ID    string `dynamodbav:"customer_id" ddbenc:"sign"`
//		Email string `dynamodbav:"email"`                // the default: EncryptAndSign
//		TTL   int64  `dynamodbav:"ttl" ddbenc:"none"`
//	}
//
// Tag values are those of [ParseTag]. Attribute names are attributevalue's:
// the dynamodbav (or StructOptions.TagKey) tag name if there is one, else
// the field name; dynamodbav:"-" and unexported fields are not attributes;
// embedded structs without a tag name are flattened, a shallower field
// hiding a deeper one of the same name as in Go. Two fields with the same
// name at the same depth are refused (attributevalue would drop one or
// both). Every tagged field gets an
// entry in Map.Attributes; untagged fields are left to Map.Default
// (StructOptions.Default, EncryptAndSign when zero). Actions apply to
// top-level attributes: a field of struct type is one attribute (a map),
// encrypted or signed as a whole.
//
// The Map is checked with [Map.Validate]; errors about the struct are
// [*StructError] values naming the type and the field.
func For[T any](optFns ...func(*StructOptions)) (Map, error) {
	return fromType(reflect.TypeFor[T](), optFns)
}

var (
	marshalerType = reflect.TypeFor[attributevalue.Marshaler]()
	timeType      = reflect.TypeFor[time.Time]()
)

// sfield is a candidate attribute: attributevalue's field, plus the action.
type sfield struct {
	name    string // attribute name
	fromTag bool   // name came from a tag
	index   []int
	typ     reflect.Type
	path    string // Go path, for errors
	tagged  bool   // has a ddbenc tag
	action  Action // the tag's action, when tagged
	twin    bool   // a copy standing for a second embedding of the same type
}

type structWalk struct {
	orig reflect.Type
	opts StructOptions
}

func (w *structWalk) fail(err error, f *sfield, format string, args ...any) error {
	e := &StructError{Type: w.orig, Err: err, detail: fmt.Sprintf(format, args...)}
	if f != nil {
		e.Field, e.Attribute = f.path, f.name
	}
	return e
}

func fromType(t reflect.Type, optFns []func(*StructOptions)) (Map, error) {
	var opts StructOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	if opts.Default == 0 {
		opts.Default = EncryptAndSign
	}
	w := &structWalk{orig: t, opts: opts}
	if !opts.Default.Valid() {
		return Map{}, fmt.Errorf("%w: StructOptions.Default %v is not valid", ErrInvalid, opts.Default)
	}
	if t == nil {
		return Map{}, w.fail(ErrNotStruct, nil, "got nil")
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() != reflect.Struct:
		return Map{}, w.fail(ErrNotStruct, nil, "kind %s", t.Kind())
	case t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType):
		return Map{}, w.fail(ErrNotStruct, nil, "it implements attributevalue.Marshaler, so its fields do not name the attributes")
	case t.ConvertibleTo(timeType):
		return Map{}, w.fail(ErrNotStruct, nil, "attributevalue marshals it as a time")
	}
	fields, err := w.enumFields(t)
	if err != nil {
		return Map{}, err
	}
	visible, err := w.visibleFields(fields)
	if err != nil {
		return Map{}, err
	}
	m := Map{Default: opts.Default}
	for _, f := range visible {
		act := opts.Default
		if f.tagged {
			act = f.action
			if m.Attributes == nil {
				m.Attributes = map[string]Action{}
			}
			m.Attributes[f.name] = act
		}
		if act != EncryptAndSign {
			if p := nestedTag(f.path, f.typ, map[reflect.Type]bool{}); p != "" {
				return Map{}, w.fail(ErrIgnoredField, &f, "%s has a ddbenc tag, but actions apply to whole top-level attributes and this one is %v, not encrypt_and_sign", p, act)
			}
		}
	}
	if err := m.Validate(); err != nil {
		return Map{}, err
	}
	return m, nil
}

// names returns the attribute name and whether it is ignored, as
// attributevalue's tag.parseAVTag and parseStructTag do: the dynamodbav tag,
// replaced by a non-empty custom TagKey tag.
func (w *structWalk) names(sf reflect.StructField) (name string, ignore bool) {
	parse := func(s string) {
		name, _, _ = strings.Cut(s, ",")
		ignore = name == "-"
		if ignore {
			name = ""
		}
	}
	if s := sf.Tag.Get(avTag); s != "" {
		parse(s)
	}
	if k := w.opts.TagKey; k != "" && k != avTag {
		if s := sf.Tag.Get(k); s != "" {
			parse(s)
		}
	}
	return name, ignore
}

// enumFields follows attributevalue's own field enumeration (which follows
// encoding/json's): a breadth-first walk of the struct and its embedded
// structs, each struct type visited once.
func (w *structWalk) enumFields(t reflect.Type) ([]sfield, error) {
	var current []sfield
	next := []sfield{{typ: t}}
	count := map[reflect.Type]int{}
	nextCount := map[reflect.Type]int{}
	visited := map[reflect.Type]bool{}
	var fields []sfield

	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}

		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true

			for i := 0; i < f.typ.NumField(); i++ {
				sf := f.typ.Field(i)
				sff := sfield{name: sf.Name, path: sf.Name, typ: sf.Type}
				if f.path != "" {
					sff.path = f.path + "." + sf.Name
				}
				tagValue, tagged := sf.Tag.Lookup(StructTag)
				if sf.PkgPath != "" && !sf.Anonymous {
					if tagged {
						sff.name = ""
						return nil, w.fail(ErrIgnoredField, &sff, "unexported fields are not marshalled")
					}
					continue
				}
				name, ignore := w.names(sf)
				if ignore {
					if tagged {
						sff.name = ""
						return nil, w.fail(ErrIgnoredField, &sff, "its %s tag is \"-\"", w.tagKeyOf(sf))
					}
					continue
				}
				if name != "" {
					sff.name, sff.fromTag = name, true
				}
				if tagged {
					a, err := ParseTag(tagValue)
					if err != nil {
						return nil, w.fail(ErrUnknownTag, &sff, "%q (want encrypt, sign, sign-include or none)", tagValue)
					}
					sff.tagged, sff.action = true, a
				}

				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				sff.typ = ft
				sff.index = append(slices.Clone(f.index), i)

				if !sf.Anonymous || name != "" || ft.Kind() != reflect.Struct {
					fields = append(fields, sff)
					if count[f.typ] > 1 {
						// As attributevalue: a second copy, so that the
						// same-depth conflict below sees a duplicate.
						twin := sff
						twin.twin = true
						fields = append(fields, twin)
					}
					continue
				}
				if tagged {
					sff.name = ""
					return nil, w.fail(ErrIgnoredField, &sff, "an embedded struct without a tag name is flattened; tag its fields")
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, sff)
				}
			}
		}
	}
	return fields, nil
}

// tagKeyOf names the tag that made sf ignored, for errors.
func (w *structWalk) tagKeyOf(sf reflect.StructField) string {
	if k := w.opts.TagKey; k != "" && k != avTag && sf.Tag.Get(k) != "" {
		return k
	}
	return avTag
}

// visibleFields is attributevalue's visibleFields and dominantField: for
// each name the shallowest field wins. Two fields at the shallowest depth
// are an ErrDuplicateAttribute: attributevalue would marshal neither, or
// only the one whose name comes from a tag, silently dropping the other. A
// hidden field whose ddbenc tag disagrees with the winner's action is an
// ErrDuplicateAttribute too.
func (w *structWalk) visibleFields(fields []sfield) ([]sfield, error) {
	slices.SortStableFunc(fields, func(a, b sfield) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := len(a.index) - len(b.index); c != 0 {
			return c
		}
		if a.fromTag != b.fromTag {
			if a.fromTag {
				return -1
			}
			return 1
		}
		return slices.Compare(a.index, b.index)
	})
	var out []sfield
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		group := fields[i:j]
		i = j
		if len(group) == 1 {
			out = append(out, group[0])
			continue
		}
		depth := len(group[0].index)
		top := 0
		for top < len(group) && len(group[top].index) == depth {
			top++
		}
		if top > 1 {
			a, b := group[0], group[1]
			if b.twin {
				return nil, w.fail(ErrDuplicateAttribute, &a, "its struct is embedded twice at the same depth, so attributevalue marshals neither copy")
			}
			return nil, w.fail(ErrDuplicateAttribute, &a, "field %s has the same attribute name at the same depth", b.path)
		}
		win := 0
		winner := group[win]
		act := winner.action
		if !winner.tagged {
			act = w.opts.Default
		}
		for k, f := range group {
			if k != win && f.tagged && f.action != act {
				return nil, w.fail(ErrDuplicateAttribute, &f, "it is hidden by field %s, whose action is %v, not %v", winner.path, act, f.action)
			}
		}
		out = append(out, winner)
	}
	slices.SortFunc(out, func(a, b sfield) int { return slices.Compare(a.index, b.index) })
	return out, nil
}

// nestedTag returns the Go path (from path) of a ddbenc-tagged field inside
// the values of type t (through pointers, slices, arrays and maps), or "".
func nestedTag(path string, t reflect.Type, seen map[reflect.Type]bool) string {
	for {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
			continue
		}
		break
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return ""
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		p := path + "." + sf.Name
		if _, ok := sf.Tag.Lookup(StructTag); ok {
			return p
		}
		if p := nestedTag(p, sf.Type, seen); p != "" {
			return p
		}
	}
	return ""
}
