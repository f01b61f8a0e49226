package ocireg

/*
#include "ocireg.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
	// Cause is why a StatusCancelled operation stopped: the error a Go callback (progress
	// func, io.Reader, io.Writer) returned, or the context's error (context.Canceled,
	// context.DeadlineExceeded, wrapping context.Cause when it differs) when the context ended
	// the call. errors.Is and errors.As see it.
	Cause error

	// client is the registry's answer, for errors.As(err, **ClientError).
	client *ClientError
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

// Is reports whether target is the sentinel of e's status. A call that its context's deadline
// ended also matches ErrTimeout (besides ErrCancelled and context.DeadlineExceeded).
func (e *Error) Is(target error) bool {
	s, ok := sentinels[e.Status]
	if ok && s == target {
		return true
	}
	return target == ErrTimeout && e.deadlineExceeded()
}

func (e *Error) deadlineExceeded() bool {
	return e.Status == StatusCancelled && errors.Is(e.Cause, context.DeadlineExceeded)
}

// As makes errors.As(err, &clientErr) give the registry's answer (a *ClientError) when the
// failure came with one.
func (e *Error) As(target any) bool {
	if t, ok := target.(**ClientError); ok && e.client != nil {
		*t = e.client
		return true
	}
	return false
}

// Unwrap returns the callback's error that cancelled the operation, if any.
func (e *Error) Unwrap() error { return e.Cause }

// Timeout reports whether the error is a timeout (as net.Error does): a library timeout, or a
// call its context's deadline ended.
func (e *Error) Timeout() bool { return e.Status == StatusTimeout || e.deadlineExceeded() }

// ErrorInfo is one entry of a registry's {"errors": [...]} answer.
type ErrorInfo struct {
	Code    string          `json:"code"`              // e.g. "MANIFEST_UNKNOWN" ("" when the entry had none)
	Message string          `json:"message,omitempty"` // "" when the entry had none
	Detail  json.RawMessage `json:"detail,omitempty"`  // the detail as JSON text, nil when none
}

// ClientError is an HTTP error answer of a registry or its token service, as data (the Go
// seed's registry.ClientError): every failure that came with such an answer gives one with
// errors.As(err, &clientErr); errors.Is(clientErr, ErrNotFound) and the other sentinels work on
// it as on the *Error.
type ClientError struct {
	// StatusCode is the HTTP status (401, 404, 429, 5xx…).
	StatusCode int
	// Errors are the entries of the registry's {"errors": [...]}, in order, as the library read
	// them (a malformed entry shows as what could be read of it).
	Errors []ErrorInfo
	// RetryAfter is how long the registry asked to wait (Retry-After), NoRetryAfter when it did
	// not say.
	RetryAfter time.Duration
	// RawBody is the answer's body as it came (at most 64 KiB; invalid UTF-8 replaced), nil
	// when there was none.
	RawBody []byte

	status Status
}

func (e *ClientError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ocireg: the registry answered HTTP %d", e.StatusCode)
	for i, info := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(info.Code)
		if info.Message != "" {
			b.WriteString(": " + info.Message)
		}
	}
	return b.String()
}

// Is reports whether target is the sentinel of the failure's status.
func (e *ClientError) Is(target error) bool {
	s, ok := sentinels[e.status]
	return ok && s == target
}

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
	n := int(C.ocireg_error_registry_error_count(cerr))
	body := C.ocireg_error_body(cerr)
	if e.HTTPStatus != 0 || n > 0 || body != nil {
		ce := &ClientError{StatusCode: e.HTTPStatus, RetryAfter: e.RetryAfter, status: e.Status}
		for i := 0; i < n; i++ {
			ci := C.size_t(i)
			info := ErrorInfo{
				Code:    goStringOrEmpty(C.ocireg_error_registry_error_code(cerr, ci)),
				Message: goStringOrEmpty(C.ocireg_error_registry_error_message(cerr, ci)),
			}
			if d := C.ocireg_error_registry_error_detail(cerr, ci); d != nil {
				info.Detail = json.RawMessage(C.GoString(d))
			}
			ce.Errors = append(ce.Errors, info)
		}
		if body != nil {
			ce.RawBody = []byte(C.GoString(body))
		}
		e.client = ce
	}
	return e
}

func goStringOrEmpty(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

func invalidArgument(msg string) *Error {
	return &Error{Status: StatusInvalidArgument, Message: "ocireg: " + msg, RetryAfter: NoRetryAfter}
}
