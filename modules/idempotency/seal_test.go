package idempotency

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// newSealKey returns a fresh seal key as it is configured: 32 random
// bytes in standard base64.
func newSealKey(t testing.TB) string {
	t.Helper()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

// mustSealer is newSealer that fails the test on an error.
func mustSealer(t *testing.T, keys ...string) *sealer {
	t.Helper()
	s, err := newSealer(keys)
	if err != nil {
		t.Fatalf("newSealer: %v", err)
	}
	return s
}

const (
	sealedUnder = "{0a1b}:idem"
	sealedText  = `{"fp":"abc","status":200,"body":"eyJjbGllbnRfc2VjcmV0IjoicGlfMV9zZWNyZXRfMiJ9"}`
)

func TestSealRoundTrip(t *testing.T) {
	s := mustSealer(t, newSealKey(t))
	sealed := s.seal(sealedUnder, []byte(sealedText))
	if bytes.Contains(sealed, []byte(sealedText)) || bytes.Contains(sealed, []byte("client_secret")) {
		t.Fatalf("the sealed record holds its plaintext: %q", sealed)
	}
	if id, _, _ := bytes.Cut(sealed, []byte{'.'}); string(id) != s.current || len(id) != keyIDLen {
		t.Errorf("sealed record starts with key ID %q, want %q (%d characters)", id, s.current, keyIDLen)
	}
	got, err := s.open(sealedUnder, sealed)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if string(got) != sealedText {
		t.Errorf("open = %q, want %q", got, sealedText)
	}
	if again := s.seal(sealedUnder, []byte(sealedText)); bytes.Equal(again, sealed) {
		t.Error("two seals of one record are identical: the nonce is not fresh")
	}
}

func TestSealRotation(t *testing.T) {
	oldKey, newKey := newSealKey(t), newSealKey(t)
	before := mustSealer(t, oldKey)
	sealedOld := before.seal(sealedUnder, []byte(sealedText))

	rolling := mustSealer(t, newKey, oldKey)
	if got, err := rolling.open(sealedUnder, sealedOld); err != nil || string(got) != sealedText {
		t.Fatalf("a record sealed with the old key, opened by [new, old]: %q, %v", got, err)
	}
	sealedNew := rolling.seal(sealedUnder, []byte(sealedText))
	oldID, _, _ := bytes.Cut(sealedOld, []byte{'.'})
	newID, _, _ := bytes.Cut(sealedNew, []byte{'.'})
	if bytes.Equal(oldID, newID) || string(newID) != rolling.current {
		t.Errorf("[new, old] seals with key ID %q; old key ID %q, want the new key's %q", newID, oldID, rolling.current)
	}
	if _, err := before.open(sealedUnder, sealedNew); !errors.Is(err, errUnsealable) {
		t.Errorf("a record sealed with the new key opens with the old key alone: %v", err)
	}

	after := mustSealer(t, newKey)
	if got, err := after.open(sealedUnder, sealedNew); err != nil || string(got) != sealedText {
		t.Errorf("the new key alone does not open its own record: %q, %v", got, err)
	}
	if _, err := after.open(sealedUnder, sealedOld); !errors.Is(err, errUnsealable) {
		t.Errorf("a record of a removed key opened: err = %v, want errUnsealable", err)
	}
}

func TestSealBindsStoreKey(t *testing.T) {
	s := mustSealer(t, newSealKey(t))
	sealed := s.seal(sealedUnder, []byte(sealedText))
	if _, err := s.open("{0a1c}:idem", sealed); !errors.Is(err, errUnsealable) {
		t.Errorf("a record moved to another store key opened: err = %v, want errUnsealable", err)
	}
}

func TestSealRefusesAlteredRecords(t *testing.T) {
	s := mustSealer(t, newSealKey(t))
	sealed := s.seal(sealedUnder, []byte(sealedText))
	// Every byte: the key ID, the separator, the nonce, the ciphertext and
	// the tag.
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		if got, err := s.open(sealedUnder, tampered); !errors.Is(err, errUnsealable) {
			t.Errorf("byte %d flipped: open = %q, %v; want errUnsealable", i, got, err)
		}
	}
	for name, bad := range map[string][]byte{
		"empty":        nil,
		"no separator": bytes.ReplaceAll(sealed, []byte{'.'}, []byte{'-'}),
		"key ID only":  sealed[:keyIDLen+1],
		"short nonce":  sealed[:keyIDLen+1+5],
		"truncated":    sealed[:len(sealed)-1],
	} {
		if _, err := s.open(sealedUnder, bad); !errors.Is(err, errUnsealable) {
			t.Errorf("%s: err = %v, want errUnsealable", name, err)
		}
	}
}

func TestSealerRefusesBadKeys(t *testing.T) {
	good := newSealKey(t)
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, n)) }
	tests := []struct {
		name string
		keys []string
		want string
	}{
		{"none", nil, "at least one seal key"},
		{"not base64", []string{"this-is-not*base64!"}, "seal key 1 is not 32 bytes"},
		{"url-safe base64", []string{base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xff}, 16))}, "seal key 1 is not 32 bytes"},
		{"31 bytes", []string{good, b64(31)}, "seal key 2 is not 32 bytes"},
		{"33 bytes", []string{b64(33)}, "seal key 1 is not 32 bytes"},
		{"duplicate", []string{good, newSealKey(t), good + "\n"}, "seal key 3 is given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := newSealer(tt.keys)
			if err == nil {
				t.Fatalf("newSealer accepted %q (current %s)", tt.keys, s.current)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
			for _, k := range tt.keys {
				if k = strings.TrimSpace(k); strings.Contains(err.Error(), k) || (len(k) > 12 && strings.Contains(err.Error(), k[:12])) {
					t.Errorf("err = %q holds key material", err)
				}
			}
		})
	}
}
