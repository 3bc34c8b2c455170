package store

import (
	"slices"
	"testing"
	"testing/quick"
)

func TestKeyExamples(t *testing.T) {
	tests := []struct {
		tag   string
		parts []string
		want  string
	}{
		{"user_1", []string{"rl", "user"}, "{user_1}:rl:user"},
		{"a{b", nil, "{a%7Bb}"},
		{"a%7Bb", nil, "{a%257Bb}"},
		{"x}y", []string{"a:b", "50%"}, "{x%7Dy}:a%3Ab:50%25"},
	}
	for _, tt := range tests {
		if got := Key(tt.tag, tt.parts...); got != tt.want {
			t.Errorf("Key(%q, %q) = %q, want %q", tt.tag, tt.parts, got, tt.want)
		}
	}
}

// TestKeyInjective: two different (tag, parts) lists never give the same
// key, and a key's hash tag is its own tag, whatever bytes the caller chose.
func TestKeyInjective(t *testing.T) {
	alphabet := []string{"a", "{", "}", "%", "7B", "7D", "25", ":", "3A"}
	// Build inputs from an alphabet rich in the characters that matter, so
	// that collisions, if the encoding allowed any, would be found.
	word := func(seed []byte) string {
		var s string
		for _, c := range seed {
			s += alphabet[int(c)%len(alphabet)]
		}
		return s
	}
	distinct := func(t1, t2 []byte, p1, p2 [][]byte) bool {
		tag1, tag2 := word(t1), word(t2)
		var parts1, parts2 []string
		for _, p := range p1 {
			parts1 = append(parts1, word(p))
		}
		for _, p := range p2 {
			parts2 = append(parts2, word(p))
		}
		same := tag1 == tag2 && slices.Equal(parts1, parts2)
		k1, k2 := Key(tag1, parts1...), Key(tag2, parts2...)
		if tag1 != "" && HashTag(k1) != tagEscaper.Replace(tag1) {
			return false
		}
		return (k1 == k2) == same
	}
	if err := quick.Check(distinct, &quick.Config{MaxCount: 20000}); err != nil {
		t.Error(err)
	}
	// The collision the old encoding had, spelled out.
	if Key("a{b", "customer") == Key("a%7Bb", "customer") {
		t.Error(`Key("a{b") and Key("a%7Bb") collide`)
	}
}
