// Package rules is Vigil's shipped detection rule pack: Sigma detection and
// correlation rules over the access and device streams, in the YAML files
// of access/ and device/ beside this file, embedded in every binary as FS.
//
//	set, err := sigma.LoadFS(rules.FS, sigma.Options{TimeZones: zones})
//
// README.md lists the rules, what each catches, the simulator incident kind
// it targets, and how to tune or override thresholds; docs/RULES.md is the
// rule language. Every detection rule carries test cases (the tests key),
// run by `vigil rules test` and by this package's tests, which also replay
// the traffic simulator through the pack to check that background traffic
// stays quiet and that every incident kind is caught.
//
// Identifiers are stable: vigil-access-NNN and vigil-device-NNN raise
// alerts of their own, vigil-*-cNN are correlations, and vigil-*-fNN are
// the detection rules that only feed correlations (no alerts of their
// own). Alerts carry the id as rule_id; exceptions and suppression
// settings name it.
package rules

import "embed"

// FS holds the rule files of the pack (access/*.yml, device/*.yml), for
// sigma.LoadFS.
//
//go:embed access/*.yml device/*.yml
var FS embed.FS
