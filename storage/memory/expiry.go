package memory

import (
	"container/heap"
	"sync"
	"time"
)

// expiryQueue orders the keys of one of the store's maps by expiry, so that Purge visits only what
// expired instead of scanning everything under the map's lock (at 200k entries a scan took 0.2 to
// 0.5 s on a busy two-core machine, and every request waited for it). It is guarded by the lock of its
// map.
//
// An entry is added when a key is stored and again whenever its expiry changes; an entry whose key is
// gone, or whose key expires later than it says, is stale and dropped when it comes up (purgeQueue).
type expiryQueue[K comparable] struct{ h expiryHeap[K] }

type expiring[K comparable] struct {
	key K
	at  time.Time
}

type expiryHeap[K comparable] []expiring[K]

func (h expiryHeap[K]) Len() int           { return len(h) }
func (h expiryHeap[K]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap[K]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap[K]) Push(x any)        { *h = append(*h, x.(expiring[K])) }
func (h *expiryHeap[K]) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = expiring[K]{}
	*h = old[:len(old)-1]
	return e
}

// add queues key to expire at at; a zero at means never, and is not queued.
func (q *expiryQueue[K]) add(key K, at time.Time) {
	if !at.IsZero() {
		heap.Push(&q.h, expiring[K]{key, at})
	}
}

// due removes and returns up to n entries queued to expire before t, soonest first.
func (q *expiryQueue[K]) due(t time.Time, n int) []expiring[K] {
	var out []expiring[K]
	for len(out) < n && len(q.h) > 0 && q.h[0].at.Before(t) {
		out = append(out, heap.Pop(&q.h).(expiring[K]))
	}
	if len(out) > 0 && cap(q.h) > 1024 && cap(q.h) > 4*len(q.h) {
		q.h = append(expiryHeap[K](nil), q.h...) // give back what a burst took; a heap copied in order is a heap
	}
	return out
}

// purgeBatch is how many entries Purge looks at under one hold of a map's lock.
const purgeBatch = 1000

// purgeQueue deletes the entries of *m whose expiry (as expiry reports it; zero means never) lies
// before before, taking them from q in batches of purgeBatch, each under mu, so that a request waits for
// one batch at most. onDelete, when not nil, runs under mu for each deleted entry. It returns how many
// entries it deleted and shrinks *m when that was most of them.
func purgeQueue[K comparable, V any](mu sync.Locker, m *map[K]V, q *expiryQueue[K], before time.Time, expiry func(V) time.Time, onDelete func(K, V)) int {
	n := 0
	for {
		mu.Lock()
		batch := q.due(before, purgeBatch)
		for _, e := range batch {
			v, ok := (*m)[e.key]
			if !ok {
				continue
			}
			if at := expiry(v); at.IsZero() || !at.Before(before) {
				continue // stale: the key's expiry moved later, and was queued again then
			}
			delete(*m, e.key)
			n++
			if onDelete != nil {
				onDelete(e.key, v)
			}
		}
		done := len(batch) < purgeBatch
		if done {
			*m = shrink(*m, n)
		}
		mu.Unlock()
		if done {
			return n
		}
	}
}

// shrink returns m, or a copy of it when a purge just deleted most of its entries: Go maps keep the
// memory of their largest size, so a burst of 200k entries would otherwise stay allocated for ever.
func shrink[K comparable, V any](m map[K]V, deleted int) map[K]V {
	if deleted < 1024 || deleted < 2*len(m) {
		return m
	}
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
