package clientauth

import (
	"container/list"
	"crypto/sha256"
	"time"
)

// lru is a fixed-size least-recently-used map from a MAC index to a cache
// entry. It is not safe for concurrent use; CachingHasher guards it with a
// mutex.
//
// It is written here rather than imported because it is some forty lines on
// top of container/list, and the ready-made expiring LRUs (for example
// hashicorp/golang-lru's expirable package) read the wall clock themselves
// and run a background goroutine, while CachingHasher needs expiry driven by
// its injectable Now so that tests need no sleeping.
type lru struct {
	limit int
	order *list.List // front = most recently used; values are *entry
	items map[[16]byte]*list.Element
}

type entry struct {
	idx     [16]byte
	mac     [sha256.Size]byte
	expires time.Time
}

func newLRU(limit int) *lru {
	return &lru{limit: limit, order: list.New(), items: make(map[[16]byte]*list.Element)}
}

// get returns the entry at idx and marks it most recently used, or nil.
func (c *lru) get(idx [16]byte) *entry {
	el, ok := c.items[idx]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*entry)
}

// put inserts or replaces the entry at idx, evicting the least recently used
// entries beyond the limit.
func (c *lru) put(idx [16]byte, mac [sha256.Size]byte, expires time.Time) {
	if el, ok := c.items[idx]; ok {
		e := el.Value.(*entry)
		e.mac, e.expires = mac, expires
		c.order.MoveToFront(el)
		return
	}
	c.items[idx] = c.order.PushFront(&entry{idx: idx, mac: mac, expires: expires})
	for c.order.Len() > c.limit {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*entry).idx)
	}
}

// remove deletes the entry at idx if present.
func (c *lru) remove(idx [16]byte) {
	if el, ok := c.items[idx]; ok {
		c.order.Remove(el)
		delete(c.items, idx)
	}
}

func (c *lru) len() int { return c.order.Len() }
