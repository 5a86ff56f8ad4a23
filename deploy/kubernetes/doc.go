// Package kubernetes holds dmbench's Kubernetes manifests for a sharded run (an Indexed
// Job of `dmbench run --shard i/N` pods, a ReadWriteMany volume for their results, a
// ConfigMap with the scenario, and a Job that runs `dmbench merge` after them) and the
// guide to them, README.md. It has no code: its test decodes every manifest strictly
// into the Kubernetes API's types and checks that they fit together.
package kubernetes
