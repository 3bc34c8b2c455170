package cardscan

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestFalsePositiveRates measures how often text that is no card number is
// taken for one, and logs the rates (go test -run TestFalsePositiveRates -v
// ./internal/cardscan): random 19-digit numeric IDs, alone and in a JSON
// body, the negatives corpus, and generated identifiers of the kinds a
// payment API sees. The samples come from fixed seeds, so the rates are the
// same on every run. A 19-digit ID is a card number exactly when its
// digits, taken whole, are (it has no separators and nothing glued to it):
// that much is checked; the other rates are only reported.
func TestFalsePositiveRates(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 2))
	const ids = 1_000_000
	var alone, inJSON int
	for range ids {
		id := strconv.FormatUint(1e18+r.Uint64N(9e18), 10)
		_, want := brandOf([]byte(id))
		got := Contains(id)
		if got != want {
			t.Fatalf("Contains(%s) = %v, want %v", id, got, want)
		}
		if got {
			alone++
		}
		if found := Contains(`{"id":"` + id + `"}`); found != want {
			t.Fatalf("Contains of the JSON body of %s = %v, want %v", id, found, want)
		} else if found {
			inJSON++
		}
	}
	t.Logf("random 19-digit IDs: %s alone, %s in {\"id\":\"<id>\"}", rate(alone, ids), rate(inJSON, ids))

	negatives := readCorpus(t, "negatives.txt")
	found := 0
	for _, c := range negatives {
		if Contains(c.text) {
			found++
		}
	}
	t.Logf("negatives.txt: %s of %d lines", rate(found, len(negatives)), len(negatives))

	const samples = 100_000
	for _, f := range fpFamilies {
		found := 0
		for range samples {
			if Contains(f.gen(r)) {
				found++
			}
		}
		t.Logf("%s (e.g. %s): %s", f.name, f.gen(rand.New(rand.NewPCG(1, 1))), rate(found, samples))
	}
}

func rate(n, of int) string {
	return fmt.Sprintf("%d/%d = %.4f%%", n, of, 100*float64(n)/float64(of))
}

// fpFamilies generate texts of one kind each that hold no card number, the
// way a person or a program would read them.
var fpFamilies = []struct {
	name string
	gen  func(r *rand.Rand) string
}{
	{"UUIDv4", uuidLike},
	{"SHA-256 hex digest", func(r *rand.Rand) string {
		sum := sha256.Sum256([]byte(strconv.FormatUint(r.Uint64(), 10)))
		return hex.EncodeToString(sum[:])
	}},
	{"W3C traceparent", func(r *rand.Rand) string {
		return "00-" + randString(r, hexDigits, 32) + "-" + randString(r, hexDigits, 16) + "-01"
	}},
	{"MongoDB ObjectId (24 hex digits)", func(r *rand.Rand) string { return randString(r, hexDigits, 24) }},
	{"base64url token (32 bytes)", func(r *rand.Rand) string { return randString(r, b64urlSet, 43) }},
	{"Stripe ID", func(r *rand.Rand) string { return "pi_" + randString(r, alnum, 24) }},
	{"E.164 phone, 12-13 digits", func(r *rand.Rand) string {
		return "+" + randString(r, "123456789", 1) + randString(r, decimal, 11+r.IntN(2))
	}},
	{"E.164 phone +49, 13 digits", func(r *rand.Rand) string { return "+4915" + randString(r, decimal, 9) }},
	{"spaced phone", func(r *rand.Rand) string {
		return "+" + randString(r, "123456789", 1+r.IntN(2)) + " " + randString(r, decimal, 3) + " " + randString(r, decimal, 3+r.IntN(2)) + " " + randString(r, decimal, 4)
	}},
	{"float64 in JSON", func(r *rand.Rand) string {
		return `{"lat":` + strconv.FormatFloat(r.Float64()*180-90, 'f', -1, 64) + `}`
	}},
	{"ISO timestamp", func(r *rand.Rand) string {
		return fmt.Sprintf("2024-%02d-%02dT%02d:%02d:%02d.%06dZ", 1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e6))
	}},
	{"date pair", func(r *rand.Rand) string {
		return fmt.Sprintf("%d-%02d-%02d %d-%02d-%02d", 2000+r.IntN(100), 1+r.IntN(12), 1+r.IntN(28), 2000+r.IntN(100), 1+r.IntN(12), 1+r.IntN(28))
	}},
	{"order reference", func(r *rand.Rand) string {
		return fmt.Sprintf("ORD-%d-%0*d", 2000+r.IntN(100), 6+r.IntN(5), r.Int64N(1e10))
	}},
	{"price", func(r *rand.Rand) string { return fmt.Sprintf("%d.%02d", r.IntN(1e7), r.IntN(100)) }},
	{"epoch ns", func(r *rand.Rand) string { return strconv.FormatInt(1_600_000_000_000_000_000+r.Int64N(5e17), 10) }},
}

const (
	decimal   = "0123456789"
	hexDigits = "0123456789abcdef"
)
