package bus

import (
	"context"
	"slices"
	"sync"
)

// MemLog keeps records in memory with JSONLog's Append and Replay, for
// tests and tools that need no durability. Fail, when set, is asked about
// each record before an Append keeps any (to test failures); it runs with
// the log locked, so it must not call the log.
type MemLog[T any] struct {
	mu      sync.Mutex
	records []T
	Fail    func(kept int, v T) error
}

// Append keeps vs, or none of them if Fail refuses one.
func (l *MemLog[T]) Append(_ context.Context, vs ...T) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Fail != nil {
		for _, v := range vs {
			if err := l.Fail(len(l.records), v); err != nil {
				return err
			}
		}
	}
	l.records = append(l.records, vs...)
	return nil
}

// Replay gives every record kept to fn, in order.
func (l *MemLog[T]) Replay(_ context.Context, fn func(T) error) error {
	l.mu.Lock()
	recs := slices.Clone(l.records)
	l.mu.Unlock()
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Records returns a copy of every record kept.
func (l *MemLog[T]) Records() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records)
}
