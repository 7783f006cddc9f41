package render

// Fields is the content-field vocabulary shared by regime files and
// templates (notifier contract). A template using any other name does not load.
var Fields = []string{
	// Notices to people.
	"facts", "impact", "cause", "pi_types", "measures_taken", "self_protection", "remedies",
	"contact", "occurred_at", "discovered_at", "org_name", "recipient_name", "child_name",
	// CAC regulator reports.
	"reporting_unit", "affected_system", "discovery_time", "discovery_place", "incident_type",
	"harm_so_far", "measures_effect", "trend", "preliminary_cause", "tracing_clues",
	"further_measures", "support_requested", "evidence_preservation",
	"harm", "accountability", "rectification", "lessons",
	// GDPR art. 33.
	"nature", "subject_categories", "subjects_approx", "records_approx", "dpo_contact",
	"consequences", "measures", "late_reasons",
	// HIPAA individual notice.
	"what_happened", "breach_date", "discovery_date", "phi_types", "steps_individuals",
	"entity_actions", "contact_procedures",
}

// Kinds are the obligation kinds a template may be written for.
var Kinds = []string{
	"individual_notice", "guardian_notice", "regulator_report", "regulator_supplement",
	"summary_report", "media_notice", "public_announcement", "hhs_report", "annual_log",
	"breach_record",
}

// gsmBasic is the GSM 03.38 default alphabet; gsmExt the characters that
// take an escape and so count twice.
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExt = "^{}\\[~]|€\f"
)

// SMSLength returns the length of s in SMS units and the limit of one
// message for its encoding: GSM 7-bit characters (escaped ones count twice)
// up to 160 when every character is in the GSM alphabet, otherwise UTF-16
// code units up to 70 (UCS-2, e.g. any Chinese text).
func SMSLength(s string) (n, limit int) {
	gsm := true
	for _, r := range s {
		switch {
		case containsRune(gsmBasic, r):
			n++
		case containsRune(gsmExt, r):
			n += 2
		default:
			gsm = false
		}
	}
	if gsm {
		return n, 160
	}
	n = 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n, 70
}

func containsRune(set string, r rune) bool {
	for _, c := range set {
		if c == r {
			return true
		}
	}
	return false
}
