// Package metrics registers paygate's Prometheus collectors on Caddy's
// per-config registry. Collectors are created once per process, so counters
// survive config reloads, and registered again on each new config's
// registry.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register adds cs to reg; a collector that is already there is fine (several
// instances of one module in one config share their collectors).
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return err
			}
		}
	}
	return nil
}
