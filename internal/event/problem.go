package event

import (
	"slices"
	"strings"
)

// Problem is one reason an event is invalid.
type Problem struct {
	// Path locates the offending value: field names joined by ".", array
	// indexes in brackets ("categories[2]"), attrs keys after a dot
	// ("attrs.ward"), or quoted in brackets when they are not plain
	// (`attrs["a b"]`). The empty path is the event itself.
	Path string
	// Reason says what is wrong, e.g. "required" or
	// `"exfil" is not one of read|search|…`.
	Reason string
}

// String returns "path: reason".
func (p Problem) String() string { return p.Path + ": " + p.Reason }

// Problems are all the reasons an event is invalid, sorted by path (array
// indexes in numeric order) and then by reason, without duplicates. A nil
// or empty Problems means the event is valid.
type Problems []Problem

// Error joins the problems with "; ". It makes Problems usable as an error;
// use Err to get a nil error for a valid event.
func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Path)
		b.WriteString(": ")
		b.WriteString(p.Reason)
	}
	return b.String()
}

// Err returns ps as an error, or nil when there are no problems. Return
// Err rather than Problems where a function returns error: a nil Problems
// in an error interface is not a nil error.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// Strings returns each problem's String, in order.
func (ps Problems) Strings() []string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return s
}

// normalize sorts ps, removes duplicates and returns the result.
func (ps Problems) normalize() Problems {
	if len(ps) < 2 {
		return ps
	}
	slices.SortFunc(ps, func(a, b Problem) int {
		if c := comparePaths(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	return slices.Compact(ps)
}

// comparePaths orders paths byte by byte, except that runs of digits inside
// brackets compare as numbers, so categories[2] sorts before categories[10].
func comparePaths(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if i > 0 && j > 0 && a[i-1] == '[' && b[j-1] == '[' && isDigit(a[i]) && isDigit(b[j]) {
			ei, ej := i, j
			for ei < len(a) && isDigit(a[ei]) {
				ei++
			}
			for ej < len(b) && isDigit(b[ej]) {
				ej++
			}
			// Indexes have no leading zeros, so the longer number is larger.
			if ei-i != ej-j {
				if ei-i < ej-j {
					return -1
				}
				return 1
			}
			if c := strings.Compare(a[i:ei], b[j:ej]); c != 0 {
				return c
			}
			i, j = ei, ej
			continue
		}
		if a[i] != b[j] {
			if a[i] < b[j] {
				return -1
			}
			return 1
		}
		i++
		j++
	}
	switch {
	case len(a)-i < len(b)-j:
		return -1
	case len(a)-i > len(b)-j:
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
