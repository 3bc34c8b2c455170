package testenv

import "testing"

// The proxy understands only paygate's one search, with its escapes; a
// query that leaves the string (an injection) is refused, so that an e2e
// test cannot pass on one.
func TestSearchedUser(t *testing.T) {
	for q, want := range map[string]string{
		`metadata['paygate_user']:'alice'`:              "alice",
		`metadata['paygate_user']:'o\'brien'`:           "o'brien",
		`metadata['paygate_user']:'back\\slash'`:        `back\slash`,
		`metadata['paygate_user']:'a' OR created>0`:     "",
		`metadata['paygate_user']:'a' OR metadata['x']`: "",
		`metadata['paygate_user']:'unterminated`:        "",
		`email:'a@example.com'`:                         "",
	} {
		got, ok := searchedUser(q)
		if want == "" && ok {
			t.Errorf("searchedUser(%s) = %q, want refused", q, got)
		}
		if want != "" && (!ok || got != want) {
			t.Errorf("searchedUser(%s) = %q, %v; want %q", q, got, ok, want)
		}
	}
}
