package store

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// Provider is what the paygate app offers the other modules. They reach it
// through Caddy (FromContext), never by importing the app's package.
type Provider interface {
	Store() Store
}

// FromContext returns the store of the config being provisioned, loading the
// paygate app with its defaults (the memory store) when the config has no
// paygate block. Modules call it from Provision.
func FromContext(ctx caddy.Context) (Store, error) {
	app, err := ctx.App("paygate")
	if err != nil {
		return nil, fmt.Errorf("loading the paygate app: %w", err)
	}
	p, ok := app.(Provider)
	if !ok {
		return nil, fmt.Errorf("the paygate app (%T) does not provide a store", app)
	}
	return p.Store(), nil
}

// Opener is the paygate app's configuration opening its backend outside a
// running Caddy: commands such as paygate reindex work on the store a
// running paygate shares. It returns the store, which the caller closes,
// and the backend's name ("memory" or "redis").
type Opener interface {
	OpenStore(logger *zap.Logger) (Store, string, error)
}

// Open opens the store that the paygate app configured by raw (the JSON of
// a config's apps.paygate; empty for the defaults) uses, outside a running
// Caddy. The app is found in Caddy's module registry, as FromContext finds
// it in a running config.
func Open(raw json.RawMessage, logger *zap.Logger) (Store, string, error) {
	info, err := caddy.GetModule("paygate")
	if err != nil {
		return nil, "", fmt.Errorf("the paygate app: %w", err)
	}
	app := info.New()
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, app); err != nil {
			return nil, "", fmt.Errorf("the paygate app's configuration: %w", err)
		}
	}
	o, ok := app.(Opener)
	if !ok {
		return nil, "", errors.New("the paygate app cannot open its store outside Caddy")
	}
	return o.OpenStore(logger)
}
