package paygate.log_test

import data.paygate.log

event(claims) := {"input": {"user": {"sub": "alice", "claims": claims}}}

test_identity_claims_masked if {
	log.mask == {"/input/user/claims/email", "/input/user/claims/name"} with input as event({"email": "a@example.com", "name": "Alice", "role": "support"})
}

test_role_claims_kept if {
	count(log.mask) == 0 with input as event({"role": "support", "roles": "a b", "scope": "pay"})
}

test_no_claims_nothing_masked if {
	count(log.mask) == 0 with input as {"input": {"user": {"sub": "alice"}}}
}
