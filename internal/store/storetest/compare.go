package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Waiting for a backend to show what was written: ClickHouse fills its
// lookup tables with materialized views that may trail the INSERT, so a
// comparison is retried until it holds or waitFor has passed.
const (
	waitFor   = 15 * time.Second
	pollEvery = 100 * time.Millisecond
)

// outcome is the result of one comparison.
type outcome struct {
	equal bool
	// report explains a difference: what was wrong and a diff of the
	// result against the expected one.
	report string
}

// compare checks got against want: the same JSON (so the same slices in
// the same order, nil and empty lists told apart inside rows) and every
// time in got in UTC at millisecond precision. A nil top-level slice
// equals an empty one: "no rows" may be either.
func compare(want, got any) outcome {
	got = emptyIfNil(got)
	wantJSON, err := render(want)
	if err != nil {
		return outcome{report: "cannot render the expected result: " + err.Error()}
	}
	gotJSON, err := render(got)
	if err != nil {
		return outcome{report: "cannot render the result: " + err.Error()}
	}
	problems := timeProblems(reflect.ValueOf(got), "result")
	if wantJSON == gotJSON && len(problems) == 0 {
		return outcome{equal: true}
	}
	var b strings.Builder
	for _, p := range problems {
		b.WriteString(p + "\n")
	}
	if wantJSON != gotJSON {
		b.WriteString("result differs (- want, + got):\n")
		b.WriteString(lineDiff(wantJSON, gotJSON))
	}
	return outcome{report: b.String()}
}

// emptyIfNil turns a nil slice into an empty one of its type.
func emptyIfNil(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice && rv.IsNil() {
		return reflect.MakeSlice(rv.Type(), 0, 0).Interface()
	}
	return v
}

// render is v as indented JSON, one field per line, so that diffs are by
// field.
func render(v any) (string, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return string(b), err
}

// timeProblems lists every time.Time in v that is not UTC at millisecond
// precision (the zero time, "absent", is fine).
func timeProblems(v reflect.Value, path string) []string {
	if !v.IsValid() {
		return nil
	}
	if v.Type() == reflect.TypeFor[time.Time]() {
		t := v.Interface().(time.Time)
		switch {
		case t.IsZero():
		case t.Location() != time.UTC:
			return []string{fmt.Sprintf("%s: time %s is not in UTC", path, t)}
		case !t.Equal(t.Truncate(time.Millisecond)):
			return []string{fmt.Sprintf("%s: time %s is finer than a millisecond", path, t.Format(time.RFC3339Nano))}
		}
		return nil
	}
	var out []string
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if !v.IsNil() {
			out = append(out, timeProblems(v.Elem(), path)...)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			out = append(out, timeProblems(v.Index(i), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			out = append(out, timeProblems(v.Field(i), path+"."+v.Type().Field(i).Name)...)
		}
	}
	return out
}

// lineDiff is a line diff of a and b (longest common subsequence), each
// line prefixed "- " (only in a), "+ " (only in b) or "  " (both).
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// lcs[i][j] is the length of the LCS of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out.WriteString("  " + x[i] + "\n")
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			out.WriteString("- " + x[i] + "\n")
			i++
		default:
			out.WriteString("+ " + y[j] + "\n")
			j++
		}
	}
	return out.String()
}

// eventually asks until the answer equals want or waitFor has passed, and
// returns the last outcome. An error from ask ends the wait at once: a
// backend that trails the writes shows old rows, it does not fail.
func eventually(ctx context.Context, want any, ask func(context.Context) (any, error)) (outcome, error) {
	deadline := time.Now().Add(waitFor)
	for {
		got, err := ask(ctx)
		if err != nil {
			return outcome{}, err
		}
		o := compare(want, got)
		if o.equal || time.Now().After(deadline) {
			return o, nil
		}
		select {
		case <-ctx.Done():
			return o, nil
		case <-time.After(pollEvery):
		}
	}
}
