package ocireg

/*
#include "ocireg.h"
*/
import "C"

import (
	"errors"
	"time"
)

// Status is the C ABI's ocireg_status: what went wrong. The numbers are stable.
type Status uint32

// The statuses of the C ABI.
const (
	StatusOK               Status = C.OCIREG_OK
	StatusInvalidArgument  Status = C.OCIREG_INVALID_ARGUMENT
	StatusInvalidReference Status = C.OCIREG_INVALID_REFERENCE
	StatusAuthentication   Status = C.OCIREG_AUTHENTICATION
	StatusAuthorization    Status = C.OCIREG_AUTHORIZATION
	StatusNotFound         Status = C.OCIREG_NOT_FOUND
	StatusTLS              Status = C.OCIREG_TLS
	StatusNetwork          Status = C.OCIREG_NETWORK
	StatusTimeout          Status = C.OCIREG_TIMEOUT
	StatusRateLimited      Status = C.OCIREG_RATE_LIMITED
	StatusRegistry         Status = C.OCIREG_REGISTRY
	StatusDigestMismatch   Status = C.OCIREG_DIGEST_MISMATCH
	StatusUnsupported      Status = C.OCIREG_UNSUPPORTED
	StatusCredentials      Status = C.OCIREG_CREDENTIALS
	StatusIO               Status = C.OCIREG_IO
	StatusCancelled        Status = C.OCIREG_CANCELLED
	StatusVerifyFailed     Status = C.OCIREG_VERIFY_FAILED
	StatusProtocol         Status = C.OCIREG_PROTOCOL
	StatusPanic            Status = C.OCIREG_PANIC
)

// String is the status's C name, e.g. "OCIREG_NOT_FOUND" ("OCIREG_UNKNOWN_STATUS" for a number
// that is not a status).
func (s Status) String() string { return C.GoString(C.ocireg_status_name(C.uint32_t(s))) }

// Sentinel errors, one per status: every *Error matches the one of its status with errors.Is.
var (
	ErrInvalidArgument  = errors.New("ocireg: invalid argument")
	ErrInvalidReference = errors.New("ocireg: invalid reference")
	ErrAuthentication   = errors.New("ocireg: authentication failed")
	ErrAuthorization    = errors.New("ocireg: not authorized")
	ErrNotFound         = errors.New("ocireg: not found")
	ErrTLS              = errors.New("ocireg: TLS error")
	ErrNetwork          = errors.New("ocireg: network error")
	ErrTimeout          = errors.New("ocireg: timeout")
	ErrRateLimited      = errors.New("ocireg: rate limited")
	ErrRegistry         = errors.New("ocireg: registry error")
	ErrDigestMismatch   = errors.New("ocireg: digest mismatch")
	ErrUnsupported      = errors.New("ocireg: unsupported")
	ErrCredentials      = errors.New("ocireg: credential store error")
	ErrIO               = errors.New("ocireg: I/O error")
	ErrCancelled        = errors.New("ocireg: cancelled")
	ErrVerifyFailed     = errors.New("ocireg: verification failed")
	ErrProtocol         = errors.New("ocireg: registry protocol violation")
	ErrPanic            = errors.New("ocireg: panic in the library")
)

var sentinels = map[Status]error{
	StatusInvalidArgument:  ErrInvalidArgument,
	StatusInvalidReference: ErrInvalidReference,
	StatusAuthentication:   ErrAuthentication,
	StatusAuthorization:    ErrAuthorization,
	StatusNotFound:         ErrNotFound,
	StatusTLS:              ErrTLS,
	StatusNetwork:          ErrNetwork,
	StatusTimeout:          ErrTimeout,
	StatusRateLimited:      ErrRateLimited,
	StatusRegistry:         ErrRegistry,
	StatusDigestMismatch:   ErrDigestMismatch,
	StatusUnsupported:      ErrUnsupported,
	StatusCredentials:      ErrCredentials,
	StatusIO:               ErrIO,
	StatusCancelled:        ErrCancelled,
	StatusVerifyFailed:     ErrVerifyFailed,
	StatusProtocol:         ErrProtocol,
	StatusPanic:            ErrPanic,
}

// Sentinel is the sentinel error of a status (nil for StatusOK or an unknown number).
func (s Status) Sentinel() error { return sentinels[s] }

// NoRetryAfter is Error.RetryAfter when the registry did not say how long to wait.
const NoRetryAfter time.Duration = -1

// Error is every failure the library reports: the ocireg_error object, copied.
type Error struct {
	// Status says what went wrong; errors.Is(err, Status.Sentinel()) holds.
	Status Status
	// Message says what failed, for which registry and repository, and why (never a secret).
	Message string
	// HTTPStatus is the HTTP status behind the error (401, 404, 429, 5xx…), 0 when none.
	HTTPStatus int
	// RegistryCode is the first OCI error code the registry sent ("NAME_UNKNOWN",
	// "MANIFEST_UNKNOWN", "DENIED"…), "" when none.
	RegistryCode string
	// RetryAfter is the registry's Retry-After for ErrRateLimited, NoRetryAfter when it sent none.
	RetryAfter time.Duration
	// Cause is the error a Go callback (progress func, io.Reader, io.Writer) returned to stop
	// the operation, for Status == StatusCancelled; errors.Is and errors.As see it.
	Cause error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Status.String()
	}
	if e.Cause != nil {
		return msg + ": " + e.Cause.Error()
	}
	return msg
}

// Is reports whether target is the sentinel of e's status.
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Status]
	return ok && s == target
}

// Unwrap returns the callback's error that cancelled the operation, if any.
func (e *Error) Unwrap() error { return e.Cause }

// Timeout reports whether the error is a timeout (as net.Error does).
func (e *Error) Timeout() bool { return e.Status == StatusTimeout }

// check turns a status and its error object into a Go error, freeing the error object.
func check(st C.ocireg_status, cerr *C.ocireg_error) error {
	if st == C.OCIREG_OK {
		C.ocireg_error_free(cerr) // NULL on success; freed anyway should it not be
		return nil
	}
	return takeError(Status(st), cerr)
}

// takeError copies an error object and frees it. Without one (err out-parameter NULL), the
// status alone makes the error.
func takeError(st Status, cerr *C.ocireg_error) *Error {
	if cerr == nil {
		return &Error{Status: st, Message: st.String(), RetryAfter: NoRetryAfter}
	}
	defer C.ocireg_error_free(cerr)
	e := &Error{
		Status:     Status(C.ocireg_error_status(cerr)),
		Message:    C.GoString(C.ocireg_error_message(cerr)),
		HTTPStatus: int(C.ocireg_error_http_status(cerr)),
		RetryAfter: NoRetryAfter,
	}
	if code := C.ocireg_error_registry_code(cerr); code != nil {
		e.RegistryCode = C.GoString(code)
	}
	if secs := int64(C.ocireg_error_retry_after_secs(cerr)); secs >= 0 {
		e.RetryAfter = time.Duration(secs) * time.Second
	}
	return e
}

func invalidArgument(msg string) *Error {
	return &Error{Status: StatusInvalidArgument, Message: "ocireg: " + msg, RetryAfter: NoRetryAfter}
}
