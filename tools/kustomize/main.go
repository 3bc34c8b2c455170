// Command kustomizebuild prints the build of a kustomization directory, as
// "kubectl kustomize <dir>" does, with kustomize's own library: the
// manifest tests (e2e/manifests_test.go) build deploy/kubernetes with it,
// so that they run on a machine without kubectl.
package main

import (
	"fmt"
	"os"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kustomizebuild <dir>")
		os.Exit(2)
	}
	// kubectl's order: namespaces, then the rest by kind, as
	// "kubectl kustomize" prints it.
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "kustomizebuild:", err)
		os.Exit(1)
	}
	out, err := m.AsYaml()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kustomizebuild:", err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}
