package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/paygate/paygate/internal/testenv"
)

// The deployment kit under deploy/ (issue #15): Kubernetes manifests, the
// container image and the systemd unit. These tests read the files as an
// operator's tools would and check what the design demands of them, so that
// none of them rots: probes on the internal listener, a locked-down
// container, secrets only by reference, generated files in step with their
// sources.

var updateManifests = flag.Bool("update-manifests", false,
	"rewrite the generated files under deploy/kubernetes (the Caddyfile copies, and paygate.yaml with kubectl or kustomize)")

const (
	kubeDir = "deploy/kubernetes"
	// plainManifest is the base's build, committed for kubectl without
	// kustomize.
	plainManifest = kubeDir + "/paygate.yaml"
	// imageConfig is the Caddyfile the image's CMD runs.
	imageConfig = "/etc/paygate/Caddyfile"
)

// plainHeader heads paygate.yaml, above the build output.
const plainHeader = `# Generated from deploy/kubernetes/base by kubectl kustomize (run
# go test ./e2e -run Manifest -update-manifests); edit the base, not this file.
# kubectl apply -n <namespace> -f deploy/kubernetes/paygate.yaml, once the
# Secrets and the ConfigMap that deploy/kubernetes/README.md lists exist.
`

// caddyfileCopy is a Caddyfile under deploy/kubernetes, made from
// deploy/Caddyfile: a kustomization cannot read files outside its directory.
type caddyfileCopy struct {
	dir string // the kustomization's directory
	// store replaces the line "url {env.REDIS_URL}" of the store block
	// (one line per element, indented as it was); none keeps it.
	store []string
	// topology is what the adapted store must hold: "url", "sentinel" or
	// "cluster".
	topology string
}

var caddyfileCopies = []caddyfileCopy{
	{dir: kubeDir + "/base", topology: "url"},
	{dir: kubeDir + "/overlays/sentinel", topology: "sentinel", store: []string{
		"sentinel {$REDIS_SENTINEL_MASTER} {$REDIS_SENTINEL_ADDRS}",
		"sentinel_auth {$REDIS_SENTINEL_USERNAME:default} {env.REDIS_SENTINEL_PASSWORD}",
		"username {$REDIS_USERNAME:default}",
		"password {env.REDIS_PASSWORD}",
	}},
	{dir: kubeDir + "/overlays/cluster", topology: "cluster", store: []string{
		"cluster {$REDIS_CLUSTER_ADDRS}",
		"username {$REDIS_USERNAME:default}",
		"password {env.REDIS_PASSWORD}",
	}},
}

// want is the content the copy must have.
func (c caddyfileCopy) want(t *testing.T, source []byte) []byte {
	t.Helper()
	header := "# Generated from deploy/Caddyfile by `go test ./e2e -run Manifest -update-manifests`:\n" +
		"# edit deploy/Caddyfile (or the store lines in e2e/manifests_test.go), not this copy.\n"
	if c.store == nil {
		return append([]byte(header), source...)
	}
	header += "# The store block is " + c.topology + "'s: see " + filepath.Join(c.dir, "kustomization.yaml") + ".\n"
	lines := strings.SplitAfter(string(source), "\n")
	found := 0
	var out strings.Builder
	out.WriteString(header)
	for _, line := range lines {
		if strings.TrimSpace(line) != "url {env.REDIS_URL}" {
			out.WriteString(line)
			continue
		}
		found++
		indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
		for _, s := range c.store {
			out.WriteString(indent + s + "\n")
		}
	}
	if found != 1 {
		t.Fatalf("deploy/Caddyfile has %d lines \"url {env.REDIS_URL}\", want 1: update the store lines of %s in e2e/manifests_test.go", found, c.dir)
	}
	return []byte(out.String())
}

// TestManifestCaddyfileCopies: each Caddyfile under deploy/kubernetes is
// deploy/Caddyfile, with the overlay's store block; -update-manifests
// rewrites them.
func TestManifestCaddyfileCopies(t *testing.T) {
	source := deployRead(t, "deploy/Caddyfile")
	for _, c := range caddyfileCopies {
		path := filepath.Join(c.dir, "Caddyfile")
		want := c.want(t, source)
		if *updateManifests {
			if err := os.WriteFile(deployAbs(t, path), want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got := deployRead(t, path); !bytes.Equal(got, want) {
			t.Errorf("%s is not deploy/Caddyfile with its store block: run go test ./e2e -run Manifest -update-manifests", path)
		}
	}
}

// TestManifestPlainMatchesBase: paygate.yaml is the base's build.
// -update-manifests rewrites it.
func TestManifestPlainMatchesBase(t *testing.T) {
	built := kustomizeBuild(t, kubeDir+"/base")
	if *updateManifests {
		if err := os.WriteFile(deployAbs(t, plainManifest), append([]byte(plainHeader), built...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed := deployRead(t, plainManifest)
	if !bytes.HasPrefix(committed, []byte(plainHeader)) {
		t.Errorf("%s lost its header", plainManifest)
	}
	if !reflect.DeepEqual(parseObjects(t, plainManifest, committed), parseObjects(t, "the base's build", built)) {
		t.Errorf("%s is not the build of %s/base: run go test ./e2e -run Manifest -update-manifests", plainManifest, kubeDir)
	}
}

// kustomizer returns the command that builds a kustomization: the
// harness's own build (PAYGATE_KUSTOMIZE, which make test builds from
// tools/kustomize with kustomize's library), else kustomize, else kubectl's
// built-in one.
func kustomizer() (func(dir string) *exec.Cmd, error) {
	if path := os.Getenv("PAYGATE_KUSTOMIZE"); path != "" {
		return func(dir string) *exec.Cmd { return exec.Command(path, dir) }, nil
	}
	if path, err := exec.LookPath("kustomize"); err == nil {
		return func(dir string) *exec.Cmd { return exec.Command(path, "build", dir) }, nil
	}
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return nil, errors.New("set PAYGATE_KUSTOMIZE (make kustomize), or install kustomize or kubectl")
	}
	return func(dir string) *exec.Cmd { return exec.Command(path, "kustomize", dir) }, nil
}

// kustomizeBuild builds the kustomization in dir (relative to the
// repository). Without a kustomize build it fails in CI, and skips
// elsewhere.
func kustomizeBuild(t *testing.T, dir string) []byte {
	t.Helper()
	build, err := kustomizer()
	testenv.Require(t, "a kustomize build", err)
	cmd := build(deployAbs(t, dir))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.Bytes())
	}
	return out
}

// object is one Kubernetes object as YAML decodes it.
type object = map[string]any

// parseObjects decodes every document of a YAML stream; empty documents are
// skipped.
func parseObjects(t *testing.T, name string, data []byte) []object {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var objs []object
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
}

// at walks maps by key; it returns nil where the path does not exist.
func at(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := at(v, path...).(string)
	return s
}

func list(v any, path ...string) []any {
	l, _ := at(v, path...).([]any)
	return l
}

// TestManifestObjects: every document under deploy/kubernetes is a
// Kubernetes object with apiVersion, kind and metadata.name (kustomize's
// own Kustomization files excepted: they name nothing); no Secret holds a
// value; no file under deploy/ or the Dockerfile holds secret material.
func TestManifestObjects(t *testing.T) {
	files := 0
	err := filepath.WalkDir(deployAbs(t, kubeDir), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, o := range parseObjects(t, path, data) {
			where := path + " document " + strconv.Itoa(i+1)
			kind := str(o, "kind")
			if str(o, "apiVersion") == "" || kind == "" {
				t.Errorf("%s: no apiVersion or kind", where)
			}
			if kind != "Kustomization" && str(o, "metadata", "name") == "" {
				t.Errorf("%s: %s without metadata.name", where, kind)
			}
			if kind == "Secret" && (at(o, "data") != nil || at(o, "stringData") != nil) {
				t.Errorf("%s: Secret %s holds values: ship secrets as references only", where, str(o, "metadata", "name"))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no YAML files under %s", kubeDir)
	}
	for _, f := range []string{"deploy", "Dockerfile"} {
		noSecretMaterial(t, f)
	}
}

// secretMaterial matches what must never be written in a deployment file:
// Stripe keys, webhook secrets, private keys and URLs with a password (the
// documentation's placeholder PASSWORD aside).
var secretMaterial = regexp.MustCompile(`\b(sk|rk)_(live|test)_[0-9A-Za-z]{8,}|whsec_[0-9A-Za-z]{8,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|://[^/\s:@{}]+:[^/\s@{}]+@`)

// noSecretMaterial fails for each secret found in the files at or below rel.
func noSecretMaterial(t *testing.T, rel string) {
	t.Helper()
	err := filepath.WalkDir(deployAbs(t, rel), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range secretMaterial.FindAll(data, -1) {
			if !bytes.HasSuffix(m, []byte(":PASSWORD@")) {
				t.Errorf("%s holds secret material (%.12s...)", path, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rendering is one set of objects as they reach the cluster.
type rendering struct {
	name string
	objs []object
	// topology is the store the Caddyfile must configure.
	topology string
}

// renderings are paygate.yaml and the builds of the base and of every
// overlay.
func renderings(t *testing.T) []rendering {
	t.Helper()
	rs := []rendering{{name: plainManifest, objs: parseObjects(t, plainManifest, deployRead(t, plainManifest)), topology: "url"}}
	for _, c := range caddyfileCopies {
		out := kustomizeBuild(t, c.dir)
		rs = append(rs, rendering{name: c.dir, objs: parseObjects(t, c.dir, out), topology: c.topology})
	}
	return rs
}

// find returns the objects of a kind.
func (r rendering) find(kind string) []object {
	var found []object
	for _, o := range r.objs {
		if str(o, "kind") == kind {
			found = append(found, o)
		}
	}
	return found
}

// configMap returns the data of the ConfigMap called name.
func (r rendering) configMap(name string) map[string]any {
	for _, o := range r.find("ConfigMap") {
		if str(o, "metadata", "name") == name {
			d, _ := at(o, "data").(map[string]any)
			return d
		}
	}
	return nil
}

// paygatePod returns the pod spec of the one Deployment and its container
// named paygate.
func (r rendering) paygatePod(t *testing.T) (pod, container map[string]any) {
	t.Helper()
	deployments := r.find("Deployment")
	if len(deployments) != 1 {
		t.Fatalf("%s: %d Deployments, want 1", r.name, len(deployments))
	}
	pod, _ = at(deployments[0], "spec", "template", "spec").(map[string]any)
	for _, c := range list(pod, "containers") {
		if str(c, "name") == "paygate" {
			return pod, c.(map[string]any)
		}
	}
	t.Fatalf("%s: no container named paygate", r.name)
	return nil, nil
}

// secretLooking reports whether a variable's name says it holds a secret.
func secretLooking(name string) bool {
	n := strings.ToUpper(name)
	return strings.Contains(n, "KEY") || strings.Contains(n, "SECRET") || strings.Contains(n, "TOKEN") || strings.Contains(n, "PASSWORD")
}

// envOf is the container's environment as far as the manifests say it:
// inline values and ConfigMap entries (envFrom, configMapKeyRef) with their
// values, Secret references with "" (their values are never in a manifest).
// Secret-looking names with a value written in a manifest are reported: a
// ConfigMap entry may name a file (an absolute path), nothing else.
func (r rendering) envOf(t *testing.T, c map[string]any) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range list(c, "envFrom") {
		switch {
		case at(from, "configMapRef") != nil:
			name := str(from, "configMapRef", "name")
			data := r.configMap(name)
			if data == nil {
				t.Errorf("%s: envFrom ConfigMap %s is not in the manifests", r.name, name)
			}
			for k, v := range data {
				s, _ := v.(string)
				if secretLooking(k) && !filepath.IsAbs(s) {
					t.Errorf("%s: ConfigMap %s holds %s: a secret belongs in a Secret", r.name, name, k)
				}
				env[k] = s
			}
		case at(from, "secretRef") != nil:
			// Names unknown here; no value is written anywhere.
		default:
			t.Errorf("%s: envFrom entry without configMapRef or secretRef", r.name)
		}
	}
	for _, e := range list(c, "env") {
		name := str(e, "name")
		switch {
		case at(e, "valueFrom", "secretKeyRef") != nil:
			env[name] = ""
		case at(e, "valueFrom", "configMapKeyRef") != nil:
			data := r.configMap(str(e, "valueFrom", "configMapKeyRef", "name"))
			s, _ := data[str(e, "valueFrom", "configMapKeyRef", "key")].(string)
			if secretLooking(name) && !filepath.IsAbs(s) {
				t.Errorf("%s: %s comes from a ConfigMap: a secret belongs in a Secret", r.name, name)
			}
			env[name] = s
		default:
			v := str(e, "value")
			if secretLooking(name) && v != "" {
				t.Errorf("%s: env %s has an inline value: take it from a Secret (secretKeyRef)", r.name, name)
			}
			env[name] = v
		}
	}
	return env
}

// portNumber resolves a probe's or a Service's port (a number or the name
// of one of the container's ports).
func portNumber(c map[string]any, port any) int {
	switch p := port.(type) {
	case int:
		return p
	case string:
		for _, cp := range list(c, "ports") {
			if str(cp, "name") == p {
				n, _ := at(cp, "containerPort").(int)
				return n
			}
		}
	}
	return 0
}

// effective returns the container's security setting at path, or else the
// pod's.
func effective(pod, c map[string]any, path ...string) any {
	if v := at(c, append([]string{"securityContext"}, path...)...); v != nil {
		return v
	}
	return at(pod, append([]string{"securityContext"}, path...)...)
}

// TestManifestDeployment checks the paygate container of every rendering:
// probes on the internal listener, resources, the security context,
// secrets by reference, the Caddyfile from a ConfigMap, writable volumes
// only for Caddy's data and /tmp; and that a PodDisruptionBudget, a
// NetworkPolicy and a metrics Service come with it.
func TestManifestDeployment(t *testing.T) {
	for _, r := range renderings(t) {
		t.Run(r.name, func(t *testing.T) {
			pod, c := r.paygatePod(t)
			env := r.envOf(t, c)

			// Probes: on PAYGATE_INTERNAL_PORT, which is also the
			// container port a ServiceMonitor scrapes; the listener binds
			// the pod's addresses, or the kubelet cannot reach it.
			portText, ok := env["PAYGATE_INTERNAL_PORT"]
			internal, err := strconv.Atoi(portText)
			if !ok || err != nil {
				t.Fatalf("PAYGATE_INTERNAL_PORT = %q, want a port", portText)
			}
			if bind := env["PAYGATE_INTERNAL_BIND"]; bind != "0.0.0.0" {
				t.Errorf("PAYGATE_INTERNAL_BIND = %q, want 0.0.0.0 (the kubelet probes the pod's IP)", bind)
			}
			if got := portNumber(c, "metrics"); got != internal {
				t.Errorf("container port metrics = %d, want the internal listener's %d", got, internal)
			}
			for probe, path := range map[string]string{"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
				get := at(c, probe, "httpGet")
				if get == nil {
					t.Errorf("%s: no httpGet", probe)
					continue
				}
				if got := str(get, "path"); got != path {
					t.Errorf("%s path = %q, want %q", probe, got, path)
				}
				if got := portNumber(c, at(get, "port")); got != internal {
					t.Errorf("%s port = %d, want the internal listener's %d", probe, got, internal)
				}
			}

			for _, bound := range []string{"requests", "limits"} {
				for _, res := range []string{"cpu", "memory"} {
					if at(c, "resources", bound, res) == nil {
						t.Errorf("no resources.%s.%s", bound, res)
					}
				}
			}

			// The security context (the container's, or the pod's where
			// Kubernetes takes it from there).
			if effective(pod, c, "runAsNonRoot") != true {
				t.Error("runAsNonRoot is not true")
			}
			if uid, _ := effective(pod, c, "runAsUser").(int); uid <= 0 {
				t.Errorf("runAsUser = %v, want a numeric non-root user", effective(pod, c, "runAsUser"))
			}
			if at(c, "securityContext", "readOnlyRootFilesystem") != true {
				t.Error("readOnlyRootFilesystem is not true")
			}
			if at(c, "securityContext", "allowPrivilegeEscalation") != false {
				t.Error("allowPrivilegeEscalation is not false")
			}
			if !slices.Contains(list(c, "securityContext", "capabilities", "drop"), any("ALL")) {
				t.Error("capabilities do not drop ALL")
			}
			if effective(pod, c, "seccompProfile", "type") != "RuntimeDefault" {
				t.Error("seccompProfile is not RuntimeDefault")
			}

			checkVolumes(t, r, pod, c, env)

			if len(r.find("PodDisruptionBudget")) == 0 {
				t.Error("no PodDisruptionBudget")
			}
			checkNetworkPolicy(t, r, c, internal)
			metricsService := false
			for _, s := range r.find("Service") {
				for _, p := range list(s, "spec", "ports") {
					if str(p, "name") == "metrics" && portNumber(c, at(p, "targetPort")) == internal {
						metricsService = true
					}
				}
			}
			if !metricsService {
				t.Error("no Service with a port named metrics on the internal listener")
			}
		})
	}
}

// checkVolumes: the Caddyfile comes read-only from a ConfigMap; the only
// writable mounts are Caddy's data directory (XDG_DATA_HOME) and /tmp, on
// emptyDir or PersistentVolumeClaim volumes.
func checkVolumes(t *testing.T, r rendering, pod, c map[string]any, env map[string]string) {
	t.Helper()
	volumes := map[string]any{}
	for _, v := range list(pod, "volumes") {
		volumes[str(v, "name")] = v
	}
	config := imageConfig
	if args := list(c, "args"); len(args) > 0 {
		config = ""
		for i, a := range args {
			if a == "--config" && i+1 < len(args) {
				config, _ = args[i+1].(string)
			}
		}
	}
	data := env["XDG_DATA_HOME"]
	if data == "" {
		t.Error("XDG_DATA_HOME is not set: Caddy's data would go to the read-only root")
	}
	writable := map[string]bool{}
	caddyfile := false
	for _, m := range list(c, "volumeMounts") {
		path, v := str(m, "mountPath"), volumes[str(m, "name")]
		if v == nil {
			t.Errorf("mount %s: no volume %s", path, str(m, "name"))
			continue
		}
		if at(m, "readOnly") != true {
			if path != data && path != "/tmp" {
				t.Errorf("%s is writable: only Caddy's data (%s) and /tmp may be", path, data)
			}
			if at(v, "emptyDir") == nil && at(v, "persistentVolumeClaim") == nil {
				t.Errorf("writable %s is not an emptyDir or a PersistentVolumeClaim", path)
			}
			writable[path] = true
			continue
		}
		key := ""
		switch {
		case path == config:
			key = str(m, "subPath")
		case strings.HasPrefix(config, path+"/") && str(m, "subPath") == "":
			key = strings.TrimPrefix(config, path+"/")
		default:
			continue
		}
		cm := str(v, "configMap", "name")
		if cm == "" {
			t.Errorf("%s is not mounted from a ConfigMap", config)
			continue
		}
		if _, ok := r.configMap(cm)[key].(string); !ok {
			t.Errorf("ConfigMap %s has no key %q for %s", cm, key, config)
			continue
		}
		caddyfile = true
	}
	if !caddyfile {
		t.Errorf("no read-only ConfigMap mount of %s", config)
	}
	for _, path := range []string{data, "/tmp"} {
		if !writable[path] {
			t.Errorf("%s is not a writable volume", path)
		}
	}
}

// checkNetworkPolicy: a policy selects the pods in both directions; traffic
// in reaches only the API port and the internal one, traffic out only named
// ports (DNS among them).
func checkNetworkPolicy(t *testing.T, r rendering, c map[string]any, internal int) {
	t.Helper()
	policies := r.find("NetworkPolicy")
	if len(policies) == 0 {
		t.Error("no NetworkPolicy")
		return
	}
	https := portNumber(c, "https")
	if https == 0 {
		t.Error("no container port named https")
	}
	for _, np := range policies {
		types := list(np, "spec", "policyTypes")
		if !slices.Contains(types, any("Ingress")) || !slices.Contains(types, any("Egress")) {
			t.Errorf("NetworkPolicy %s: policyTypes %v, want Ingress and Egress", str(np, "metadata", "name"), types)
		}
		for _, rule := range list(np, "spec", "ingress") {
			ports := list(rule, "ports")
			if len(ports) == 0 || len(list(rule, "from")) == 0 {
				t.Errorf("NetworkPolicy %s: an ingress rule open to every port or every source", str(np, "metadata", "name"))
			}
			for _, p := range ports {
				if n := portNumber(c, at(p, "port")); n != https && n != internal {
					t.Errorf("NetworkPolicy %s admits port %v, want only %d and %d", str(np, "metadata", "name"), at(p, "port"), https, internal)
				}
			}
		}
		dns := false
		for _, rule := range list(np, "spec", "egress") {
			ports := list(rule, "ports")
			if len(ports) == 0 {
				t.Errorf("NetworkPolicy %s: an egress rule open to every port", str(np, "metadata", "name"))
			}
			for _, p := range ports {
				dns = dns || at(p, "port") == 53
			}
		}
		if !dns {
			t.Errorf("NetworkPolicy %s: no egress to DNS (53)", str(np, "metadata", "name"))
		}
	}
}

// envPlaceholder is a run-time environment placeholder in adapted JSON.
var envPlaceholder = regexp.MustCompile(`\{env\.([A-Za-z0-9_]+)\}`)

// TestManifestCaddyfileAdapts runs each rendering's Caddyfile through
// "paygate adapt" with the environment its pod would have: it must adapt,
// be formatted, configure the store topology of its kustomization, serve
// the container's https port, and every {env.*} it reads must be set in the
// pod.
func TestManifestCaddyfileAdapts(t *testing.T) {
	bin := testenv.Binary(t)
	for _, r := range renderings(t) {
		t.Run(r.name, func(t *testing.T) {
			pod, c := r.paygatePod(t)
			env := r.envOf(t, c)
			var config string
			for _, v := range list(pod, "volumes") {
				if s, ok := r.configMap(str(v, "configMap", "name"))["Caddyfile"].(string); ok {
					config = s
				}
			}
			if config == "" {
				t.Fatal("no ConfigMap with a Caddyfile")
			}
			file := filepath.Join(t.TempDir(), "Caddyfile")
			if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
				t.Fatal(err)
			}
			cmdEnv := []string{"HOME=" + t.TempDir(), "XDG_DATA_HOME=" + t.TempDir()}
			for k, v := range env {
				cmdEnv = append(cmdEnv, k+"="+v)
			}

			fmtCmd := exec.Command(bin, "fmt", file)
			formatted, err := fmtCmd.Output()
			if err != nil {
				t.Fatalf("paygate fmt: %v", err)
			}
			if string(formatted) != config {
				t.Error("the Caddyfile is not formatted as paygate fmt writes it")
			}

			adapt := exec.Command(bin, "adapt", "--config", file, "--adapter", "caddyfile")
			adapt.Env = cmdEnv
			var stderr bytes.Buffer
			adapt.Stderr = &stderr
			out, err := adapt.Output()
			if err != nil {
				t.Fatalf("paygate adapt: %v\n%s", err, stderr.Bytes())
			}
			var adapted map[string]any
			if err := json.Unmarshal(out, &adapted); err != nil {
				t.Fatal(err)
			}

			redis := at(adapted, "apps", "paygate", "store", "redis")
			fields := func(s string) []any {
				var l []any
				for _, f := range strings.Fields(s) {
					l = append(l, f)
				}
				return l
			}
			switch r.topology {
			case "url":
				if got := str(redis, "url"); got != "{env.REDIS_URL}" {
					t.Errorf("store url = %q, want {env.REDIS_URL}", got)
				}
			case "sentinel":
				if got, want := str(redis, "sentinel_master"), env["REDIS_SENTINEL_MASTER"]; got == "" || got != want {
					t.Errorf("sentinel master = %q, want REDIS_SENTINEL_MASTER %q", got, want)
				}
				if got, want := list(redis, "sentinel_addrs"), fields(env["REDIS_SENTINEL_ADDRS"]); len(got) == 0 || !reflect.DeepEqual(got, want) {
					t.Errorf("sentinel addresses = %v, want REDIS_SENTINEL_ADDRS %v", got, want)
				}
			case "cluster":
				if got, want := list(redis, "cluster_addrs"), fields(env["REDIS_CLUSTER_ADDRS"]); len(got) == 0 || !reflect.DeepEqual(got, want) {
					t.Errorf("cluster addresses = %v, want REDIS_CLUSTER_ADDRS %v", got, want)
				}
			}

			https := ":" + strconv.Itoa(portNumber(c, "https"))
			served := false
			servers, _ := at(adapted, "apps", "http", "servers").(map[string]any)
			for _, s := range servers {
				for _, l := range list(s, "listen") {
					served = served || strings.HasSuffix(l.(string), https)
				}
			}
			if !served {
				t.Errorf("no server listens on the container's https port (%s)", https)
			}

			for _, m := range envPlaceholder.FindAllStringSubmatch(string(out), -1) {
				if _, ok := env[m[1]]; !ok {
					t.Errorf("the Caddyfile reads {env.%s}, which the pod does not set", m[1])
				}
			}
		})
	}
}

// TestManifestDockerfile: a multi-stage build whose final stage is minimal,
// runs as a numeric non-root user, the command the manifests expect, and
// holds no secret.
func TestManifestDockerfile(t *testing.T) {
	text := strings.ReplaceAll(string(deployRead(t, "Dockerfile")), "\\\n", " ")
	type instruction struct{ op, args string }
	var stages [][]instruction
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		op, args, _ := strings.Cut(line, " ")
		op = strings.ToUpper(op)
		if op == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if op != "ARG" {
				t.Fatalf("Dockerfile: %s before FROM", op)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], instruction{op, strings.TrimSpace(args)})
		if op == "ARG" || op == "ENV" {
			for _, kv := range strings.Fields(args) {
				name, value, _ := strings.Cut(kv, "=")
				if secretLooking(name) {
					t.Errorf("Dockerfile: %s %s: secrets never go into an image (%q)", op, name, value)
				}
			}
		}
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final one", len(stages))
	}
	final := map[string]string{}
	for _, in := range stages[len(stages)-1] {
		final[in.op] = in.args
	}
	base := strings.Fields(final["FROM"])
	if len(base) == 0 || (base[0] != "scratch" && !strings.HasPrefix(base[0], "gcr.io/distroless/static")) {
		t.Errorf("final stage FROM %q, want scratch or gcr.io/distroless/static", final["FROM"])
	}
	user, _, _ := strings.Cut(final["USER"], ":")
	if uid, err := strconv.Atoi(user); err != nil || uid == 0 {
		t.Errorf("final stage USER %q, want a numeric non-root user", final["USER"])
	}
	if final["ENTRYPOINT"] != `["/paygate"]` {
		t.Errorf("ENTRYPOINT %s, want [\"/paygate\"]", final["ENTRYPOINT"])
	}
	if want := `["run", "--config", "` + imageConfig + `", "--adapter", "caddyfile"]`; final["CMD"] != want {
		t.Errorf("CMD %s, want %s", final["CMD"], want)
	}
	if !strings.Contains(final["ENV"], "XDG_DATA_HOME=/var/lib/paygate") {
		t.Errorf("final stage ENV %q does not set XDG_DATA_HOME=/var/lib/paygate", final["ENV"])
	}
}

// TestManifestSystemdUnit: deploy/paygate.service restarts on failure, keeps
// its sandbox and writes no secret into its environment; where
// systemd-analyze exists, its exposure is at most 2.0.
func TestManifestSystemdUnit(t *testing.T) {
	const unit = "deploy/paygate.service"
	service := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(deployRead(t, unit)), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			service[k] = append(service[k], v)
		}
	}
	truth := func(v string) string {
		switch v {
		case "yes", "true", "on", "1":
			return "true"
		}
		return v
	}
	for key, want := range map[string]string{
		"Type":                    "notify",
		"Restart":                 "on-failure",
		"RestartSec":              "2s",
		"NoNewPrivileges":         "true",
		"CapabilityBoundingSet":   "CAP_NET_BIND_SERVICE",
		"ProtectSystem":           "strict",
		"ProtectHome":             "true",
		"PrivateTmp":              "true",
		"PrivateDevices":          "true",
		"DevicePolicy":            "closed",
		"ProtectKernelTunables":   "true",
		"ProtectKernelModules":    "true",
		"ProtectKernelLogs":       "true",
		"ProtectControlGroups":    "true",
		"ProtectClock":            "true",
		"ProtectHostname":         "true",
		"ProtectProc":             "invisible",
		"ProcSubset":              "pid",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"RestrictNamespaces":      "true",
		"RestrictRealtime":        "true",
		"RestrictSUIDSGID":        "true",
		"LockPersonality":         "true",
		"MemoryDenyWriteExecute":  "true",
		"SystemCallArchitectures": "native",
		"SystemCallFilter":        "@system-service",
		"UMask":                   "0077",
	} {
		if !slices.ContainsFunc(service[key], func(v string) bool { return truth(v) == want }) {
			t.Errorf("%s: [Service] %s=%s is missing (have %q)", unit, key, want, service[key])
		}
	}
	for _, line := range service["Environment"] {
		for _, assignment := range strings.Fields(line) {
			name, _, _ := strings.Cut(strings.Trim(assignment, `"'`), "=")
			if secretLooking(name) {
				t.Errorf("%s: Environment=%s: secrets go in the EnvironmentFile (mode 0600), never in the unit", unit, name)
			}
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze is not installed: the exposure level is not measured")
		return
	}
	out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=20", deployAbs(t, unit)).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.0 (%v):\n%s", err, out)
	}
}
