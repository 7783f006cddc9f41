package behave

import "testing"

func TestGroupKey(t *testing.T) {
	for _, c := range []struct{ org, id, want string }{
		{"org1", "N1", "org1/N1"},
		{"a/b", `c\d`, `a\/b/c\\d`},
		{"", "x", "/x"},
	} {
		if got := groupKey(c.org, c.id); got != c.want {
			t.Errorf("groupKey(%q, %q) = %q, want %q", c.org, c.id, got, c.want)
		}
	}
}
