package ocireg

/*
#include <stdint.h>
#include "ocireg.h"

// Defined in ocireg.go's preamble.
ocireg_status gocireg_options_set_retry_notify(ocireg_options *opts, uintptr_t id, ocireg_error **err);
*/
import "C"

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// RetryError is the failure WithRetryNotify's func is told of: the request ocireg is about to
// retry, and why.
type RetryError struct {
	Method     string // the request's method, e.g. "GET"
	Path       string // the request's path, without the query
	Attempt    int    // 1 for the first retry
	StatusCode int    // the HTTP status that caused the retry, 0 for a connection error or a timeout
	Reason     string // what went wrong, as text
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("ocireg: retry %d of %s %s: %s", e.Attempt, e.Method, e.Path, e.Reason)
}

// Is makes a 429 match ErrRateLimited and another HTTP status ErrRegistry.
func (e *RetryError) Is(target error) bool {
	switch {
	case e.StatusCode == 429:
		return target == ErrRateLimited
	case e.StatusCode != 0:
		return target == ErrRegistry
	}
	return false
}

// WithBackOff sets the wait between retries (the Go seed's GetBackOff, an exponential backoff
// as in github.com/cenkalti/backoff): the first wait initial, each next one multiplier times
// longer (multiplier >= 1), at most maxInterval, less a random part of up to jitter (0 to 1)
// of it; no retry starts later than maxElapsed after the first attempt (0: no such limit;
// WithMaxRetries bounds the count). The defaults are 200 ms, 2, 10 s, none, 0.5. A registry's
// Retry-After replaces the wait. Durations are taken to the millisecond.
func WithBackOff(initial time.Duration, multiplier float64, maxInterval, maxElapsed time.Duration, jitter float64) Option {
	return func(s *Settings) error {
		if initial < 0 || maxInterval < 0 || maxElapsed < 0 {
			return invalidArgument("backoff durations cannot be negative")
		}
		if math.IsNaN(multiplier) || math.IsNaN(jitter) {
			return invalidArgument("backoff multiplier and jitter must be numbers")
		}
		var cerr *C.ocireg_error
		return check(C.ocireg_options_set_backoff(s.p, C.uint64_t(initial.Milliseconds()), C.double(multiplier),
			C.uint64_t(maxInterval.Milliseconds()), C.uint64_t(maxElapsed.Milliseconds()), C.double(jitter), &cerr), cerr)
	}
}

// WithRetryNotify has f told of each retry before ocireg waits (the Go seed's RetryNotify):
// err is a *RetryError saying which request failed and why, next the wait before the next
// attempt. f runs on the goroutine that called the operation, before the operation returns,
// so it must not call the same client's Close. A panic in f does not stop the operation (the
// library cannot be interrupted from a retry callback): it is recovered, f is not called again
// for that operation, and the panic is raised again on the calling goroutine once the
// operation returns. nil removes the callback.
func WithRetryNotify(f func(err error, next time.Duration)) Option {
	return func(s *Settings) error {
		var n *retryNotifier
		if f != nil {
			n = newRetryNotifier(f)
		}
		var id uintptr
		if n != nil {
			id = n.id
		}
		var cerr *C.ocireg_error
		if err := check(C.gocireg_options_set_retry_notify(s.p, C.uintptr_t(id), &cerr), cerr); err != nil {
			n.unregister()
			return err
		}
		s.retry.unregister()
		s.retry = n
		return nil
	}
}

// retryNotifier is the Go side of a retry callback. C reaches it through its id (not a
// cgo.Handle): an id whose notifier is gone is ignored, never a crash, whatever outlives what.
type retryNotifier struct {
	id uintptr
	fn func(error, time.Duration)

	pending  sync.Map // goroutine id -> the value f panicked with, to raise again
	npending atomic.Int64
}

var (
	retryNotifiers sync.Map // id -> *retryNotifier
	retryIDs       atomic.Uintptr
)

func newRetryNotifier(f func(error, time.Duration)) *retryNotifier {
	n := &retryNotifier{id: retryIDs.Add(1), fn: f}
	retryNotifiers.Store(n.id, n)
	return n
}

func retryNotifierOf(id uintptr) *retryNotifier {
	v, ok := retryNotifiers.Load(id)
	if !ok {
		return nil
	}
	return v.(*retryNotifier)
}

// unregister forgets the notifier: C calls naming it afterwards do nothing.
func (n *retryNotifier) unregister() {
	if n != nil {
		retryNotifiers.Delete(n.id)
	}
}

// notify calls f, unless it already panicked during the current operation of this goroutine
// (C calls back on the goroutine that called it).
func (n *retryNotifier) notify(err error, next time.Duration) {
	var gid uint64
	if n.npending.Load() > 0 {
		gid = goroutineID()
		if _, ok := n.pending.Load(gid); ok {
			return
		}
	}
	defer func() {
		if r := recover(); r != nil {
			if gid == 0 {
				gid = goroutineID()
			}
			if _, loaded := n.pending.LoadOrStore(gid, r); !loaded {
				n.npending.Add(1)
			}
		}
	}()
	n.fn(err, next)
}

// reraise raises again, on the goroutine that made the operation, a panic of f during it.
func (n *retryNotifier) reraise() {
	if n == nil || n.npending.Load() == 0 {
		return
	}
	if r, ok := n.pending.LoadAndDelete(goroutineID()); ok {
		n.npending.Add(-1)
		panic(r)
	}
}

// goroutineID is the calling goroutine's number, from the first line of its stack trace
// ("goroutine 42 [running]:"). Only used when a retry callback panicked.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) < len(prefix) {
		return 0
	}
	var id uint64
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
