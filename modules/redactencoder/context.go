package redactencoder

import (
	"sync"
	"time"

	"go.uber.org/zap/zapcore"
)

// lazyContext is an encoder's wrapped encoder and the context fields a
// logger's With added to it. The wrapped encoder of a clone is made, and
// the fields are made on it, redacted, only when the encoder encodes its
// first entry or its own clone does: many loggers never write an entry
// (Caddy's reverse_proxy makes one for every request, with the request and
// its headers, for a message at DEBUG; Caddy's access logger clones the
// encoder of every log, also of those whose filters refuse its entries),
// and a clone of the wrapped encoder (a buffer from zap's pool that is
// never given back) and the fields encoded in it would be work thrown
// away. zap adds context fields to a fresh clone only, before the logger is
// used, so the calls need no lock; the first use makes them, once.
type lazyContext struct {
	// parent is the encoder this one was cloned from, until enc is made
	// from it; nil for the provisioned encoder, whose enc is set.
	parent *lazyContext
	enc    zapcore.Encoder
	once   sync.Once
	adds   []contextField
}

// contextField is one call that adds a context field: add for the calls
// that cannot fail, addErr for those that can.
type contextField struct {
	key    string
	add    func(fields)
	addErr func(fields) error
}

// encoder returns the wrapped encoder with the context fields added,
// cloning the parent's and adding them the first time. A field that fails
// to encode gets the "<key>Error" field zap itself adds for it.
func (c *lazyContext) encoder() zapcore.Encoder {
	c.once.Do(func() {
		if c.parent != nil {
			c.enc, c.parent = c.parent.encoder().Clone(), nil
		}
		f := fields{enc: c.enc}
		for _, a := range c.adds {
			if a.addErr == nil {
				a.add(f)
			} else if err := a.addErr(f); err != nil {
				f.AddString(a.key+"Error", err.Error())
			}
		}
		c.adds = nil
	})
	return c.enc
}

// later keeps the call that adds the field under key.
func (c *lazyContext) later(key string, add func(fields) error) {
	c.adds = append(c.adds, contextField{key: key, addErr: add})
}

// laterOK is later for a call that cannot fail.
func (c *lazyContext) laterOK(key string, add func(fields)) {
	c.adds = append(c.adds, contextField{key: key, add: add})
}

// The zapcore.ObjectEncoder methods: each keeps its call for encoder.

func (c *lazyContext) AddArray(k string, v zapcore.ArrayMarshaler) error {
	c.later(k, func(f fields) error { return f.AddArray(k, v) })
	return nil
}

func (c *lazyContext) AddObject(k string, v zapcore.ObjectMarshaler) error {
	c.later(k, func(f fields) error { return f.AddObject(k, v) })
	return nil
}

func (c *lazyContext) AddReflected(k string, v any) error {
	c.later(k, func(f fields) error { return f.AddReflected(k, v) })
	return nil
}

func (c *lazyContext) AddBinary(k string, v []byte) {
	c.laterOK(k, func(f fields) { f.AddBinary(k, v) })
}
func (c *lazyContext) AddByteString(k string, v []byte) {
	c.laterOK(k, func(f fields) { f.AddByteString(k, v) })
}
func (c *lazyContext) AddBool(k string, v bool) { c.laterOK(k, func(f fields) { f.AddBool(k, v) }) }
func (c *lazyContext) AddComplex128(k string, v complex128) {
	c.laterOK(k, func(f fields) { f.AddComplex128(k, v) })
}
func (c *lazyContext) AddComplex64(k string, v complex64) {
	c.laterOK(k, func(f fields) { f.AddComplex64(k, v) })
}
func (c *lazyContext) AddDuration(k string, v time.Duration) {
	c.laterOK(k, func(f fields) { f.AddDuration(k, v) })
}
func (c *lazyContext) AddFloat64(k string, v float64) {
	c.laterOK(k, func(f fields) { f.AddFloat64(k, v) })
}
func (c *lazyContext) AddFloat32(k string, v float32) {
	c.laterOK(k, func(f fields) { f.AddFloat32(k, v) })
}
func (c *lazyContext) AddInt(k string, v int)     { c.laterOK(k, func(f fields) { f.AddInt(k, v) }) }
func (c *lazyContext) AddInt64(k string, v int64) { c.laterOK(k, func(f fields) { f.AddInt64(k, v) }) }
func (c *lazyContext) AddInt32(k string, v int32) { c.laterOK(k, func(f fields) { f.AddInt32(k, v) }) }
func (c *lazyContext) AddInt16(k string, v int16) { c.laterOK(k, func(f fields) { f.AddInt16(k, v) }) }
func (c *lazyContext) AddInt8(k string, v int8)   { c.laterOK(k, func(f fields) { f.AddInt8(k, v) }) }
func (c *lazyContext) AddString(k, v string)      { c.laterOK(k, func(f fields) { f.AddString(k, v) }) }
func (c *lazyContext) AddTime(k string, v time.Time) {
	c.laterOK(k, func(f fields) { f.AddTime(k, v) })
}
func (c *lazyContext) AddUint(k string, v uint) { c.laterOK(k, func(f fields) { f.AddUint(k, v) }) }
func (c *lazyContext) AddUint64(k string, v uint64) {
	c.laterOK(k, func(f fields) { f.AddUint64(k, v) })
}
func (c *lazyContext) AddUint32(k string, v uint32) {
	c.laterOK(k, func(f fields) { f.AddUint32(k, v) })
}
func (c *lazyContext) AddUint16(k string, v uint16) {
	c.laterOK(k, func(f fields) { f.AddUint16(k, v) })
}
func (c *lazyContext) AddUint8(k string, v uint8) { c.laterOK(k, func(f fields) { f.AddUint8(k, v) }) }
func (c *lazyContext) AddUintptr(k string, v uintptr) {
	c.laterOK(k, func(f fields) { f.AddUintptr(k, v) })
}
func (c *lazyContext) OpenNamespace(k string) { c.laterOK(k, func(f fields) { f.OpenNamespace(k) }) }
