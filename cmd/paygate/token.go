package main

import (
	"encoding/json"
	"fmt"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/paygate/paygate/internal/devtoken"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "token",
		Usage: "--sub <subject> [--key <pem>] [--kid <key ID>] [--iss <issuer>] [--aud <audience>] [--ttl <duration>] [--typ <type>] [--alg <alg>] [--claim <name>=<value>]...",
		Short: "Mints a development JWT signed with a local key",
		Long: `
Prints a JWT signed with a local private key, for calling the API by hand:

    curl -H "Authorization: Bearer $(paygate token --sub user_1)" ...

The defaults (the development key in ` + devtoken.DefaultKeyFile + `, issuer
` + devtoken.DefaultIssuer + `, audience ` + devtoken.DefaultAudience + `, typ ` + devtoken.DefaultType + `) are what the
shipped Caddyfile accepts. The development key is public: never configure a
deployment to accept it.

--kid names the key in the token's header; the default is the key's RFC 7638
thumbprint, the kid the development JWKS lists. A key set with named keys
needs the name its key has there.

--claim adds a claim; a value that is valid JSON (a number, true, an array)
is used as such, anything else as a string. A negative --ttl mints an
expired token.
`,
		CobraFunc: setUpToken,
	})
}

// setUpToken declares the token command's flags and its run function.
func setUpToken(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("sub", "", "Subject (user ID); required")
	f.String("key", devtoken.DefaultKeyFile, "PEM private key to sign with")
	f.String("kid", "", "Key ID in the header (default: the key's thumbprint)")
	f.String("iss", devtoken.DefaultIssuer, "Issuer")
	f.String("aud", devtoken.DefaultAudience, "Audience")
	f.Duration("ttl", devtoken.DefaultTTL, "Lifetime")
	f.String("typ", devtoken.DefaultType, `Type header ("" for none)`)
	f.String("alg", "", "Algorithm (default: the one the key's type implies)")
	f.StringArray("claim", nil, "Extra claim as name=value (repeatable)")
	// The flag was just declared, so marking it cannot fail.
	_ = cmd.MarkFlagRequired("sub")
	cmd.RunE = runToken
}

func runToken(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	var o devtoken.Options
	var keyFile string
	var claims []string
	var err error
	for name, dst := range map[string]*string{"sub": &o.Subject, "key": &keyFile, "kid": &o.KeyID, "iss": &o.Issuer, "aud": &o.Audience, "typ": &o.Type, "alg": &o.Alg} {
		if *dst, err = f.GetString(name); err != nil {
			return err
		}
	}
	if o.TTL, err = f.GetDuration("ttl"); err != nil {
		return err
	}
	if claims, err = f.GetStringArray("claim"); err != nil {
		return err
	}
	if o.Claims, err = parseClaims(claims); err != nil {
		return err
	}
	key, err := devtoken.LoadKey(keyFile)
	if err != nil {
		return err
	}
	token, err := devtoken.Mint(key, o)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), token)
	return err
}

// parseClaims reads name=value pairs; a value that is valid JSON is used as
// JSON, anything else as a string.
func parseClaims(pairs []string) (map[string]any, error) {
	claims := make(map[string]any, len(pairs))
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--claim %q: want name=value", p)
		}
		var v any = value
		if json.Valid([]byte(value)) {
			v = json.RawMessage(value)
		}
		claims[name] = v
	}
	return claims, nil
}
