package redactencoder

import (
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/paygate/paygate/internal/redact"
)

// elements is a zapcore.ArrayEncoder that redacts what is appended to it
// and appends the result to enc; when masked (the array's name was
// sensitive) every element is replaced by redact.Mask.
type elements struct {
	enc    zapcore.ArrayEncoder
	masked bool
}

// AppendString appends the redacted value.
func (a elements) AppendString(v string) {
	if a.masked {
		a.enc.AppendString(redact.Mask)
		return
	}
	a.enc.AppendString(redact.String(v))
}

// AppendByteString appends the redacted value.
func (a elements) AppendByteString(v []byte) {
	if s := string(v); a.masked || redact.String(s) != s {
		a.AppendString(s)
		return
	}
	a.enc.AppendByteString(v)
}

// AppendObject appends the object with each of its fields redacted.
func (a elements) AppendObject(m zapcore.ObjectMarshaler) error {
	return a.enc.AppendObject(newObject(m, a.masked))
}

// AppendArray appends the array with each of its elements redacted.
func (a elements) AppendArray(m zapcore.ArrayMarshaler) error {
	return a.enc.AppendArray(newArray(m, a.masked))
}

// AppendReflected appends the value with its strings redacted.
func (a elements) AppendReflected(v any) error {
	if a.masked {
		a.enc.AppendString(redact.Mask)
		return nil
	}
	clean, err := reflected(v)
	if err != nil {
		return err
	}
	return a.enc.AppendReflected(clean)
}

// AppendInt64 appends the value, masked when it is a card number (or the
// array is masked); the other integer and float methods do the same.
func (a elements) AppendInt64(v int64) {
	if s, ok := a.number(v < 0, uint64(abs(v)), true); ok {
		a.enc.AppendString(s)
		return
	}
	a.enc.AppendInt64(v)
}

// AppendInt appends the value, like AppendInt64.
func (a elements) AppendInt(v int) {
	if s, ok := a.number(v < 0, uint64(abs(int64(v))), true); ok {
		a.enc.AppendString(s)
		return
	}
	a.enc.AppendInt(v)
}

// AppendUint64 appends the value, like AppendInt64.
func (a elements) AppendUint64(v uint64) {
	if s, ok := a.number(false, v, true); ok {
		a.enc.AppendString(s)
		return
	}
	a.enc.AppendUint64(v)
}

// AppendUint appends the value, like AppendInt64.
func (a elements) AppendUint(v uint) {
	if s, ok := a.number(false, uint64(v), true); ok {
		a.enc.AppendString(s)
		return
	}
	a.enc.AppendUint(v)
}

// AppendFloat64 appends the value, like AppendInt64.
func (a elements) AppendFloat64(v float64) {
	magnitude, whole := floatDigits(v)
	if s, ok := a.number(v < 0, magnitude, whole); ok {
		a.enc.AppendString(s)
		return
	}
	a.enc.AppendFloat64(v)
}

// AppendInt32 appends the value, masked in a masked array; the other small
// numbers do the same.
func (a elements) AppendInt32(v int32) { appendSmall(a, v, a.enc.AppendInt32) }

// AppendInt16 appends the value, like AppendInt32.
func (a elements) AppendInt16(v int16) { appendSmall(a, v, a.enc.AppendInt16) }

// AppendInt8 appends the value, like AppendInt32.
func (a elements) AppendInt8(v int8) { appendSmall(a, v, a.enc.AppendInt8) }

// AppendUint32 appends the value, like AppendInt32.
func (a elements) AppendUint32(v uint32) { appendSmall(a, v, a.enc.AppendUint32) }

// AppendUint16 appends the value, like AppendInt32.
func (a elements) AppendUint16(v uint16) { appendSmall(a, v, a.enc.AppendUint16) }

// AppendUint8 appends the value, like AppendInt32.
func (a elements) AppendUint8(v uint8) { appendSmall(a, v, a.enc.AppendUint8) }

// AppendFloat32 appends the value, like AppendInt32.
func (a elements) AppendFloat32(v float32) { appendSmall(a, v, a.enc.AppendFloat32) }

// appendSmall appends a value too short to hold a card number with add,
// masked in a masked array.
func appendSmall[T any](a elements, v T, add func(T)) {
	if a.masked {
		a.enc.AppendString(redact.Mask)
		return
	}
	add(v)
}

// AppendBool appends the value as it is.
func (a elements) AppendBool(v bool) { a.enc.AppendBool(v) }

// AppendComplex128 appends the value as it is.
func (a elements) AppendComplex128(v complex128) { a.enc.AppendComplex128(v) }

// AppendComplex64 appends the value as it is.
func (a elements) AppendComplex64(v complex64) { a.enc.AppendComplex64(v) }

// AppendDuration appends the value as it is.
func (a elements) AppendDuration(v time.Duration) { a.enc.AppendDuration(v) }

// AppendTime appends the value as it is.
func (a elements) AppendTime(v time.Time) { a.enc.AppendTime(v) }

// AppendUintptr appends the value as it is.
func (a elements) AppendUintptr(v uintptr) { a.enc.AppendUintptr(v) }

// number is fields.number for an array's elements, which have no names.
func (a elements) number(negative bool, magnitude uint64, whole bool) (string, bool) {
	return fields{masked: a.masked}.number("", negative, magnitude, whole)
}

// Interface guards
var (
	_ zapcore.ArrayEncoder    = elements{}
	_ zapcore.ObjectEncoder   = fields{}
	_ zapcore.ObjectMarshaler = (*object)(nil)
	_ zapcore.ArrayMarshaler  = (*array)(nil)
)
