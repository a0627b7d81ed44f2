package ddbenc

import "testing"

func TestNumberSize(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "7": 2, "12345": 4, "-12.5": 3, "1000": 2, "0.001": 2, "1.50E1": 2, "99999999999999999999999999999999999999": 20} {
		if got := numberSize(in); got != want {
			t.Errorf("numberSize(%q) = %d, want %d", in, got, want)
		}
	}
}
