// Package render renders the notices of the notifier — to individuals, to
// guardians of children and as public announcements — from templates per
// regime, obligation kind and language, and refuses to render an
// incomplete notice.
//
// # Templates
//
// Templates are text/template files laid out as
//
//	<regime>/<obligation-kind>.<lang>.tmpl      e.g. pipl/guardian_notice.zh-CN.tmpl
//
// The default set lives in notifier/templates and is embedded in the binary
// (templates.FS, loaded by Default); Load reads the same layout from any
// fs.FS, e.g. os.DirFS of a directory the privacy team maintains. Each file
// defines exactly three blocks:
//
//	{{define "subject"}}…{{end}}  the e-mail subject / letter title, one line
//	{{define "text"}}…{{end}}     the full notice, plain text
//	{{define "sms"}}…{{end}}      a short pointer to where the full notice is
//
// and nothing outside them except comments. Fields are written {{.name}}
// with a name from Fields (the notifier contract's vocabulary: facts,
// impact, cause, pi_types, measures_taken, self_protection, remedies,
// contact, occurred_at, discovered_at, org_name, recipient_name, child_name,
// the CAC, GDPR and HIPAA report names). Load fails, naming file:line:col,
// on a parse error, a missing or extra block, an unknown field, a nested
// field, a bare ".", variables, {{with}}, {{range}}, {{template}} and the
// builtins that read data around the checks (index, call, slice, print…),
// an unknown obligation kind (Kinds), a misplaced file, or two files for
// the same language differing only in case. Files not ending in .tmpl are
// ignored.
//
// There is no HTML variant yet: Rendered.HTML is always empty, and a block
// named "html" is a load error, so that no template can produce unescaped
// markup. An HTML variant would be a separate html/template file.
//
// # Rendering
//
// Set.Render(regime, kind, lang, fields, required) checks, before executing
// anything, that every name in required (the regime file's required fields
// for the obligation) and every field the template uses is present and not
// blank (empty or white space only is missing). The first one that is not
// — required in the caller's order, then the template's in alphabetical
// order — is returned as a *MissingFieldError (errors.As) naming the field,
// regime, kind and language, and nothing is rendered. Templates also run
// with missingkey=error. Fields the template does not use are ignored.
//
// Values are inserted as plain text: template syntax or markup in a value
// is not interpreted. In Text every value appears verbatim; in Subject and
// SMS runs of white space, line breaks included, collapse to one space, so
// a subject is always one line of valid UTF-8 (values that are not valid
// UTF-8 are refused). The subject is not encoded: the SMTP channel applies
// RFC 2047.
//
// # Languages
//
// Languages are BCP 47 tags, matched case-insensitively. A language with no
// template gives an *UnknownLanguageError listing the available ones
// (Set.Languages); a regime and kind without any template gives an error
// wrapping ErrNoTemplate. Which language to use for a recipient without one
// (e.g. zh-CN for PIPL recipients) is the caller's rule.
//
// # SMS
//
// SMSLength measures a text the way an SMS gateway does: GSM 7-bit up to
// 160 units when every character is in the GSM alphabet, otherwise UCS-2 up
// to 70 (any Chinese text). The tests check every template's SMS against
// that limit with realistic values and a 40-character (English) or
// 15-character (Chinese) organisation name; Render itself does not cut or
// refuse a long SMS.
//
// # Golden files
//
// testdata/golden/<regime>_<kind>_<lang>.txt holds every template rendered
// with a fixed hospital snooping incident (tokens, no names). Regenerate
// after an intended change with
//
//	go test ./notifier/render -run Golden -update
//
// and review the diff.
package render
