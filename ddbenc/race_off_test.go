//go:build !race

package ddbenc_test

const raceEnabled = false
