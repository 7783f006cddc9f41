//go:build !race

package sigma

const raceEnabled = false
