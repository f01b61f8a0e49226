package ocireg

/*
#include "ocireg.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A context reaches the library through a cancellation handle (ocireg_cancel) and a client
// bound to it for one call (ocireg_client_bind): context.AfterFunc triggers the handle when the
// context is done, which makes the call return promptly, even while the registry is silent
// mid-body; the context's deadline also becomes the bound client's deadline, covering every
// request, retry, backoff and body of the call. A context that can never be done
// (context.Background(), context.TODO()) costs nothing: the call goes to the client as is.

// callCtx is the cancellation plumbing of one call made under a context that can be done.
type callCtx struct {
	ctx       context.Context
	cancel    *C.ocireg_cancel
	timeoutMs uint64
	stop      func() bool   // context.AfterFunc's stop
	fired     chan struct{} // closed once the AfterFunc has triggered the handle
}

// beginCall prepares a call under ctx: nil (and no error) when ctx can never be done, an error
// when ctx is already done (the call is then not made), else the plumbing to bind clients to.
// Every non-nil result must be ended with end().
func beginCall(ctx context.Context) (*callCtx, error) {
	if ctx == nil {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, contextError(ctx, nil)
	}
	if ctx.Done() == nil {
		return nil, nil
	}
	cc := &callCtx{ctx: ctx, fired: make(chan struct{})}
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, contextError(ctx, nil)
		}
		// Rounded up: the library's deadline is never before the context's, so that the
		// context says why the call ended.
		cc.timeoutMs = uint64((left + time.Millisecond - 1) / time.Millisecond)
	}
	var cerr *C.ocireg_error
	if err := check(C.ocireg_cancel_new(&cc.cancel, &cerr), cerr); err != nil {
		return nil, err
	}
	h := cc.cancel
	cc.stop = context.AfterFunc(ctx, func() {
		C.ocireg_cancel_trigger(h)
		close(cc.fired)
	})
	return cc, nil
}

// bind gives the client to make the call through: p itself without a context, else a client
// bound to the call's handle and deadline (free it with unbind).
func (cc *callCtx) bind(p *C.ocireg_client) (*C.ocireg_client, error) {
	if cc == nil || p == nil {
		// A NULL client is refused by the library itself, with its usual error.
		return p, nil
	}
	var bound *C.ocireg_client
	var cerr *C.ocireg_error
	if err := check(C.ocireg_client_bind(p, cc.cancel, C.uint64_t(cc.timeoutMs), &bound, &cerr), cerr); err != nil {
		return nil, err
	}
	return bound, nil
}

// unbind frees a client from bind.
func (cc *callCtx) unbind(bound, p *C.ocireg_client) {
	if cc != nil && bound != p {
		C.ocireg_client_free(bound)
	}
}

// end stops watching the context (waiting for an AfterFunc already started, so that no
// goroutine outlives the call) and frees the handle.
func (cc *callCtx) end() {
	if cc == nil {
		return
	}
	if !cc.stop() {
		<-cc.fired
	}
	C.ocireg_cancel_free(cc.cancel)
	cc.cancel = nil
}

// result says why a failed call failed: when the context ended it (the library reports a
// cancellation or a timeout, and the context is done or past its deadline), the *Error becomes
// a cancellation whose Cause is the context's error, so that errors.Is(err, context.Canceled)
// or errors.Is(err, context.DeadlineExceeded) holds, besides errors.Is(err, ErrCancelled).
func (cc *callCtx) result(err error) error {
	if cc == nil || err == nil {
		return err
	}
	var e *Error
	if !errors.As(err, &e) || e.Cause != nil || (e.Status != StatusCancelled && e.Status != StatusTimeout) {
		return err
	}
	if cc.ctx.Err() == nil && !cc.triggered() {
		deadline, ok := cc.ctx.Deadline()
		if e.Status != StatusTimeout || !ok || time.Now().Before(deadline) {
			return err // the library's own timeout, or a callback's cancellation
		}
	}
	return contextError(cc.ctx, e)
}

// triggered reports whether the context's AfterFunc triggered the handle (the library then
// returned because of the context, even if ctx.Err() were not yet visible).
func (cc *callCtx) triggered() bool {
	return cc.cancel != nil && C.ocireg_cancel_is_triggered(cc.cancel) != 0
}

// contextError is the error of a call that ctx ended: e (the library's error) made a
// cancellation caused by the context, or a new one when the call was not made.
func contextError(ctx context.Context, e *Error) *Error {
	why := ctx.Err()
	if why == nil {
		why = context.DeadlineExceeded // past the deadline, before the context's timer fired
	}
	cause := why
	if c := context.Cause(ctx); c != nil && c != why {
		cause = fmt.Errorf("%w: %w", why, c)
	}
	if e == nil {
		return &Error{Status: StatusCancelled, Message: "ocireg: the call was not made", Cause: cause, RetryAfter: NoRetryAfter}
	}
	e.Status = StatusCancelled
	e.Cause = cause
	return e
}
