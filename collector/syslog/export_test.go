package syslog

// FieldTypes returns the typed-field table as type names, for tests that
// check it against the event package.
func FieldTypes() map[string]map[string]string {
	out := map[string]map[string]string{}
	for kind, fields := range fieldTypes {
		out[kind] = map[string]string{}
		for path, t := range fields {
			out[kind][path] = t.String()
		}
	}
	return out
}
