// Package regimes holds Vigil's default regime files, one YAML file per legal
// regime (pipl.yaml, gdpr.yaml, hipaa.yaml), and embeds them so that the
// binary carries them. The files are read and explained by package
// notifier/regime; README.md in this folder tells a lawyer how to read and
// change them.
//
// The embed lives here, next to the files, because go:embed cannot reach a
// parent folder.
package regimes

import "embed"

// FS holds every *.yaml file of this folder at its root.
//
//go:embed *.yaml
var FS embed.FS
