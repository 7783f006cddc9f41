package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/export"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/internal/store/sqlite"
)

// embeddedStoreFile is the embedded store's file in the data folder of
// `vigil up`.
const embeddedStoreFile = "store.db"

// reportFlags are the flags every report takes.
type reportFlags struct {
	data, format, output, progress, from, to string
}

func reportCommand() *command {
	var (
		rf                                reportFlags
		id, token, org, actor, actorToken string
		hourly                            bool
		regime, version                   string
	)
	return &command{
		name:    "report",
		summary: "Export subject access history, actor activity and regulator reports of incidents",
		usage:   "subject (--id ID | --token TOKEN) | actor --org ORG (--actor ID | --actor-token TOKEN) [--hourly]  --from TIME [--to TIME] | incident ID --regime REGIME [flags]",
		help: `vigil report subject --id ID --from TIME [--to TIME]
    Every access to one person's data in [from, to): event id, time, who
    (actor, type, role, department), what action, which data categories, how
    many records, purpose, care relationship and outcome — the basis of a
    "who looked at my records" answer. --id takes the identifier the person
    is known by (patient number, user id…) and turns it into its token with
    the pseudonymisation key, exactly as the collector did; the raw id never
    reaches the store or the output. --token takes a token (p_…) directly.

vigil report actor --org ORG --actor ID --from TIME [--to TIME] [--hourly]
    Every event of one staff member or service account in [from, to), or
    with --hourly what it touched per hour and data category (events,
    distinct subjects, records, denied). When pseudonymise.tokenise_actor is
    on, --actor is tokenised like --id; --actor-token takes a token.

vigil report incident ID --regime cac|gdpr|hipaa [--version V] [--format json|csv|pdf]
    The regulator report(s) of a confirmed incident: for each report
    obligation of the regime (CAC initial, supplement and 30-day summary;
    GDPR art. 33; HIPAA HHS report and annual log) the fields its regime
    file requires, with the values the DPO recorded ('vigil incident set')
    or the incident record gives (discovery time, people, minors, data
    categories), and PENDING where nothing is known yet — never invented.
    --version keeps one (initial, supplement, summary, …). A GDPR report
    past 72 h asks for the reasons for the delay. The incident is read
    from the incidents topic (bus.brokers, or the running 'vigil up' with
    --data DIR). --format pdf writes one printable document (A4; Chinese
    text in the reader's built-in STSong font) — use --output FILE.
    Record the submission with 'vigil incident submit'.

Where the data comes from: with --data DIR, the embedded store of
'vigil up' in DIR (also while it runs: the file is opened read-only);
otherwise ClickHouse (clickhouse.addr, clickhouse.database).
The key for --id: VIGIL_PSEUDONYMISE_KEY(_FILE), pseudonymise.key_file, or
DIR/pseudonymise.key with --data.

TIME is RFC 3339 (2026-11-01T08:00:00Z, 2026-11-01T16:00:00+08:00) or a
date (2026-11-01, midnight UTC); --to defaults to now. Rows stream to
--output (default stdout) in time order; memory stays flat however large
the export. CSV cells that a spreadsheet would run as a formula are
prefixed with ' . A progress line goes to stderr (--progress).`,
		flags: func(fs *flagSet) {
			fs.configFlags()
			fs.key("clickhouse", "clickhouse.addr", "ClickHouse native `addresses`, comma-separated")
			fs.key("database", "clickhouse.database", "ClickHouse `database` holding Vigil's tables")
			fs.fs.StringVar(&rf.data, "data", "", "read the embedded store of 'vigil up' in this data `folder` instead of ClickHouse")
			fs.fs.StringVar(&id, "id", "", "subject: the person's `identifier`, pseudonymised with the key before the query")
			fs.fs.StringVar(&token, "token", "", "subject: the person's `token` (p_…), used as is")
			fs.fs.StringVar(&org, "org", "", "actor: the `org` (tenant) of the actor")
			fs.fs.StringVar(&actor, "actor", "", "actor: the actor's `id` (tokenised when pseudonymise.tokenise_actor is on)")
			fs.fs.StringVar(&actorToken, "actor-token", "", "actor: the actor's `token`, used as is")
			fs.fs.BoolVar(&hourly, "hourly", false, "actor: per hour and category instead of every event")
			fs.fs.StringVar(&rf.from, "from", "", "start of the period, inclusive (`TIME`)")
			fs.fs.StringVar(&rf.to, "to", "", "end of the period, exclusive (`TIME`, default now)")
			fs.fs.StringVar(&rf.format, "format", "csv", "output `format`: csv, json or ndjson (incident reports: json, csv or pdf)")
			fs.fs.StringVar(&rf.output, "output", "", "write to this `file` instead of stdout (created, never overwritten)")
			fs.fs.StringVar(&regime, "regime", "", "incident: the `regime` of the report: cac, gdpr or hipaa")
			fs.fs.StringVar(&version, "version", "", "incident: only this report `version` (initial, supplement, summary, hhs, annual_log)")
			fs.fs.StringVar(&rf.progress, "progress", "auto", "progress on stderr: auto (a bar on a terminal, else a line every 10s), always, never")
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) > 0 && c.args[0] == "incident" {
				return reportIncident(ctx, c, c.args[1:], rf, regime, version)
			}
			if regime != "" || version != "" {
				return c.fail(ExitUsage, "--regime and --version belong to the incident report")
			}
			if len(c.args) != 1 || (c.args[0] != "subject" && c.args[0] != "actor") {
				return c.fail(ExitUsage, "want one report, subject, actor or incident (see vigil report --help)")
			}
			kind := c.args[0]
			var probs []string
			switch kind {
			case "subject":
				if (id == "") == (token == "") {
					probs = append(probs, "give exactly one of --id or --token")
				}
				if org != "" || actor != "" || actorToken != "" || hourly {
					probs = append(probs, "--org, --actor, --actor-token and --hourly belong to the actor report")
				}
			case "actor":
				if org == "" {
					probs = append(probs, "--org is required")
				}
				if (actor == "") == (actorToken == "") {
					probs = append(probs, "give exactly one of --actor or --actor-token")
				}
				if id != "" || token != "" {
					probs = append(probs, "--id and --token belong to the subject report")
				}
			}
			format, err := export.ParseFormat(rf.format)
			if err != nil {
				probs = append(probs, "--format: "+err.Error())
			}
			r, err := parseRange(rf.from, rf.to, time.Now())
			if err != nil {
				probs = append(probs, err.Error())
			}
			switch rf.progress {
			case "auto", "always", "never":
			default:
				probs = append(probs, fmt.Sprintf("--progress %q: want auto, always or never", rf.progress))
			}
			if len(probs) > 0 {
				return c.fail(ExitUsage, "%s", strings.Join(probs, "; "))
			}
			cfg := defaultConfig()
			if !c.fs.load(c, cfg) {
				return ExitUsage
			}
			// Tokenise what the user typed before anything is opened, so a
			// missing key fails fast.
			needKey := id != "" || (actor != "" && cfg.Pseudonymise.TokeniseActor)
			if needKey {
				p, err := reportPseudonymiser(c, cfg, rf.data)
				if err != nil {
					return c.fail(ExitUsage, "%v", err)
				}
				if id != "" {
					token = p.Token(pseudo.Person, id)
				}
				if actor != "" {
					actorToken = p.Token(pseudo.Person, actor)
				}
			} else if actor != "" {
				actorToken = actor
			}
			rd, closeStore, where, code := openReport(ctx, c, cfg, rf.data)
			if rd == nil {
				return code
			}
			defer closeStore()
			out, finish, err := openOutput(c, rf.output)
			if err != nil {
				return c.fail(ExitFailure, "%v", err)
			}
			var n int64
			switch {
			case kind == "subject":
				n, err = exportSubject(ctx, c, rd, store.SubjectQuery{SubjectID: token, TimeRange: r}, format, out, rf.progress)
			case hourly:
				n, err = exportActorHourly(ctx, rd, store.ActorQuery{Org: org, ActorID: actorToken, TimeRange: r}, format, out)
			default:
				n, err = exportActor(ctx, c, rd, store.ActorQuery{Org: org, ActorID: actorToken, TimeRange: r}, format, out, rf.progress)
			}
			if ferr := finish(err == nil); err == nil {
				err = ferr
			}
			if err != nil {
				if errors.Is(err, store.ErrBadQuery) {
					return c.fail(ExitUsage, "%v", err)
				}
				return c.fail(ExitFailure, "%v", err)
			}
			dest := "stdout"
			if rf.output != "" {
				dest = rf.output
			}
			rows := "rows"
			if n == 1 {
				rows = "row"
			}
			fmt.Fprintf(c.stderr(), "vigil report: %d %s from %s to %s (%s)\n", n, rows, where, dest, format)
			return ExitOK
		},
	}
}

// parseRange parses --from and --to; to defaults to now.
func parseRange(from, to string, now time.Time) (store.TimeRange, error) {
	var r store.TimeRange
	if from == "" {
		return r, errors.New("--from is required (RFC 3339 time or YYYY-MM-DD)")
	}
	var err error
	if r.From, err = parseTime(from); err != nil {
		return r, fmt.Errorf("--from: %v", err)
	}
	r.To = now.UTC().Truncate(time.Millisecond)
	if to != "" {
		if r.To, err = parseTime(to); err != nil {
			return r, fmt.Errorf("--to: %v", err)
		}
	}
	if !r.From.Before(r.To) {
		return r, fmt.Errorf("--from %s is not before --to %s", r.From.Format(time.RFC3339Nano), r.To.Format(time.RFC3339Nano))
	}
	return r, nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-11-01T08:00:00Z) nor a date (2026-11-01)", s)
}

// reportPseudonymiser loads the key the collector used: from the
// environment or config, else from the data folder of `vigil up`.
func reportPseudonymiser(c *invocation, cfg *Config, data string) (*pseudo.Pseudonymiser, error) {
	key, err := pseudo.LoadKey(c.env.Environ, cfg.Pseudonymise)
	if errors.Is(err, pseudo.ErrNoKey) && data != "" {
		pc := cfg.Pseudonymise
		pc.KeyFile = filepath.Join(data, "pseudonymise.key")
		key, err = pseudo.LoadKey(nil, pc)
	}
	if err != nil {
		return nil, fmt.Errorf("pseudonymisation key (needed to turn --id or --actor into a token; or pass --token / --actor-token): %w", err)
	}
	return pseudo.New(key, cfg.Pseudonymise)
}

// openReport opens the store a report reads. On failure it prints the
// error and returns a nil Reader and the exit status.
func openReport(ctx context.Context, c *invocation, cfg *Config, data string) (store.Reader, func(), string, int) {
	if data != "" {
		path := filepath.Join(data, embeddedStoreFile)
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil, "", c.fail(ExitUsage, "--data %s: no embedded store there (%s does not exist); is it the data folder of 'vigil up'?", data, path)
			}
			return nil, nil, "", c.fail(ExitFailure, "--data %s: %v", data, err)
		}
		s, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
		if err != nil {
			return nil, nil, "", c.fail(ExitFailure, "%v", err)
		}
		return s, func() { s.Close() }, "the embedded store " + path, ExitOK
	}
	if len(cfg.ClickHouse.Addr) == 0 {
		return nil, nil, "", c.fail(ExitUsage, "no store to read: give --data DIR (the data folder of 'vigil up') or --clickhouse HOST:PORT (key clickhouse.addr)")
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := store.Open(octx, store.ClickHouseConfig{Addr: cfg.ClickHouse.Addr, Username: cfg.ClickHouse.Username, Password: cfg.ClickHouse.Password, DialTimeout: cfg.ClickHouse.DialTimeout})
	if err != nil {
		return nil, nil, "", c.fail(ExitFailure, "%v", err)
	}
	s := store.NewClickHouseStore(conn, cfg.ClickHouse.Database)
	where := "ClickHouse " + strings.Join(cfg.ClickHouse.Addr, ",") + " database " + cfg.ClickHouse.Database
	return s, func() { s.Close(); conn.Close() }, where, ExitOK
}

// openOutput returns where rows go and a function that finishes it: for a
// file, rows go to a temporary file renamed into place only when the
// export succeeded (ok), so a failed export never leaves a truncated
// report that looks whole.
func openOutput(c *invocation, path string) (io.Writer, func(ok bool) error, error) {
	if path == "" || path == "-" {
		return c.stdout(), func(bool) error { return nil }, nil
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, nil, fmt.Errorf("--output %s exists; remove it or choose another name", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return nil, nil, fmt.Errorf("--output: %w", err)
	}
	return f, func(ok bool) error {
		if !ok {
			f.Close()
			os.Remove(f.Name())
			return nil
		}
		err := f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			// Link fails if path appeared meanwhile: never overwrite.
			err = os.Link(f.Name(), path)
		}
		os.Remove(f.Name())
		if err != nil {
			return fmt.Errorf("--output %s: %w", path, err)
		}
		return nil
	}, nil
}

// newProgress returns the progress reporter for mode, or nil for none.
func newProgress(c *invocation, mode string, total int64) *export.Progress {
	if mode == "never" {
		return nil
	}
	terminal := false
	if f, ok := c.stderr().(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			terminal = true
		}
	}
	if mode == "auto" && !terminal && total < 100_000 {
		return nil // small exports to a log need no progress lines
	}
	return export.NewProgress(c.stderr(), "vigil report:", total, terminal)
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

var subjectColumns = []string{"event_id", "occurred_at", "org", "source", "actor_id", "actor_type", "actor_role",
	"actor_department", "action", "subject_type", "categories", "record_count", "purpose", "relationship", "outcome"}

func exportSubject(ctx context.Context, c *invocation, rd store.Reader, q store.SubjectQuery, f export.Format, out io.Writer, progress string) (int64, error) {
	if err := q.Check(); err != nil {
		return 0, err
	}
	total, err := rd.CountSubjectHistory(ctx, q)
	if err != nil {
		return 0, err
	}
	w, err := export.New(out, f, export.Meta{Report: "subject_access_history", GeneratedAt: time.Now(), Params: []export.Param{
		{Name: "subject_token", Value: q.SubjectID}, {Name: "from", Value: ts(q.From)}, {Name: "to", Value: ts(q.To)}}}, subjectColumns)
	if err != nil {
		return 0, err
	}
	p := newProgress(c, progress, total)
	cells := make([]string, len(subjectColumns))
	err = rd.SubjectHistory(ctx, q, func(a *store.SubjectAccess) error {
		cells = append(cells[:0], a.EventID, ts(a.OccurredAt), a.Org, a.Source, a.ActorID, a.ActorType, a.ActorRole,
			a.ActorDepartment, a.Action, a.SubjectType, strings.Join(a.Categories, ";"),
			strconv.FormatInt(a.RecordCount, 10), a.Purpose, a.Relationship, a.Outcome)
		if p != nil {
			p.Add(1)
		}
		return w.Row(subjectRow{a}, cells)
	})
	if err == nil {
		err = w.Close()
	}
	if p != nil && err == nil {
		p.Done()
	}
	return w.Rows(), err
}

// subjectRow marshals a SubjectAccess with its time as the event contract
// writes times (RFC 3339, milliseconds, UTC).
type subjectRow struct{ *store.SubjectAccess }

func (r subjectRow) MarshalJSON() ([]byte, error) {
	type plain store.SubjectAccess
	return json.Marshal(struct {
		*plain
		OccurredAt string `json:"occurred_at"`
	}{(*plain)(r.SubjectAccess), ts(r.OccurredAt)})
}

var actorColumns = []string{"event_id", "occurred_at", "actor_type", "actor_role", "actor_department", "action",
	"subject_id", "subject_type", "subject_minor", "categories", "record_count", "relationship", "outcome"}

func exportActor(ctx context.Context, c *invocation, rd store.Reader, q store.ActorQuery, f export.Format, out io.Writer, progress string) (int64, error) {
	if err := q.Check(); err != nil {
		return 0, err
	}
	total, err := rd.CountActorHistory(ctx, q)
	if err != nil {
		return 0, err
	}
	w, err := export.New(out, f, export.Meta{Report: "actor_history", GeneratedAt: time.Now(), Params: []export.Param{
		{Name: "org", Value: q.Org}, {Name: "actor_id", Value: q.ActorID}, {Name: "from", Value: ts(q.From)}, {Name: "to", Value: ts(q.To)}}}, actorColumns)
	if err != nil {
		return 0, err
	}
	p := newProgress(c, progress, total)
	cells := make([]string, len(actorColumns))
	err = rd.ActorHistory(ctx, q, func(a *store.ActorAccess) error {
		cells = append(cells[:0], a.EventID, ts(a.OccurredAt), a.ActorType, a.ActorRole, a.ActorDepartment, a.Action,
			a.SubjectID, a.SubjectType, strconv.FormatBool(a.SubjectMinor), strings.Join(a.Categories, ";"),
			strconv.FormatInt(a.RecordCount, 10), a.Relationship, a.Outcome)
		if p != nil {
			p.Add(1)
		}
		return w.Row(actorRow{a}, cells)
	})
	if err == nil {
		err = w.Close()
	}
	if p != nil && err == nil {
		p.Done()
	}
	return w.Rows(), err
}

type actorRow struct{ *store.ActorAccess }

func (r actorRow) MarshalJSON() ([]byte, error) {
	type plain store.ActorAccess
	return json.Marshal(struct {
		*plain
		OccurredAt string `json:"occurred_at"`
	}{(*plain)(r.ActorAccess), ts(r.OccurredAt)})
}

var hourlyColumns = []string{"hour", "category", "events", "subjects", "records", "denied"}

func exportActorHourly(ctx context.Context, rd store.Reader, q store.ActorQuery, f export.Format, out io.Writer) (int64, error) {
	hours, err := rd.ActorActivity(ctx, q)
	if err != nil {
		return 0, err
	}
	w, err := export.New(out, f, export.Meta{Report: "actor_activity_hourly", GeneratedAt: time.Now(), Params: []export.Param{
		{Name: "org", Value: q.Org}, {Name: "actor_id", Value: q.ActorID}, {Name: "from", Value: ts(q.From)}, {Name: "to", Value: ts(q.To)}}}, hourlyColumns)
	if err != nil {
		return 0, err
	}
	for i := range hours {
		h := &hours[i]
		row := struct {
			Hour string `json:"hour"`
			*store.ActorHour
		}{ts(h.Hour), h}
		if err := w.Row(row, []string{ts(h.Hour), h.Category, strconv.FormatInt(h.Events, 10),
			strconv.FormatInt(h.Subjects, 10), strconv.FormatInt(h.Records, 10), strconv.FormatInt(h.Denied, 10)}); err != nil {
			return w.Rows(), err
		}
	}
	return w.Rows(), w.Close()
}
