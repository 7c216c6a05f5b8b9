//go:build !race

package sqlstore

// raceDetector reports whether the tests run under the race detector.
const raceDetector = false
