package actions

import "reflect"

// AttributeNames returns the attribute names FromStruct assigns to the
// fields of v's struct type, tagged or not, sorted by field index.
func AttributeNames(v any, tagKey string) ([]string, error) {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	w := &structWalk{orig: t, opts: StructOptions{Default: EncryptAndSign, TagKey: tagKey}}
	fields, err := w.enumFields(t)
	if err != nil {
		return nil, err
	}
	visible, err := w.visibleFields(fields)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(visible))
	for i, f := range visible {
		names[i] = f.name
	}
	return names, nil
}
