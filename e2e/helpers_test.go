package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// apiError is paygate's error body.
type apiError struct {
	Error struct {
		Type      string `json:"type"`
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// send makes a request and returns the response with its body read.
func send(t *testing.T, c *http.Client, method, url, body string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, b
}

// wantTokenRefused checks that resp is paygate's 401 for a bad token: the
// challenge names error="invalid_token", and the body is the API's
// "unauthorized" error with the API's headers.
func wantTokenRefused(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401 (body %s)", resp.StatusCode, body)
	}
	if got := resp.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q, want error=\"invalid_token\"", got)
	}
	checkHeaders(t, resp, apiHeaders)
	decodeAPIError(t, resp, body, "unauthorized")
}

// decodeAPIError checks that body is paygate's JSON error with code and the
// response's request ID, and returns it.
func decodeAPIError(t *testing.T, resp *http.Response, body []byte, code string) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("status %d: body is not a JSON error: %v: %q", resp.StatusCode, err, body)
	}
	if e.Error.Code != code {
		t.Errorf("error code = %q, want %q (body %s)", e.Error.Code, code, body)
	}
	if e.Error.Type == "" || e.Error.Message == "" {
		t.Errorf("error type or message empty: %s", body)
	}
	if id := resp.Header.Get("X-Request-Id"); id == "" || e.Error.RequestID != id {
		t.Errorf("request_id = %q, X-Request-Id = %q; want equal and set", e.Error.RequestID, id)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return e
}
