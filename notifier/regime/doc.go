// Package regime reads the legal-regime files and plans the obligations an
// incident creates: which notices and reports are owed, to whom, by when,
// with which content, through which channels, approved by whom, and why.
//
// The law lives in data, not in code. Vigil ships one YAML file per regime
// in notifier/regimes (pipl.yaml: PIPL, Cybersecurity Law, CAC incident
// reporting measures, children's PI rules, Network Data Security
// Regulations; gdpr.yaml; hipaa.yaml), embedded in the binary (FS, Default)
// and loadable from a folder instead (LoadDir). Changing a value in a file
// changes the plan without a code change. notifier/regimes/README.md tells
// a lawyer how to read and change the files.
//
// # Use
//
//	set, err := regime.Default()          // or regime.LoadDir("/etc/vigil/regimes")
//	obs, err := set.Plan(facts, profile, regime.Clocks{Aware: awareAt, HandlingEnded: endedAt})
//	grade := set.Grade(facts.People)      // "较大", for reports
//
// Plan returns every obligation due, in a fixed order (regimes by id,
// obligations in file order, a substitute right after its obligation),
// each with its absolute deadline (Due), the rule in words (DueRule), kind,
// recipient kind and count, required content fields, channels in fallback
// order, approval role, CAC grade, legal basis, and Why: the condition
// values that made it apply ("grade 较大 for 1200000 people"). An
// obligation whose clock has not started (the CAC summary before handling
// ends) has a zero Due and WaitingFor set; one the law gives no fixed time
// (supplements) has a zero Due and a DueRule starting "no fixed time".
// Waivable obligations (PIPL individual notice when measures prevent harm;
// GDPR art. 33 when no risk; HIPAA after a low-probability risk
// assessment) are recorded as waived with Obligation.Waive(reason, by, at).
//
// # File format
//
// A file is one YAML document. Keys are closed: an unknown, misspelt or
// duplicate key is an error; so are anchors and aliases (&, *), which hide
// values from a reader. Nothing has a silent default: every required key
// must be written. Load reports every problem of every file at once, each
// as "file:line: key.path: reason", in an *Error.
//
// Top level:
//
//	regime            id of the regime, lower-case ("pipl"); Profile.Jurisdictions
//	                  lists the ids to plan. Required.
//	title             a human title. Required.
//	grading           optional, at most one file of a set: CAC incident grades.
//	  basis           legal basis. Required.
//	  grades          list, highest threshold first, each:
//	    grade         the grade's name, as reports print it ("较大")
//	    label         an English label ("relatively major")
//	    people_gte    inclusive threshold on Facts.People
//	  otherwise       the grade below every threshold: grade and label ("一般")
//	obligations       list of obligations, at least one. Required.
//	documented_facts  optional list of facts that are not obligations
//	                  (log retention), each with name, value, basis, text;
//	                  Set.Notes returns them.
//
// An obligation:
//
//	id           "<prefix>.<name>", unique across the set (cac.initial)
//	kind         individual_notice | guardian_notice | regulator_report |
//	             regulator_supplement | summary_report | media_notice |
//	             public_announcement | hhs_report | annual_log | breach_record
//	recipient    individual | guardian | regulator | media | public; must fit
//	             the kind (a guardian_notice goes to guardian, reports and
//	             records to regulator)
//	recipients   how many: each_person (Facts.People) | each_eu_resident |
//	             each_minor (one guardian per minor) | each_unreachable |
//	             each_state (states matching people_in_any_state_gt, which
//	             the condition must then contain) | one
//	authority    optional, regulators only: the authority's name, or a
//	             mapping with a name for each operator kind (ordinary, cii,
//	             state_organ — all three)
//	follows      optional: the id of an obligation listed earlier in the same
//	             file; this one is due only when that one is (follow-ups)
//	when         the condition, a mapping of condition keys that must all
//	             hold; {} means always. Required.
//	deadline     from: aware | handling_ended | year_end (end of the calendar
//	             year of Clocks.Aware, in Aware's location), and exactly one of
//	               after: <n>m | <n>h | <n>d (minutes, hours, calendar days)
//	               after_by_operator: {ordinary: 4h, cii: 1h, state_organ: 2h}
//	               open: "<why the law sets no fixed time>"
//	approval     dpo | none; none only for breach_record (notices to people
//	             and reports to regulators are approved before sending)
//	fields       content fields the notice or report must carry, from the
//	             shared vocabulary (FieldNames); child_name only in a
//	             guardian_notice
//	late_fields  optional: fields also required when sent after the deadline
//	channels     delivery channels in fallback order (email, sms, push,
//	             letter, phone, public_announcement); at least one for
//	             notices, and exactly [] for reports, logs and records, which
//	             are exported and submitted by hand
//	waiver       optional: {allowed_when: "<the legal test>"} makes the
//	             obligation waivable, with reason and who recorded
//	substitute   optional: {id, cases}; cases are tried in order and the
//	             first whose `when` holds adds an obligation with that id,
//	             standing in for this one (same deadline and fields) for the
//	             people who cannot be reached; each case has when, kind (a
//	             notice), recipient, recipients, channels, optional keep_for
//	             (how long a posting stays up) and notes
//	basis        the legal basis, as a citation. Required.
//	unverified   optional: which part comes only from unverified sources
//
// Condition keys (ConditionKeys); counts are whole numbers, underscores
// allowed (1_000_000):
//
//	people_gte, people_gt, people_lt        Facts.People ≥, >, <
//	minors_gt                               Facts.Minors >
//	unreachable_gte, unreachable_gt,
//	unreachable_lt                          Facts.Unreachable ≥, >, <
//	eu_residents_gt                         Facts.EUResidents >
//	people_in_any_state_gt                  some state of Facts.PeopleByState >
//	high_risk, encrypted, phi, sensitive,
//	details_pending                         Facts flags (sensitive: any
//	                                        sensitive category) = true|false
//	covered_entity                          Profile.CoveredEntity = true|false
//	operator                                Profile.Operator is one of the list
//	grade_in                                the CAC grade of Facts.People is
//	                                        one of the list (names from grading)
//
// # Embedding
//
// The go:embed directive cannot reach a parent folder, so the files are embedded by the
// tiny package notifier/regimes next to them; FS here is that embed.FS.
package regime
