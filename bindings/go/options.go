package ocireg

/*
#include "ocireg.h"
*/
import "C"

import "time"

// Settings are the client settings the Options apply to (an ocireg_options object). Options
// are applied in order; a later credential option replaces an earlier one.
type Settings struct {
	p     *C.ocireg_options
	retry *retryNotifier // WithRetryNotify's, until a client adopts it
}

// Option is one client setting, for NewClient and Login. Without any, credentials come from
// the resolution chain (docker config, credential helpers), https is used with the system CA
// roots, no proxy, 3 retries.
type Option func(*Settings) error

// newSettings creates the C options and applies opts; free the result with free().
func newSettings(opts []Option) (*Settings, error) {
	s := &Settings{}
	var cerr *C.ocireg_error
	if err := check(C.ocireg_options_new(&s.p, &cerr), cerr); err != nil {
		return nil, err
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(s); err != nil {
			s.free()
			return nil, err
		}
	}
	return s, nil
}

// free frees the C options, and forgets the retry callback unless a client adopted it.
func (s *Settings) free() {
	C.ocireg_options_free(s.p)
	s.p = nil
	s.retry.unregister()
	s.retry = nil
}

// adoptRetry hands the retry callback over to the client built from these settings.
func (s *Settings) adoptRetry() *retryNotifier {
	n := s.retry
	s.retry = nil
	return n
}

// stringSetter applies one C setter taking a string.
func stringSetter(name, value string, set func(*C.ocireg_options, *C.char, **C.ocireg_error) C.ocireg_status) Option {
	return func(s *Settings) error {
		var a cargs
		defer a.free()
		cs := a.str(name, value)
		if a.err != nil {
			return a.err
		}
		var cerr *C.ocireg_error
		return check(set(s.p, cs, &cerr), cerr)
	}
}

// WithBasicAuth uses HTTP Basic credentials (a user name and a password or personal access
// token), for Basic registries and Bearer token services alike. The resolution chain is skipped.
func WithBasicAuth(username, password string) Option {
	return func(s *Settings) error {
		var a cargs
		defer a.free()
		u := a.str("username", username)
		p := a.str("password", password)
		if a.err != nil {
			return a.err
		}
		var cerr *C.ocireg_error
		return check(C.ocireg_options_set_username_password(s.p, u, p, &cerr), cerr)
	}
}

// WithIdentityToken uses an OAuth2 refresh ("identity") token, exchanged at the registry's token
// service (docker's identitytoken). The resolution chain is skipped.
func WithIdentityToken(token string) Option {
	return stringSetter("token", token, func(o *C.ocireg_options, v *C.char, e **C.ocireg_error) C.ocireg_status {
		return C.ocireg_options_set_identity_token(o, v, e)
	})
}

// WithBearerToken sends a ready bearer token as is (docker's registrytoken). The resolution
// chain is skipped.
func WithBearerToken(token string) Option {
	return stringSetter("token", token, func(o *C.ocireg_options, v *C.char, e **C.ocireg_error) C.ocireg_status {
		return C.ocireg_options_set_bearer_token(o, v, e)
	})
}

// WithAnonymous uses no credentials at all. The resolution chain is skipped.
func WithAnonymous() Option {
	return func(s *Settings) error {
		var cerr *C.ocireg_error
		return check(C.ocireg_options_set_anonymous(s.p, &cerr), cerr)
	}
}

// WithDockerConfig reads credentials from this docker config.json instead of the default one
// ($DOCKER_CONFIG/config.json, ~/.docker/config.json); Login writes to it.
func WithDockerConfig(path string) Option {
	return stringSetter("docker config path", path, func(o *C.ocireg_options, v *C.char, e **C.ocireg_error) C.ocireg_status {
		return C.ocireg_options_set_docker_config(o, v, e)
	})
}

// WithUserAgent sets the User-Agent header (default "ocireg/<version>").
func WithUserAgent(userAgent string) Option {
	return stringSetter("user agent", userAgent, func(o *C.ocireg_options, v *C.char, e **C.ocireg_error) C.ocireg_status {
		return C.ocireg_options_set_user_agent(o, v, e)
	})
}

// TimeoutKind selects a timeout for WithTimeout.
type TimeoutKind uint32

// Timeout kinds (OCIREG_TIMEOUT_*).
const (
	TimeoutConnect  TimeoutKind = C.OCIREG_TIMEOUT_CONNECT  // establishing a connection (default 30 s)
	TimeoutResponse TimeoutKind = C.OCIREG_TIMEOUT_RESPONSE // from the request to the response headers (default 60 s)
	TimeoutRead     TimeoutKind = C.OCIREG_TIMEOUT_READ     // any single read of a response body (default 60 s)
	TimeoutWrite    TimeoutKind = C.OCIREG_TIMEOUT_WRITE    // any single write of a request body (default 60 s)
	TimeoutOverall  TimeoutKind = C.OCIREG_TIMEOUT_OVERALL  // the whole of each request (default none)
)

// WithTimeout sets one timeout, to the millisecond; 0 means no limit.
func WithTimeout(kind TimeoutKind, d time.Duration) Option {
	return func(s *Settings) error {
		if d < 0 {
			return invalidArgument("a timeout cannot be negative")
		}
		var cerr *C.ocireg_error
		return check(C.ocireg_options_set_timeout_ms(s.p, C.uint32_t(kind), C.uint64_t(d.Milliseconds()), &cerr), cerr)
	}
}

// WithCACert trusts extra CA certificates (PEM, one or several), besides the system's roots.
// May be given several times. A PEM without any certificate makes NewClient fail with ErrTLS.
func WithCACert(pem []byte) Option {
	return func(s *Settings) error {
		var cerr *C.ocireg_error
		return check(C.ocireg_options_set_ca_cert_pem(s.p, bytesIn(pem), C.size_t(len(pem)), &cerr), cerr)
	}
}

// WithClientCert presents a client certificate chain and its private key (both PEM), for
// mutual TLS.
func WithClientCert(certPEM, keyPEM []byte) Option {
	return func(s *Settings) error {
		var cerr *C.ocireg_error
		return check(C.ocireg_options_set_client_cert_pem(s.p,
			bytesIn(certPEM), C.size_t(len(certPEM)),
			bytesIn(keyPEM), C.size_t(len(keyPEM)), &cerr), cerr)
	}
}

// WithInsecure uses plain http for a registry given without a scheme, and no TLS certificate
// verification. Credentials may then travel unencrypted. (A registry given as http://host:port
// uses plain http regardless.)
func WithInsecure() Option {
	return func(s *Settings) error {
		var cerr *C.ocireg_error
		return check(C.ocireg_options_set_insecure(s.p, 1, &cerr), cerr)
	}
}

// WithProxy sends every request through this proxy (http://host:port, socks5://host:port).
// A malformed URL makes NewClient fail.
func WithProxy(proxyURL string) Option {
	return stringSetter("proxy URL", proxyURL, func(o *C.ocireg_options, v *C.char, e **C.ocireg_error) C.ocireg_status {
		return C.ocireg_options_set_proxy(o, v, e)
	})
}

// WithProxyFromEnv honours HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY when no explicit
// proxy is set (off by default: a stray variable never redirects a client).
func WithProxyFromEnv() Option {
	return func(s *Settings) error {
		var cerr *C.ocireg_error
		return check(C.ocireg_options_set_proxy_from_env(s.p, 1, &cerr), cerr)
	}
}

// WithLowSpeedLimit abandons a response body arriving slower than bytesPerSec on average over
// window, with ErrTimeout (curl's --speed-limit/--speed-time): it ends a registry that drips
// bytes too slowly for any per-read timeout to notice. The default is 1024 bytes/s over 30 s;
// WithLowSpeedLimit(0, 0) turns it off.
func WithLowSpeedLimit(bytesPerSec int64, window time.Duration) Option {
	return func(s *Settings) error {
		if bytesPerSec < 0 || window < 0 {
			return invalidArgument("the low-speed limit cannot be negative")
		}
		var cerr *C.ocireg_error
		return check(C.ocireg_options_set_low_speed_limit(s.p, C.uint64_t(bytesPerSec),
			C.uint64_t(window.Milliseconds()), &cerr), cerr)
	}
}

// WithMaxRetries sets how many times an idempotent request is retried after a connection error,
// a timeout, 429 or 5xx, with exponential backoff and Retry-After (default 3; 0: never).
func WithMaxRetries(n int) Option {
	return func(s *Settings) error {
		if n < 0 {
			return invalidArgument("the number of retries cannot be negative")
		}
		var cerr *C.ocireg_error
		return check(C.ocireg_options_set_max_retries(s.p, C.uint32_t(n), &cerr), cerr)
	}
}
