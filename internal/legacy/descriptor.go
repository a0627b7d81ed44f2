package legacy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ddbec/ddbec-go/signing"
)

// Algorithm descriptors of the material description: "ALG[/BITS]", as in
// amzn-ddb-env-alg ("AES/256", docs/legacy-format.md §6.3) and
// amzn-ddb-sig-alg ("HmacSHA256/256", docs/legacy-format.md §6.5).

// parseDescriptor splits "ALG[/BITS]"; missing bits give def.
func parseDescriptor(d string, def int) (string, int, error) {
	alg, bits, ok := strings.Cut(d, "/")
	if !ok {
		return alg, def, nil
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n <= 0 || n > 4096 {
		return "", 0, errors.New("invalid algorithm descriptor")
	}
	return alg, n, nil
}

// ContentKeyBits validates a content key descriptor ("AES/256"; bits default
// to 256) and returns its key size in bits.
func ContentKeyBits(desc string) (int, error) {
	alg, bits, err := parseDescriptor(desc, 256)
	if err != nil || alg != "AES" || !validAESBits(bits) {
		return 0, fmt.Errorf("unsupported content key algorithm %q", desc)
	}
	return bits, nil
}

// MACKeySpec validates a MAC descriptor ("HmacSHA256/256") and returns the
// HMAC algorithm name and the key size in bits.
func MACKeySpec(desc string) (string, int, error) {
	alg, bits, err := parseDescriptor(desc, 256)
	if err != nil || bits%8 != 0 || bits < 128 || bits > 1024 {
		return "", 0, fmt.Errorf("unsupported signing algorithm %q", desc)
	}
	if _, err := signing.NewHMAC(alg, make([]byte, 1)); err != nil {
		return "", 0, fmt.Errorf("unsupported signing algorithm %q", desc)
	}
	return alg, bits, nil
}

// ValidAESKey reports whether k is an AES-128, -192 or -256 key.
func ValidAESKey(k []byte) bool { return validAESBits(8 * len(k)) }

func validAESBits(bits int) bool { return bits == 128 || bits == 192 || bits == 256 }
