package render_test

import (
	"errors"
	"fmt"

	"github.com/vigil-audit/vigil/notifier/render"
)

func Example() {
	set, err := render.Default()
	if err != nil {
		panic(err)
	}
	fmt.Println(set.Languages("pipl", "guardian_notice"))

	// A notice without its cause is refused, naming the field.
	_, err = set.Render("pipl", "individual_notice", "zh-CN", map[string]string{"org_name": "安康互联网医院"},
		[]string{"org_name", "cause"})
	var missing *render.MissingFieldError
	if errors.As(err, &missing) {
		fmt.Println("missing:", missing.Field)
	}
	// Output:
	// [en zh-CN]
	// missing: cause
}
