// Package dashboards holds, as code, the Prometheus alert rules for the
// Vigil pipeline and for the legal deadlines of incident notices
// (alerts/vigil-rules.yml) with their promtool tests
// (alerts/vigil-rules.test.yml). Its Go tests run promtool on them and
// check that every metric a rule names is one a Vigil stage registers.
package dashboards
