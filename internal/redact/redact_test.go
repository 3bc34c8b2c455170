package redact

import (
	"strings"
	"testing"
)

const (
	jwt              = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyXzQyIiwiZXhwIjoxNzAwMDAwMDAwfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	testClientSecret = "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"clean text", "GET /v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa 200", "GET /v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa 200"},
		{"empty", "", ""},
		{"card", "paid with 4242424242424242.", "paid with [card_ending_4242]."},
		{"spaced card", "card 4242 4242 4242 4242 ok", "card [card_ending_4242] ok"},
		{"dashed card", "5555-5555-5555-4444", "[card_ending_4444]"},
		{"URL-encoded card", "/v1/x?q=3782%20822463%2010005&a=1", "/v1/x?q=[card_ending_0005]&a=1"},
		{"JSON-escaped card", `{"note":"a\n6011111111111117"}`, `{"note":"a\n[card_ending_1117]"}`},
		{"two cards", "4242424242424242,5555555555554444", "[card_ending_4242],[card_ending_4444]"},
		{"JWT", "token " + jwt + " expired", "token [redacted] expired"},
		{"JWT in a path", "/v1/sessions/" + jwt + "/x", "/v1/sessions/[redacted]/x"},
		{"JWT after an escape", "a=1%26t%3D" + jwt, "a=1%26t%3D[redacted]"},
		{"two-segment eyJ is not a JWT", "eyJhbGciOiJIUzI1NiJ9.abc", "eyJhbGciOiJIUzI1NiJ9.abc"},
		{"JWT whose header has a space", "t=eyAiYWxnIjoiSFMyNTYifQ.eyJzdWIiOiJ1In0.c2ln", "t=[redacted]"},
		{"JWT whose header has a newline", "ewoiYWxnIjoiSFMyNTYifQ.eyJzdWIiOiJ1In0.c2ln", "[redacted]"},
		{"host name is not a JWT", "example.com.au and eyes.on.it", "example.com.au and eyes.on.it"},
		{"secret key", "key=sk_live_51HxAbCdEf0123456789", "key=sk_live_[redacted]"},
		{"test key", "using sk_test_4eC39HqLyjWDarjtT1zdp7dc now", "using sk_test_[redacted] now"},
		{"restricted key", "rk_live_51HxAbCdEf0123456789", "rk_live_[redacted]"},
		{"webhook secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw+/A==", "whsec_[redacted]"},
		{"URL-encoded webhook secret", "s=whsec_MfKQ9r8G%2BKYqr%2F%3D", "s=whsec_[redacted]"},
		{"key glued to a word", "risk_live_x mask_test_y", "risk_live_x mask_test_y"},
		{"publishable key", "pk_test_TYooMQauvdEDq54NiTphI7jx", "pk_test_TYooMQauvdEDq54NiTphI7jx"},
		{"client secret", `{"client_secret":"` + testClientSecret + `"}`, `{"client_secret":"[redacted]"}`},
		{"client secret in text", "confirm " + testClientSecret + " now", "confirm pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_[redacted] now"},
		{"setup intent secret", "seti_1Mm8s8LkdIwHu7ix0OXBfTRG_secret_NXDZJ5v4Rj2fDbdp", "seti_1Mm8s8LkdIwHu7ix0OXBfTRG_secret_[redacted]"},
		{"bearer", "Bearer abc.def-ghi", "Bearer [redacted]"},
		{"bearer lower case, quoted", `"bearer abc123"`, `"bearer [redacted]"`},
		{"basic", "Basic dXNlcjpwYXNzd29yZA==, next", "Basic [redacted], next"},
		{"basic URL-encoded", "auth=Basic%20dXNlcjpwYXNz&x=1", "auth=Basic%20[redacted]&x=1"},
		{"basic form-encoded", "auth=Basic+dXNlcjpwYXNz", "auth=Basic+[redacted]"},
		{"basic word alone", "basic", "basic"},
		{"challenge", `Bearer error="invalid_token", Basic realm="paygate"`, `Bearer error="invalid_token", Basic realm="paygate"`},
		{"URL password", "dial https://paygate:hunter2@db.internal:5432/x", "dial https://paygate:[redacted]@db.internal:5432/x"},
		{"URL without password", "https://pay.example.com/v1?x=1", "https://pay.example.com/v1?x=1"},
		{"query params", "/v1/t?cvc=123&exp=12&number=4111&password=p%40ss", "/v1/t?cvc=[redacted]&exp=12&number=[redacted]&password=[redacted]"},
		{"CVC under other names", "/v1/t?security_code=7491&Card-Code=123&cid=9", "/v1/t?security_code=[redacted]&Card-Code=[redacted]&cid=[redacted]"},
		{"CVC as a JSON member", `{"card":{"security_code":"7491"}}`, `{"card":{"security_code":"[redacted]"}}`},
		{"nested form names", "card[cvc]=123&card%5Bnumber%5D=4111&card[exp_month]=12", "card[cvc]=[redacted]&card%5Bnumber%5D=[redacted]&card[exp_month]=12"},
		{"JSON members", `{"cvc": "123", "exp_month": 12, "card": {"cvv": 456}, "password":"a\"b"}`, `{"cvc": "[redacted]", "exp_month": 12, "card": {"cvv": [redacted]}, "password":"[redacted]"}`},
		{"JSON array value", `{"cookie":["a=1","b=2"],"x":1}`, `{"cookie":[redacted],"x":1}`},
		{"escaped JSON", `{\"cvc\":\"123\",\"x\":\"y\"}`, `{\"cvc\":\"[redacted]\",\"x\":\"y\"}`},
		{"header line", "Cookie: session=abc; csrf=def\r\nAccept: */*", "Cookie: [redacted]\r\nAccept: */*"},
		{"stripe signature header", "Stripe-Signature: t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd", "Stripe-Signature: [redacted]"},
		{"custom sensitive header", "X-Card-CVC: 123", "X-Card-CVC: [redacted]"},
		{"time is not a name", "at 10:30:00 on 2024-01-15", "at 10:30:00 on 2024-01-15"},
		{"card after Go's escape", `query parameter "\x004242424242424242" given 2 times`, `query parameter "\x00[card_ending_4242]" given 2 times`},
		{"card after Go's long escape", `parameter x="\U000e0001378282246310005"`, `parameter x="\U000e0001[card_ending_0005]"`},
		{"key after an escape", `"\nsk_live_51HxAbCdEf0123456789" and "\tsk_test_4eC39HqLyjWDarjtT1zdp7dc"`, `"\nsk_live_[redacted]" and "\tsk_test_[redacted]"`},
		{"secret after a unicode escape", `"\u00a0whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`, `"\u00a0whsec_[redacted]"`},
		{"JWT after an escape", `"\x00` + jwt + `"`, `"\x00[redacted]"`},
		{"word after a letter is no escape", "task_live_x", "task_live_x"},
		{"cause of a refusal", "card_data_not_accepted: card number in the query string", "card_data_not_accepted: card number in the query string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := String(tt.in)
			if got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := String(got); again != got {
				t.Errorf("not idempotent: String(%q) = %q", got, again)
			}
		})
	}
}

func TestSensitiveName(t *testing.T) {
	for _, name := range []string{
		"Authorization", "proxy-authorization", "Cookie", "Set-Cookie", "Stripe-Signature",
		"cvc", "CVV", "cvc2", "cvv2", "card[cvc]", "card%5Bcvc%5D", "card%5bnumber%5d", "number", "card[number]",
		"payment_method_data[card][number]", "payment_method_data.card.cvc",
		"password", "db_password", "secret", "client_secret", "webhook-secret", "stripe_key", "api_key", "X-Api-Key",
		"token", "access_token", "csrf_token", "X-Auth-Token", "X-Card-Cvc", "x_forwarded_authorization", "x-hub-signature",
		// The card verification code under every name a form or an API gives it.
		"csc", "CID", "pin", "security_code", "Security-Code", "card[security_code]", "card_security_code", "securityCode",
		"card_code", "Card-Code", "card_verification", "card_verification_value", "X-Card-Verification",
	} {
		if !SensitiveName(name) {
			t.Errorf("SensitiveName(%q) = false, want true", name)
		}
	}
	for _, name := range []string{
		"", "amount", "currency", "exp_month", "card[exp_year]", "customer", "id", "request_id", "uri",
		"headers", "Content-Type", "User-Agent", "Idempotency-Key", "X-Request-Id", "numbers", "phone_number",
		strings.Repeat("a", 200) + "password",
	} {
		if SensitiveName(name) {
			t.Errorf("SensitiveName(%q) = true, want false", name)
		}
	}
}

func TestValue(t *testing.T) {
	if got := Value("Authorization", "anything"); got != Mask {
		t.Errorf("Value(Authorization) = %q, want %q", got, Mask)
	}
	if got := Value("uri", "/x?cvc=1"); got != "/x?cvc=[redacted]" {
		t.Errorf("Value(uri) = %q", got)
	}
	// A request ID whose digit groups form a card number is kept under
	// the request ID's names, and only as a UUID.
	const id = "53055037-8199-4235-b315-3d940bf60149"
	for _, tc := range []struct{ name, value, want string }{
		{"request_id", id, id},
		{"uuid", id, id},
		{"request", id, "[card_ending_4235]-b315-3d940bf60149"},
		{"request_id", "5305503781994235", "[card_ending_4235]"},
		{"request_id", "53055037-8199-4235-B315-3d940bf60149", "[card_ending_4235]-B315-3d940bf60149"},
		{"request_id", "53055037-8199-4235-b315-3d940bf6014", "[card_ending_4235]-b315-3d940bf6014"},
		{"request_id", "53055037 8199-4235-b315-3d940bf60149", "[card_ending_4235]-b315-3d940bf60149"},
	} {
		if got := Value(tc.name, tc.value); got != tc.want {
			t.Errorf("Value(%s, %q) = %q, want %q", tc.name, tc.value, got, tc.want)
		}
	}
}

// TestCleanTextDoesNotAllocate: String runs on every string of every log
// entry; text without secrets must cost no allocation.
func TestCleanTextDoesNotAllocate(t *testing.T) {
	s := `{"level":"info","msg":"handled request","uri":"/v1/payment_intents?limit=10","request_id":"7d444840-9dc0-11d1-b245-5ffdce74fad2","ts":1700000000.123}`
	if n := testing.AllocsPerRun(100, func() { _ = String(s) }); n != 0 {
		t.Errorf("String allocates %v times on clean text", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = SensitiveName("X-Card-Cvc") }); n != 0 {
		t.Errorf("SensitiveName allocates %v times", n)
	}
}

func BenchmarkString(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"clean", `GET /v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa?expand[]=customer HTTP/2.0 from 203.0.113.7:52314 id 7d444840-9dc0-11d1-b245-5ffdce74fad2`},
		{"secrets", `/v1/tokens?card[number]=4242%204242%204242%204242&card[cvc]=123&key=sk_test_4eC39HqLyjWDarjtT1zdp7dc&t=` + jwt},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				_ = String(bc.in)
			}
		})
	}
}

// TestSensitiveHeader: a header is masked in decision logs when its name is
// sensitive or holds a credential word anywhere, at any length.
func TestSensitiveHeader(t *testing.T) {
	for _, name := range []string{
		"Authorization", "Cookie", "Stripe-Signature", "X-Card-Cvc", "X-Api-Key", "card.number",
		"X-Auth-Request-User", "X-Session-Id", "X-Csrf", "X-XSRF-TOKEN", "Idempotency-Key", "X-Hub-Signature-256",
		"X_Cookie_Jar", "X-Secret-Thing", "X-Password-Hint", "X-Apikey", "X-Refresh-Token-Hint",
		strings.Repeat("a", 200) + "password", strings.Repeat("a", 200) + "-Auth",
	} {
		if !SensitiveHeader(name) {
			t.Errorf("SensitiveHeader(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"", "User-Agent", "Content-Type", "X-Request-Id", "Accept", "Origin", "Referer", "X-Forwarded-For"} {
		if SensitiveHeader(name) {
			t.Errorf("SensitiveHeader(%q) = true, want false", name)
		}
	}
}

func TestEmails(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/v1/x?email=jane.doe+pay@example.co.uk&a=1", "/v1/x?email=[email]&a=1"},
		{"/v1/x?email=jane%40example.com", "/v1/x?email=[email]"},
		{"/v1/x?email=jane.doe%2Bpay%40example.com", "/v1/x?email=[email]"},
		{"/v1/receipts/jane@example.com/pdf", "/v1/receipts/[email]/pdf"},
		{"https://ops@grafana.example.com/d/x", "https://ops@grafana.example.com/d/x"},
		{"sent to Jane_Doe@Mail.Example.com.", "sent to [email]."},
		{`{"receipt_email":"a@b.io"}`, `{"receipt_email":"[email]"}`},
		{"dial https://paygate:hunter2@db.internal:5432/x", "dial https://paygate:[redacted]@db.internal:5432/x"},
		{"git@github", "git@github"},
		{"user@localhost and x@10.0.0.1", "user@localhost and x@10.0.0.1"},
		{"@example.com", "@example.com"},
		{"a%40", "a%40"},
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := String(String(tt.in)); got != String(tt.in) {
			t.Errorf("String is not idempotent on %q: %q", tt.in, got)
		}
	}
}
