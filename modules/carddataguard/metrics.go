package carddataguard

import "github.com/prometheus/client_golang/prometheus"

// refusedTotal is created once per process; see package internal/metrics.
var refusedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "paygate_card_data_refused_total",
	Help: "Requests refused because they carried a card number, by where it was (path, query, header, body).",
}, []string{"location"})

// locations are every value of refusedTotal's label.
var locations = []string{locPath, locQuery, locHeader, locBody}
