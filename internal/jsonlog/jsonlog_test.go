package jsonlog

import (
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// TestField encodes a JSON document as a field and compares it with the
// document: objects with their keys in order, arrays, strings, booleans,
// null and numbers, nested.
func TestField(t *testing.T) {
	const doc = `{"b": [1, "x", true, null, {"d": 2.5, "c": []}], "a": {"z": "y", "e": false}, "n": 12345678901234567890}`
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{})
	out, err := enc.EncodeEntry(zapcore.Entry{}, []zap.Field{Field("doc", v), Field("s", "plain")})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"doc":{"a":{"e":false,"z":"y"},"b":[1,"x",true,null,{"c":[],"d":2.5}],"n":12345678901234567890},"s":"plain"}`
	if got := strings.TrimSpace(out.String()); got != want {
		t.Errorf("encoded\n%s\nwant\n%s", got, want)
	}
}
