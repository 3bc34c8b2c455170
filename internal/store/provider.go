package store

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
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
