# frozen_string_literal: true

module Ocireg
  # Internal: builds an `ocireg_options *` from Ruby keyword arguments, yields it, and frees it.
  module Options
    TIMEOUT_KINDS = { connect: 0, response: 1, read: 2, write: 3, overall: 4 }.freeze

    module_function

    # Keyword arguments (all optional):
    #   username:, password:   HTTP Basic credentials (also for Bearer token services)
    #   identity_token:        an OAuth2 refresh token (docker's "identitytoken")
    #   bearer_token:          a ready bearer token (docker's "registrytoken")
    #   anonymous:             true: no credentials at all
    #   docker_config:         the docker config.json to read credentials from
    #   insecure:              true: plain http without a scheme, no TLS verification
    #   ca_cert:               extra trusted CA certificate(s), PEM text (String or Array)
    #   ca_cert_file:          the same, read from file path(s)
    #   client_cert:, client_key:  PEM client certificate chain and key, for mutual TLS
    #   user_agent:, proxy:, proxy_from_env:, max_retries:
    #   timeout:               the overall deadline of each request, in seconds
    #   timeouts:              { connect:, response:, read:, write:, overall: } in seconds
    #                          (0 = no limit)
    #   low_speed_limit:       [bytes_per_second, seconds]: a body arriving slower than that on
    #                          average is abandoned with TimeoutError (default [1024, 30];
    #                          [0, 0] turns it off)
    #   backoff:               the wait between retries, a Hash (all optional, seconds):
    #                          { initial: 0.2, multiplier: 2, max_interval: 10, max_elapsed: nil,
    #                            jitter: 0.5 } (the defaults; max_elapsed nil/0: no limit, jitter
    #                          0..1). A registry's Retry-After replaces the wait.
    #   retry_notify:          a callable (Proc, Method, lambda) told of each retry before
    #                          ocireg waits, with an Ocireg::RetryEvent (method, path, attempt,
    #                          status, reason, delay). It runs on the thread that made the call.
    #                          An exception it raises is reported with Kernel#warn and dropped:
    #                          it never crosses into the library, and the retry goes on.
    # With no credential keyword, credentials come from the resolution chain (docker config,
    # credential helpers).
    def with(username: nil, password: nil, identity_token: nil, bearer_token: nil, anonymous: false,
             docker_config: nil, insecure: false, ca_cert: nil, ca_cert_file: nil, client_cert: nil,
             client_key: nil, user_agent: nil, proxy: nil, proxy_from_env: false, max_retries: nil,
             timeout: nil, timeouts: nil, low_speed_limit: nil, backoff: nil, retry_notify: nil)
      keep = []
      out = Call.out_ptr
      Call.check { |err| Native.ocireg_options_new(out, err) }
      opts = out.ptr
      begin
        unless username.nil? && password.nil?
          Call.check do |err|
            Native.ocireg_options_set_username_password(opts, Native.cstr(username), Native.cstr(password), err)
          end
        end
        unless identity_token.nil?
          Call.check { |err| Native.ocireg_options_set_identity_token(opts, Native.cstr(identity_token), err) }
        end
        unless bearer_token.nil?
          Call.check { |err| Native.ocireg_options_set_bearer_token(opts, Native.cstr(bearer_token), err) }
        end
        Call.check { |err| Native.ocireg_options_set_anonymous(opts, err) } if anonymous
        unless docker_config.nil?
          Call.check { |err| Native.ocireg_options_set_docker_config(opts, Native.cstr(docker_config), err) }
        end
        Call.check { |err| Native.ocireg_options_set_insecure(opts, 1, err) } if insecure
        pems = Array(ca_cert) + Array(ca_cert_file).map { |path| File.binread(Native.cstr(path)) }
        pems.each do |pem|
          buf, len = Native.buffer(pem)
          Call.check { |err| Native.ocireg_options_set_ca_cert_pem(opts, buf, len, err) }
        end
        unless client_cert.nil? && client_key.nil?
          cert, cert_len = Native.buffer(client_cert)
          key, key_len = Native.buffer(client_key)
          Call.check do |err|
            Native.ocireg_options_set_client_cert_pem(opts, cert, cert_len, key, key_len, err)
          end
        end
        unless user_agent.nil?
          Call.check { |err| Native.ocireg_options_set_user_agent(opts, Native.cstr(user_agent), err) }
        end
        Call.check { |err| Native.ocireg_options_set_proxy(opts, Native.cstr(proxy), err) } unless proxy.nil?
        Call.check { |err| Native.ocireg_options_set_proxy_from_env(opts, 1, err) } if proxy_from_env
        unless max_retries.nil?
          Call.check { |err| Native.ocireg_options_set_max_retries(opts, Integer(max_retries), err) }
        end
        unless low_speed_limit.nil?
          rate, seconds = Array(low_speed_limit)
          if rate.nil? || seconds.nil? || Integer(rate).negative? || Float(seconds).negative?
            raise ArgumentError, "ocireg: low_speed_limit must be [bytes_per_second, seconds]"
          end
          Call.check do |err|
            Native.ocireg_options_set_low_speed_limit(opts, Integer(rate), (Float(seconds) * 1000).round, err)
          end
        end
        apply_backoff(opts, backoff) unless backoff.nil?
        unless retry_notify.nil?
          fn = RetryNotify.function(retry_notify)
          keep << fn
          Call.check { |err| Native.ocireg_options_set_retry_notify(opts, fn.ref, nil, err) }
        end
        all_timeouts = (timeouts || {}).to_h
        all_timeouts = all_timeouts.merge(overall: timeout) unless timeout.nil?
        all_timeouts.each do |kind, seconds|
          code = TIMEOUT_KINDS.fetch(kind.to_sym) do
            raise ArgumentError, "ocireg: unknown timeout #{kind.inspect} (known: #{TIMEOUT_KINDS.keys.join(', ')})"
          end
          next if seconds.nil?

          ms = (seconds * 1000).round
          raise ArgumentError, "ocireg: timeout #{kind} must not be negative" if ms.negative?

          Call.check { |err| Native.ocireg_options_set_timeout_ms(opts, code, ms, err) }
        end
        yield opts, keep.freeze
      ensure
        Native.ocireg_options_free(opts)
      end
    end

    BACKOFF_DEFAULTS = { initial: 0.2, multiplier: 2.0, max_interval: 10.0, max_elapsed: 0, jitter: 0.5 }.freeze

    # ocireg_options_set_backoff from a Hash in seconds (missing keys keep the defaults).
    def apply_backoff(opts, backoff)
      given = backoff.to_h.transform_keys(&:to_sym)
      unknown = given.keys - BACKOFF_DEFAULTS.keys
      unless unknown.empty?
        raise ArgumentError, "ocireg: unknown backoff key(s) #{unknown.map(&:inspect).join(', ')} " \
                             "(known: #{BACKOFF_DEFAULTS.keys.join(', ')})"
      end
      b = BACKOFF_DEFAULTS.merge(given.compact)
      ms = lambda do |key|
        value = Float(b[key])
        raise ArgumentError, "ocireg: backoff #{key} must not be negative" if value.negative?

        (value * 1000).round
      end
      Call.check do |err|
        Native.ocireg_options_set_backoff(opts, ms.call(:initial), Float(b[:multiplier]), ms.call(:max_interval),
                                          ms.call(:max_elapsed), Float(b[:jitter]), err)
      end
    end
  end
  private_constant :Options
end
