package memo

import "testing"

func TestGetBuildsOnceAndForgetsTheOldest(t *testing.T) {
	c := New[int, int](4)
	builds := 0
	square := func(k int) int { builds++; return k * k }
	for range 2 {
		if v := c.Get(3, square); v != 9 {
			t.Fatalf("Get(3) = %d", v)
		}
	}
	if builds != 1 {
		t.Fatalf("built %d times, want once", builds)
	}
	for k := range 10 {
		c.Add(k+10, k)
	}
	if _, ok := c.Peek(3); ok {
		t.Error("the oldest key is still kept past the limit")
	}
	if v, ok := c.Peek(19); !ok || v != 9 {
		t.Errorf("the newest key: %d, %v", v, ok)
	}
	if len(c.items) > 4 {
		t.Errorf("%d keys kept, limit 4", len(c.items))
	}
	c.Add(19, 0)
	if v, _ := c.Peek(19); v != 9 {
		t.Error("Add replaced a value")
	}
}
