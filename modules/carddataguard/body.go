package carddataguard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/paygate/paygate/internal/cardscan"
)

// initialBuffer is the capacity a body of unknown length is first read into.
const initialBuffer = 4 << 10

// scanBody reads the request body, up to MaxBody bytes, scanning it as it
// arrives, and puts the bytes read back as the body for the next handler.
// A request that announces trailers has its body read even when it is
// empty: the trailers come after it. It returns the error that refuses the
// request, or nil.
func (h *Handler) scanBody(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 && len(r.Trailer) == 0 {
		return nil
	}
	for _, ce := range r.Header.Values("Content-Encoding") {
		for _, coding := range strings.Split(ce, ",") {
			if c := strings.TrimSpace(coding); c != "" && !strings.EqualFold(c, "identity") {
				e := errEncodedBody.WithCause(fmt.Errorf("request body with Content-Encoding %q cannot be scanned for card numbers", c))
				return caddyhttp.Error(e.Status, e)
			}
		}
	}
	if r.ContentLength > h.MaxBody {
		return tooLarge(fmt.Errorf("announced length %d exceeds card_data_guard's max_body of %d bytes", r.ContentLength, h.MaxBody))
	}
	body, found, err := readScanned(r.Body, h.MaxBody, r.ContentLength)
	switch {
	case found:
		return h.refuse(r, locBody, "the request body")
	case errors.Is(err, errLimit):
		return tooLarge(fmt.Errorf("request body exceeds card_data_guard's max_body of %d bytes", h.MaxBody))
	case err != nil:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(fmt.Errorf("reading the request body: %w", err))
		}
		return caddyhttp.Error(http.StatusBadRequest, fmt.Errorf("card_data_guard: reading the request body: %w", err))
	}
	r.Body = readCloser{Reader: bytes.NewReader(body), Closer: r.Body}
	return nil
}

func tooLarge(cause error) error {
	e := errBodyTooLarge.WithCause(cause)
	return caddyhttp.Error(e.Status, e)
}

// errLimit reports a body longer than the limit.
var errLimit = errors.New("body exceeds the limit")

// readScanned reads body to its end, scanning it for card numbers as it
// arrives, and returns what it read. It stops at the first card number
// (found), and at limit bytes (errLimit). size, when positive, is the
// body's announced length.
func readScanned(body io.Reader, limit, size int64) ([]byte, bool, error) {
	// One byte more than announced, or than the limit, so that the end (or
	// the excess) shows without growing the buffer.
	capacity := int64(initialBuffer)
	if size > 0 {
		capacity = size + 1
	}
	buf := make([]byte, 0, min(capacity, limit+1))
	var sc cardscan.Scanner
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf)), limit+1-int64(len(buf)))))
		}
		n, err := body.Read(buf[len(buf):min(cap(buf), int(limit)+1)])
		_, _ = sc.Write(buf[len(buf) : len(buf)+n])
		buf = buf[:len(buf)+n]
		switch {
		case sc.Found():
			return nil, true, nil
		case int64(len(buf)) > limit:
			return nil, false, errLimit
		case err == io.EOF:
			_ = sc.Close()
			return buf, sc.Found(), nil
		case err != nil:
			return nil, false, err
		}
	}
}

// readCloser is the body handed on: the bytes read, and the original body's
// Close.
type readCloser struct {
	io.Reader
	io.Closer
}
