package jwtverify

import (
	"context"
	"time"
)

// keyring is an immutable set of keys; a source swaps in a new one.
type keyring struct {
	keys         []*Key
	fingerprints map[string]bool
}

func newKeyring(keys []*Key) *keyring {
	r := &keyring{keys: keys, fingerprints: make(map[string]bool, len(keys))}
	for _, k := range keys {
		r.fingerprints[k.fingerprint] = true
	}
	return r
}

// Source is where a Verifier's keys come from: a fixed set (Static) or a
// JWKS URL (Remote).
type Source interface {
	// keyring returns the keys to use at now, or an error when none can be
	// trusted, in which case tokens are refused (fail closed).
	keyring(now time.Time) (*keyring, error)
	// refresh asks for the keys again because a token named a key that is
	// not there. It returns when that fetch (or one already running) is
	// done, or at once when the source is fixed or its rate limit says no.
	refresh(ctx context.Context)
}

// Static is a fixed set of keys: key files and the HMAC secret.
type Static struct {
	ring *keyring
}

// NewStatic returns a source holding keys.
func NewStatic(keys ...*Key) *Static {
	return &Static{ring: newKeyring(keys)}
}

func (s *Static) keyring(time.Time) (*keyring, error) { return s.ring, nil }

func (s *Static) refresh(context.Context) {}
