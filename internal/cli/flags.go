package cli

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/notifier"
)

// envBusPassword carries the Kafka SASL password, which has no YAML key.
const envBusPassword = "VIGIL_BUS_SASL_PASSWORD"

// reservedEnv are VIGIL_ variables read outside the configuration: secrets
// and the incident client's server and token.
var reservedEnv = append([]string{envBusPassword, pseudo.EnvKey, envOperator, "VIGIL_TOKEN", "VIGIL_SERVER"}, notifier.SecretEnv...)

// flagSet is a command's flags. Flags registered with key set a
// configuration key and override the file and the environment.
type flagSet struct {
	fs         *flag.FlagSet
	cmd        *command
	keyed      []*keyedFlag
	configFile string
	hasConfig  bool
}

type keyedFlag struct {
	name, key, value string
	set              bool
}

func (k *keyedFlag) String() string { return k.value }
func (k *keyedFlag) Set(v string) error {
	k.value, k.set = v, true
	return nil
}

func newFlagSet(c *command) *flagSet {
	f := &flagSet{fs: flag.NewFlagSet("vigil "+c.name, flag.ContinueOnError), cmd: c}
	if c.flags != nil {
		c.flags(f)
	}
	f.fs.Usage = f.usage
	return f
}

// key registers --name as a way to set the configuration key.
func (f *flagSet) key(name, key, usage string) {
	k := &keyedFlag{name: name, key: key}
	f.keyed = append(f.keyed, k)
	f.fs.Var(k, name, usage)
}

// configFlags registers --config and the logging flags every running
// command takes.
func (f *flagSet) configFlags() {
	f.hasConfig = true
	f.fs.StringVar(&f.configFile, "config", "", "YAML configuration `file` (env VIGIL_CONFIG)")
	f.key("log-level", "log.level", "log `level`: debug, info, warn or error")
	f.key("log-format", "log.format", "log `format`: text or json")
}

// load fills cfg (holding defaults) from the config file, env and flags, and
// validates it. It prints warnings and problems to stderr and returns false
// when the configuration is unusable.
func (f *flagSet) load(c *invocation, cfg any) bool {
	file := f.configFile
	if file == "" {
		for _, kv := range c.env.Environ {
			if v, ok := strings.CutPrefix(kv, "VIGIL_CONFIG="); ok {
				file = v
			}
		}
	}
	src := config.Source{File: file, Env: c.env.Environ, Flags: map[string]string{}, FlagNames: map[string]string{}, Reserved: reservedEnv}
	for _, k := range f.keyed {
		if k.set {
			src.Flags[k.key] = k.value
			src.FlagNames[k.key] = k.name
		}
	}
	warnings, err := config.Load(cfg, src)
	for _, w := range warnings {
		fmt.Fprintf(c.stderr(), "vigil %s: warning: %s\n", c.cmd.name, w)
	}
	if app, ok := cfg.(*Config); ok {
		// The SASL password has no YAML key: it comes only from the
		// environment (or from bus.sasl.password_file).
		for _, kv := range c.env.Environ {
			if v, ok := strings.CutPrefix(kv, envBusPassword+"="); ok {
				app.Bus.SASL.Password = bus.Secret(v)
			}
		}
	}
	// Report load and validation problems together, so one run shows all.
	var probs []config.Problem
	var ce *config.Error
	if errors.As(err, &ce) {
		probs = append(probs, ce.Problems...)
	} else if err != nil {
		fmt.Fprintf(c.stderr(), "vigil %s: %v\n", c.cmd.name, err)
		return false
	}
	if errors.As(config.Validate(cfg), &ce) {
		probs = append(probs, ce.Problems...)
	}
	if len(probs) > 0 {
		err = &config.Error{Problems: probs}
		fmt.Fprintf(c.stderr(), "vigil %s: %v\n", c.cmd.name, err)
		return false
	}
	return true
}

func (f *flagSet) usage() {
	w := f.fs.Output()
	fmt.Fprintf(w, "Usage: vigil %s %s\n\n%s\n", f.cmd.name, f.cmd.usage, f.cmd.help)
	byName := map[string]*keyedFlag{}
	for _, k := range f.keyed {
		byName[k.name] = k
	}
	defaults := defaultConfig()
	fmt.Fprintln(w, "\nFlags:")
	f.fs.VisitAll(func(fl *flag.Flag) {
		name, usage := flag.UnquoteUsage(fl)
		line := "  --" + fl.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, usage)
		if k, ok := byName[fl.Name]; ok {
			if def, ok := config.Get(defaults, k.key); ok && def != "" {
				fmt.Fprintf(w, " (default %s)", def)
			}
			fmt.Fprintf(w, "\n    \tkey %s, env %s", k.key, config.EnvName(k.key))
		} else if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", fl.DefValue)
		}
		fmt.Fprintln(w)
	})
}
