package regime_test

import (
	"fmt"
	"time"

	"github.com/vigil-audit/vigil/notifier/regime"
)

// An ordinary network operator discovers a leak of 1.2 million people's
// data, 40 of them children: CAC grade 较大, a CAC report within 4 hours,
// PIPL notices to people and guardians within the 24-hour target.
func ExampleSet_Plan() {
	set, err := regime.Default()
	if err != nil {
		panic(err)
	}
	aware := time.Date(2026, time.March, 10, 9, 0, 0, 0, time.UTC)
	obs, err := set.Plan(
		regime.Facts{People: 1_200_000, Minors: 40},
		regime.Profile{Operator: regime.OperatorOrdinary, Jurisdictions: []string{"pipl"}, DPO: "dpo@example.org"},
		regime.Clocks{Aware: aware},
	)
	if err != nil {
		panic(err)
	}
	fmt.Println("grade:", set.Grade(1_200_000))
	for _, o := range obs {
		due := "when handling ends + 30d"
		if !o.Due.IsZero() {
			due = o.Due.Sub(aware).String()
		}
		fmt.Printf("%-16s %-17s ×%-7d %-24s %s\n", o.ID, o.Kind, o.Recipients, due, o.Why)
	}
	// Output:
	// grade: 较大
	// pipl.regulator   regulator_report  ×1       24h0m0s                  applies to every incident (no threshold)
	// pipl.individual  individual_notice ×1200000 24h0m0s                  applies to every incident (no threshold)
	// pipl.guardian    guardian_notice   ×40      24h0m0s                  minors 40 > 0
	// cac.initial      regulator_report  ×1       4h0m0s                   grade 较大 for 1200000 people
	// cac.summary      summary_report    ×1       when handling ends + 30d follows cac.initial
}
