package redactencoder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/paygate/paygate/internal/redact"
)

// fields is a zapcore.ObjectEncoder that redacts what is added to it and
// adds the result to enc. Under a sensitive name (masked), every value is
// replaced by redact.Mask, down to the leaves of objects and arrays.
type fields struct {
	enc    zapcore.ObjectEncoder
	masked bool
}

// hidden reports whether the value under key must be masked as a whole.
func (f fields) hidden(key string) bool { return f.masked || redact.SensitiveName(key) }

// AddString adds the redacted value.
func (f fields) AddString(key, value string) {
	if f.masked {
		f.enc.AddString(redact.String(key), redact.Mask)
		return
	}
	f.enc.AddString(redact.String(key), redact.Value(key, value))
}

// AddByteString adds the redacted value.
func (f fields) AddByteString(key string, value []byte) {
	if f.hidden(key) {
		f.enc.AddString(redact.String(key), redact.Mask)
		return
	}
	if s := string(value); redact.String(s) != s {
		f.enc.AddString(redact.String(key), redact.String(s))
		return
	}
	f.enc.AddByteString(redact.String(key), value)
}

// AddBinary adds the value, or its redacted text when it holds a secret.
func (f fields) AddBinary(key string, value []byte) {
	if f.hidden(key) {
		f.enc.AddString(redact.String(key), redact.Mask)
		return
	}
	if s := string(value); redact.String(s) != s {
		f.enc.AddString(redact.String(key), redact.String(s))
		return
	}
	f.enc.AddBinary(redact.String(key), value)
}

// AddObject adds the object with each of its fields redacted.
func (f fields) AddObject(key string, m zapcore.ObjectMarshaler) error {
	return f.enc.AddObject(redact.String(key), newObject(m, f.hidden(key)))
}

// AddArray adds the array with each of its elements redacted.
func (f fields) AddArray(key string, m zapcore.ArrayMarshaler) error {
	return f.enc.AddArray(redact.String(key), newArray(m, f.hidden(key)))
}

// AddReflected adds the value with its strings redacted.
func (f fields) AddReflected(key string, value any) error {
	if f.hidden(key) {
		f.enc.AddString(redact.String(key), redact.Mask)
		return nil
	}
	clean, err := reflected(value)
	if err != nil {
		return err
	}
	return f.enc.AddReflected(redact.String(key), clean)
}

// AddInt64 adds the value, masked when it is a card number or its name is
// sensitive; the other integer and float methods do the same.
func (f fields) AddInt64(key string, value int64) {
	if s, ok := f.number(key, value < 0, uint64(abs(value)), true); ok {
		f.enc.AddString(redact.String(key), s)
		return
	}
	f.enc.AddInt64(redact.String(key), value)
}

// AddInt adds the value, like AddInt64.
func (f fields) AddInt(key string, value int) {
	if s, ok := f.number(key, value < 0, uint64(abs(int64(value))), true); ok {
		f.enc.AddString(redact.String(key), s)
		return
	}
	f.enc.AddInt(redact.String(key), value)
}

// AddUint64 adds the value, like AddInt64.
func (f fields) AddUint64(key string, value uint64) {
	if s, ok := f.number(key, false, value, true); ok {
		f.enc.AddString(redact.String(key), s)
		return
	}
	f.enc.AddUint64(redact.String(key), value)
}

// AddUint adds the value, like AddInt64.
func (f fields) AddUint(key string, value uint) {
	if s, ok := f.number(key, false, uint64(value), true); ok {
		f.enc.AddString(redact.String(key), s)
		return
	}
	f.enc.AddUint(redact.String(key), value)
}

// AddFloat64 adds the value, like AddInt64: only a whole number can be a
// card number.
func (f fields) AddFloat64(key string, value float64) {
	magnitude, whole := floatDigits(value)
	if s, ok := f.number(key, value < 0, magnitude, whole); ok {
		f.enc.AddString(redact.String(key), s)
		return
	}
	f.enc.AddFloat64(redact.String(key), value)
}

// AddInt32 adds the value, masked under a sensitive name (too short for a
// card number); the other small integer methods do the same.
func (f fields) AddInt32(key string, value int32) { addSmall(f, key, value, f.enc.AddInt32) }

// AddInt16 adds the value, like AddInt32.
func (f fields) AddInt16(key string, value int16) { addSmall(f, key, value, f.enc.AddInt16) }

// AddInt8 adds the value, like AddInt32.
func (f fields) AddInt8(key string, value int8) { addSmall(f, key, value, f.enc.AddInt8) }

// AddUint32 adds the value, like AddInt32.
func (f fields) AddUint32(key string, value uint32) { addSmall(f, key, value, f.enc.AddUint32) }

// AddUint16 adds the value, like AddInt32.
func (f fields) AddUint16(key string, value uint16) { addSmall(f, key, value, f.enc.AddUint16) }

// AddUint8 adds the value, like AddInt32.
func (f fields) AddUint8(key string, value uint8) { addSmall(f, key, value, f.enc.AddUint8) }

// AddFloat32 adds the value, like AddInt32.
func (f fields) AddFloat32(key string, value float32) { addSmall(f, key, value, f.enc.AddFloat32) }

// addSmall adds a value too short to hold a card number with add, masked
// under a sensitive name.
func addSmall[T any](f fields, key string, value T, add func(string, T)) {
	if f.hidden(key) {
		f.enc.AddString(redact.String(key), redact.Mask)
		return
	}
	add(redact.String(key), value)
}

// AddBool adds the value: a yes or no gives no secret away.
func (f fields) AddBool(key string, value bool) { f.enc.AddBool(redact.String(key), value) }

// AddComplex128 adds the value as it is.
func (f fields) AddComplex128(key string, value complex128) {
	f.enc.AddComplex128(redact.String(key), value)
}

// AddComplex64 adds the value as it is.
func (f fields) AddComplex64(key string, value complex64) {
	f.enc.AddComplex64(redact.String(key), value)
}

// AddDuration adds the value as it is.
func (f fields) AddDuration(key string, value time.Duration) {
	f.enc.AddDuration(redact.String(key), value)
}

// AddTime adds the value as it is.
func (f fields) AddTime(key string, value time.Time) { f.enc.AddTime(redact.String(key), value) }

// AddUintptr adds the value as it is.
func (f fields) AddUintptr(key string, value uintptr) { f.enc.AddUintptr(redact.String(key), value) }

// OpenNamespace opens the namespace in the wrapped encoder.
func (f fields) OpenNamespace(key string) { f.enc.OpenNamespace(redact.String(key)) }

// number decides how a number (its sign and magnitude) is logged under
// key: masked (true) when the name is sensitive or the digits are a card
// number, else as it is (false). whole is false for a number with a
// fraction, which is no card number.
func (f fields) number(key string, negative bool, magnitude uint64, whole bool) (string, bool) {
	if f.hidden(key) {
		return redact.Mask, true
	}
	if !whole || magnitude < minCardNumber {
		return "", false
	}
	digits := strconv.FormatUint(magnitude, 10)
	if masked := redact.String(digits); masked != digits {
		if negative {
			masked = "-" + masked
		}
		return masked, true
	}
	return "", false
}

// minCardNumber is the smallest number with a card number's 13 digits.
const minCardNumber = 1_000_000_000_000

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// floatDigits returns the magnitude of a whole-numbered float, and whether
// it is one that fits in 64 bits.
func floatDigits(v float64) (uint64, bool) {
	a := math.Abs(v)
	if a != math.Trunc(a) || a >= math.MaxUint64 {
		return 0, false
	}
	return uint64(a), true
}

// object redacts the fields of an object as it is encoded. It holds the
// encoder it hands the object (f, pointed to), so that wrapping an object
// costs one allocation, not one for the wrapper and one for the encoder.
type object struct {
	m zapcore.ObjectMarshaler
	f fields
}

func newObject(m zapcore.ObjectMarshaler, masked bool) *object {
	return &object{m: m, f: fields{masked: masked}}
}

func (o *object) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	o.f.enc = enc
	return o.m.MarshalLogObject(&o.f)
}

// array redacts the elements of an array as it is encoded; like object, it
// holds the encoder it hands the array.
type array struct {
	m zapcore.ArrayMarshaler
	e elements
}

func newArray(m zapcore.ArrayMarshaler, masked bool) *array {
	return &array{m: m, e: elements{masked: masked}}
}

func (a *array) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	a.e.enc = enc
	return a.m.MarshalLogArray(&a.e)
}

// reflected returns value with every string in it redacted, and every
// member with a sensitive name masked, by way of its JSON form: the wrapped
// encoder would marshal it to JSON anyway. A value without secrets is
// returned as it is.
func reflected(value any) (any, error) {
	b, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("redact: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("redact: %w", err)
	}
	clean, changed := redactJSON(v)
	if !changed {
		return value, nil
	}
	return clean, nil
}

// redactJSON redacts a decoded JSON value; it reports whether anything
// changed.
func redactJSON(v any) (any, bool) {
	switch v := v.(type) {
	case string:
		r := redact.String(v)
		return r, r != v
	case json.Number:
		s := v.String()
		if r := redact.String(s); r != s {
			return r, true
		}
		return v, false
	case []any:
		changed := false
		for i, e := range v {
			var c bool
			v[i], c = redactJSON(e)
			changed = changed || c
		}
		return v, changed
	case map[string]any:
		changed := false
		renamed := map[string]any{}
		for k, e := range v {
			if redact.SensitiveName(k) {
				e, changed = redact.Mask, true
			} else {
				var c bool
				e, c = redactJSON(e)
				changed = changed || c
			}
			// Names are data too: a map keyed by card numbers or tokens
			// must not print them.
			if rk := redact.String(k); rk != k {
				delete(v, k)
				renamed[rk], changed = e, true
				continue
			}
			v[k] = e
		}
		for k, e := range renamed {
			v[k] = e
		}
		return v, changed
	}
	return v, false
}
