package idempotency

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// A sealed record is "<key ID>.<nonce and AES-256-GCM ciphertext>": the key
// ID names the key that sealed it, so that records sealed with a key being
// rolled out stay readable; the record's store key is the associated data,
// so that a record copied under another store key does not open.
const keyIDLen = 8

// sealer seals with its first key and opens with any of them.
type sealer struct {
	current string
	aeads   map[string]cipher.AEAD
}

// newSealer takes base64-encoded 32-byte keys, the first one current.
func newSealer(keys []string) (*sealer, error) {
	s := &sealer{aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, k := range keys {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k))
		if err != nil || len(raw) != 32 {
			// Never the value: it is a secret, or close to one.
			return nil, fmt.Errorf("seal key %d is not 32 bytes in standard base64 (openssl rand -base64 32)", i+1)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("seal key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal key %d: %w", i+1, err)
		}
		sum := sha256.Sum256(raw)
		id := hex.EncodeToString(sum[:keyIDLen/2])
		if _, dup := s.aeads[id]; dup {
			return nil, fmt.Errorf("seal key %d is given twice", i+1)
		}
		s.aeads[id] = aead
		if i == 0 {
			s.current = id
		}
	}
	if s.current == "" {
		return nil, errors.New("at least one seal key is required")
	}
	return s, nil
}

// seal encrypts plain for the store key.
func (s *sealer) seal(storeKey string, plain []byte) []byte {
	aead := s.aeads[s.current]
	out := make([]byte, 0, keyIDLen+1+aead.NonceSize()+len(plain)+aead.Overhead())
	out = append(out, s.current...)
	out = append(out, '.')
	nonce := make([]byte, aead.NonceSize())
	// crypto/rand.Read never fails (it panics on a broken system).
	_, _ = rand.Read(nonce)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plain, []byte(storeKey))
}

// errUnsealable: a record that no configured key opens (its key was
// removed, or it was tampered with or moved).
var errUnsealable = errors.New("idempotency record cannot be opened with the configured seal keys")

// open decrypts a sealed record of the store key.
func (s *sealer) open(storeKey string, sealed []byte) ([]byte, error) {
	id, rest, ok := bytes.Cut(sealed, []byte{'.'})
	if !ok {
		return nil, errUnsealable
	}
	aead := s.aeads[string(id)]
	if aead == nil || len(rest) < aead.NonceSize() {
		return nil, errUnsealable
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], []byte(storeKey))
	if err != nil {
		return nil, errUnsealable
	}
	return plain, nil
}
