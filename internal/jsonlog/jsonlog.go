// Package jsonlog encodes JSON documents decoded into Go values as zap
// fields without reflection: OPA's decision-log events, written by
// opa_authz's console decision log, are such documents.
package jsonlog

import (
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Field is a field holding a JSON document decoded into Go values
// (maps, slices, strings, numbers, booleans, nil), encoded without
// reflection; any other value is encoded as zap.Any would.
func Field(key string, v any) zap.Field {
	switch v := v.(type) {
	case map[string]any:
		return zap.Object(key, object(v))
	case []any:
		return zap.Array(key, array(v))
	}
	return zap.Any(key, v)
}

// object encodes a JSON object, its keys in order.
type object map[string]any

func (o object) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch v := o[k].(type) {
		case string:
			enc.AddString(k, v)
		case bool:
			enc.AddBool(k, v)
		case map[string]any:
			if err := enc.AddObject(k, object(v)); err != nil {
				return err
			}
		case []any:
			if err := enc.AddArray(k, array(v)); err != nil {
				return err
			}
		default:
			if err := enc.AddReflected(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// array encodes a JSON array.
type array []any

func (a array) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, e := range a {
		switch v := e.(type) {
		case string:
			enc.AppendString(v)
		case bool:
			enc.AppendBool(v)
		case map[string]any:
			if err := enc.AppendObject(object(v)); err != nil {
				return err
			}
		case []any:
			if err := enc.AppendArray(array(v)); err != nil {
				return err
			}
		default:
			if err := enc.AppendReflected(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// Interface guards
var (
	_ zapcore.ObjectMarshaler = object(nil)
	_ zapcore.ArrayMarshaler  = array(nil)
)
