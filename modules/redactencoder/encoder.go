// Package redactencoder provides the redact log encoder
// (caddy.logging.encoders.redact): it wraps another encoder and passes every
// log entry through paygate's one redaction function (internal/redact)
// first, so that no log line holds a card number, a token or a secret,
// whichever module logged it.
package redactencoder

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"

	"github.com/paygate/paygate/internal/cfgargs"
	"github.com/paygate/paygate/internal/redact"
)

func init() {
	caddy.RegisterModule(Encoder{})
}

// Encoder redacts each log entry, then has the wrapped encoder encode it.
// It redacts the message, every string value (also inside objects and
// arrays, such as the headers of Caddy's access log, and the text of
// errors), and masks as a whole every value whose field name is sensitive
// (authorization, cookie, cvc, password, ...). Numbers that are card numbers
// are masked too. The level, time, logger name and caller are not touched.
type Encoder struct {
	// WrappedRaw is the encoder that writes the redacted entries; default:
	// json.
	WrappedRaw json.RawMessage `json:"wrap,omitempty" caddy:"namespace=caddy.logging.encoders inline_key=format"`

	// The wrapped encoder and the context fields added to this copy.
	*lazyContext
}

// CaddyModule returns the Caddy module information.
func (Encoder) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.logging.encoders.redact",
		New: func() caddy.Module { return new(Encoder) },
	}
}

// Provision sets up the wrapped encoder.
func (e *Encoder) Provision(ctx caddy.Context) error {
	if e.WrappedRaw == nil {
		je := &logging.JSONEncoder{}
		if err := je.Provision(ctx); err != nil {
			return fmt.Errorf("redact: provisioning the json encoder: %w", err)
		}
		e.lazyContext = &lazyContext{enc: je}
	} else {
		val, err := ctx.LoadModule(e, "WrappedRaw")
		if err != nil {
			return fmt.Errorf("redact: loading the wrapped encoder: %w", err)
		}
		e.lazyContext = &lazyContext{enc: val.(zapcore.Encoder)}
	}
	return nil
}

// Clone returns a copy of the encoder, for a logger with more context
// fields; the copy clones the wrapped encoder, and the fields added to it
// are redacted like the entry's own, when it first encodes an entry (see
// lazyContext).
func (e Encoder) Clone() zapcore.Encoder {
	return Encoder{WrappedRaw: e.WrappedRaw, lazyContext: &lazyContext{parent: e.lazyContext}}
}

// EncodeEntry redacts the entry's message and fields and encodes them with
// the wrapped encoder.
func (e Encoder) EncodeEntry(ent zapcore.Entry, fs []zapcore.Field) (*buffer.Buffer, error) {
	// The fields go to the wrapped encoder as one inline field, which adds
	// them redacted to the clone it encodes this entry in: they never stay
	// on the wrapped encoder, and no second clone is made.
	ent.Message = redact.String(ent.Message)
	return e.encoder().EncodeEntry(ent, []zapcore.Field{zap.Inline(entryFields(fs))})
}

// entryFields are an entry's fields, added redacted to the encoder they are
// inlined in.
type entryFields []zapcore.Field

func (fs entryFields) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	// A pointer: a value would be copied to the heap for each field.
	r := &fields{enc: enc}
	for _, f := range fs {
		f.AddTo(r)
	}
	return nil
}

// UnmarshalCaddyfile sets up the encoder from Caddyfile tokens.
//
// Syntax:
//
//	redact {
//	    wrap <encoder> [<encoder options...>]
//	}
func (e *Encoder) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // encoder name
	if err := cfgargs.None(d); err != nil {
		return err
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "wrap":
			var name string
			if err := cfgargs.First(d, &name); err != nil {
				return err
			}
			unm, err := caddyfile.UnmarshalModule(d, "caddy.logging.encoders."+name)
			if err != nil {
				return err
			}
			enc, ok := unm.(zapcore.Encoder)
			if !ok {
				return d.Errf("module %s (%T) is not a log encoder", name, unm)
			}
			e.WrappedRaw = caddyconfig.JSONModuleObject(enc, "format", name, nil)
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
	}
	return nil
}

// Interface guards
var (
	_ zapcore.Encoder       = (*Encoder)(nil)
	_ caddy.Provisioner     = (*Encoder)(nil)
	_ caddyfile.Unmarshaler = (*Encoder)(nil)
)
