// Package templates holds the default notice templates of the notifier,
// embedded into the binary. The files are edited by the privacy team; see
// README.md in this directory. notifier/render loads and checks them.
package templates

import "embed"

// FS holds every template file, as <regime>/<obligation-kind>.<lang>.tmpl.
//
//go:embed pipl gdpr hipaa
var FS embed.FS
