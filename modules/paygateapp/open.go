package paygateapp

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/store"
)

// OpenStore opens the configured backend outside a running Caddy
// (store.Opener), for commands such as paygate reindex that work on the
// store a running paygate shares. The caller closes the store.
func (a *App) OpenStore(logger *zap.Logger) (store.Store, string, error) {
	a.logger = logger
	open, err := a.opener()
	if err != nil {
		return nil, "", err
	}
	d, err := open()
	if err != nil {
		return nil, "", fmt.Errorf("paygate: opening %s store: %w", a.backend, err)
	}
	return d.(pooledStore).Store, a.backend, nil
}

// Interface guards
var _ store.Opener = (*App)(nil)
