package jwtauth

import (
	"net/http"
	"net/textproto"
	"strings"
)

// stripCookie removes the cookie named name from every Cookie header of h,
// keeping the others as they were sent; a header left empty goes.
func stripCookie(h http.Header, name string) {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	kept := lines[:0:0]
	for _, line := range lines {
		var parts []string
		for _, part := range strings.Split(line, ";") {
			// Trimmed as net/http trims it, so that what is kept reads
			// the same to the upstream as it did to us.
			part = textproto.TrimString(part)
			if n, _, _ := strings.Cut(part, "="); part != "" && textproto.TrimString(n) != name {
				parts = append(parts, part)
			}
		}
		if len(parts) > 0 {
			kept = append(kept, strings.Join(parts, "; "))
		}
	}
	if len(kept) == 0 {
		h.Del("Cookie")
		return
	}
	h["Cookie"] = kept
}
