# METADATA
# title: paygate ownership policy
# description: |
#   Decides whether the caller may perform the request: owners act on their
#   own payment intents, setup intents and payment methods; collection
#   routes are open to any authenticated caller (the payment handler scopes
#   them to the caller); the support role reads any existing resource.
#   Everything else is denied. The input document is described in
#   policies/README.md.
package paygate.authz

# decision is what the opa_authz stage queries. It is always defined: the
# else chain ends in a deny, so a request no rule speaks for is refused.
decision := {"allow": false, "reason": "unauthenticated"} if {
	not authenticated
} else := {"allow": true, "reason": "owner"} if {
	owner_access
} else := {"allow": true, "reason": "caller_scoped"} if {
	collection_access
} else := {"allow": true, "reason": "support_read"} if {
	support_read
} else := {"allow": false, "reason": "not_owner"} if {
	input.resource.id != ""
} else := {"allow": false, "reason": "no_matching_rule"}

authenticated if input.user.sub != ""

# Operations on one resource that its owner may perform, by method and route
# template (the templates configured in opa_authz).
owner_operations := {
	{"method": "GET", "template": "/v1/payment_intents/{id}", "type": "payment_intent"},
	{"method": "POST", "template": "/v1/payment_intents/{id}/confirm", "type": "payment_intent"},
	{"method": "POST", "template": "/v1/payment_intents/{id}/cancel", "type": "payment_intent"},
	{"method": "GET", "template": "/v1/setup_intents/{id}", "type": "setup_intent"},
	{"method": "DELETE", "template": "/v1/payment_methods/{id}", "type": "payment_method"},
}

# Operations on a collection; the payment handler scopes them to the caller
# (it creates, lists or erases only the caller's own objects).
collection_operations := {
	{"method": "POST", "template": "/v1/payment_intents"},
	{"method": "POST", "template": "/v1/setup_intents"},
	{"method": "GET", "template": "/v1/payment_methods"},
	{"method": "DELETE", "template": "/v1/customers/me"},
}

# operation is the request's operation on a resource, when it is one the
# policy knows.
operation := op if {
	some op in owner_operations
	op.method == input.method
	op.template == input.route.template
	op.type == input.resource.type
}

# existing holds when the ownership index knows the resource.
existing if {
	input.resource.id != ""
	input.resource.exists == true
	input.resource.owner != ""
}

owner_access if {
	operation
	existing
	input.resource.owner == input.user.sub
}

collection_access if {
	{"method": input.method, "template": input.route.template} in collection_operations
}

# support_read is the second rule: a caller with the support role may read
# (GET only) any existing resource, whoever owns it. It never allows a
# write and never reveals a resource that does not exist.
support_read if {
	"support" in roles
	input.method == "GET"
	operation
	existing
}

# roles are the caller's roles from the "role" claim, which may hold several
# separated by spaces or commas.
roles contains role if {
	some role in split(replace(input.user.claims.role, ",", " "), " ")
	role != ""
}
