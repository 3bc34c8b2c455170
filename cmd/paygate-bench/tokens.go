package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/paygate/paygate/internal/devtoken"
)

// The benchmark is its own identity provider: an RS256 and an EdDSA key,
// their JWKS, and tokens that deploy/Caddyfile's jwt_auth accepts.

const (
	// benchIssuer is PAYGATE_ISSUER and every token's iss.
	benchIssuer = "https://id.bench.paygate.localhost"
	// benchUser is every token's sub, the owner of benchIntent.
	benchUser = "user_bench"
	// tokenTTL keeps every token valid well after the run.
	tokenTTL = 24 * time.Hour
	// mintCommand is the subcommand that mints token pools (see runMint).
	mintCommand = "mint"
)

// tokenOptions describe every token of the benchmark: an access token
// (typ at+jwt) for paygate's audience, of a customer.
func tokenOptions() devtoken.Options {
	return devtoken.Options{
		Subject:  benchUser,
		Issuer:   benchIssuer,
		Audience: devtoken.DefaultAudience,
		TTL:      tokenTTL,
		Type:     devtoken.DefaultType,
		Claims:   map[string]any{"role": "customer"},
	}
}

// signingKey is one of the identity provider's keys.
type signingKey struct {
	alg string
	// file is the PEM private key, which the mint subcommand reads.
	file string
	key  jwk.Key
}

// generateKeys makes an RSA-2048 key (RS256) and an Ed25519 key (EdDSA),
// writes them as PEM files in dir, and returns them by algorithm.
func generateKeys(dir string) (map[string]*signingKey, error) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	keys := map[string]*signingKey{}
	for alg, raw := range map[string]any{"RS256": rsaKey, "EdDSA": edKey} {
		der, err := x509.MarshalPKCS8PrivateKey(raw)
		if err != nil {
			return nil, err
		}
		file := filepath.Join(dir, strings.ToLower(alg)+".pem")
		if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
		// LoadKey gives the key the kid that the JWKS lists.
		key, err := devtoken.LoadKey(file)
		if err != nil {
			return nil, err
		}
		keys[alg] = &signingKey{alg: alg, file: file, key: key}
	}
	return keys, nil
}

// jwksJSON is the JWKS of keys' public halves.
func jwksJSON(keys map[string]*signingKey) ([]byte, error) {
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := k.key.PublicKey()
		if err != nil {
			return nil, err
		}
		if err := pub.Set(jwk.AlgorithmKey, k.alg); err != nil {
			return nil, err
		}
		if err := pub.Set(jwk.KeyUsageKey, "sig"); err != nil {
			return nil, err
		}
		if err := set.AddKey(pub); err != nil {
			return nil, err
		}
	}
	return json.Marshal(set)
}

// mintPools mints a pool of tokens for each of algs and returns the pools'
// files by algorithm: rounds files (round 0 is the warm-up), perRound
// tokens in each, one a line, all distinct. It runs the mint subcommand of
// this executable on every CPU: RSA signing is slow, and nothing is
// measured yet.
func mintPools(ctx context.Context, dir string, keys map[string]*signingKey, algs []string, rounds, perRound int) (map[string][]string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cpus := readMachine().onlineCPUs
	pools := map[string][]string{}
	for _, alg := range algs {
		var files []string
		for r := range rounds {
			files = append(files, filepath.Join(dir, fmt.Sprintf("%s-%d.txt", strings.ToLower(alg), r)))
		}
		args := append([]string{"-c", cpus, self, mintCommand,
			"-key", keys[alg].file, "-count", strconv.Itoa(perRound)}, files...)
		if _, err := output(command(ctx, "taskset", args...)); err != nil {
			return nil, err
		}
		pools[alg] = files
	}
	return pools, nil
}

// runMint is the mint subcommand: it writes -count tokens (tokenOptions,
// signed with the PEM key -key) into each file named by its arguments, one a
// line, on as many goroutines as it has CPUs. Every token has its own jti.
func runMint(args []string) error {
	fs := flag.NewFlagSet(mintCommand, flag.ContinueOnError)
	keyFile := fs.String("key", "", "PEM private key")
	count := fs.Int("count", 0, "tokens per file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyFile == "" || *count < 1 || fs.NArg() == 0 {
		return errors.New("usage: " + mintCommand + " -key <pem> -count <n> <file>...")
	}
	key, err := devtoken.LoadKey(*keyFile)
	if err != nil {
		return err
	}
	for _, file := range fs.Args() {
		tokens, err := mintParallel(key, *count, runtime.GOMAXPROCS(0))
		if err != nil {
			return err
		}
		if err := os.WriteFile(file, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// mintParallel mints n tokens with key on workers goroutines.
func mintParallel(key jwk.Key, n, workers int) ([]string, error) {
	tokens := make([]string, n)
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				if tokens[i], errs[w] = devtoken.Mint(key, tokenOptions()); errs[w] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return tokens, errors.Join(errs...)
}
