package sqlstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// attemptsOf reads the attempt counter of key (0 when there is none) straight from the database.
func attemptsOf(t *testing.T, s *Store, key string) int {
	t.Helper()
	var n int
	err := s.db.QueryRow("SELECT COALESCE((SELECT count FROM pending_attempts WHERE key = ?), 0)", key).Scan(&n)
	require.NoError(t, err)
	return n
}

// TestGroupCommitSharesOneCommit: write transactions that queue behind an open one are committed
// with it, in one SQLite commit, and one that rolls back leaves the others' writes in place.
func TestGroupCommitSharesOneCommit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "gc.db"))
	require.NoError(t, err)
	defer s.Close()
	require.NotNil(t, s.w, "SQLite stores write through the group-commit writer by default")
	now := time.Unix(1_800_000_000, 0)

	// The first transaction holds the writer's turn while the others queue behind it.
	first, err := s.BeginTX(ctx)
	require.NoError(t, err)
	_, err = s.IncrementAttempts(first, "first", now, time.Hour)
	require.NoError(t, err)
	before := s.Stats().Commits

	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("w%d", i)
			if i%4 == 3 {
				// A transaction of two writes that rolls back.
				tx, err := s.BeginTX(ctx)
				if err == nil {
					_, err = s.IncrementAttempts(tx, key, now, time.Hour)
				}
				if err == nil {
					_, err = s.IncrementAttempts(tx, key+"b", now, time.Hour)
				}
				if err == nil {
					err = s.Rollback(tx)
				}
				errs[i] = err
				return
			}
			_, errs[i] = s.IncrementAttempts(ctx, key, now, time.Hour) // a write of its own
		}()
	}
	for s.w.group.Waiting() < n {
		runtime.Gosched()
	}
	require.Equal(t, 0, attemptsOf(t, s, "first"), "nothing is visible before the commit")
	require.NoError(t, s.Commit(first))
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "writer %d", i)
	}

	require.Equal(t, int64(1), s.Stats().Commits-before, "nine transactions, one commit")
	require.Equal(t, 1, attemptsOf(t, s, "first"))
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("w%d", i)
		if i%4 == 3 {
			require.Equal(t, 0, attemptsOf(t, s, key), "rolled back")
			require.Equal(t, 0, attemptsOf(t, s, key+"b"), "rolled back")
		} else {
			require.Equal(t, 1, attemptsOf(t, s, key), "committed with the batch")
		}
	}
}

// TestGroupCommitTransactionRolledBackWhenItsContextEnds: a transaction whose caller goes away
// without committing is rolled back, and the writer serves the next one.
func TestGroupCommitTransactionRolledBackWhenItsContextEnds(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "gc.db"))
	require.NoError(t, err)
	defer s.Close()
	now := time.Unix(1_800_000_000, 0)

	ctx, cancel := context.WithCancel(context.Background())
	tx, err := s.BeginTX(ctx)
	require.NoError(t, err)
	_, err = s.IncrementAttempts(tx, "abandoned", now, time.Hour)
	require.NoError(t, err)
	cancel() // the request ends; nobody calls Commit or Rollback

	n, err := s.IncrementAttempts(context.Background(), "next", now, time.Hour)
	require.NoError(t, err, "the writer is free again")
	require.Equal(t, 1, n)
	require.Equal(t, 0, attemptsOf(t, s, "abandoned"))
	require.ErrorIs(t, s.Commit(tx), errTxEnded)
}

// crashChildEnv names the database the child of TestGroupCommitSurvivesSIGKILL writes to.
const crashChildEnv = "GRANTS_SQLSTORE_CRASH_CHILD"

// TestGroupCommitSurvivesSIGKILL: a process writes through the group-commit writer from 16 goroutines
// and prints each write as soon as the store acknowledged it; it is killed with SIGKILL mid-stream.
// Every write it acknowledged is in the database afterwards.
func TestGroupCommitSurvivesSIGKILL(t *testing.T) {
	if db := os.Getenv(crashChildEnv); db != "" {
		crashChild(db)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	db := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestGroupCommitSurvivesSIGKILL$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+db)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()

	var acked []string
	batches := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || f[0] != "ack" {
			continue
		}
		acked = append(acked, f[1])
		if len(acked) == 3000 {
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			killed = true
		}
	}
	if killed {
		_ = cmd.Wait()
	}
	require.True(t, killed, "the child stopped before it was killed (see its output)")
	require.GreaterOrEqual(t, len(acked), 3000)

	s, err := Open(context.Background(), db)
	require.NoError(t, err)
	defer s.Close()
	for _, key := range acked {
		n := 0
		if strings.HasPrefix(key, "tx-") {
			// A transaction of two writes: both or neither, and acknowledged means both.
			n = attemptsOf(t, s, key+"-b")
			require.Equal(t, 1, n, "second write of acknowledged transaction %s lost", key)
		}
		n = attemptsOf(t, s, key)
		require.Equal(t, 1, n, "acknowledged write %s lost", key)
		batches++
	}
	t.Logf("%d acknowledged writes, all present after SIGKILL", batches)
}

// crashChild writes until it is killed: even goroutines one write at a time, odd ones transactions of
// two writes. Each line is printed after the store acknowledged the write.
func crashChild(db string) {
	s, err := Open(context.Background(), db)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	ack := func(key string) {
		mu.Lock()
		fmt.Fprintf(w, "ack %s\n", key)
		_ = w.Flush() // written to the pipe before the next write begins
		mu.Unlock()
	}
	now := time.Unix(1_800_000_000, 0)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				ctx := context.Background()
				if g%2 == 0 {
					key := fmt.Sprintf("one-%d-%d", g, i)
					if _, err := s.IncrementAttempts(ctx, key, now, time.Hour); err != nil {
						fmt.Fprintln(os.Stderr, "crash child:", err)
						os.Exit(2)
					}
					ack(key)
					continue
				}
				key := fmt.Sprintf("tx-%d-%d", g, i)
				tx, err := s.BeginTX(ctx)
				if err == nil {
					_, err = s.IncrementAttempts(tx, key, now, time.Hour)
				}
				if err == nil {
					_, err = s.IncrementAttempts(tx, key+"-b", now, time.Hour)
				}
				if err == nil {
					err = s.Commit(tx)
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "crash child:", err)
					os.Exit(2)
				}
				ack(key)
			}
		}()
	}
	wg.Wait()
}

// TestCheckpointsKeepTheLogShort: the writer does not checkpoint after its commits, yet under a steady
// stream of concurrent writes the write-ahead log stays short — the background checkpoints copy it
// into the database and, once it passes its limit, the writer checkpoints between batches so that
// the log starts over — and every write is in the database.
func TestCheckpointsKeepTheLogShort(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wal.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	s.w.checkpointEvery, s.w.walFramesLimit = 4, 64
	now := time.Unix(1_800_000_000, 0)

	const writers, each = 16, 400
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each && errs[i] == nil; j++ {
				_, errs[i] = s.IncrementAttempts(ctx, fmt.Sprintf("key-%02d-%04d-%s", i, j, strings.Repeat("x", 200)), now, time.Hour)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	var rows int
	require.NoError(t, s.db.QueryRow("SELECT COUNT(*) FROM pending_attempts").Scan(&rows))
	require.Equal(t, writers*each, rows)
	written := s.Stats().Commits
	fi, err := os.Stat(path + "-wal")
	require.NoError(t, err)
	pages := fi.Size() / 4096
	t.Logf("%d commits; the log holds at most %d pages", written, pages)
	// Without the writer's own checkpoints the log reaches about 16,000 pages here: background checkpoints
	// alone never let it start over while writes go on.
	require.Less(t, pages, int64(2000), "the log starts over instead of growing with every commit")
}
