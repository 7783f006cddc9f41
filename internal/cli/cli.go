// Package cli implements the vigil command: its subcommands, their flags and
// help, and how each one loads its configuration. cmd/vigil only calls Run.
//
// Exit status: 0 success, 1 failure at run time, 2 usage or configuration
// error, 3 the subcommand is not built yet.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit statuses.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitUsage    = 2
	ExitNotBuilt = 3
)

// Env is what a command reads from and writes to besides its arguments.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Environ is the process environment as KEY=value strings.
	Environ []string
}

// OSEnv returns the Env of the running process.
func OSEnv() Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()}
}

type command struct {
	name    string
	summary string
	// usage is the argument synopsis after "vigil NAME".
	usage string
	// help is the long description printed by --help.
	help string
	// flags registers the command's flags on fs.
	flags func(fs *flagSet)
	// run runs the command after its flags are parsed. It returns an exit
	// status.
	run func(ctx context.Context, c *invocation) int
}

// invocation is one parsed run of a command.
type invocation struct {
	cmd  *command
	fs   *flagSet
	args []string
	env  Env
}

func (c *invocation) stdout() io.Writer { return c.env.Stdout }
func (c *invocation) stderr() io.Writer { return c.env.Stderr }

// fail prints "vigil NAME: msg" to stderr and returns status.
func (c *invocation) fail(status int, format string, args ...any) int {
	fmt.Fprintf(c.env.Stderr, "vigil %s: %s\n", c.cmd.name, fmt.Sprintf(format, args...))
	return status
}

func commands() []*command {
	return []*command{
		upCommand(),
		collectCommand(),
		detectCommand(),
		sinkCommand(),
		storeCommand(),
		notifyCommand(),
		incidentCommand(),
		reportCommand(),
		alertCommand(),
		rulesCommand(),
		pending("verify", "Check a running pipeline end to end: nothing lost, nothing duplicated",
			"end-to-end verification", 0,
			"Compares what the collector accepted with what reached Kafka and the store."),
		simulateCommand(),
		tailCommand(),
		versionCommand(),
	}
}

// pending builds a command whose implementation belongs to a later issue. It
// says so plainly and exits with ExitNotBuilt; it never pretends to work.
func pending(name, summary, part string, issue int, help string) *command {
	return &command{
		name:    name,
		summary: summary + " (not built yet)",
		usage:   "[flags]",
		help: help + "\n\nNOT BUILT YET: this subcommand is part of the " + part + " work (" + issueRef(issue) +
			") and currently exits with status 3 without doing anything.",
		flags: func(fs *flagSet) { fs.configFlags() },
		run: func(ctx context.Context, c *invocation) int {
			return c.fail(ExitNotBuilt, "not built yet: the %s is tracked in %s; nothing was started", part, issueRef(issue))
		},
	}
}

// issueRef names the issue that tracks a pending command (0: none yet).
func issueRef(issue int) string {
	if issue == 0 {
		return "the backlog (no issue yet)"
	}
	return fmt.Sprintf("issue %d", issue)
}

// Run runs the vigil command line args (without the program name) and
// returns the process exit status.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Stdout == nil {
		env.Stdout = io.Discard
	}
	if env.Stderr == nil {
		env.Stderr = io.Discard
	}
	cmds := commands()
	if len(args) == 0 {
		usage(env.Stderr, cmds)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 {
			for _, c := range cmds {
				if c.name == args[1] {
					fs := newFlagSet(c)
					fs.fs.SetOutput(env.Stdout)
					fs.fs.Usage()
					return ExitOK
				}
			}
			fmt.Fprintf(env.Stderr, "vigil help: unknown command %q\n", args[1])
			return ExitUsage
		}
		usage(env.Stdout, cmds)
		return ExitOK
	case "-v", "-version", "--version":
		name = "version"
	}
	for _, c := range cmds {
		if c.name != name {
			continue
		}
		fs := newFlagSet(c)
		fs.fs.SetOutput(env.Stderr)
		// The flag package prints a parse error and then calls Usage;
		// print the usage here instead, once: to stdout when asked for
		// (--help), to stderr after an error.
		usage := fs.fs.Usage
		fs.fs.Usage = func() {}
		pos, err := parseInterspersed(fs.fs, args[1:])
		fs.fs.Usage = usage
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.fs.SetOutput(env.Stdout)
				fs.fs.Usage()
				return ExitOK
			}
			fs.fs.Usage()
			return ExitUsage
		}
		return c.run(ctx, &invocation{cmd: c, fs: fs, args: pos, env: env})
	}
	fmt.Fprintf(env.Stderr, "vigil: unknown command %q%s\nRun 'vigil help' for the list of commands.\n", name, closest(name, cmds))
	return ExitUsage
}

// parseInterspersed parses flags anywhere among the arguments, so that
// "vigil report subject --id X" works as well as "vigil report --id X
// subject", and returns the positional arguments in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func closest(name string, cmds []*command) string {
	for _, c := range cmds {
		if strings.HasPrefix(c.name, name) || strings.HasPrefix(name, c.name) {
			return fmt.Sprintf(" (did you mean %q?)", c.name)
		}
	}
	return ""
}

func usage(w io.Writer, cmds []*command) {
	fmt.Fprint(w, `Vigil watches every access to sensitive personal data, flags the access that
should not have happened, and drives the user and regulator notice process.

Usage:
  vigil <command> [flags] [arguments]

Commands:
`)
	sorted := append([]*command(nil), cmds...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].name == "up" && sorted[j].name != "up" })
	for _, c := range sorted {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'vigil <command> --help' for a command's flags and configuration keys.

Configuration comes from a YAML file (--config or VIGIL_CONFIG), then
environment variables (VIGIL_<KEY PATH>, e.g. VIGIL_HTTP_LISTEN; any
VIGIL_<KEY>_FILE reads the value from a file), then flags.

Exit status: 0 success, 1 failure, 2 usage or configuration error,
3 subcommand not built yet.
`)
}
