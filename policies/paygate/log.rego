# METADATA
# title: decision-log masking
# description: |
#   OPA's decision-log plugin evaluates data.paygate.log.mask (the
#   opa_authz default for decision_logs.mask_decision) on every decision
#   before it is written or uploaded. Here input is the decision-log event,
#   so the decision's input document is input.input.
package paygate.log

# kept_claims are the claims a decision log keeps: they say what a caller
# may do, not who the caller is. Every other claim (an email address, a
# name) is removed from the logged input.
kept_claims := {"role", "roles", "scope"}

mask contains path if {
	some name, _ in input.input.user.claims
	not name in kept_claims
	path := concat("/", ["", "input", "user", "claims", name])
}
