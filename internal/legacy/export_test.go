package legacy

// CompareStrings exposes the orderings' string comparison to the external
// tests.
func CompareStrings(o Ordering, a, b string) int { return o.compareStrings(a, b) }
