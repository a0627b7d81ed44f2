package keyfile

import (
	"crypto/rsa"
	"fmt"

	"github.com/ddbec/ddbec-go/ddbenc"
	"github.com/ddbec/ddbec-go/provider"
	"github.com/ddbec/ddbec-go/signing"
)

// hmac returns the HMAC signer-verifier of a symmetric key, or nil for an
// asymmetric one.
func (k *Key) hmac() (*signing.HMAC, error) {
	if !k.IsSymmetric() {
		return nil, nil
	}
	alg, mat, err := k.MAC()
	if err != nil {
		return nil, err
	}
	return signing.NewHMAC(alg, mat)
}

// Signer returns a signer for an HMAC key or an RSA private key.
func (ks Keys) Signer(name string) (signing.Signer, error) {
	k, err := ks.Get(name)
	if err != nil {
		return nil, err
	}
	if h, err := k.hmac(); err != nil {
		return nil, err
	} else if h != nil {
		return h, nil
	}
	priv, err := k.RSAPrivate()
	if err != nil {
		return nil, fmt.Errorf("%w: key %q is neither an HMAC key nor an RSA private key", ErrKey, name)
	}
	return signing.NewRSASigner(priv, k.SignatureAlgorithm())
}

// Verifier returns a verifier for an HMAC key or an RSA public (or private)
// key.
func (ks Keys) Verifier(name string) (signing.Verifier, error) {
	k, err := ks.Get(name)
	if err != nil {
		return nil, err
	}
	if h, err := k.hmac(); err != nil {
		return nil, err
	} else if h != nil {
		return h, nil
	}
	pub, err := k.RSAPublic()
	if err != nil {
		return nil, fmt.Errorf("%w: key %q is neither an HMAC key nor an RSA key", ErrKey, name)
	}
	return signing.NewRSAVerifier(pub)
}

// WrappingKey returns a wrapping key from an AES key-encryption key or an RSA
// key: wrap names the key that wraps (AES or RSA public/private), unwrap the
// key that unwraps (AES or RSA private). Either may be empty, not both; for
// AES they must be the same key.
func (ks Keys) WrappingKey(wrap, unwrap string) (*provider.WrappingKey, error) {
	var w, u *Key
	var err error
	if wrap != "" {
		if w, err = ks.Get(wrap); err != nil {
			return nil, err
		}
	}
	if unwrap != "" {
		if u, err = ks.Get(unwrap); err != nil {
			return nil, err
		}
	}
	switch {
	case w == nil && u == nil:
		return nil, fmt.Errorf("%w: a wrapping or unwrapping key is required", ErrKey)
	case (w == nil || w.IsAES()) && (u == nil || u.IsAES()):
		if w != nil && u != nil && w.Name != u.Name {
			return nil, fmt.Errorf("%w: AES wrapping key %q and unwrapping key %q must be the same key", ErrKey, w.Name, u.Name)
		}
		k := w
		if k == nil {
			k = u
		}
		kek, err := k.AES()
		if err != nil {
			return nil, err
		}
		return provider.AESWrappingKey(kek)
	}
	var pub *rsa.PublicKey
	var priv *rsa.PrivateKey
	if w != nil {
		if pub, err = w.RSAPublic(); err != nil {
			return nil, fmt.Errorf("%w: wrapping key %q must be an AES key or an RSA key", ErrKey, w.Name)
		}
	}
	if u != nil {
		if priv, err = u.RSAPrivate(); err != nil {
			return nil, fmt.Errorf("%w: unwrapping key %q must be an AES key or an RSA private key", ErrKey, u.Name)
		}
	}
	return provider.RSAWrappingKey(pub, priv)
}

// Static returns a static provider whose content key is the AES key named
// key, signing with signer and verifying with verifier (either may be nil).
func (ks Keys) Static(key string, signer signing.Signer, verifier signing.Verifier) (*provider.Static, error) {
	k, err := ks.Get(key)
	if err != nil {
		return nil, err
	}
	aes, err := k.AES()
	if err != nil {
		return nil, err
	}
	return provider.NewStatic(aes, signer, verifier)
}

// Wrapped returns a wrapped provider over the wrapping key
// WrappingKey(wrap, unwrap), signing with signer and verifying with verifier
// (either may be nil).
func (ks Keys) Wrapped(wrap, unwrap string, signer signing.Signer, verifier signing.Verifier) (*provider.Wrapped, error) {
	wk, err := ks.WrappingKey(wrap, unwrap)
	if err != nil {
		return nil, err
	}
	return provider.NewWrapped(wk, signer, verifier)
}

// ScenarioProvider returns the provider a vector scenario names: kind is its
// "provider" ("static" or "wrapped") and roles its "keys", mapping "encrypt",
// "decrypt", "sign" and "verify" to key names. The verifier is the "verify"
// key, the signer the "sign" key or else the "verify" key (a symmetric one);
// a static provider's content key is the "decrypt" key, a wrapped provider
// wraps with "encrypt" and unwraps with "decrypt".
func (ks Keys) ScenarioProvider(kind string, roles map[string]string) (ddbenc.MaterialsProvider, error) {
	verifier, err := ks.Verifier(roles["verify"])
	if err != nil {
		return nil, err
	}
	sign := roles["sign"]
	if sign == "" {
		sign = roles["verify"]
	}
	signer, err := ks.Signer(sign)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "static":
		p, err := ks.Static(roles["decrypt"], signer, verifier)
		if err != nil {
			return nil, err
		}
		return p, nil
	case "wrapped":
		p, err := ks.Wrapped(roles["encrypt"], roles["decrypt"], signer, verifier)
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, fmt.Errorf("%w: scenario provider %q is neither static nor wrapped", ErrKey, kind)
}
