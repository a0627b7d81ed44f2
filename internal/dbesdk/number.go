package dbesdk

import (
	"strconv"
	"strings"
)

// NormalizeNumber rewrites a DynamoDB number to the form DynamoDB stores
// (docs/dbesdk-format.md §2.6): plain decimal, no exponent, no leading or
// trailing zeros, zero as "0". It enforces DynamoDB's limits: at most 38
// significant digits, magnitude in [1E-130, 1E+126).
func NormalizeNumber(s string) (string, error) {
	bad := func(why string) (string, error) {
		return "", errf(KindInvalidItem, "", "invalid number: %s", why)
	}
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[start:i]
	frac := ""
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		frac = s[fs:i]
	}
	if intPart == "" && frac == "" {
		return bad("no digits")
	}
	exp := int64(0)
	expOverflow := false
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		es := i
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		ds := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if ds == i {
			return bad("no exponent digits")
		}
		v, err := strconv.ParseInt(s[es:i], 10, 64)
		if err != nil || v > 1<<40 || v < -(1<<40) {
			expOverflow = true
		}
		exp = v
	}
	if i != len(s) {
		return bad("unexpected character")
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return "0", nil
	}
	if expOverflow {
		return bad("out of range")
	}
	exp10 := exp - int64(len(frac))
	trimmed := strings.TrimRight(digits, "0")
	exp10 += int64(len(digits) - len(trimmed))
	digits = trimmed
	if len(digits) > 38 {
		return bad("more than 38 significant digits")
	}
	e := int64(len(digits)) + exp10 // value = 0.digits × 10^e
	if e >= 127 || e <= -130 {
		return bad("out of range")
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case exp10 >= 0:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", int(exp10)))
	case e > 0:
		b.WriteString(digits[:e])
		b.WriteByte('.')
		b.WriteString(digits[e:])
	default:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", int(-e)))
		b.WriteString(digits)
	}
	return b.String(), nil
}
