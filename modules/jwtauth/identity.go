package jwtauth

import (
	"net/http"
	"net/textproto"
	"strings"
)

// foldFieldName is the spelling-free form of a header name: lower case, "_"
// as "-". Upstream frameworks that read headers through CGI-style names
// (HTTP_X_USER_ID) see X-User-Id, x-user-id and X_User_Id as one header, so
// every one of those spellings must go before paygate sets its own.
func foldFieldName(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// stripFields removes from h every field whose folded name is in folded.
func stripFields(h http.Header, folded map[string]bool) {
	for name := range h {
		if folded[foldFieldName(name)] {
			delete(h, name)
		}
	}
}

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
