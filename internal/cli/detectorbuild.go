package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/behave"
	"github.com/vigil-audit/vigil/detector/rules"
	"github.com/vigil-audit/vigil/detector/sigma"
)

// detectorBuild is how `vigil detect` builds every partition's detector
// from the detect section, shared by the commands that must detect as it
// does (`vigil rules backfill`): the detector options, the behaviours
// (detect.behaviours, off_hours given detect.time_zones) and the rule
// loader's options (detect.time_zones, detect.default_time_zone).
type detectorBuild struct {
	Options detector.Options
	// Behaviours returns fresh behaviour instances for one partition.
	Behaviours func() ([]detector.Behaviour, error)
	// Rules are the options to load rules with.
	Rules sigma.Options
}

// detectorBuild returns the construction of d's detectors. d must be valid
// (problems() empty).
func (d *DetectConfig) detectorBuild() detectorBuild {
	bcfg := d.behaviours()
	return detectorBuild{
		Options:    d.Options,
		Behaviours: func() ([]detector.Behaviour, error) { return behave.New(bcfg) },
		Rules:      d.sigmaOptions(),
	}
}

// loadRulesWith is loadRules with the loader's options (the time zones of
// detect.time_zones), printing every load problem to stderr. It returns
// nil and the exit status when the rules cannot be used.
func loadRulesWith(c *invocation, src, action string, opts sigma.Options) (*sigma.Set, int) {
	var (
		set *sigma.Set
		err error
	)
	switch fi, statErr := os.Stat(src); {
	case src == "":
		set, err = sigma.LoadFS(rules.FS, opts)
	case statErr != nil:
		return nil, c.fail(ExitUsage, "cannot read %s: %v", src, unwrapPathError(statErr))
	case fi.IsDir():
		set, err = sigma.LoadDir(src, opts)
	case fi.Size() > sigma.MaxFileBytes:
		return nil, c.fail(ExitUsage, "%s: larger than %d bytes", src, sigma.MaxFileBytes)
	default:
		data, readErr := os.ReadFile(src)
		if readErr != nil {
			return nil, c.fail(ExitUsage, "cannot read %s: %v", src, unwrapPathError(readErr))
		}
		set, err = sigma.Load([]sigma.Source{{Name: src, Data: data}}, opts)
	}
	var le *sigma.LoadError
	switch {
	case errors.As(err, &le):
		for _, p := range le.Problems {
			fmt.Fprintln(c.stderr(), p.String())
		}
		plural := "s"
		if len(le.Problems) == 1 {
			plural = ""
		}
		done := "nothing to " + action
		switch action {
		case "test":
			done = "nothing was tested"
		case "list":
			done = "no rule was loaded"
		}
		return nil, c.fail(ExitUsage, "%d problem%s in %s; %s", len(le.Problems), plural, srcName(src), done)
	case err != nil:
		return nil, c.fail(ExitUsage, "loading %s: %v", srcName(src), err)
	}
	return set, ExitOK
}
