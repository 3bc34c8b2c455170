package offline

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestSkip(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	logger := zap.New(core)

	if Enabled() || Skip(logger, "the JWKS fetch") {
		t.Fatal("offline is on before Enable")
	}
	if n := logs.Len(); n != 0 {
		t.Fatalf("%d log lines while off, want none", n)
	}

	disable := Enable()
	if !Enabled() || !Skip(logger, "the JWKS fetch", zap.String("url", "https://id.example.com/jwks")) {
		t.Fatal("offline is off after Enable")
	}
	entries := logs.All()
	if len(entries) != 1 || entries[0].Message != "offline validation: skipped the JWKS fetch" || entries[0].ContextMap()["url"] != "https://id.example.com/jwks" {
		t.Fatalf("logged %+v, want one line naming the skipped step and its URL", entries)
	}

	disable()
	if Enabled() || Skip(logger, "the JWKS fetch") {
		t.Fatal("offline is still on after disable")
	}
}
