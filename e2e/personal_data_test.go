package e2e

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/paygate/paygate/internal/testenv"
)

// TestEmailsNotLogged: an e-mail address in a query string, a header or a
// path is personal data; no log line (the access log at DEBUG, with
// log_credentials on, through the redact format) holds it in clear, written
// as it is or percent-encoded (issue #10 item 4).
func TestEmailsNotLogged(t *testing.T) {
	up := testenv.StartUpstream(t, nil)
	pg := testenv.StartPaygate(t, testenv.PaygateOptions{
		Upstream: up,
		Global:   leakGlobal,
		Site: `https://localhost:{{.HTTPSPort}} {
	bind 127.0.0.1
	log {
		format redact
		level DEBUG
	}
	route {
		security_headers api
		tls_enforce
		reverse_proxy {{.Upstream}}
	}
}`,
		Data: map[string]any{"format": "redact"},
	})
	const email = "jane.doe+receipts@example.com"
	resp, body := send(t, pg.Client(), "GET", pg.HTTPSURL+"/v1/receipts/"+url.PathEscape(email)+"?email="+url.QueryEscape(email), "",
		http.Header{"X-Customer-Email": {email}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d (body %s)", resp.StatusCode, body)
	}
	pg.WaitForLog(t, "the access log entry", testenv.LogFields(map[string]string{"msg": "handled request"}))
	requireNoLeaks(t, pg, []plant{plantSecret("an e-mail address", email, "jane.doe+receipts", "jane.doe%2Breceipts")})
}
