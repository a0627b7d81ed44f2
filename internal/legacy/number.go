package legacy

import (
	"errors"
	"strconv"
	"strings"
)

// errInvalidNumber reports a string that is not a decimal number. Its message never
// contains the input.
var errInvalidNumber = errors.New("invalid number")

// maxExponent bounds an explicit exponent so that a hostile input such as
// "1e999999999" cannot make the plain rendering huge. DynamoDB's range is
// 1E-130 to 9.99E+125 with 38 significant digits, far inside this bound.
const maxExponent = 512

// pythonPrecision is the default precision of Python's decimal context, which
// the legacy Python client uses when it normalizes numbers for signing.
const pythonPrecision = 28

// decimal is sign × digits × 10^exp, digits without leading or trailing zeros.
// A zero value has empty digits.
type decimal struct {
	neg    bool
	digits string
	exp    int
}

func parse(s string) (decimal, error) {
	var d decimal
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		d.neg = s[i] == '-'
		i++
	}
	var intPart, fracPart string
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart = s[start:i]
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		fracPart = s[start:i]
	}
	if intPart == "" && fracPart == "" {
		return d, errInvalidNumber
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		es := s[i:]
		if es == "" {
			return d, errInvalidNumber
		}
		for j := 0; j < len(es); j++ {
			c := es[j]
			if !(c >= '0' && c <= '9') && !(j == 0 && (c == '+' || c == '-')) {
				return d, errInvalidNumber
			}
		}
		e, err := strconv.Atoi(es)
		if err != nil || e > maxExponent || e < -maxExponent {
			return d, errInvalidNumber
		}
		exp = e
		i = len(s)
	}
	if i != len(s) {
		return d, errInvalidNumber
	}
	all := intPart + fracPart
	exp -= len(fracPart)
	all = strings.TrimLeft(all, "0")
	trimmed := strings.TrimRight(all, "0")
	exp += len(all) - len(trimmed)
	d.digits = trimmed
	d.exp = exp
	if d.digits == "" {
		d.exp = 0
	}
	// The rendering is at most len(s)+maxExponent+3 bytes: only the explicit
	// exponent, bounded above, can make it longer than the input.
	return d, nil
}

func (d decimal) plain() string {
	if d.digits == "" {
		if d.neg {
			return "-0"
		}
		return "0"
	}
	var b strings.Builder
	b.Grow(len(d.digits) + 3 + abs(d.exp))
	if d.neg {
		b.WriteByte('-')
	}
	switch p := len(d.digits) + d.exp; {
	case d.exp >= 0:
		b.WriteString(d.digits)
		for range d.exp {
			b.WriteByte('0')
		}
	case p > 0:
		b.WriteString(d.digits[:p])
		b.WriteByte('.')
		b.WriteString(d.digits[p:])
	default:
		b.WriteString("0.")
		for range -p {
			b.WriteByte('0')
		}
		b.WriteString(d.digits)
	}
	return b.String()
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// CanonicalNumber returns the canonical plain form of a DynamoDB number string
// (docs/legacy-format.md §1.3, Java's trimZeros): no exponent, no trailing fractional zeros, no
// leading zeros, every zero as "0".
func CanonicalNumber(s string) (string, error) {
	if isSimpleCanonical(s) {
		return s, nil
	}
	d, err := parse(s)
	if err != nil {
		return "", err
	}
	if d.digits == "" {
		return "0", nil
	}
	return d.plain(), nil
}

// isSimpleCanonical reports whether s is an integer already in canonical form,
// the common case, so that it needs no parsing or allocation.
func isSimpleCanonical(s string) bool {
	i := 0
	if len(s) > 0 && s[0] == '-' {
		i = 1
	}
	if i == len(s) || s[i] == '0' {
		return s == "0"
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// pythonNumber returns the form the legacy Python client hashes when it signs a
// number (docs/legacy-format.md §8.2, "profile P"): the canonical form, except that a negative
// zero stays "-0" and a value with more than 28 significant digits is first
// rounded half-to-even to 28 digits.
func pythonNumber(s string) (string, error) {
	d, err := parse(s)
	if err != nil {
		return "", err
	}
	if len(d.digits) > pythonPrecision {
		d = roundHalfEven(d, pythonPrecision)
	}
	return d.plain(), nil
}

// errInexactNumber reports a number that the Python rule would not hash exactly:
// negative zero, or more than 28 significant digits.
var errInexactNumber = errors.New("number has more than 28 significant digits or is negative zero, which the Python client's signature does not cover exactly")

// pythonExactNumber is pythonNumber, but fails with errInexactNumber where the Python rule
// loses information: a writer uses it so that a signature never covers less
// than the stored value.
func pythonExactNumber(s string) (string, error) {
	d, err := parse(s)
	if err != nil {
		return "", err
	}
	if len(d.digits) > pythonPrecision || (d.neg && d.digits == "") {
		return "", errInexactNumber
	}
	return d.plain(), nil
}

func roundHalfEven(d decimal, prec int) decimal {
	drop := len(d.digits) - prec
	keep := []byte(d.digits[:prec])
	first := d.digits[prec]
	rest := strings.TrimRight(d.digits[prec+1:], "0")
	up := first > '5' || (first == '5' && (rest != "" || (keep[prec-1]-'0')%2 == 1))
	exp := d.exp + drop
	if up {
		i := len(keep) - 1
		for i >= 0 && keep[i] == '9' {
			keep[i] = '0'
			i--
		}
		if i >= 0 {
			keep[i]++
		} else {
			keep = append([]byte{'1'}, keep...)
		}
	}
	digits := strings.TrimRight(string(keep), "0")
	exp += len(keep) - len(digits)
	return decimal{neg: d.neg, digits: digits, exp: exp}
}
