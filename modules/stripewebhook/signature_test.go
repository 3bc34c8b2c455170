package stripewebhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// Signing secrets of the tests: the endpoint's current one and the one it
// is being rolled from.
const (
	secretNew = "whsec_test_new_3f1c9a7e5b2d4c6a8e0f"
	secretOld = "whsec_test_old_9e8d7c6b5a4f3e2d1c0b"
)

// v1Hex is a well-formed v1 value that matches nothing.
var v1Hex = strings.Repeat("ab", 32)

// sign returns a Stripe-Signature header for body at ts with one v1
// signature per secret, as Stripe sends it while a secret is rolled.
func sign(ts time.Time, body []byte, secrets ...string) string {
	header := "t=" + strconv.FormatInt(ts.Unix(), 10)
	for _, s := range secrets {
		header += ",v1=" + hex.EncodeToString(webhook.ComputeSignature(ts, body, s))
	}
	return header
}

// reasonOf returns the reason of a signatureError, or "" for nil and for
// any other error.
func reasonOf(err error) string {
	if se, ok := errors.AsType[*signatureError](err); ok {
		return se.reason
	}
	return ""
}

func TestParseSignature(t *testing.T) {
	v1s := func(n int) string { return strings.Repeat(",v1="+v1Hex, n) }
	// atCap is a valid header padded with an ignored key to exactly the cap.
	atCap := "t=1,v1=" + v1Hex + ",x="
	atCap += strings.Repeat("a", maxSignatureHeader-len(atCap))
	tests := []struct {
		name   string
		values []string
		// wantReason is the refusal's reason; "" means accepted with
		// wantV1 v1 signatures and t=1.
		wantReason string
		wantV1     int
	}{
		{name: "missing", values: nil, wantReason: reasonMissing},
		{name: "empty", values: []string{""}, wantReason: reasonMissing},
		{name: "repeated", values: []string{"t=1" + v1s(1), "t=1" + v1s(1)}, wantReason: reasonRepeated},
		{name: "repeated empty", values: []string{"", ""}, wantReason: reasonRepeated},
		{name: "at the size cap", values: []string{atCap}, wantV1: 1},
		{name: "over the size cap", values: []string{atCap + "a"}, wantReason: reasonTooLong},
		{name: "max v1", values: []string{"t=1" + v1s(maxV1Signatures)}, wantV1: maxV1Signatures},
		{name: "one v1 too many", values: []string{"t=1" + v1s(maxV1Signatures+1)}, wantReason: reasonTooMany},
		// 10,000 entries are far over the size cap, which is checked first.
		{name: "10000 v1", values: []string{"t=1" + v1s(10000)}, wantReason: reasonTooLong},
		{name: "short v1 values within the cap", values: []string{"t=1" + strings.Repeat(",v1=a", 200)}, wantReason: reasonMalformed},
		{name: "too many before a bad one", values: []string{"t=1" + v1s(maxV1Signatures) + ",v1=zz"}, wantReason: reasonTooMany},
		{name: "repeated t", values: []string{"t=1,t=2" + v1s(1)}, wantReason: reasonMalformed},
		{name: "repeated t, same value", values: []string{"t=1" + v1s(1) + ",t=1"}, wantReason: reasonMalformed},
		{name: "t missing", values: []string{"v1=" + v1Hex}, wantReason: reasonMalformed},
		{name: "t empty", values: []string{"t=" + v1s(1)}, wantReason: reasonMalformed},
		{name: "t non-numeric", values: []string{"t=now" + v1s(1)}, wantReason: reasonMalformed},
		{name: "t fractional", values: []string{"t=1.5" + v1s(1)}, wantReason: reasonMalformed},
		{name: "t beyond year 10000", values: []string{"t=9223372036854775807" + v1s(1)}, wantReason: reasonFuture},
		{name: "t with plus sign", values: []string{"t=+5" + v1s(1)}, wantReason: reasonMalformed},
		{name: "t negative", values: []string{"t=-5" + v1s(1)}, wantReason: reasonMalformed},
		{name: "t overflows int64", values: []string{"t=9223372036854775808" + v1s(1)}, wantReason: reasonMalformed},
		{name: "t with space", values: []string{"t= 1" + v1s(1)}, wantReason: reasonMalformed},
		{name: "v0 only", values: []string{"t=1,v0=" + v1Hex}, wantReason: reasonUnsupported},
		{name: "t only", values: []string{"t=1"}, wantReason: reasonUnsupported},
		{name: "non-hex v1", values: []string{"t=1,v1=" + strings.Repeat("zz", 32)}, wantReason: reasonMalformed},
		{name: "odd-length v1", values: []string{"t=1,v1=" + v1Hex[:63]}, wantReason: reasonMalformed},
		{name: "short v1", values: []string{"t=1,v1=" + v1Hex[:62]}, wantReason: reasonMalformed},
		{name: "long v1", values: []string{"t=1,v1=" + v1Hex + "ab"}, wantReason: reasonMalformed},
		{name: "a bad v1 beside a good one", values: []string{"t=1" + v1s(1) + ",v1=" + v1Hex[:62]}, wantReason: reasonMalformed},
		{name: "empty v1", values: []string{"t=1,v1=" + v1s(1)}, wantReason: reasonMalformed},
		{name: "empty pair", values: []string{"t=1,," + "v1=" + v1Hex}, wantReason: reasonMalformed},
		{name: "trailing comma", values: []string{"t=1" + v1s(1) + ","}, wantReason: reasonMalformed},
		{name: "pair without =", values: []string{"t=1" + v1s(1) + ",v1"}, wantReason: reasonMalformed},
		{name: "empty key", values: []string{"t=1" + v1s(1) + ",=x"}, wantReason: reasonMalformed},
		{name: "value with =", values: []string{"t=1,v1=" + v1Hex + "="}, wantReason: reasonMalformed},
		{name: "t with =", values: []string{"t=1=2" + v1s(1)}, wantReason: reasonMalformed},
		{name: "unknown value with =", values: []string{"t=1" + v1s(1) + ",v2=a=b"}, wantReason: reasonMalformed},
		{name: "unknown scheme keys ignored", values: []string{"t=1" + v1s(1) + ",v2=whatever,scheme=x, v1=nothex"}, wantV1: 1},
		{name: "v0 and v1", values: []string{"t=1,v1=" + v1Hex + ",v0=" + strings.Repeat("cd", 32)}, wantV1: 1},
		{name: "two v1", values: []string{"t=1" + v1s(2)}, wantV1: 2},
		{name: "upper-case hex", values: []string{"t=1,v1=" + strings.ToUpper(v1Hex)}, wantV1: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseSignature(tt.values)
			if got := reasonOf(err); got != tt.wantReason || (err == nil) != (tt.wantReason == "") {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tt.wantReason)
			}
			if tt.wantReason != "" {
				if h != (signatureHeader{}) {
					t.Errorf("refused header parsed as %+v, want the zero value", h)
				}
				return
			}
			if h.raw != tt.values[0] || h.v1 != tt.wantV1 || !h.t.Equal(time.Unix(1, 0)) {
				t.Errorf("got raw %q, %d v1, t %v; want the header, %d v1, t 1", h.raw, h.v1, h.t.Unix(), tt.wantV1)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{
  "id": "evt_1",
  "object": "event",
  "type": "payment_intent.succeeded"
}`)
	const tolerance = 5 * time.Minute
	// now is the real clock: stripe-go checks a signature's age against
	// time.Now, whatever now verify is given (see TestVerifyFollowsItsClock).
	now := time.Now()
	changed := append([]byte(nil), body...)
	changed[len(changed)/2] ^= 0x01
	both := []string{secretNew, secretOld}
	tests := []struct {
		name    string
		header  string
		body    []byte
		secrets []string
		// wantReason is the refusal's reason; "" means accepted, matched
		// by secret wantIndex.
		wantReason string
		wantIndex  int
	}{
		{name: "now", header: sign(now, body, secretNew), secrets: []string{secretNew}},
		{name: "past, within tolerance", header: sign(now.Add(-tolerance+10*time.Second), body, secretNew), secrets: []string{secretNew}},
		{name: "future, within tolerance", header: sign(now.Add(tolerance-10*time.Second), body, secretNew), secrets: []string{secretNew}},
		{name: "past, beyond tolerance", header: sign(now.Add(-tolerance-2*time.Second), body, secretNew), secrets: []string{secretNew}, wantReason: reasonTooOld},
		{name: "future, beyond tolerance", header: sign(now.Add(tolerance+2*time.Second), body, secretNew), secrets: []string{secretNew}, wantReason: reasonFuture},
		{name: "t=0", header: sign(time.Unix(0, 0), body, secretNew), secrets: []string{secretNew}, wantReason: reasonTooOld},
		{name: "t=9999999999", header: sign(time.Unix(9999999999, 0), body, secretNew), secrets: []string{secretNew}, wantReason: reasonFuture},
		{name: "hand-made signature", header: fmt.Sprintf("t=%d,v1=%s", now.Unix(), handMade(now.Unix(), body, secretNew)), secrets: []string{secretNew}},
		{name: "hand-made signature of another time", header: fmt.Sprintf("t=%d,v1=%s", now.Unix(), handMade(now.Unix()-1, body, secretNew)), secrets: []string{secretNew}, wantReason: reasonNoMatch},
		{name: "old secret, secrets new then old", header: sign(now, body, secretOld), secrets: both, wantIndex: 1},
		{name: "old secret, secrets old then new", header: sign(now, body, secretOld), secrets: []string{secretOld, secretNew}, wantIndex: 0},
		{name: "new secret, secrets new then old", header: sign(now, body, secretNew), secrets: both, wantIndex: 0},
		{name: "new secret, secrets old then new", header: sign(now, body, secretNew), secrets: []string{secretOld, secretNew}, wantIndex: 1},
		{name: "new secret only, old configured", header: sign(now, body, secretNew), secrets: []string{secretOld}, wantReason: reasonNoMatch},
		{name: "old and new v1, secret new", header: sign(now, body, secretOld, secretNew), secrets: []string{secretNew}},
		{name: "new and old v1, secret new", header: sign(now, body, secretNew, secretOld), secrets: []string{secretNew}},
		{name: "old and new v1, secret old", header: sign(now, body, secretOld, secretNew), secrets: []string{secretOld}},
		{name: "old and new v1, both secrets", header: sign(now, body, secretOld, secretNew), secrets: both},
		{name: "wrong v1 beside the right one", header: sign(now, body, secretNew) + ",v1=" + v1Hex, secrets: []string{secretNew}},
		{name: "signed with an API key", header: sign(now, body, "sk_test_51HxYzAbCdEfGhIjKlMnOp"), secrets: both, wantReason: reasonNoMatch},
		{name: "signed with another endpoint's secret", header: sign(now, body, "whsec_another_endpoint_000000000"), secrets: both, wantReason: reasonNoMatch},
		{name: "right signature as v0 only beside a wrong v1", header: fmt.Sprintf("t=%d,v0=%s,v1=%s", now.Unix(), handMade(now.Unix(), body, secretNew), v1Hex), secrets: []string{secretNew}, wantReason: reasonNoMatch},
		{name: "one byte changed", header: sign(now, body, secretNew), body: changed, secrets: both, wantReason: reasonNoMatch},
		{name: "whitespace added", header: sign(now, body, secretNew), body: append(append([]byte(nil), body...), '\n'), secrets: both, wantReason: reasonNoMatch},
		{name: "BOM prepended", header: sign(now, body, secretNew), body: append([]byte("\uFEFF"), body...), secrets: both, wantReason: reasonNoMatch},
		{name: "second object appended", header: sign(now, body, secretNew), body: append(append([]byte(nil), body...), `{"id":"evt_2"}`...), secrets: both, wantReason: reasonNoMatch},
		{name: "empty body", header: sign(now, body, secretNew), body: []byte{}, secrets: both, wantReason: reasonNoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parseSignature([]string{tt.header})
			if err != nil {
				t.Fatalf("parseSignature(%q): %v", tt.header, err)
			}
			b := body
			if tt.body != nil {
				b = tt.body
			}
			i, err := verify(b, h, tt.secrets, tolerance, now)
			if got := reasonOf(err); got != tt.wantReason || (err == nil) != (tt.wantReason == "") {
				t.Fatalf("reason = %q (err %v), want %q", got, err, tt.wantReason)
			}
			wantIndex := tt.wantIndex
			if tt.wantReason != "" {
				wantIndex = -1
			}
			if i != wantIndex {
				t.Errorf("secret index = %d, want %d", i, wantIndex)
			}
		})
	}
}

// TestVerifyGeneratedPayload checks verify against a payload stripe-go's own
// test helper signed.
func TestVerifyGeneratedPayload(t *testing.T) {
	p := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
		Payload: []byte(`{"id":"evt_1","object":"event"}`),
		Secret:  secretOld,
	})
	h, err := parseSignature([]string{p.Header})
	if err != nil {
		t.Fatal(err)
	}
	if i, err := verify(p.Payload, h, []string{secretNew, secretOld}, 5*time.Minute, time.Now()); err != nil || i != 1 {
		t.Errorf("verify = %d, %v; want 1, nil", i, err)
	}
}

// TestVerifyFollowsItsClock verifies at a fixed time far from the real
// clock, as a test that drives the handler's clock does.
func TestVerifyFollowsItsClock(t *testing.T) {
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"id":"evt_1"}`)
	h, err := parseSignature([]string{sign(now.Add(-time.Minute), body, secretNew)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(body, h, []string{secretNew}, 5*time.Minute, now); err != nil {
		t.Errorf("a signature a minute old at now: %v", err)
	}
}

// handMade is the hex v1 signature of body at unix time ts, computed as
// Stripe documents it (HMAC-SHA256 of "ts.body") without stripe-go.
func handMade(ts int64, body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// hex64 is what every accepted v1 value is.
var hex64 = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

func FuzzParseSignature(f *testing.F) {
	for _, s := range []string{
		"t=1,v1=" + v1Hex,
		"t=1,v1=" + v1Hex + ",v0=" + v1Hex,
		"t=1,v1=" + v1Hex + ",v1=" + v1Hex,
		"t=1,t=2,v1=" + v1Hex,
		"t=+5,v1=" + v1Hex,
		"t=1,,v1=" + v1Hex,
		"t=1,v1=" + v1Hex + "=",
		"t=1,v1=" + v1Hex + ",v2=a=b",
		"v1=" + v1Hex + ",t=1712345678,v2=x",
		"t=1",
		"t=9223372036854775807,v1=" + v1Hex,
		"t=-9223372036854775808,v1=" + v1Hex,
		"t=1" + strings.Repeat(",v1="+v1Hex, maxV1Signatures+1),
	} {
		f.Add(s)
	}
	body := []byte(`{"id":"evt_fuzz"}`)
	f.Fuzz(func(t *testing.T, header string) {
		h, err := parseSignature([]string{header})
		if err != nil {
			if reasonOf(err) == "" {
				t.Fatalf("error %v has no reason", err)
			}
			return
		}
		if len(header) > maxSignatureHeader {
			t.Fatalf("accepted a header of %d bytes", len(header))
		}
		var ts []string
		v1 := 0
		for pair := range strings.SplitSeq(header, ",") {
			key, value, _ := strings.Cut(pair, "=")
			switch key {
			case "t":
				ts = append(ts, value)
			case "v1":
				v1++
				if !hex64.MatchString(value) {
					t.Fatalf("accepted v1 %q", value)
				}
			}
		}
		if len(ts) != 1 {
			t.Fatalf("accepted %d t values", len(ts))
		}
		if sec, err := strconv.ParseInt(ts[0], 10, 64); err != nil || sec != h.t.Unix() {
			t.Fatalf("t %q parsed as %d", ts[0], h.t.Unix())
		}
		if v1 < 1 || v1 > maxV1Signatures || v1 != h.v1 {
			t.Fatalf("accepted %d v1 signatures, counted %d", v1, h.v1)
		}
		if h.raw != header {
			t.Fatalf("raw %q, header %q", h.raw, header)
		}
		// stripe-go parses the header itself without error and finds
		// signatures in it (none matching) ...
		if err := webhook.ValidatePayloadIgnoringTolerance(body, header, secretNew); !errors.Is(err, webhook.ErrNoValidSignature) {
			t.Fatalf("stripe-go on the header: %v", err)
		}
		// ... and reads the same t: a signature for the parsed t matches,
		// one for the second after does not.
		for _, tc := range []struct {
			at   time.Time
			want error
		}{{h.t, nil}, {h.t.Add(time.Second), webhook.ErrNoValidSignature}} {
			withSig := header + ",v1=" + hex.EncodeToString(webhook.ComputeSignature(tc.at, body, secretNew))
			if err := webhook.ValidatePayloadIgnoringTolerance(body, withSig, secretNew); !errors.Is(err, tc.want) {
				t.Fatalf("stripe-go on a signature for t=%d: %v, want %v", tc.at.Unix(), err, tc.want)
			}
		}
	})
}
