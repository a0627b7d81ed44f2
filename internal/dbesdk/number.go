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
	b, err := appendNumber(nil, s)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// appendNumber appends the normalized form of s (NormalizeNumber) to dst.
func appendNumber(dst []byte, s string) ([]byte, error) {
	bad := func(why string) ([]byte, error) {
		return dst, errf(KindInvalidItem, "", "invalid number: %s", why)
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
		return append(dst, '0'), nil
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
	b := dst
	if neg {
		b = append(b, '-')
	}
	switch {
	case exp10 >= 0:
		b = append(b, digits...)
		for range exp10 {
			b = append(b, '0')
		}
	case e > 0:
		b = append(b, digits[:e]...)
		b = append(b, '.')
		b = append(b, digits[e:]...)
	default:
		b = append(b, "0."...)
		for range -e {
			b = append(b, '0')
		}
		b = append(b, digits...)
	}
	return b, nil
}
