package payments

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/paygate/paygate/internal/ratezone"
)

// subject is who made a payment attempt or a setup intent, as the
// rate-limit stages saw them: the event processor counts a payment_failed
// or setup_failed event in the zones of that user and client IP, as the
// stage counted an attempt's 402.
type subject struct {
	User string `json:"user,omitempty"`
	IP   string `json:"ip,omitempty"`
}

// recordSubject keeps the subject of an attempt on intent (a payment or
// setup intent) for its failure events of type failed
// (ratezone.SubjectTTL), when a zone of the running configuration counts
// them (else it costs no store call). Without a rate-limit stage there is
// no subject to keep. A failure is logged, not the request's: only the
// count of a later event depends on it.
func (h *Handler) recordSubject(ctx context.Context, r *http.Request, intent, failed string) {
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil || len(ratezone.ForEvent(failed)) == 0 {
		return
	}
	var s subject
	s.User, _ = repl.GetString(ratezone.SubjectUser)
	s.IP, _ = repl.GetString(ratezone.SubjectIP)
	if s.User == "" && s.IP == "" {
		return
	}
	b, _ := json.Marshal(s)
	if err := h.store.Set(ctx, subjectKey(intent), b, ratezone.SubjectTTL); err != nil {
		h.logger.Warn("recording a payment's rate-limit subject failed; its decline events will not count", zap.Error(err))
	}
}

// DeclinePlaceholder ({paygate.decline_id}) holds the ID of the charge
// Stripe declined (from the card error), so that a distinct declines zone
// counts a decline once whether its 402 or its payment_failed event comes
// first.
const DeclinePlaceholder = "paygate.decline_id"
