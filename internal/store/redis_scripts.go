package store

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts behind Redis's multi-step operations. Each runs as one
// EVALSHA (EVAL once per server, when its script cache lacks it).
var (
	//go:embed scripts/limit.lua
	limitLua    string
	limitScript = redis.NewScript(limitLua)

	//go:embed scripts/refund.lua
	refundLua    string
	refundScript = redis.NewScript(refundLua)

	//go:embed scripts/acquire.lua
	acquireLua    string
	acquireScript = redis.NewScript(acquireLua)

	//go:embed scripts/complete.lua
	completeLua    string
	completeScript = redis.NewScript(completeLua)

	//go:embed scripts/release.lua
	releaseLua    string
	releaseScript = redis.NewScript(releaseLua)

	//go:embed scripts/renew.lua
	renewLua    string
	renewScript = redis.NewScript(renewLua)

	//go:embed scripts/set_if_higher.lua
	setIfHigherLua    string
	setIfHigherScript = redis.NewScript(setIfHigherLua)
)
