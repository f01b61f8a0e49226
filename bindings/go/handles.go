package ocireg

import "runtime"

// cref is what every Go wrapper of a C handle holds (Client, Image, ImageBuilder, Pushed,
// Pulled, VerifyReport): the guarded pointer and the C function that frees it. A wrapper hands
// out its cref through a ref() method that gives nil for a nil wrapper, and every method here
// accepts a nil *cref: acquire then gives NULL, which the library refuses with
// OCIREG_INVALID_ARGUMENT (never a crash), and close does nothing.
type cref[P comparable] struct {
	h    handle[P]
	free func(P)
}

// wrap gives the new wrapper w, whose cref is r, the C handle p: w.Close frees it with free,
// and so does the garbage collector (through finalizer, w.Close) when w is forgotten.
func wrap[W any, P comparable](w *W, r *cref[P], p P, free func(P), finalizer func(*W) error) *W {
	r.h.p = p
	r.free = free
	runtime.SetFinalizer(w, finalizer)
	return w
}

// close frees the handle of the wrapper w (whose cref is r) and drops w's finalizer. Closing
// twice is fine.
func (r *cref[P]) close(w any) error {
	if r == nil {
		return nil
	}
	runtime.SetFinalizer(w, nil)
	if p := r.h.take(); r.free != nil {
		r.free(p)
	}
	return nil
}

// acquire / release bracket every C call on the handle: the read lock is held for the call,
// and the wrapper is kept alive until its end (r points into it), so that its finalizer cannot
// free the handle mid-call.
func (r *cref[P]) acquire() P {
	if r == nil {
		var none P
		return none
	}
	return r.h.acquire()
}

func (r *cref[P]) release() {
	if r != nil {
		r.h.release()
	}
	keepAlive(r)
}

// acquireExclusive / releaseExclusive are for the C functions taking a non-const pointer
// (setters).
func (r *cref[P]) acquireExclusive() P {
	if r == nil {
		var none P
		return none
	}
	return r.h.acquireExclusive()
}

func (r *cref[P]) releaseExclusive() {
	if r != nil {
		r.h.releaseExclusive()
	}
	keepAlive(r)
}
