package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestPrintVersion(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/paygate/paygate", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/caddyserver/caddy/v2", Version: "v2.11.9"},
			{Path: "github.com/open-policy-agent/opa", Version: "v1.22.4"},
			{Path: "github.com/redis/go-redis/v9", Version: "v9.0.0", Replace: &debug.Module{Path: "github.com/redis/go-redis/v9", Version: "v9.9.9"}},
		},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-07T04:00:00Z"}, {Key: "vcs.modified", Value: "true"}},
	}
	var b bytes.Buffer
	printVersion(&b, info)
	for _, want := range []string{
		"paygate (devel) (abc123 2026-12-07T04:00:00Z +dirty)\n",
		"go go1.26.8\n",
		"github.com/caddyserver/caddy/v2 v2.11.9\n",
		"github.com/open-policy-agent/opa v1.22.4\n",
		"github.com/redis/go-redis/v9 v9.9.9\n",
		"github.com/stripe/stripe-go/v76 (not built in)\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, b.String())
		}
	}
}
