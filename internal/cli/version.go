package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vigil-audit/vigil/internal/telemetry"
)

func versionCommand() *command {
	var asJSON bool
	return &command{
		name:    "version",
		summary: "Print the version, VCS revision and Go version of this binary",
		usage:   "[--json]",
		help:    "Prints the version of this vigil binary, the source revision it was built from and the Go\ntoolchain that built it.",
		flags: func(fs *flagSet) {
			fs.fs.BoolVar(&asJSON, "json", false, "print as a JSON object")
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) > 0 {
				return c.fail(ExitUsage, "takes no arguments, got %q", c.args)
			}
			bi := telemetry.Build()
			if asJSON {
				b, _ := json.Marshal(bi)
				fmt.Fprintln(c.stdout(), string(b))
				return ExitOK
			}
			mod := ""
			if bi.Modified {
				mod = ", modified"
			}
			fmt.Fprintf(c.stdout(), "vigil %s (revision %s%s, %s)\n", bi.Version, bi.Revision, mod, bi.GoVersion)
			return ExitOK
		},
	}
}
