// Package memo keeps values worked out once for many sessions: what every
// session of a kernel draws alike. Sessions ask for the same thing within
// moments of each other, so a Cache keeps only the newest keys, forgetting the
// oldest half once it holds more than its limit.
package memo

import "sync"

// Cache maps keys to values shared by whoever asks; nobody may change a value
// once it is in. It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	mu    sync.Mutex
	limit int
	items map[K]V
	order []K // oldest first
}

// New returns a Cache that keeps at most about limit keys.
func New[K comparable, V any](limit int) *Cache[K, V] {
	return &Cache[K, V]{limit: limit, items: map[K]V{}}
}

// Get returns the value for k, made by build if nobody made it yet. build runs
// under the cache's lock, so the callers asking at the same moment wait for the
// first instead of all making the same value; it takes the key so that callers
// on hot paths need no closure.
func (c *Cache[K, V]) Get(k K, build func(K) V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.items[k]; ok {
		return v
	}
	v := build(k)
	c.addLocked(k, v)
	return v
}

// Peek returns the value for k, if there is one.
func (c *Cache[K, V]) Peek(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.items[k]
	return v, ok
}

// Add keeps v for k unless k has a value already.
func (c *Cache[K, V]) Add(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[k]; !ok {
		c.addLocked(k, v)
	}
}

func (c *Cache[K, V]) addLocked(k K, v V) {
	c.items[k] = v
	c.order = append(c.order, k)
	if len(c.order) > c.limit {
		drop := len(c.order) - c.limit/2
		for _, old := range c.order[:drop] {
			delete(c.items, old)
		}
		c.order = append(c.order[:0], c.order[drop:]...)
	}
}
