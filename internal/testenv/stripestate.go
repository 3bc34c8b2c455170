package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// stripeState makes stripe-mock stateful for what paygate reads back from
// Stripe to find owners (see StripeMock.RememberObjects): the customers,
// payment intents, setup intents and payment methods created through the
// proxy, with the metadata and customer they were created with (which
// stripe-mock drops), payment methods' attachments and customers'
// deletion. Responses that name a remembered object get its metadata and
// customer (an expanded customer becomes the remembered one), and the lists
// and searches paygate uses are answered from what is remembered.
type stripeState struct {
	mu      sync.Mutex
	objects map[string]map[string]any
	created map[string]int64
	seq     int64
}

// stateful are the collections whose creations are remembered.
var stateful = map[string]bool{"customers": true, "payment_intents": true, "setup_intents": true, "payment_methods": true}

// RememberObjects makes the proxy remember the objects created through it
// and answer as Stripe would about them (stripeState); call it before any
// request. Off by default: stripe-mock's fixtures are answered as they are.
func (sm *StripeMock) RememberObjects() {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.state = &stripeState{objects: map[string]map[string]any{}, created: map[string]int64{}}
}

// SetMetadata sets a remembered object's metadata key, as a client with
// some key could (a payment method's metadata can be written from a
// browser with the publishable key).
func (sm *StripeMock) SetMetadata(id, key, value string) {
	st := sm.stateOrNil()
	st.mu.Lock()
	defer st.mu.Unlock()
	if o := st.objects[id]; o != nil {
		meta, _ := o["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
		}
		meta[key] = value
		o["metadata"] = meta
	}
}

func (sm *StripeMock) stateOrNil() *stripeState {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.state
}

// answer answers the lists and searches from the state, and reports
// whether it did.
func (st *stripeState) answer(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	q := r.URL.Query()
	var data []map[string]any
	object := "list"
	st.mu.Lock()
	switch {
	case len(seg) == 2 && seg[1] == "customers":
		data = st.filter(func(o map[string]any) bool { return o["object"] == "customer" && o["deleted"] != true })
	case len(seg) == 3 && seg[1] == "customers" && seg[2] == "search":
		user, ok := searchedUser(q.Get("query"))
		if !ok {
			st.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":{"type":"invalid_request_error","message":"unsupported search query"}}`)
			return true
		}
		object = "search_result"
		data = st.filter(func(o map[string]any) bool {
			meta, _ := o["metadata"].(map[string]any)
			return o["object"] == "customer" && o["deleted"] != true && meta["paygate_user"] == user
		})
	case len(seg) == 2 && (seg[1] == "payment_intents" || seg[1] == "setup_intents" || seg[1] == "payment_methods") && q.Has("customer"):
		kind := strings.TrimSuffix(seg[1], "s")
		data = st.filter(func(o map[string]any) bool { return o["object"] == kind && o["customer"] == q.Get("customer") })
	case len(seg) == 4 && seg[1] == "customers" && seg[3] == "payment_methods":
		data = st.filter(func(o map[string]any) bool { return o["object"] == "payment_method" && o["customer"] == seg[2] })
	default:
		st.mu.Unlock()
		return false
	}
	st.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"object": object, "data": data, "has_more": false, "url": r.URL.Path})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_state")
	_, _ = w.Write(body)
	return true
}

// filter returns copies of the remembered objects keep accepts, oldest
// first; st.mu must be held.
func (st *stripeState) filter(keep func(map[string]any) bool) []map[string]any {
	ids := slices.SortedFunc(maps.Keys(st.objects), func(a, b string) int { return int(st.created[a] - st.created[b]) })
	out := []map[string]any{}
	for _, id := range ids {
		if o := st.objects[id]; keep(o) {
			out = append(out, maps.Clone(o))
		}
	}
	return out
}

// searchedUser reads the one search query paygate sends,
// metadata['paygate_user']:'<user>' with \ escaping quotes and
// backslashes; anything else (an injection that left the string) is not
// understood.
func searchedUser(query string) (string, bool) {
	rest, ok := strings.CutPrefix(query, "metadata['paygate_user']:'")
	if !ok {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '\\' && i+1 < len(rest):
			i++
			b.WriteByte(rest[i])
		case c == '\'':
			return b.String(), i == len(rest)-1
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// observe remembers what a successful call created or changed, then
// patches its response body; it returns the body to send.
func (st *stripeState) observe(r *http.Request, form url.Values, status int, body []byte) []byte {
	if status/100 != 2 {
		return body
	}
	var resp map[string]any
	if json.Unmarshal(body, &resp) != nil {
		return body
	}
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	st.mu.Lock()
	defer st.mu.Unlock()
	id, _ := resp["id"].(string)
	switch {
	case r.Method == http.MethodPost && len(seg) == 2 && stateful[seg[1]] && id != "":
		meta := map[string]any{}
		for k, v := range form {
			if name, ok := strings.CutPrefix(k, "metadata["); ok && strings.HasSuffix(name, "]") {
				meta[strings.TrimSuffix(name, "]")] = v[0]
			}
		}
		resp["metadata"] = meta
		if c := form.Get("customer"); c != "" {
			resp["customer"] = c
		}
		st.seq++
		st.objects[id], st.created[id] = resp, st.seq
		// Creation order, for "oldest first".
		resp["created"] = 1_700_000_000 + st.seq
	case r.Method == http.MethodPost && len(seg) == 4 && seg[1] == "payment_methods" && seg[3] == "attach":
		st.remember(seg[2], resp)["customer"] = form.Get("customer")
	case r.Method == http.MethodPost && len(seg) == 4 && seg[1] == "payment_methods" && seg[3] == "detach":
		st.remember(seg[2], resp)["customer"] = nil
	case r.Method == http.MethodDelete && len(seg) == 3 && seg[1] == "customers":
		if o := st.objects[seg[2]]; o != nil {
			o["deleted"] = true
		}
	}
	b, err := json.Marshal(st.patch(resp))
	if err != nil {
		return body
	}
	return b
}

// remember returns the remembered object id, remembering resp as it if it
// was not; st.mu must be held.
func (st *stripeState) remember(id string, resp map[string]any) map[string]any {
	if o := st.objects[id]; o != nil {
		return o
	}
	resp["id"] = id
	st.seq++
	st.objects[id], st.created[id] = resp, st.seq
	return resp
}

// patch gives every object in v that names a remembered object that
// object's metadata and customer; st.mu must be held.
func (st *stripeState) patch(v any) any {
	switch v := v.(type) {
	case map[string]any:
		id, _ := v["id"].(string)
		if o := st.objects[id]; o != nil {
			if o["deleted"] == true {
				return map[string]any{"id": id, "object": o["object"], "deleted": true}
			}
			meta, _ := o["metadata"].(map[string]any)
			v["metadata"] = maps.Clone(meta)
			if c, ok := o["customer"]; ok && id != "" && o["object"] != "customer" {
				if expanded, ok := v["customer"].(map[string]any); ok && c != nil {
					expanded["id"] = c
					v["customer"] = expanded
				} else {
					v["customer"] = c
				}
			}
		}
		for k, x := range v {
			if k != "metadata" {
				v[k] = st.patch(x)
			}
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = st.patch(x)
		}
		return v
	}
	return v
}

// patchResponse is the proxy's ModifyResponse with a state: it remembers
// and patches JSON answers.
func (st *stripeState) patchResponse(res *http.Response, form url.Values) error {
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	body = st.observe(res.Request, form, res.StatusCode, body)
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}
