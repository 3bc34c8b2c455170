package main

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.rounds != 5 || o.duration != 10*time.Second || o.connections != 32 || !slices.Equal(o.targets, targetNames()) || !filepath.IsAbs(o.paygate) {
		t.Errorf("defaults: %+v", o)
	}
	o, err = parseFlags([]string{"-targets", "stock-caddy, bare,bare", "-rounds", "2", "-duration", "3s"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.targets, []string{targetStock, targetBare}) || o.rounds != 2 || o.duration != 3*time.Second {
		t.Errorf("parsed %+v", o)
	}
	if got := selectTargets(o.targets); len(got) != 2 || got[0].name != targetBare || got[1].name != targetStock {
		t.Errorf("selectTargets = %+v, want bare then stock-caddy", got)
	}
	for _, bad := range [][]string{
		{"-targets", "bare,nope"},
		{"-targets", ","},
		{"-rounds", "0"},
		{"-duration", "1500ms"},
		{"-duration", "500ms"},
		{"-connections", "0"},
		{"extra"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q): no error", bad)
		}
	}
}
