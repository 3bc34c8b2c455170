package claimname

import "testing"

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"email", true},
		{"payment_intent", true},
		{"org_id2", true},
		{"", false},
		{"id", false},
		{"Email", false},
		{"2fa", false},
		{"_x", false},
		{"a-b", false},
		{"a.b", false},
		{"ä", false},
		{string(make([]byte, 65)), false},
	}
	for _, tt := range tests {
		if got := Valid(tt.name); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range []string{"email", "id", "A", "a_b", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !Valid(s) {
			return
		}
		if s == Reserved || len(s) > maxLen {
			t.Fatalf("Valid(%q) accepted a reserved or long name", s)
		}
		for _, c := range []byte(s) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
				t.Fatalf("Valid(%q) accepted byte %q", s, c)
			}
		}
	})
}
