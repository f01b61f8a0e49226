//! The `WWW-Authenticate` header parser (RFC 7235 challenges).
//!
//! A header value may hold several challenges, and a response may carry several headers:
//!
//! Parsing never fails: malformed pieces (unterminated quotes, junk between parameters,
//! parameters before any scheme) are skipped, and what can be understood is kept.

/// One authentication challenge: a scheme, and either parameters or a token68.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme, lowercased: `"bearer"`, `"basic"`, ...
    pub scheme: String,
    /// The parameters in header order: names lowercased, values unquoted and unescaped.
    pub params: Vec<(String, String)>,
    /// The token68 form (`Negotiate abc==`), when the challenge uses it instead of parameters.
    pub token68: Option<String>,
}

impl Challenge {
    /// The value of a parameter (name compared case-insensitively); the first one if the
    /// header repeats it.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `realm` parameter: the token service URL for Bearer, a display name for Basic.
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// The `service` parameter (the token service's name for the registry).
    pub fn service(&self) -> Option<&str> {
        self.param("service")
    }

    /// The `scope` parameter as sent (may hold several space-separated scopes).
    pub fn scope(&self) -> Option<&str> {
        self.param("scope")
    }

    /// The `error` parameter, e.g. `insufficient_scope` or `invalid_token`.
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }

    /// The scope parameter split on whitespace:
    /// `"repository:a:pull,push repository:b:pull"` gives two entries. Scopes from every
    /// `scope` parameter are included, in order, without duplicates.
    pub fn scopes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, value) in self.params.iter().filter(|(n, _)| n == "scope") {
            for s in value.split_whitespace() {
                if !out.iter().any(|o| o == s) {
                    out.push(s.to_string());
                }
            }
        }
        out
    }
}

/// Parses one header value, which may hold several challenges:
/// `Basic realm="x", Bearer realm="y",service="z"`.
///
/// Scheme and parameter names are case-insensitive (returned lowercased); values may be quoted
/// strings (with `\"` and `\\` escapes, commas and spaces inside) or bare tokens, with optional
/// whitespace around `=` and `,`. Malformed pieces are skipped; this never fails or panics.
pub fn parse(value: &str) -> Vec<Challenge> {
    Parser {
        s: value.as_bytes(),
        pos: 0,
    }
    .challenges()
}

/// Parses several header values (a response may carry several `WWW-Authenticate` headers), in
/// order.
pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    values.into_iter().flat_map(parse).collect()
}

/// RFC 7230 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 7235 token68 characters (before the trailing `=` padding).
fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A cursor over the header bytes. Every slice it takes starts and ends at an ASCII byte or at
/// the ends of the input, so slices of the (UTF-8) input stay valid UTF-8.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// Skips spaces and tabs; true if there were any.
    fn skip_ows(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_ows) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn skip_ows_and_commas(&mut self) {
        while self.peek().is_some_and(|b| is_ows(b) || b == b',') {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &[u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn token(&mut self) -> String {
        String::from_utf8_lossy(self.take_while(is_tchar)).into_owned()
    }

    /// A quoted string starting at the current `"`: its unescaped content, or None if it is
    /// not terminated (the cursor is then at the end).
    fn quoted(&mut self) -> Option<String> {
        self.pos += 1; // the opening quote
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => match self.peek() {
                    Some(next) => {
                        out.push(next);
                        self.pos += 1;
                    }
                    None => return None,
                },
                _ => out.push(b),
            }
        }
        None
    }

    /// Skips a malformed piece: up to the next comma outside quotes.
    fn skip_junk(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b',' => return,
                b'"' => {
                    let _ = self.quoted();
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Whether an `auth-param` (`token BWS "="`) starts after the next comma, without moving.
    fn param_follows_comma(&self) -> bool {
        let mut p = Parser {
            s: self.s,
            pos: self.pos,
        };
        p.skip_ows();
        if p.peek() != Some(b',') {
            return false;
        }
        p.skip_ows_and_commas();
        if p.take_while(is_tchar).is_empty() {
            return false;
        }
        p.skip_ows();
        p.peek() == Some(b'=')
    }

    /// After `scheme 1*SP`: reads a token68 if there is one; otherwise leaves the cursor
    /// where it was (for parameters).
    fn token68(&mut self) -> Option<String> {
        let start = self.pos;
        let body = self.take_while(is_token68_char).len();
        let padding = self.take_while(|b| b == b'=').len();
        let end = self.pos;
        let mut after = Parser {
            s: self.s,
            pos: end,
        };
        after.skip_ows();
        let ends_item = after.at_end() || after.peek() == Some(b',');
        // `name=` followed by another parameter is a parameter with an empty value.
        let empty_param = padding == 1
            && self.s[start..start + body].iter().all(|&b| is_tchar(b))
            && self.param_follows_comma();
        if body > 0 && ends_item && !empty_param {
            Some(String::from_utf8_lossy(&self.s[start..end]).into_owned())
        } else {
            self.pos = start;
            None
        }
    }

    /// A parameter value after `=` and whitespace: a quoted string or a (possibly empty) bare
    /// value. None if malformed (unterminated quote).
    ///
    /// Bare values are read leniently, up to a comma, whitespace or quote: RFC 7235 allows only
    /// `token` characters, but some servers send `realm=https://auth.example/token` unquoted.
    fn value(&mut self) -> Option<String> {
        if self.peek() == Some(b'"') {
            self.quoted()
        } else {
            let bare =
                self.take_while(|b| !(b == b',' || b == b'"' || is_ows(b) || b.is_ascii_control()));
            Some(String::from_utf8_lossy(bare).into_owned())
        }
    }

    fn challenges(mut self) -> Vec<Challenge> {
        let mut out = Vec::new();
        // The challenge parameters attach to; None after a malformed scheme, so its stray
        // parameters are dropped rather than given to the previous challenge.
        let mut current: Option<Challenge> = None;
        loop {
            self.skip_ows_and_commas();
            if self.at_end() {
                break;
            }
            let name = self.token();
            if name.is_empty() {
                self.skip_junk();
                continue;
            }
            let had_space = self.skip_ows();
            if self.peek() == Some(b'=') {
                // name = value
                self.pos += 1;
                self.skip_ows();
                let value = self.value();
                let ws_after = self.skip_ows();
                let well_ended = self.at_end() || self.peek() == Some(b',') || ws_after;
                if !well_ended {
                    self.skip_junk();
                }
                if let (Some(c), Some(v), true) = (current.as_mut(), value, well_ended) {
                    c.params.push((name.to_ascii_lowercase(), v));
                }
                continue;
            }
            // A new challenge.
            out.extend(current.take());
            if !(had_space || self.at_end() || self.peek() == Some(b',')) {
                // Junk glued to the scheme (`Bearer"x"`): skip the whole challenge.
                self.skip_junk();
                continue;
            }
            let mut c = Challenge {
                scheme: name.to_ascii_lowercase(),
                params: Vec::new(),
                token68: None,
            };
            if had_space {
                c.token68 = self.token68();
            }
            current = Some(c);
        }
        out.extend(current);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(value: &str) -> Challenge {
        let mut cs = parse(value);
        assert_eq!(cs.len(), 1, "{value:?}: {cs:?}");
        cs.remove(0)
    }

    fn params(c: &Challenge) -> Vec<(&str, &str)> {
        c.params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn distribution() {
        let c = one(
            r#"Bearer realm="http://127.0.0.1:5014/token",service="rig-registry",scope="repository:team/app:pull,push repository:team/base:pull",error="insufficient_scope""#,
        );
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.realm(), Some("http://127.0.0.1:5014/token"));
        assert_eq!(c.service(), Some("rig-registry"));
        assert_eq!(
            c.scope(),
            Some("repository:team/app:pull,push repository:team/base:pull")
        );
        assert_eq!(
            c.scopes(),
            ["repository:team/app:pull,push", "repository:team/base:pull"]
        );
        assert_eq!(c.error(), Some("insufficient_scope"));
        assert_eq!(c.token68, None);
    }

    #[test]
    fn real_world_headers() {
        // (header, scheme, realm, service, scope)
        type Case<'a> = (
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: &[Case] = &[
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
                "bearer",
                Some("https://auth.docker.io/token"),
                Some("registry.docker.io"),
                Some("repository:library/alpine:pull"),
            ),
            (
                r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull""#,
                "bearer",
                Some("https://ghcr.io/token"),
                Some("ghcr.io"),
                Some("repository:user/image:pull"),
            ),
            (
                r#"Basic realm="Registry Realm""#,
                "basic",
                Some("Registry Realm"),
                None,
                None,
            ),
            (
                r#"Bearer realm="https://harbor.example.com/service/token",service="harbor-registry",scope="repository:library/nginx:pull,push""#,
                "bearer",
                Some("https://harbor.example.com/service/token"),
                Some("harbor-registry"),
                Some("repository:library/nginx:pull,push"),
            ),
            (
                r#"Basic realm="https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com""#,
                "basic",
                Some("https://123456789012.dkr.ecr.us-east-1.amazonaws.com/"),
                Some("ecr.amazonaws.com"),
                None,
            ),
            (
                r#"Bearer realm="https://quay.io/v2/auth",service="quay.io""#,
                "bearer",
                Some("https://quay.io/v2/auth"),
                Some("quay.io"),
                None,
            ),
            (
                r#"Bearer realm="https://myreg.azurecr.io/oauth2/token",service="myreg.azurecr.io""#,
                "bearer",
                Some("https://myreg.azurecr.io/oauth2/token"),
                Some("myreg.azurecr.io"),
                None,
            ),
            (
                r#"bearer REALM = "x" , Service=y"#,
                "bearer",
                Some("x"),
                Some("y"),
                None,
            ),
            (
                r#"BEARER scope="a:b:pull" , realm="r""#,
                "bearer",
                Some("r"),
                None,
                Some("a:b:pull"),
            ),
            (r#"Bearer realm="""#, "bearer", Some(""), None, None),
            (
                r#"Bearer realm=,service="s""#,
                "bearer",
                Some(""),
                Some("s"),
                None,
            ),
            (
                r#"Bearer service= , realm=r"#,
                "bearer",
                Some("r"),
                Some(""),
                None,
            ),
            (
                r#"Bearer realm=r,service="#,
                "bearer",
                Some("r"),
                Some(""),
                None,
            ),
            (
                "Bearer\trealm=\"r\"\t,\tservice=\"s\"",
                "bearer",
                Some("r"),
                Some("s"),
                None,
            ),
            // Missing comma between parameters: tolerated.
            (
                r#"Bearer realm="r" service="s""#,
                "bearer",
                Some("r"),
                Some("s"),
                None,
            ),
            (
                r#"Bearer realm="https://t.example/token?a=1&b=2""#,
                "bearer",
                Some("https://t.example/token?a=1&b=2"),
                None,
                None,
            ),
        ];
        for &(header, scheme, realm, service, scope) in cases {
            let c = one(header);
            assert_eq!(c.scheme, scheme, "{header}");
            assert_eq!(c.realm(), realm, "{header}");
            assert_eq!(c.service(), service, "{header}");
            assert_eq!(c.scope(), scope, "{header}");
            assert_eq!(c.token68, None, "{header}");
        }
    }

    #[test]
    fn escapes_and_quoting() {
        let c = one(r#"Basic realm="a \"quoted\" realm, with \\ and, commas""#);
        assert_eq!(c.realm(), Some(r#"a "quoted" realm, with \ and, commas"#));
        let c = one(r#"Basic realm="\a\b\,""#);
        assert_eq!(c.realm(), Some("ab,"));
        let c = one(r#"Basic realm="héllo wörld ☃""#);
        assert_eq!(c.realm(), Some("héllo wörld ☃"));
        let c = one("Basic realm=\"\\é\"");
        assert_eq!(c.realm(), Some("é"));
        let c = one(r#"Bearer realm="x=y,z=w", service="a""#);
        assert_eq!(params(&c), [("realm", "x=y,z=w"), ("service", "a")]);
    }

    #[test]
    fn several_challenges() {
        let cs = parse(r#"Basic realm="x", Bearer realm="y",service="z""#);
        assert_eq!(cs.len(), 2);
        assert_eq!((cs[0].scheme.as_str(), cs[0].realm()), ("basic", Some("x")));
        assert_eq!(
            (cs[1].scheme.as_str(), cs[1].realm(), cs[1].service()),
            ("bearer", Some("y"), Some("z"))
        );

        let cs = parse(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
        );
        assert_eq!(cs.len(), 2);
        assert_eq!(
            params(&cs[0]),
            [
                ("realm", "apps"),
                ("type", "1"),
                ("title", r#"Login to "apps""#)
            ]
        );
        assert_eq!(cs[1].realm(), Some("simple"));

        let cs = parse("Negotiate, Basic realm=x,  , NTLM");
        let schemes: Vec<_> = cs.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["negotiate", "basic", "ntlm"]);

        let cs = parse_all([r#"Basic realm="a""#, "", r#"Bearer realm="b""#]);
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[1].realm(), Some("b"));
        assert!(parse_all(std::iter::empty()).is_empty());
    }

    #[test]
    fn token68() {
        let c = one("Negotiate abc==");
        assert_eq!(c.token68.as_deref(), Some("abc=="));
        assert!(c.params.is_empty());
        let c = one("Negotiate a-b._~+/c");
        assert_eq!(c.token68.as_deref(), Some("a-b._~+/c"));
        let cs = parse(r#"Negotiate YII=, Basic realm="x""#);
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].token68.as_deref(), Some("YII="));
        assert_eq!(cs[1].realm(), Some("x"));
        let c = one("Foo abc=");
        assert_eq!(c.token68.as_deref(), Some("abc="));
        let c = one("Foo realm");
        assert_eq!(c.token68.as_deref(), Some("realm"));
        let c = one("Bearer realm=\"x\"");
        assert_eq!(c.token68, None);
    }

    #[test]
    fn case_and_lookup() {
        let c = one(r#"BeArEr ReAlM="R",SCOPE="s1 s2  s1""#);
        assert_eq!(c.scheme, "bearer");
        assert_eq!(params(&c), [("realm", "R"), ("scope", "s1 s2  s1")]);
        assert_eq!(c.param("REALM"), Some("R"));
        assert_eq!(c.param("Scope"), Some("s1 s2  s1"));
        assert_eq!(c.scopes(), ["s1", "s2"]);
        assert_eq!(c.param("missing"), None);
        let c = one(r#"Bearer realm="a",realm="b",scope="x",scope="y x""#);
        assert_eq!(c.realm(), Some("a"));
        assert_eq!(c.scopes(), ["x", "y"]);
        let c = one(r#"Bearer scope="""#);
        assert!(c.scopes().is_empty());
    }

    #[test]
    fn hostile_inputs() {
        assert!(parse("").is_empty());
        assert!(parse("   ").is_empty());
        assert!(parse(",,,").is_empty());
        assert!(parse("=,=,").is_empty());
        assert!(parse(r#""quoted""#).is_empty());
        assert!(parse(r#"realm="orphan""#).is_empty());
        assert!(parse("☃").is_empty());
        // Unterminated quote: the parameter is dropped, the challenge kept.
        let c = one(r#"Bearer realm="https://x, service="y"#);
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.realm(), None);
        let c = one(r#"Bearer service="s", realm="unterminated"#);
        assert_eq!(params(&c), [("service", "s")]);
        let c = one(r#"Basic realm="x\"#);
        assert!(c.params.is_empty());
        let c = one("Basic \\");
        assert_eq!(c.scheme, "basic");
        // Junk glued to a value drops the value.
        let c = one(r#"Bearer realm="x"junk, service="s""#);
        assert_eq!(params(&c), [("service", "s")]);
        // A malformed scheme is dropped with its parameters, not merged into the previous one.
        let cs = parse(r#"Basic realm="a", Bearer"x", realm="b""#);
        assert_eq!(cs.len(), 1);
        assert_eq!(params(&cs[0]), [("realm", "a")]);
        // Stray junk between parameters is skipped.
        let c = one(r#"Bearer realm="r", @@@, "lost", service="s""#);
        assert_eq!(params(&c), [("realm", "r"), ("service", "s")]);
        let c = one("Bearer realm=\u{0}, service=s");
        assert_eq!(params(&c), [("service", "s")]);

        let commas = ",".repeat(100_000);
        assert!(parse(&commas).is_empty());
        let c = one(&format!("Bearer {commas}realm=x{commas}"));
        assert_eq!(c.realm(), Some("x"));
        let big = format!(r#"Bearer realm="{}""#, "\\\"".repeat(50_000));
        assert_eq!(one(&big).realm().map(str::len), Some(50_000));
        let many = "Basic realm=x, ".repeat(10_000);
        assert_eq!(parse(&many).len(), 10_000);
        let _ = parse(&"\"".repeat(100_000));
        let _ = parse(&"\\".repeat(100_000));
        let _ = parse(&"a=".repeat(50_000));
        let _ = parse(&"Negotiate ".repeat(10_000));
        let _ = parse(&"Negotiate a=,".repeat(10_000));
    }

    use crate::test_util::XorShift;

    #[test]
    fn random_inputs_never_panic() {
        const PIECES: &[&str] = &[
            "Bearer",
            "Basic",
            "realm",
            "service",
            "scope",
            "=",
            "\"",
            "\\",
            ",",
            " ",
            "\t",
            "a",
            "x==",
            "/",
            "é",
            "☃",
            "\u{0}",
            "Negotiate",
            "abc",
            "\"v\"",
        ];
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for _ in 0..5000 {
            let mut bytes = Vec::new();
            for _ in 0..rng.below(32) {
                if rng.below(5) == 0 {
                    bytes.push(rng.next() as u8);
                } else {
                    bytes.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
                }
            }
            let s = String::from_utf8_lossy(&bytes);
            for c in parse(&s) {
                assert!(!c.scheme.is_empty(), "{s:?}");
                assert_eq!(c.scheme, c.scheme.to_ascii_lowercase());
                assert!(c.scheme.bytes().all(is_tchar));
                for (n, _) in &c.params {
                    assert!(!n.is_empty() && n.bytes().all(is_tchar), "{s:?}");
                    assert_eq!(*n, n.to_ascii_lowercase());
                }
                let _ = c.scopes();
            }
            let _ = parse_all(s.split(','));
        }
    }

    #[test]
    fn doc_example_1() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let cs = parse(
            r#"Basic realm="Registry Realm", Bearer realm="https://auth.example.com/token",service="registry.example.com""#,
        );
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0].scheme, "basic");
        assert_eq!(cs[1].realm(), Some("https://auth.example.com/token"));
        assert_eq!(cs[1].service(), Some("registry.example.com"));
        Ok(())
    }

    #[test]
    fn doc_example_2() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let c = &parse(r#"Bearer realm="r",scope="repository:a:pull,push repository:b:pull""#)[0];
        assert_eq!(c.scopes(), ["repository:a:pull,push", "repository:b:pull"]);
        Ok(())
    }

    #[test]
    fn doc_example_3() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let c = &parse(r#"bearer REALM = "https://t.example/token" , Service=reg"#)[0];
        assert_eq!(
            (c.scheme.as_str(), c.realm(), c.service()),
            ("bearer", Some("https://t.example/token"), Some("reg"))
        );
        let n = &parse("Negotiate abc==")[0];
        assert_eq!(n.token68.as_deref(), Some("abc=="));
        Ok(())
    }

    #[test]
    fn doc_example_4() -> std::result::Result<(), Box<dyn std::error::Error>> {
        let cs = parse_all([r#"Basic realm="x""#, r#"Bearer realm="y""#]);
        assert_eq!(
            cs.iter().map(|c| c.scheme.as_str()).collect::<Vec<_>>(),
            ["basic", "bearer"]
        );
        Ok(())
    }
}
