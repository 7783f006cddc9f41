package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Retention drops whole monthly partitions: every table of the schema is
// PARTITION BY toYYYYMM(<a UTC DateTime>), so a partition id is the month
// "YYYYMM" and dropping it removes exactly the rows of that month. There is
// no TTL (ClickHouse 18.16 compatibility) and no row-level DELETE.
//
// Logs must be kept at least six months (DESIGN.md, "Invariants"), so:
//
//   - a keep period below MinKeepMonths months (or MinKeepDays days when
//     given in days) is refused with ErrKeepTooShort;
//   - whatever the period, a month is dropped only when it ended at or
//     before both now-keep and now minus six calendar months, so "180d",
//     which is shorter than six calendar months around some dates, never
//     drops data younger than six months;
//   - DropPartitions checks the same floor against the clock again, so a
//     caller cannot drop a recent month by handing it a hand-made list.

// MinKeepMonths is the legal minimum retention: logs are kept at least six
// months.
const MinKeepMonths = 6

// MinKeepDays is the shortest period accepted in days ("180d"): six months
// of 30 days. The calendar floor (six months back) still applies.
const MinKeepDays = 180

// ErrKeepTooShort is returned for a keep period below the legal minimum.
var ErrKeepTooShort = errors.New("store: retention: keep period is below the legal minimum of six months (the Cybersecurity Law requires network logs to be kept at least six months)")

// Keep is a retention period: Months calendar months or Days days; exactly
// one is set.
type Keep struct {
	Months int
	Days   int
}

// String formats k as ParseKeep reads it.
func (k Keep) String() string {
	if k.Months > 0 {
		return strconv.Itoa(k.Months) + "mo"
	}
	return strconv.Itoa(k.Days) + "d"
}

var keepSyntax = regexp.MustCompile(`^([0-9]{1,5})(d|mo|y)$`)

// ParseKeep reads a retention period: "180d" (days), "12mo" (calendar
// months) or "2y" (years of 12 months). It refuses a period below the legal
// minimum with an error wrapping ErrKeepTooShort.
func ParseKeep(s string) (Keep, error) {
	m := keepSyntax.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Keep{}, fmt.Errorf("store: retention: keep %q: want a number of days, months or years, e.g. 180d, 12mo, 2y", s)
	}
	n, _ := strconv.Atoi(m[1])
	var k Keep
	switch m[2] {
	case "d":
		k.Days = n
	case "mo":
		k.Months = n
	case "y":
		k.Months = 12 * n
	}
	return k, k.check()
}

func (k Keep) check() error {
	switch {
	case k.Months < 0 || k.Days < 0 || (k.Months > 0 && k.Days > 0):
		return fmt.Errorf("store: retention: keep %+v: set one of Months or Days, not negative", k)
	case k.Months > 0 && k.Months < MinKeepMonths, k.Days > 0 && k.Days < MinKeepDays, k.Months == 0 && k.Days == 0:
		return fmt.Errorf("%w: got %s, want at least %dmo or %dd", ErrKeepTooShort, k, MinKeepMonths, MinKeepDays)
	}
	return nil
}

// Partition is one monthly partition of one table.
type Partition struct {
	Table string
	// ID is the partition id, the month as YYYYMM ("202401").
	ID string
	// Month is the first instant of the month in UTC.
	Month time.Time
	// Rows and Bytes are the totals of the partition's active parts.
	Rows  uint64
	Bytes uint64
}

// End is the first instant after the partition's month.
func (p Partition) End() time.Time { return p.Month.AddDate(0, 1, 0) }

// parseMonth reads a YYYYMM partition id.
func parseMonth(id string) (time.Time, bool) {
	if len(id) != 6 {
		return time.Time{}, false
	}
	t, err := time.Parse("200601", id)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// addMonths moves t by n calendar months, clamping the day to the target
// month's last day (Aug 31 − 6 months is Feb 28 or 29, not Mar 2 or 3).
func addMonths(t time.Time, n int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(n), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, last)-1)
}

// RetentionCutoff returns the instant before which data may be dropped
// under keep at now: the earlier of now−keep and now minus MinKeepMonths
// calendar months.
func RetentionCutoff(now time.Time, keep Keep) (time.Time, error) {
	if err := keep.check(); err != nil {
		return time.Time{}, err
	}
	now = now.UTC()
	floor := addMonths(now, -MinKeepMonths)
	var c time.Time
	if keep.Months > 0 {
		c = addMonths(now, -keep.Months)
	} else {
		c = now.AddDate(0, 0, -keep.Days)
	}
	if floor.Before(c) {
		c = floor
	}
	return c, nil
}

// PlanRetention returns the partitions among parts (as ListPartitions gives
// them) that keep allows dropping at now: those whose whole month ended at
// or before RetentionCutoff. It refuses a keep below the legal minimum and
// a partition id that is not a month.
func PlanRetention(now time.Time, keep Keep, parts []Partition) ([]Partition, error) {
	cutoff, err := RetentionCutoff(now, keep)
	if err != nil {
		return nil, err
	}
	var drop []Partition
	for _, p := range parts {
		month, ok := parseMonth(p.ID)
		if !ok {
			return nil, fmt.Errorf("store: retention: %s partition %q is not a month (YYYYMM)", p.Table, p.ID)
		}
		p.Month = month
		if !p.End().After(cutoff) {
			drop = append(drop, p)
		}
	}
	return drop, nil
}

// ListPartitions returns the active monthly partitions of every table in db
// from system.parts, by table then month. Partitions whose id is not a
// month (an unpartitioned table's "all") are left out: retention never
// touches them.
func ListPartitions(ctx context.Context, conn driver.Conn, db string) ([]Partition, error) {
	if err := checkIdent("database", db); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT table, partition_id, sum(rows), sum(bytes_on_disk)
FROM system.parts
WHERE database = ? AND active
GROUP BY table, partition_id
ORDER BY table, partition_id`, db)
	if err != nil {
		return nil, fmt.Errorf("store: retention: listing partitions of %s: %w", db, err)
	}
	defer rows.Close()
	var parts []Partition
	for rows.Next() {
		var p Partition
		if err := rows.Scan(&p.Table, &p.ID, &p.Rows, &p.Bytes); err != nil {
			return nil, fmt.Errorf("store: retention: listing partitions of %s: %w", db, err)
		}
		month, ok := parseMonth(p.ID)
		if !ok {
			continue
		}
		p.Month = month
		parts = append(parts, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: retention: listing partitions of %s: %w", db, err)
	}
	return parts, nil
}

// DropPartitions drops each partition with ALTER TABLE db.table DROP
// PARTITION YYYYMM, in order, stopping at the first error (which names the
// table and month and how many were dropped before it). It refuses, before
// dropping anything, any partition whose month ended less than six calendar
// months before the current time.
func DropPartitions(ctx context.Context, conn driver.Conn, db string, parts []Partition) error {
	return dropPartitions(ctx, conn, db, parts, time.Now())
}

func dropPartitions(ctx context.Context, conn driver.Conn, db string, parts []Partition, now time.Time) error {
	if err := checkIdent("database", db); err != nil {
		return err
	}
	floor := addMonths(now.UTC(), -MinKeepMonths)
	for _, p := range parts {
		if err := checkIdent("table", p.Table); err != nil {
			return err
		}
		month, ok := parseMonth(p.ID)
		if !ok {
			return fmt.Errorf("store: retention: %s.%s partition %q is not a month (YYYYMM)", db, p.Table, p.ID)
		}
		if month.AddDate(0, 1, 0).After(floor) {
			return fmt.Errorf("%w: refusing to drop %s.%s partition %s: it holds data newer than %s", ErrKeepTooShort, db, p.Table, p.ID, floor.Format(time.RFC3339))
		}
	}
	for i, p := range parts {
		if err := conn.Exec(ctx, "ALTER TABLE "+db+"."+p.Table+" DROP PARTITION "+p.ID); err != nil {
			return fmt.Errorf("store: retention: dropping %s.%s partition %s (after %d of %d dropped): %w", db, p.Table, p.ID, i, len(parts), err)
		}
	}
	return nil
}
