package ddbenc

import "github.com/ddbec/ddbec-go/internal/legacy"

// Ordering selects how a writer sorts string-set elements, binary-set
// elements, map keys and attribute names, and which number rule its
// signatures use (docs/legacy-format.md §8.1, §8.2). The zero value is
// JavaOrdering.
type Ordering uint8

const (
	// JavaOrdering sorts strings by UTF-16 code units and binary set elements
	// as signed bytes, like the legacy Java client. It is the default.
	JavaOrdering Ordering = Ordering(legacy.JavaOrdering)
	// PythonOrdering sorts strings and bytes as unsigned bytes, like the legacy
	// Python client, and uses its number rule in signatures.
	PythonOrdering Ordering = Ordering(legacy.PythonOrdering)
)

// String returns "java" or "python".
func (o Ordering) String() string {
	if o == PythonOrdering {
		return "python"
	}
	return "java"
}

// Other returns the other ordering.
func (o Ordering) Other() Ordering {
	if o == PythonOrdering {
		return JavaOrdering
	}
	return PythonOrdering
}

// valid reports whether o is one of the two orderings.
func (o Ordering) valid() bool { return o == JavaOrdering || o == PythonOrdering }

// legacy returns the wire-format ordering.
func (o Ordering) legacy() legacy.Ordering { return legacy.Ordering(o) }
