package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"golang.org/x/term"
)

// waitStatus is what the person waiting is told: how long the request stays valid, how many times
// the server was asked, how often it is asked, and whether the server asked to slow down.
type waitStatus struct {
	// What is waited for, e.g. "approval".
	What string
	// Expiry is when the request stops being valid (zero when unknown).
	Expiry time.Time
	// Polls is how many token requests were made; Interval the wait between them (0 when not
	// polling, as in ping and push modes).
	Polls    int
	Interval time.Duration
	// SlowDowns counts the server's slow_down answers (RFC 8628 §3.5, CIBA Core §11).
	SlowDowns int
	// LastAnswer is the server's last answer, in words.
	LastAnswer string
}

// progress shows a wait as it goes. Update and Done may be called from any goroutine.
type progress interface {
	// Update shows st.
	Update(st waitStatus)
	// Done ends the display; the final status stays on the screen.
	Done()
}

// newProgress shows progress live on a terminal, and as plain lines (one per change, no control
// characters) anywhere else, such as a pipe, a file or a test. now is the clock for "time left".
func newProgress(w io.Writer, now func() time.Time) progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		return newLiveProgress(f, now)
	}
	return &plainProgress{w: w, now: now}
}

// timeLeft says how long until expiry, in words: "9 min 58 s left".
func timeLeft(now, expiry time.Time) string {
	if expiry.IsZero() {
		return ""
	}
	d := expiry.Sub(now).Round(time.Second)
	if d <= 0 {
		return "expired"
	}
	m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
	if m == 0 {
		return fmt.Sprintf("%d s left", s)
	}
	return fmt.Sprintf("%d min %02d s left", m, s)
}

// line is the status in one line of plain words.
func (st waitStatus) line(now time.Time) string {
	var parts []string
	if l := timeLeft(now, st.Expiry); l != "" {
		parts = append(parts, l)
	}
	if st.Interval > 0 {
		polls := "1 check"
		if st.Polls != 1 {
			polls = fmt.Sprintf("%d checks", st.Polls)
		}
		parts = append(parts, polls, fmt.Sprintf("checking every %s", seconds(st.Interval)))
	}
	if st.LastAnswer != "" {
		parts = append(parts, st.LastAnswer)
	}
	return "Waiting for " + st.What + ": " + strings.Join(parts, ", ")
}

// slowDownNote is shown after a slow_down answer.
func (st waitStatus) slowDownNote() string {
	return fmt.Sprintf("The server asked us to check less often; now every %s.", seconds(st.Interval))
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
}

// plainProgress writes a line when something changes: a poll, a slow_down.
type plainProgress struct {
	mu   sync.Mutex
	w    io.Writer
	now  func() time.Time
	last waitStatus
}

func (p *plainProgress) Update(st waitStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st.SlowDowns > p.last.SlowDowns {
		fmt.Fprintln(p.w, "Note: "+st.slowDownNote())
	}
	fmt.Fprintln(p.w, st.line(p.now()))
	p.last = st
}

func (p *plainProgress) Done() {}

// liveProgress redraws the status in place every second (bubbletea), so the countdown moves between
// polls; it leaves the last frame on the screen when done.
type liveProgress struct {
	prog *tea.Program
	done chan struct{}
}

func newLiveProgress(out io.Writer, now func() time.Time) *liveProgress {
	m := waitModel{now: now, styles: newWaitStyles()}
	// No input: Ctrl-C stays with the command's own signal handling.
	p := tea.NewProgram(m, tea.WithOutput(out), tea.WithInput(nil), tea.WithoutSignalHandler())
	lp := &liveProgress{prog: p, done: make(chan struct{})}
	go func() {
		defer close(lp.done)
		_, _ = p.Run()
	}()
	return lp
}

func (l *liveProgress) Update(st waitStatus) { l.prog.Send(st) }

func (l *liveProgress) Done() {
	l.prog.Send(finished{})
	<-l.done
}

// waitModel is the bubbletea model of the live display.
type waitModel struct {
	now    func() time.Time
	styles waitStyles
	st     waitStatus
}

type (
	tick     time.Time
	finished struct{}
)

func (m waitModel) Init() tea.Cmd { return tickEvery() }

func tickEvery() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tick(t) })
}

func (m waitModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case waitStatus:
		m.st = msg
	case tick:
		return m, tickEvery()
	case finished:
		return m, tea.Quit
	}
	return m, nil
}

// View draws the status: the countdown, the checks, and a highlighted note after slow_down.
func (m waitModel) View() string {
	st, s := m.st, m.styles
	var b strings.Builder
	b.WriteString(s.title.Render("Waiting for " + st.What))
	if l := timeLeft(m.now(), st.Expiry); l != "" {
		b.WriteString("  " + s.left.Render(l))
	}
	b.WriteString("\n")
	if st.Interval > 0 {
		b.WriteString(s.dim.Render(fmt.Sprintf("  checks made: %d · checking every %s", st.Polls, seconds(st.Interval))))
		b.WriteString("\n")
	}
	if st.LastAnswer != "" {
		b.WriteString(s.dim.Render("  last answer: "+st.LastAnswer) + "\n")
	}
	if st.SlowDowns > 0 {
		b.WriteString(s.note.Render("  " + st.slowDownNote()))
		b.WriteString("\n")
	}
	return b.String()
}

type waitStyles struct{ title, left, dim, note lipgloss.Style }

func newWaitStyles() waitStyles {
	return waitStyles{
		title: lipgloss.NewStyle().Bold(true),
		left:  lipgloss.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#1a6dd8", Dark: "#7ab4ff"}),
		dim:   lipgloss.NewStyle().Faint(true),
		note:  lipgloss.NewStyle().Bold(true).Foreground(lipgloss.AdaptiveColor{Light: "#a15c00", Dark: "#ffb347"}),
	}
}
