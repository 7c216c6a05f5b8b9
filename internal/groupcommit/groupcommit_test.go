package groupcommit

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder is a commit function that remembers the size of every batch it committed.
type recorder struct {
	mu      sync.Mutex
	batches []int
	err     error
}

func (r *recorder) commit(writers int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, writers)
	return r.err
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.batches...)
}

// untilWaiting yields until n goroutines wait in Enter: the only way to know they queued behind the
// holder without a timer.
func untilWaiting(g *Group, n int64) {
	for g.waiting.Load() < n {
		runtime.Gosched()
	}
}

func TestAloneCommitsAlone(t *testing.T) {
	var r recorder
	g := New(0, r.commit)
	for i := 0; i < 3; i++ {
		fresh, err := g.Enter(context.Background())
		require.NoError(t, err)
		require.True(t, fresh, "every writer alone begins its own batch")
		require.NoError(t, g.Leave(true))
	}
	require.Equal(t, []int{1, 1, 1}, r.sizes())
}

// runQueued has one writer hold the turn while n others queue behind it, then lets them all go; it
// returns what each writer's Leave returned and whether each was told to begin a batch.
func runQueued(t *testing.T, g *Group, n int, joined func(i int) bool) (errs []error, fresh []bool) {
	t.Helper()
	errs, fresh = make([]error, n+1), make([]bool, n+1)
	f, err := g.Enter(context.Background())
	require.NoError(t, err)
	fresh[0] = f
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := g.Enter(context.Background())
			if err != nil {
				errs[i] = err
				return
			}
			fresh[i] = f
			errs[i] = g.Leave(joined(i))
		}()
	}
	untilWaiting(g, int64(n))
	errs[0] = g.Leave(joined(0))
	wg.Wait()
	return errs, fresh
}

func TestQueuedWritersShareOneCommit(t *testing.T) {
	var r recorder
	g := New(0, r.commit)
	errs, fresh := runQueued(t, g, 15, func(int) bool { return true })
	for i, err := range errs {
		require.NoError(t, err, "writer %d", i)
	}
	require.True(t, fresh[0])
	for i := 1; i < len(fresh); i++ {
		require.False(t, fresh[i], "writer %d joined the open batch", i)
	}
	require.Equal(t, []int{16}, r.sizes(), "sixteen writers queued behind one another: one commit")
}

func TestMaxBatchBoundsACommit(t *testing.T) {
	var r recorder
	g := New(4, r.commit)
	errs, _ := runQueued(t, g, 9, func(int) bool { return true })
	for i, err := range errs {
		require.NoError(t, err, "writer %d", i)
	}
	total := 0
	for _, n := range r.sizes() {
		require.LessOrEqual(t, n, 4)
		total += n
	}
	require.Equal(t, 10, total, "every writer committed once")
}

func TestCommitErrorReachesEveryWriterOfTheBatch(t *testing.T) {
	boom := errors.New("disk full")
	r := recorder{err: boom}
	g := New(0, r.commit)
	errs, _ := runQueued(t, g, 5, func(int) bool { return true })
	for i, err := range errs {
		require.ErrorIs(t, err, boom, "writer %d", i)
	}
}

func TestWritersThatUndidTheirWorkAreNotCommitted(t *testing.T) {
	var r recorder
	g := New(0, r.commit)
	errs, _ := runQueued(t, g, 5, func(i int) bool { return i%2 == 0 })
	for i, err := range errs {
		require.NoError(t, err, "writer %d", i)
	}
	require.Equal(t, []int{3}, r.sizes(), "writers 0, 2 and 4 joined")

	// A batch nobody joined is ended with commit(0).
	_, err := g.Enter(context.Background())
	require.NoError(t, err)
	require.NoError(t, g.Leave(false))
	require.Equal(t, []int{3, 0}, r.sizes())
}

func TestAbortFailsTheBatchAndTheNextWriterBeginsAnew(t *testing.T) {
	var r recorder
	g := New(0, r.commit)
	broken := errors.New("the transaction was rolled back under the batch")

	_, err := g.Enter(context.Background())
	require.NoError(t, err)
	second := make(chan error, 1)
	go func() {
		// The second writer finds the batch's transaction broken: it aborts the batch.
		if _, err := g.Enter(context.Background()); err != nil {
			second <- err
			return
		}
		g.Abort(broken)
		second <- g.Leave(false)
	}()
	untilWaiting(g, 1)
	require.ErrorIs(t, g.Leave(true), broken, "the first writer joined the batch that was aborted")
	require.NoError(t, <-second)
	require.Empty(t, r.sizes(), "nothing was committed")

	fresh, err := g.Enter(context.Background())
	require.NoError(t, err)
	require.True(t, fresh, "the next writer begins a new batch")
	require.NoError(t, g.Leave(true))
	require.Equal(t, []int{1}, r.sizes())
}

func TestEnterGivesUpWhenItsContextEnds(t *testing.T) {
	var r recorder
	g := New(0, r.commit)
	_, err := g.Enter(context.Background())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := g.Enter(ctx)
		done <- err
	}()
	untilWaiting(g, 1)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.NoError(t, g.Leave(true))
	require.Equal(t, []int{1}, r.sizes())
}

// TestAWaiterThatGivesUpAtTheHandoverLeavesNoBatchOpen: a writer hands the turn on to the one waiting
// behind it and waits for the commit; that waiter gives up at the same moment. Whichever way each race
// goes, the batch is committed once, with the writers that joined it, and nobody waits forever.
func TestAWaiterThatGivesUpAtTheHandoverLeavesNoBatchOpen(t *testing.T) {
	for i := 0; i < 500; i++ {
		var r recorder
		g := New(0, r.commit)
		_, err := g.Enter(context.Background())
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		joined := make(chan bool, 1)
		go func() {
			_, err := g.Enter(ctx)
			if err != nil {
				joined <- false
				return
			}
			joined <- true
			_ = g.Leave(true)
		}()
		untilWaiting(g, 1)
		cancel()
		require.NoError(t, g.Leave(true))
		want := []int{1}
		if <-joined {
			want = []int{2}
		}
		require.Equal(t, want, r.sizes(), "iteration %d", i)
	}
}

func TestAPanickingCommitFailsTheBatchAndReleasesTheTurn(t *testing.T) {
	g := New(0, func(int) error { panic("storage exploded") })
	_, err := g.Enter(context.Background())
	require.NoError(t, err)
	require.Panics(t, func() { _ = g.Leave(true) })

	var r recorder
	g.commit = r.commit
	fresh, err := g.Enter(context.Background())
	require.NoError(t, err, "the turn was released")
	require.True(t, fresh)
	require.NoError(t, g.Leave(true))
}
