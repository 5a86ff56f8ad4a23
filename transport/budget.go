package transport

import (
	"fmt"
	"sync/atomic"
)

// A RecvBudget bounds the memory that DEALERs sharing it hold for incoming messages:
// their decoders' message and command buffers, which grow to the largest message each
// has received (or is receiving). A buffer that would take the total above the limit is
// refused, and its connection closed with ErrRecvBudget, so that servers sending huge
// frames to many connections cannot take the generator's memory. Safe for concurrent
// use.
type RecvBudget struct {
	limit int64
	held  atomic.Int64
	peak  atomic.Int64
}

// DefaultRecvBudget is the budget of a Loop's DEALERs dialled without one.
const DefaultRecvBudget = 256 << 20

// NewRecvBudget returns a budget of limit bytes (at least 1 MiB, so that ordinary
// connections always fit).
func NewRecvBudget(limit int64) *RecvBudget {
	return &RecvBudget{limit: max(limit, 1<<20)}
}

// Limit returns the budget's size in bytes.
func (b *RecvBudget) Limit() int64 { return b.limit }

// Held returns the bytes held now.
func (b *RecvBudget) Held() int64 { return b.held.Load() }

// Peak returns the most bytes held at once.
func (b *RecvBudget) Peak() int64 { return b.peak.Load() }

// reserve takes n more bytes if they fit.
func (b *RecvBudget) reserve(n int64) bool {
	for {
		cur := b.held.Load()
		if cur+n > b.limit {
			return false
		}
		if b.held.CompareAndSwap(cur, cur+n) {
			for {
				p := b.peak.Load()
				if cur+n <= p || b.peak.CompareAndSwap(p, cur+n) {
					return true
				}
			}
		}
	}
}

// release gives back n bytes.
func (b *RecvBudget) release(n int64) { b.held.Add(-n) }

// recvAccount is one connection's share of a RecvBudget: the capacity of its decoder's
// buffers, which it keeps charged to the budget.
type recvAccount struct {
	b    *RecvBudget
	held int64
}

// grow is a decoder's grow hook (zmtpDecoder.grow): it gives *buf room for need bytes,
// doubling it but never beyond need plus step, if the budget allows the extra bytes.
func (a *recvAccount) grow(buf *[]byte, need, step int) error {
	old := cap(*buf)
	size := max(min(max(2*old, nativeReadBufMin), need+step), need)
	if !a.b.reserve(int64(size - old)) {
		return fmt.Errorf("%w: a message needs %d bytes and the connections hold %d of %d; the server sends messages far larger than a DMB reply (lower the frame limit, or raise the budget)", ErrRecvBudget, need, a.b.Held(), a.b.limit)
	}
	a.held += int64(size - old)
	nb := make([]byte, len(*buf), size)
	copy(nb, *buf)
	*buf = nb
	return nil
}

// settle charges the budget for what the buffers hold now (after one was dropped).
func (a *recvAccount) settle(now int64) {
	if d := now - a.held; d != 0 {
		if d > 0 {
			a.b.held.Add(d) // kept buffers are never refused, only new growth is
		} else {
			a.b.release(-d)
		}
		a.held = now
	}
}
