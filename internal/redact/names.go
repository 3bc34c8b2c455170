package redact

import (
	"bytes"
	"sync"
	"sync/atomic"
)

// maxName bounds the names SensitiveName looks at; longer ones are not
// field, parameter or header names.
const maxName = 128

// sensitiveNames are the names, in lower case with '-' read as '_', whose
// values are secret as a whole: credentials, card data and keys.
var sensitiveNames = map[string]bool{
	"authorization": true, "proxy_authorization": true, "cookie": true, "set_cookie": true,
	"stripe_signature": true,
	"number":           true, "card_number": true, "cardnumber": true, "pan": true,
	"cvc": true, "cvv": true, "cvc2": true, "cvv2": true, "cvn": true, "csc": true, "cid": true, "pin": true,
	"password": true, "passwd": true, "pwd": true, "secret": true, "client_secret": true,
	"stripe_key": true, "api_key": true, "apikey": true, "secret_key": true, "private_key": true,
	"token": true, "access_token": true, "refresh_token": true, "id_token": true,
}

// sensitiveParts make a name sensitive wherever they appear in it
// ("x_card_cvc", "db_password", "webhook_secret", "x_forwarded_authorization",
// "card_security_code", "card_verification_value").
var sensitiveParts = []string{"password", "passwd", "secret", "cvc", "cvv", "authorization", "cookie",
	"security_code", "securitycode", "card_code", "cardcode", "card_verification", "cardverification"}

// sensitiveSuffixes make a name sensitive at its end ("csrf_token",
// "x_hub_signature", "x_api_key").
var sensitiveSuffixes = []string{"_token", "signature", "api_key", "apikey"}

// credentialWords make a header sensitive wherever they appear in its
// name ("X-Auth-Request-User", "X-Session-Id", "X-Xsrf-Token",
// "Idempotency-Key"). They are too broad for log fields and parameters
// ("keys" counts the keys of a JWK set, and an idempotency key is what an
// operator looks a request up by), but a header is a credential more often
// than not when it is named like one, and the logs that record headers by
// choice (decision logs) mask them.
var credentialWords = []string{"auth", "token", "key", "signature", "session", "csrf", "xsrf"}

// SensitiveHeader reports whether the value of the request header called
// name must be masked where headers are recorded by choice: when
// SensitiveName says so, or when the name holds a credential word or one of
// SensitiveName's parts anywhere, whatever its length (the names come from
// configuration, not from clients). Case does not matter, and '-' counts
// as '_'.
func SensitiveHeader(name string) bool {
	if SensitiveName(name) {
		return true
	}
	var buf [maxName]byte
	n := normalize(buf[:0], name)
	for _, words := range [][]string{credentialWords, sensitiveParts} {
		for _, w := range words {
			if bytes.Contains(n, []byte(w)) {
				return true
			}
		}
	}
	return false
}

// SensitiveName reports whether a field, parameter or header called name
// holds a secret as a whole, so that its value is masked whatever it is.
// Case does not matter, '-' counts as '_', and in a nested name
// ("card[cvc]", "card%5Bnumber%5D", "payment_method_data.card.cvc") the last
// part counts as well as the whole.
func SensitiveName(name string) bool {
	if name == "" || len(name) > maxName {
		return false
	}
	answers := *nameAnswers.Load()
	if v, ok := answers[name]; ok {
		return v
	}
	v := sensitiveName(name)
	if len(answers) < maxNameAnswers {
		rememberName(name, v)
	}
	return v
}

// nameAnswers remembers SensitiveName's answers: the same field and header
// names come in every log entry. Reads take no lock; a new answer replaces
// the map by a copy holding it. At most maxNameAnswers are kept (names a
// client makes up beyond them are worked out each time).
var (
	nameAnswers   atomic.Pointer[map[string]bool]
	nameAnswersMu sync.Mutex
)

const maxNameAnswers = 1024

func init() { nameAnswers.Store(&map[string]bool{}) }

func rememberName(name string, v bool) {
	nameAnswersMu.Lock()
	defer nameAnswersMu.Unlock()
	old := *nameAnswers.Load()
	if len(old) >= maxNameAnswers {
		return
	}
	answers := make(map[string]bool, len(old)+1)
	for k, a := range old {
		answers[k] = a
	}
	answers[name] = v
	nameAnswers.Store(&answers)
}

// sensitiveName is SensitiveName, worked out.
func sensitiveName(name string) bool {
	var buf [maxName]byte
	n := normalize(buf[:0], name)
	if sensitive(n) {
		return true
	}
	leaf := n
	if l := len(leaf); leaf[l-1] == ']' {
		if i := bytes.LastIndexByte(leaf, '['); i >= 0 {
			leaf = leaf[i+1 : l-1]
		}
	} else if i := bytes.LastIndexByte(leaf, '.'); i >= 0 {
		leaf = leaf[i+1:]
	}
	return len(leaf) != len(n) && sensitive(leaf)
}

func sensitive(n []byte) bool {
	if sensitiveNames[string(n)] {
		return true
	}
	for _, p := range sensitivePartBytes {
		if bytes.Contains(n, p) {
			return true
		}
	}
	for _, p := range sensitiveSuffixBytes {
		if bytes.HasSuffix(n, p) {
			return true
		}
	}
	return false
}

// sensitivePartBytes and sensitiveSuffixBytes are the lists as bytes, made
// once.
var (
	sensitivePartBytes   = asBytes(sensitiveParts)
	sensitiveSuffixBytes = asBytes(sensitiveSuffixes)
)

func asBytes(words []string) [][]byte {
	out := make([][]byte, len(words))
	for i, w := range words {
		out[i] = []byte(w)
	}
	return out
}

// normalize appends name to dst in lower case, with '-' as '_' and the
// percent-escapes of brackets (%5B, %5D) decoded.
func normalize(dst []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '-':
			c = '_'
		case c == '%' && i+2 < len(name) && name[i+1] == '5':
			switch name[i+2] | 0x20 {
			case 'b':
				c = '['
				i += 2
			case 'd':
				c = ']'
				i += 2
			}
		}
		dst = append(dst, c)
	}
	return dst
}
