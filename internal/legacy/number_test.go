package legacy

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	// The table of docs/legacy-format.md §1.3, plus zero forms and edge cases.
	cases := map[string]string{
		"55":                             "55",
		"55.00":                          "55",
		"55.34000":                       "55.34",
		"1E+2":                           "100",
		"1.50E3":                         "1500",
		"1e-5":                           "0.00001",
		"00100":                          "100",
		"+5":                             "5",
		"-1.000":                         "-1",
		".5":                             "0.5",
		"5.":                             "5",
		"1230":                           "1230",
		"12.3e-4":                        "0.00123",
		"123456789012345678901234567890": "123456789012345678901234567890",
		"0":                              "0",
		"0.000":                          "0",
		"-0.0":                           "0",
		"-0":                             "0",
		"0E+5":                           "0",
		"-12.5E1":                        "-125",
		"1E-130":                         "0." + strings.Repeat("0", 129) + "1",
		"9.9999999999999999999999999999999999999E+125": "99999999999999999999999999999999999999" + strings.Repeat("0", 88),
		"1" + strings.Repeat("0", 600):                 "1" + strings.Repeat("0", 600),
		"1e512":                                        "1" + strings.Repeat("0", 512),
	}
	for in, want := range cases {
		got, err := CanonicalNumber(in)
		if err != nil || got != want {
			t.Errorf("CanonicalNumber(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestCanonicalInvalid(t *testing.T) {
	for _, in := range []string{"", "-", "+", ".", "e5", "1e", "1e+", "1.2.3", "abc", "1 ", " 1", "1e5.5", "0x10", "1e99999", "1e-99999", "--1", "1e--1", "NaN", "Infinity"} {
		got, err := CanonicalNumber(in)
		if !errors.Is(err, errInvalidNumber) {
			t.Errorf("CanonicalNumber(%q) = %q, %v; want errInvalidNumber", in, got, err)
		}
		if err != nil && in != "" && strings.Contains(err.Error(), in) {
			t.Errorf("CanonicalNumber(%q) error %q contains the input", in, err)
		}
	}
}

func TestPython(t *testing.T) {
	cases := map[string]string{
		"55.00":                           "55",
		"-0":                              "-0",
		"-0.000":                          "-0",
		"0":                               "0",
		"1234567890123456789012345678901": "1234567890123456789012345679000",
		"9999999999999999999999999999.9":  "10000000000000000000000000000",
		// Exactly half: round to even.
		"12345678901234567890123456785": "12345678901234567890123456780",
		"12345678901234567890123456775": "12345678901234567890123456780",
		// Above half because of a later digit.
		"1234567890123456789012345678501": "1234567890123456789012345679000",
		"0.12345678901234567890123456789": "0.1234567890123456789012345679",
	}
	for in, want := range cases {
		got, err := pythonNumber(in)
		if err != nil || got != want {
			t.Errorf("pythonNumber(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestPythonExact(t *testing.T) {
	for in, want := range map[string]string{"55.00": "55", "1234567890123456789012345678": "1234567890123456789012345678", "0": "0"} {
		if got, err := pythonExactNumber(in); err != nil || got != want {
			t.Errorf("pythonExactNumber(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"-0", "-0.00", "12345678901234567890123456789", "1.2345678901234567890123456789"} {
		if _, err := pythonExactNumber(in); !errors.Is(err, errInexactNumber) {
			t.Errorf("pythonExactNumber(%q) = %v, want errInexactNumber", in, err)
		}
	}
	if _, err := pythonExactNumber("x"); !errors.Is(err, errInvalidNumber) {
		t.Errorf("pythonExactNumber(x) = %v, want errInvalidNumber", err)
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"55.00", "1E+2", "-0.0", ".5", "12.3e-4", "1e999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := CanonicalNumber(s)
		if err != nil {
			return
		}
		// Canonical output is a fixed point.
		c2, err := CanonicalNumber(c)
		if err != nil || c2 != c {
			t.Fatalf("Canonical not idempotent: %q -> %q -> %q, %v", s, c, c2, err)
		}
		if _, err := pythonNumber(s); err != nil {
			t.Fatalf("Python rejects what Canonical accepts: %q", s)
		}
	})
}
