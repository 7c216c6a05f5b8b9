// Package groupcommit lets concurrent writers share one commit (group commit).
//
// A commit is the expensive part of a write: a signature for the audit log, the WAL write of a SQLite
// transaction. A Group serialises writers with a turn, one writer at a time, and collects what the
// writers that follow one another add into one open batch; the writer that finds nobody waiting after
// it commits the batch for everyone, and every writer of the batch gets the commit's result. A writer
// that is alone commits alone, so there is no added latency when idle; under load each commit serves
// many writers.
//
// The protocol, for the goroutine that holds the turn:
//
//	fresh, err := g.Enter(ctx) // wait for the turn; fresh: no batch is open, begin one
//	... add to the batch (or undo what was added) ...
//	err = g.Leave(joined)      // joined: wait for the batch's commit and return its result
//
// Between Enter and Leave the holder has the batch to itself: state the commit function reads may be
// kept without locks. Abort fails the open batch (its writers get the error) when it cannot be
// committed any more.
package groupcommit

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
)

// DefaultMaxBatch is how many writers one commit serves at most when New is given 0.
const DefaultMaxBatch = 64

// Group is one sequence of batches. Create it with New; it is safe for concurrent use.
type Group struct {
	max    int
	commit func(writers int) error

	turn    chan struct{} // holds a token while a goroutine holds the turn
	waiting atomic.Int64  // goroutines blocked in Enter

	open *batch // the batch being filled; nil when none. Read and written by the turn holder only.
}

type batch struct {
	writers int           // writers that joined
	done    chan struct{} // closed once committed or aborted
	err     error
}

// New returns a Group whose batches hold at most maxBatch writers (0 means DefaultMaxBatch) and are
// committed by commit, called by the turn holder with the number of writers that joined (0 when every
// writer of the batch undid its work: commit then ends the empty batch).
func New(maxBatch int, commit func(writers int) error) *Group {
	if maxBatch <= 0 {
		maxBatch = DefaultMaxBatch
	}
	return &Group{max: maxBatch, commit: commit, turn: make(chan struct{}, 1)}
}

// Enter waits for the turn, or for ctx to end. fresh reports that no batch is open: the caller opens
// one (begins its transaction) before adding to it. A caller that gets no error must call Leave.
func (g *Group) Enter(ctx context.Context) (fresh bool, err error) {
	select {
	case g.turn <- struct{}{}:
	default:
		g.waiting.Add(1)
		select {
		case g.turn <- struct{}{}:
			g.waiting.Add(-1)
		case <-ctx.Done():
			if g.waiting.Add(-1) == 0 {
				g.rescue()
			}
			return false, ctx.Err()
		}
	}
	if g.open != nil {
		return false, nil
	}
	g.open = &batch{done: make(chan struct{})}
	return true, nil
}

// Waiting returns how many goroutines wait in Enter for the turn.
func (g *Group) Waiting() int {
	return int(g.waiting.Load())
}

// Abort fails the open batch with err: every writer that joined it gets err from Leave, and the next
// writer begins a new batch. The holder keeps the turn and must still call Leave. Use it when the batch
// can no longer be committed (its transaction was rolled back under it).
func (g *Group) Abort(err error) {
	if b := g.open; b != nil {
		g.open = nil
		b.err = err
		close(b.done)
	}
}

// Leave ends the holder's turn. joined reports that the holder's work is in the open batch: Leave
// then returns once the batch is committed, with the commit's error. When it is not joined (its work
// was undone, or the batch was aborted) Leave returns nil at once.
//
// Before committing, the holder lets the goroutines that are ready to run go first: on a busy core
// those are requests on their way to Enter, which then join this batch instead of each paying for a
// commit. With nothing else ready this costs nothing.
func (g *Group) Leave(joined bool) error {
	b := g.open
	if b == nil {
		<-g.turn
		return nil
	}
	if joined {
		b.writers++
	}
	if b.writers > 0 && b.writers < g.max {
		runtime.Gosched()
		if g.waiting.Load() > 0 {
			<-g.turn // the next writer adds to the same batch
			if !joined {
				return nil // a writer that joined (there is one) commits the batch if nobody else does
			}
			return g.wait(b)
		}
	}
	g.finish(b)
	if joined {
		return b.err
	}
	return nil
}

// wait waits for b's commit. While writers wait in Enter, the turn goes to one of them, which adds to b
// and commits it or hands the turn on (if the last of them gives up, it commits b: see rescue); this
// writer must not take the turn from them, or b would be committed without them. With nobody waiting,
// a free turn while b is still open means the writer it was handed to gave up, so this writer commits
// b.
func (g *Group) wait(b *batch) error {
	if g.waiting.Load() > 0 {
		<-b.done
		return b.err
	}
	for {
		select {
		case <-b.done:
			return b.err
		case g.turn <- struct{}{}:
			if g.open == b {
				g.finish(b)
				return b.err
			}
			<-g.turn // b ended while this writer waited for the turn
		}
	}
}

// rescue is called by a writer that gave up waiting for the turn, the last one waiting: a writer may
// have handed the turn on for it to add to the open batch, and now waits for a commit that nobody else
// would make. If the turn is free and a batch is open, rescue commits it.
func (g *Group) rescue() {
	select {
	case g.turn <- struct{}{}:
	default:
		return // the turn is held: its holder commits the batch or hands the turn on
	}
	if b := g.open; b != nil {
		g.finish(b)
		return
	}
	<-g.turn
}

// finish commits b and hands the turn back. A panic in the commit fails the batch, releases the turn
// and goes on up.
func (g *Group) finish(b *batch) {
	b.err = errors.New("groupcommit: the commit panicked")
	defer func() {
		if g.open == b {
			g.open = nil
		}
		close(b.done)
		<-g.turn
	}()
	b.err = g.commit(b.writers)
}
