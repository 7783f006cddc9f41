//go:build race

package sigma

// raceEnabled is set when the race detector runs: sync.Pool, which regexp
// uses, then drops items on purpose, so allocation counts are not exact.
const raceEnabled = true
