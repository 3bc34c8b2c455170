package origin

import "testing"

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://pay.example.test", "https://pay.example.test", true},
		{"HTTPS://Pay.Example.Test:443", "https://pay.example.test", true},
		{"http://pay.example.test:80", "http://pay.example.test", true},
		{"https://pay.example.test:8443", "https://pay.example.test:8443", true},
		{"https://pay.example.test/", "https://pay.example.test", true},
		{"https://[::1]:8443", "https://[::1]:8443", true},
		{"https://[::1]", "https://[::1]", true},
		{"null", "", false},
		{"pay.example.test", "", false},
		{"ftp://pay.example.test", "", false},
		{"https://user@pay.example.test", "", false},
		{"https://pay.example.test/path", "", false},
		{"https://pay.example.test?q", "", false},
		{"https://pay.example.test#f", "", false},
		{"https://", "", false},
		{"%", "", false},
	}
	for _, tt := range tests {
		got, ok := Normalize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzNormalize: a normalised origin normalises to itself.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"https://a.example", "HTTP://A:80", "https://[::1]:1", "null", "https://a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := Normalize(s)
		if !ok {
			return
		}
		if again, ok := Normalize(n); !ok || again != n {
			t.Fatalf("Normalize(%q) = %q, but that normalises to %q, %v", s, n, again, ok)
		}
	})
}
