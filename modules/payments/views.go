package payments

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/stripe/stripe-go/v76"
)

// The response bodies: only what the design lists, never Stripe's object
// as it came (which holds the customer, metadata, the charge, ...).

// intentView is a payment intent. ClientSecret is set only for the owner's
// create and confirm responses, which Stripe.js needs to finish the
// payment; a later GET never shows it.
type intentView struct {
	ID           string          `json:"id"`
	Status       string          `json:"status"`
	Amount       int64           `json:"amount"`
	Currency     string          `json:"currency"`
	ClientSecret string          `json:"client_secret,omitempty"`
	NextAction   *nextActionView `json:"next_action,omitempty"`
}

// nextActionView tells the client what Stripe.js must do next (3-D Secure:
// "use_stripe_sdk", handled by stripe.handleNextAction with the client
// secret).
type nextActionView struct {
	Type          string `json:"type"`
	RedirectToURL string `json:"redirect_to_url,omitempty"`
}

func viewIntent(pi *stripe.PaymentIntent, withSecret bool) intentView {
	v := intentView{ID: pi.ID, Status: string(pi.Status), Amount: pi.Amount, Currency: string(pi.Currency)}
	if withSecret {
		v.ClientSecret = pi.ClientSecret
	}
	if pi.Status == stripe.PaymentIntentStatusRequiresAction && pi.NextAction != nil {
		v.NextAction = &nextActionView{Type: string(pi.NextAction.Type)}
		if pi.NextAction.RedirectToURL != nil {
			v.NextAction.RedirectToURL = pi.NextAction.RedirectToURL.URL
		}
	}
	return v
}

// setupIntentView is a setup intent. ClientSecret, which Stripe Elements
// needs to save the card, is set only in the create response; a later GET
// never shows it.
type setupIntentView struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	ClientSecret string `json:"client_secret,omitempty"`
}

// paymentMethodView is a saved card: what a "your cards" page shows and
// nothing more.
type paymentMethodView struct {
	ID       string `json:"id"`
	Brand    string `json:"brand"`
	Last4    string `json:"last4"`
	ExpMonth int64  `json:"exp_month"`
	ExpYear  int64  `json:"exp_year"`
}

func viewPaymentMethod(pm *stripe.PaymentMethod) paymentMethodView {
	v := paymentMethodView{ID: pm.ID}
	if c := pm.Card; c != nil {
		v.Brand, v.Last4, v.ExpMonth, v.ExpYear = string(c.Brand), c.Last4, c.ExpMonth, c.ExpYear
	}
	return v
}

// listView is a list response.
type listView[T any] struct {
	Data []T `json:"data"`
}

// writeJSON writes v as the response with status. The views are structs of
// strings and integers, which always marshal; a failed write means the
// client has gone, which nothing can be told anymore.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
