package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIncidentUsage(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tok")
	if err := os.WriteFile(tokenFile, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"VIGIL_SERVER=http://127.0.0.1:1", "VIGIL_TOKEN=t"}
	for _, tc := range []struct {
		name    string
		environ []string
		args    []string
		code    int
		msg     string
	}{
		{"no action", env, []string{"incident"}, ExitUsage, "want an action"},
		{"unknown action", env, []string{"incident", "explode", "x"}, ExitUsage, `unknown action "explode"`},
		{"no server", nil, []string{"incident", "list"}, ExitUsage, "where is the notifier?"},
		{"no token", []string{"VIGIL_SERVER=http://127.0.0.1:1"}, []string{"incident", "list"}, ExitUsage, "no operator token"},
		{"bad server", []string{"VIGIL_TOKEN=t"}, []string{"incident", "list", "--server", "ftp://x"}, ExitUsage, "want http(s)://host:port"},
		{"data not running", nil, []string{"incident", "list", "--data", dir}, ExitUsage, "is 'vigil up --data"},
		{"show needs id", env, []string{"incident", "show"}, ExitUsage, "show takes one ID"},
		{"confirm needs reason", env, []string{"incident", "confirm", "abc"}, ExitUsage, "confirm needs --reason"},
		{"aware-at only on confirm", env, []string{"incident", "triage", "abc", "--reason", "r", "--aware-at", "2026-12-05T08:00:00Z"}, ExitUsage, "--aware-at belongs to confirm"},
		{"bad aware-at", env, []string{"incident", "confirm", "abc", "--reason", "r", "--aware-at", "yesterday"}, ExitUsage, "--aware-at"},
		{"set needs pairs", env, []string{"incident", "set", "abc"}, ExitUsage, "set needs field=value pairs"},
		{"set bad pair", env, []string{"incident", "set", "abc", "facts"}, ExitUsage, `"facts": want field=value`},
		{"approve needs obligation", env, []string{"incident", "approve", "abc"}, ExitUsage, "approve takes an ID and an OBLIGATION"},
		{"waive needs reason", env, []string{"incident", "waive", "abc", "pipl.individual"}, ExitUsage, "waive needs --reason"},
		{"submit needs reference", env, []string{"incident", "submit", "abc", "cac.initial", "--version", "initial"}, ExitUsage, "submit needs --version and --reference"},
		{"unreachable notifier", []string{"VIGIL_SERVER=http://127.0.0.1:1"}, []string{"incident", "list", "--token-file", tokenFile, "--timeout", "2s"}, ExitFailure, "notifier at http://127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) { expectRun(t, tc.environ, tc.args, tc.code, "", tc.msg) })
	}
}
