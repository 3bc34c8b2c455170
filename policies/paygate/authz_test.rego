package paygate.authz_test

import data.paygate.authz

# req builds an input document as the opa_authz stage does.
req(method, template, type, id, owner, user, claims) := {
	"method": method,
	"path": replace(template, "{id}", id),
	"route": {"template": template, "resource_type": type, "resource_id": id},
	"user": {"sub": user, "claims": claims},
	"client_ip": "192.0.2.10",
	"time": "2026-01-02T03:04:05Z",
	"resource": {"type": type, "id": id, "owner": owner, "exists": owner != ""},
}

intent(method, template, owner, user) := req(method, template, "payment_intent", "pi_1", owner, user, {})

card(method, owner, user) := req(method, "/v1/payment_methods/{id}", "payment_method", "pm_1", owner, user, {})

support(method, template, type, id, owner) := req(method, template, type, id, owner, "agent", {"role": "support"})

allowed(doc) if authz.decision.allow with input as doc

reason(doc) := r if {
	r := authz.decision.reason with input as doc
}

# Owners.

test_owner_reads_intent if allowed(intent("GET", "/v1/payment_intents/{id}", "alice", "alice"))

test_owner_confirms_intent if allowed(intent("POST", "/v1/payment_intents/{id}/confirm", "alice", "alice"))

test_owner_cancels_intent if allowed(intent("POST", "/v1/payment_intents/{id}/cancel", "alice", "alice"))

test_owner_reads_setup_intent if {
	allowed(req("GET", "/v1/setup_intents/{id}", "setup_intent", "seti_1", "alice", "alice", {}))
}

test_owner_detaches_card if allowed(card("DELETE", "alice", "alice"))

test_owner_reason if reason(intent("GET", "/v1/payment_intents/{id}", "alice", "alice")) == "owner"

# Other users: every operation on someone else's object is refused.

test_other_user_denied if {
	every op in authz.owner_operations {
		doc := req(op.method, op.template, op.type, "obj_1", "bob", "alice", {})
		not allowed(doc)
		reason(doc) == "not_owner"
	}
}

test_missing_resource_denied if {
	every op in authz.owner_operations {
		doc := req(op.method, op.template, op.type, "obj_404", "", "alice", {})
		not allowed(doc)
		reason(doc) == "not_owner"
	}
}

test_owner_record_without_exists_denied if {
	doc := json.patch(intent("GET", "/v1/payment_intents/{id}", "alice", "alice"), [{"op": "replace", "path": "/resource/exists", "value": false}])
	not allowed(doc)
}

test_owner_wrong_method_denied if {
	not allowed(intent("DELETE", "/v1/payment_intents/{id}", "alice", "alice"))
	not allowed(card("GET", "alice", "alice"))
	not allowed(card("POST", "alice", "alice"))
}

test_owner_type_mismatch_denied if {
	# A template configured with another resource type is not an owner operation.
	not allowed(req("GET", "/v1/payment_intents/{id}", "payment_method", "pi_1", "alice", "alice", {}))
}

# Collections: any authenticated caller; the handler scopes them.

test_collections_allowed if {
	allowed(req("POST", "/v1/payment_intents", "payment_intent", "", "", "alice", {}))
	allowed(req("POST", "/v1/setup_intents", "setup_intent", "", "", "alice", {}))
	allowed(req("GET", "/v1/payment_methods", "payment_method", "", "", "alice", {}))
	allowed(req("DELETE", "/v1/customers/me", "customer", "", "", "alice", {}))
	reason(req("GET", "/v1/payment_methods", "payment_method", "", "", "alice", {})) == "caller_scoped"
}

test_collections_other_methods_denied if {
	not allowed(req("GET", "/v1/payment_intents", "payment_intent", "", "", "alice", {}))
	not allowed(req("DELETE", "/v1/payment_methods", "payment_method", "", "", "alice", {}))
	not allowed(req("GET", "/v1/customers/me", "customer", "", "", "alice", {}))
}

test_collections_need_authentication if {
	doc := req("POST", "/v1/payment_intents", "payment_intent", "", "", "", {})
	not allowed(doc)
	reason(doc) == "unauthenticated"
}

# The support role: read-only access to any existing resource.

test_support_reads_any_intent if {
	doc := support("GET", "/v1/payment_intents/{id}", "payment_intent", "pi_1", "bob")
	allowed(doc)
	reason(doc) == "support_read"
}

test_support_reads_any_setup_intent if {
	allowed(support("GET", "/v1/setup_intents/{id}", "setup_intent", "seti_1", "bob"))
}

test_support_cannot_write if {
	not allowed(support("POST", "/v1/payment_intents/{id}/confirm", "payment_intent", "pi_1", "bob"))
	not allowed(support("POST", "/v1/payment_intents/{id}/cancel", "payment_intent", "pi_1", "bob"))
	not allowed(support("DELETE", "/v1/payment_methods/{id}", "payment_method", "pm_1", "bob"))
}

test_support_cannot_read_missing_resource if {
	not allowed(support("GET", "/v1/payment_intents/{id}", "payment_intent", "pi_404", ""))
}

test_support_role_among_several if {
	allowed(req("GET", "/v1/payment_intents/{id}", "payment_intent", "pi_1", "bob", "agent", {"role": "billing, support"}))
	allowed(req("GET", "/v1/payment_intents/{id}", "payment_intent", "pi_1", "bob", "agent", {"role": "billing support"}))
}

test_similar_role_is_not_support if {
	not allowed(req("GET", "/v1/payment_intents/{id}", "payment_intent", "pi_1", "bob", "agent", {"role": "support-lead"}))
	not allowed(req("GET", "/v1/payment_intents/{id}", "payment_intent", "pi_1", "bob", "agent", {"role": "Support"}))
	not allowed(req("GET", "/v1/payment_intents/{id}", "payment_intent", "pi_1", "bob", "agent", {"roles": "support"}))
}

# Deny by default.

test_unauthenticated_denied if {
	doc := intent("GET", "/v1/payment_intents/{id}", "", "")
	not allowed(doc)
	reason(doc) == "unauthenticated"
}

test_unknown_route_denied if {
	doc := req("GET", "", "", "", "", "alice", {})
	not allowed(doc)
	reason(doc) == "no_matching_rule"
}

test_empty_input_denied if {
	not authz.decision.allow with input as {}
	authz.decision.reason == "unauthenticated" with input as {}
}

test_decision_is_always_an_object if {
	every doc in [{}, {"user": {"sub": "alice"}}, intent("PATCH", "/v1/x", "alice", "alice")] {
		is_object(authz.decision) with input as doc
		is_boolean(authz.decision.allow) with input as doc
		is_string(authz.decision.reason) with input as doc
	}
}
