package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLiveProgress runs the terminal display (bubbletea) into a buffer: it shows the time left, the
// checks made, the interval and a visible note after slow_down, and leaves the last frame.
func TestLiveProgress(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	p := newLiveProgress(&out, func() time.Time { return now })
	p.Update(waitStatus{What: "approval", Expiry: now.Add(9*time.Minute + 30*time.Second), Polls: 2, Interval: 10 * time.Second,
		SlowDowns: 1, LastAnswer: "asked to slow down"})
	p.Done()
	screen := out.String()
	for _, want := range []string{"Waiting for approval", "9 min 30 s left", "checks made: 2", "checking every 10 s",
		"last answer: asked to slow down", "The server asked us to check less often; now every 10 s."} {
		require.Contains(t, screen, want)
	}
}

// TestPlainProgress: without a terminal, each change is one line of words, and a slow_down gets its
// own note line.
func TestPlainProgress(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	p := newProgress(&out, func() time.Time { return now })
	st := waitStatus{What: "approval", Expiry: now.Add(65 * time.Second), Interval: 5 * time.Second}
	p.Update(st)
	st.Polls, st.LastAnswer = 1, "not approved yet"
	p.Update(st)
	st.Polls, st.Interval, st.SlowDowns, st.LastAnswer = 2, 10*time.Second, 1, "asked to slow down"
	p.Update(st)
	p.Done()
	require.Equal(t, strings.Join([]string{
		"Waiting for approval: 1 min 05 s left, 0 checks, checking every 5 s",
		"Waiting for approval: 1 min 05 s left, 1 check, checking every 5 s, not approved yet",
		"Note: The server asked us to check less often; now every 10 s.",
		"Waiting for approval: 1 min 05 s left, 2 checks, checking every 10 s, asked to slow down",
	}, "\n")+"\n", out.String())
}
