// Package sigma is the rule language of Vigil's detector: a loader,
// compiler and single-event matcher for Sigma detection rules over Vigil's
// events, and the parsed, validated form of Sigma correlation rules that
// the detector's windowed runtime evaluates. docs/RULES.md is the rule
// author's reference; this comment is the programmer's.
//
// # Rule files
//
// Rules are YAML files (*.yml, *.yaml), each holding one or more documents
// separated by "---". A document with a detection key is a detection rule,
// one with a correlation key a correlation rule. Every rule has an id, a
// title and, when it raises alerts, a level; a detection rule's logsource is
// {product: vigil, service: access|device}, which selects the event stream
// and the field taxonomy (Fields) its selections may name. The Vigil
// extension key "tests" carries test cases (TestCase). YAML aliases are
// refused, as in internal/config.
//
// # Loading
//
// Load (and LoadDir, LoadFS) validates every rule and returns every
// problem at once in a *LoadError, each with file, line, column, rule and
// key: unknown keys, fields, modifiers and selections, values of the wrong
// type or outside an enum, bad regular expressions, CIDRs and timespans,
// syntax errors in conditions, duplicate ids, references to unknown rules,
// and thresholds no window can satisfy. A load with any problem returns no
// Set, so a bad rule never silently matches nothing.
//
// # Matching
//
// Each field path is compiled to an accessor function on
// *event.AccessEvent or *event.DeviceEvent, each value to a matcher
// (case-folding wildcard patterns, regular expressions, prefixes, numeric
// comparisons), and each condition to a tree over the selections.
// Set.Match and Rule.Match use no reflection and do not allocate; they are
// safe for concurrent use. Time modifiers (hour, day, week, …) read the
// event's time in the org's time zone from Options (UTC by default).
//
// # Correlations
//
// A Correlation names its Inputs (the detection rules it reads, in order),
// a Timespan, a Condition threshold and, per input, the compiled group-by
// and value fields: CorrelationInput.AppendGroupKey, AppendValue and
// Number give the runtime what it aggregates without allocating. A rule's
// Correlations lists the correlations it feeds; Rule.Standalone says
// whether its matches are also alerts of their own (Sigma's generate).
//
// # Tests
//
// Set.RunTests evaluates every rule's test cases and explains each failure
// with the result of every selection; WriteTestReport prints the results as
// "vigil rules test" shows them.
package sigma
