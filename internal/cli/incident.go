package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier"
)

// Files of a running `vigil up` that `vigil incident --data DIR` reads.
const (
	httpAddrFile      = "http.addr"      // its HTTP address
	operatorTokenFile = "operator-token" // the local operator's API token
)

// incidentActions maps the lifecycle actions to the states they move to.
var incidentActions = map[string]event.IncidentState{
	"triage": event.IncidentTriage, "confirm": event.IncidentConfirmed, "dismiss": event.IncidentDismissed,
	"contain": event.IncidentContained, "notifying": event.IncidentNotifying, "reported": event.IncidentReported,
	"close": event.IncidentClosed,
}

func incidentCommand() *command {
	var (
		server, tokenFile, data, reason, awareAt, version, reference, fieldsFile string
		asJSON, open                                                             bool
		timeout                                                                  time.Duration
	)
	return &command{
		name:    "incident",
		summary: "Run incidents: list, show, triage, confirm, fill in, approve notices, submit reports, close",
		usage:   "list|show|triage|confirm|dismiss|contain|notifying|reported|close|set|rescope|approve|waive|submit … [flags]",
		help: `Commands to the notifier (vigil notify, or vigil up) over its API. Every
command is checked against the operator's roles and recorded in the
incident with who, when and why.

  vigil incident list [--open]                 incidents, newest first
  vigil incident show ID                       state, scope, obligations with deadlines, notices
  vigil incident triage ID --reason TEXT       someone is looking (analyst)
  vigil incident confirm ID --reason TEXT [--aware-at TIME]
        a personal-information incident: the legal clocks start at the
        awareness time (now, or --aware-at with a reason if earlier); the
        scope is computed from the store and the obligations planned
  vigil incident dismiss ID --reason TEXT      not an incident
  vigil incident contain|notifying|reported|close ID --reason TEXT
  vigil incident set ID field=value … [--fields FILE]
        the content of notices and reports (facts, impact, cause,
        measures_taken, self_protection, remedies, contact, …); FILE is a
        JSON or YAML map; an empty value removes a field
  vigil incident rescope ID                    recompute scope and obligations
  vigil incident approve ID OBLIGATION         approve a notice or report (DPO);
        every notice must render first: a missing field is named
  vigil incident waive ID OBLIGATION --reason TEXT
        record that an obligation is not needed and why (DPO)
  vigil incident submit ID OBLIGATION --version initial|supplement|summary --reference REF
        record a regulator report's submission (DPO)

IDs may be shortened to their first 8 or more characters.

Where the notifier is: --server URL (or VIGIL_SERVER), with the operator's
bearer token from --token-file or VIGIL_TOKEN. With --data DIR, the
running 'vigil up --data DIR' (DIR/http.addr and DIR/operator-token).

Examples:
  vigil incident list --data ./vigil-data
  vigil incident confirm 4f1c2a9e --reason "bulk reading confirmed with the ward" --data ./vigil-data
  vigil incident set 4f1c2a9e facts="A staff account read 1,200 records." cause="phished password"
  vigil incident approve 4f1c2a9e pipl.individual --server https://notify.example:8443 --token-file ~/.vigil-token

Exit status: 0 done, 1 the notifier refused (the message says why) or
cannot be reached, 2 usage error.`,
		flags: func(fs *flagSet) {
			fs.fs.StringVar(&server, "server", "", "notifier API base `URL` (default $VIGIL_SERVER)")
			fs.fs.StringVar(&tokenFile, "token-file", "", "`file` holding the operator's bearer token (default $VIGIL_TOKEN)")
			fs.fs.StringVar(&data, "data", "", "data `folder` of a running 'vigil up': use its API and local operator")
			fs.fs.StringVar(&reason, "reason", "", "why (`TEXT`): required for lifecycle changes and waivers")
			fs.fs.StringVar(&awareAt, "aware-at", "", "confirm: when the organisation became aware (RFC 3339 `time`), default now")
			fs.fs.StringVar(&version, "version", "", "submit: the report `version` (initial, supplement, summary, …)")
			fs.fs.StringVar(&reference, "reference", "", "submit: the regulator's reference `number`")
			fs.fs.StringVar(&fieldsFile, "fields", "", "set: a JSON or YAML `file` with a map of field → value")
			fs.fs.BoolVar(&asJSON, "json", false, "print the API's JSON instead of a summary")
			fs.fs.BoolVar(&open, "open", false, "list: only incidents not closed or dismissed")
			fs.fs.DurationVar(&timeout, "timeout", 5*time.Minute, "bound on the command (`duration`; approvals plan every notice)")
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) == 0 {
				return c.fail(ExitUsage, "want an action (see vigil incident --help)")
			}
			action, args := c.args[0], c.args[1:]
			cl, err := newAPIClient(c, server, tokenFile, data)
			if err != nil {
				return c.fail(ExitUsage, "%v", err)
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			need := func(n int, what string) bool {
				if len(args) != n {
					c.fail(ExitUsage, "%s takes %s, got %d arguments", action, what, len(args))
					return false
				}
				return true
			}
			var (
				method = http.MethodPost
				path   string
				body   any = struct{}{}
			)
			switch action {
			case "list":
				if !need(0, "no arguments") {
					return ExitUsage
				}
				method, path = http.MethodGet, "/api/v1/incidents"
				if open {
					path += "?open=true"
				}
			case "show":
				if !need(1, "one ID") {
					return ExitUsage
				}
				method, path = http.MethodGet, "/api/v1/incidents/"+url.PathEscape(args[0])
			case "triage", "confirm", "dismiss", "contain", "notifying", "reported", "close":
				if !need(1, "one ID") {
					return ExitUsage
				}
				if strings.TrimSpace(reason) == "" {
					return c.fail(ExitUsage, "%s needs --reason TEXT: every transition records why", action)
				}
				req := map[string]any{"to": incidentActions[action], "reason": reason}
				if awareAt != "" {
					if action != "confirm" {
						return c.fail(ExitUsage, "--aware-at belongs to confirm")
					}
					t, err := event.ParseTimestamp(awareAt)
					if err != nil {
						return c.fail(ExitUsage, "--aware-at: %v", err)
					}
					req["aware_at"] = t
				}
				path, body = "/api/v1/incidents/"+url.PathEscape(args[0])+"/transition", req
			case "set":
				if len(args) < 1 {
					return c.fail(ExitUsage, "set takes an ID and field=value pairs")
				}
				fields, err := fieldArgs(args[1:], fieldsFile)
				if err != nil {
					return c.fail(ExitUsage, "%v", err)
				}
				path, body = "/api/v1/incidents/"+url.PathEscape(args[0])+"/fields", map[string]any{"fields": fields}
			case "rescope":
				if !need(1, "one ID") {
					return ExitUsage
				}
				path = "/api/v1/incidents/" + url.PathEscape(args[0]) + "/rescope"
			case "approve", "waive", "submit":
				if !need(2, "an ID and an OBLIGATION") {
					return ExitUsage
				}
				path = "/api/v1/incidents/" + url.PathEscape(args[0]) + "/obligations/" + url.PathEscape(args[1]) + "/" + action
				switch action {
				case "waive":
					if strings.TrimSpace(reason) == "" {
						return c.fail(ExitUsage, "waive needs --reason TEXT: why the obligation is not needed")
					}
					body = map[string]string{"reason": reason}
				case "submit":
					if version == "" || reference == "" {
						return c.fail(ExitUsage, "submit needs --version and --reference (the regulator's reference number)")
					}
					body = map[string]string{"version": version, "reference": reference}
				}
			default:
				return c.fail(ExitUsage, "unknown action %q (see vigil incident --help)", action)
			}
			raw, err := cl.do(ctx, method, path, body)
			if err != nil {
				return c.fail(ExitFailure, "%v", err)
			}
			if asJSON {
				_, _ = c.stdout().Write(raw)
				return ExitOK
			}
			if action == "list" {
				return printIncidentList(c, raw)
			}
			return printIncident(c, raw)
		},
	}
}

// fieldArgs reads field=value pairs and, optionally, a JSON or YAML file
// of them (the pairs win).
func fieldArgs(pairs []string, file string) (map[string]string, error) {
	fields := map[string]string{}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--fields: %w", err)
		}
		if err := yaml.Unmarshal(b, &fields); err != nil {
			return nil, fmt.Errorf("--fields %s: want a map of field name to text: %w", file, err)
		}
	}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want field=value", p)
		}
		fields[k] = v
	}
	if len(fields) == 0 {
		return nil, errors.New("set needs field=value pairs or --fields FILE")
	}
	return fields, nil
}

// apiClient calls the notifier's API.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func newAPIClient(c *invocation, server, tokenFile, data string) (*apiClient, error) {
	token := lookupEnv(c.env.Environ, "VIGIL_TOKEN")
	if server == "" {
		server = lookupEnv(c.env.Environ, "VIGIL_SERVER")
	}
	if data != "" {
		if server == "" {
			b, err := os.ReadFile(filepath.Join(data, httpAddrFile))
			if err != nil {
				return nil, fmt.Errorf("--data %s: is 'vigil up --data %s' running? %v", data, data, err)
			}
			server = "http://" + strings.TrimSpace(string(b))
		}
		if tokenFile == "" && token == "" {
			tokenFile = filepath.Join(data, operatorTokenFile)
		}
	}
	if tokenFile != "" {
		t, err := config.ReadSecretFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %v", err)
		}
		token = strings.TrimSpace(t)
	}
	if server == "" {
		return nil, errors.New("where is the notifier? give --server URL, VIGIL_SERVER or --data DIR")
	}
	if token == "" {
		return nil, errors.New("no operator token: give --token-file FILE or VIGIL_TOKEN")
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want http(s)://host:port", server)
	}
	return &apiClient{base: strings.TrimRight(server, "/"), token: token, http: &http.Client{}}, nil
}

func (a *apiClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if method == http.MethodPost {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("notifier at %s: %w", a.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("notifier at %s: reading the answer: %w", a.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Code string }
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("notifier refused (%s): %s", e.Code, e.Error)
		}
		return nil, fmt.Errorf("notifier at %s: %s", a.base, resp.Status)
	}
	return raw, nil
}

func printIncidentList(c *invocation, raw []byte) int {
	var list []notifier.IncidentSummary
	if err := json.Unmarshal(raw, &list); err != nil {
		return c.fail(ExitFailure, "unexpected answer: %v", err)
	}
	if len(list) == 0 {
		fmt.Fprintln(c.stdout(), "No incidents.")
		return ExitOK
	}
	tw := tabwriter.NewWriter(c.stdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSEVERITY\tORG\tDETECTED\tALERTS\tPEOPLE\tOPEN OBLIGATIONS\tNEXT DEADLINE")
	for _, s := range list {
		next := "-"
		if !s.NextDeadline.IsZero() {
			next = s.NextDeadline.String() + " (" + until(s.NextDeadline.Time) + ")"
		}
		fmt.Fprintf(tw, "%.12s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", s.IncidentID, s.State, s.Severity, s.Org,
			s.DetectedAt.UTC().Format("2006-01-02 15:04"), s.Alerts, s.People, s.Open, next)
	}
	_ = tw.Flush()
	return ExitOK
}

func until(t time.Time) string {
	d := time.Until(t).Round(time.Minute)
	if d < 0 {
		return "OVERDUE by " + (-d).String()
	}
	return "in " + d.String()
}

func printIncident(c *invocation, raw []byte) int {
	var v notifier.IncidentView
	if err := json.Unmarshal(raw, &v); err != nil {
		return c.fail(ExitFailure, "unexpected answer: %v", err)
	}
	w := c.stdout()
	fmt.Fprintf(w, "Incident %s  [%s]  severity %s  org %s\n", v.IncidentID, v.State, v.Severity, v.Org)
	fmt.Fprintf(w, "  detected %s", v.DetectedAt)
	if !v.AwareAt.IsZero() {
		fmt.Fprintf(w, ", aware %s (legal clocks start here)", v.AwareAt)
	}
	fmt.Fprintln(w)
	if v.ActorID != "" {
		fmt.Fprintf(w, "  actor %s", v.ActorID)
	}
	if v.DeviceID != "" {
		fmt.Fprintf(w, "  device %s", v.DeviceID)
	}
	fmt.Fprintf(w, "  alerts %d  window %s – %s\n", len(v.AlertIDs), v.WindowStart, v.WindowEnd)
	if v.Scope.People > 0 || !v.AwareAt.IsZero() {
		cats := make([]string, len(v.Scope.Categories))
		for i, c := range v.Scope.Categories {
			cats[i] = string(c)
		}
		fmt.Fprintf(w, "  scope: %d people, %d minors under 14; categories %s; regimes %s\n", v.Scope.People, v.Scope.Minors,
			strings.Join(cats, ", "), strings.Join(v.Scope.Jurisdictions, ", "))
	}
	if len(v.Obligations) > 0 {
		fmt.Fprintln(w, "\nObligations:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tKIND\tDUE\tSTATUS\tNOTICES\tBASIS")
		for _, o := range v.Obligations {
			due := o.DueAt.String()
			if o.Status.Pending() {
				due += " (" + until(o.DueAt.Time) + ")"
			}
			status := string(o.Status)
			switch {
			case o.ApprovedBy != "" && o.Status == event.ObligationApproved:
				status += " by " + o.ApprovedBy
			case o.Status == event.ObligationWaived:
				status += " by " + o.WaivedBy + ": " + o.WaivedReason
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", o.ID, o.Kind, due, status, noticeCounts(v.Notices[o.ID]), o.Basis)
		}
		_ = tw.Flush()
	}
	if len(v.Fields) > 0 {
		fmt.Fprintln(w, "\nContent recorded:")
		keys := make([]string, 0, len(v.Fields))
		for k := range v.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %s\n", k, v.Fields[k])
		}
	}
	for _, s := range v.Submissions {
		fmt.Fprintf(w, "Submitted %s (%s) ref %s at %s by %s\n", s.Obligation, s.Version, s.Reference, s.At, s.By)
	}
	fmt.Fprintln(w, "\nHistory:")
	for _, t := range v.Transitions {
		fmt.Fprintf(w, "  %s  %s → %s  by %s", t.At, cmp.Or(string(t.From), "·"), t.To, t.By)
		if t.Reason != "" {
			fmt.Fprintf(w, ": %s", t.Reason)
		}
		fmt.Fprintln(w)
	}
	return ExitOK
}

func noticeCounts(m map[event.NoticeState]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, st := range event.NoticeStates() {
		if m[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[st], st))
		}
	}
	return strings.Join(parts, ", ")
}
