// Package kubernetes holds no code: its test decodes the manifests beside
// it strictly into the Kubernetes API types and checks them against what
// the supervise binary serves. It is a module of its own so the main
// module does not depend on k8s.io.
package kubernetes
