package urlpolicy

import (
	"net/url"
	"testing"
)

func TestSecure(t *testing.T) {
	for raw, want := range map[string]bool{
		"https://id.example.com/jwks.json": true,
		"http://127.0.0.1:8080/jwks.json":  true,
		"http://127.9.9.9/b.tar.gz":        true,
		"http://[::1]:8181/b.tar.gz":       true,
		"http://LocalHost/b":               true,
		"http://id.example.com/jwks.json":  false,
		"http://10.0.0.1/b":                false,
		"http://localhost.example.com/b":   false,
		"ftp://127.0.0.1/b":                false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := Secure(u); got != want {
			t.Errorf("Secure(%s) = %v, want %v", raw, got, want)
		}
	}
}
