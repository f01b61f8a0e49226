//! Redaction of secrets in text that quotes caller input or URLs: every message, log line,
//! `Debug` and `Display` that shows a registry string, a reference or a URL goes through here.

/// The text with the password of a `user:password@host` userinfo replaced by `<redacted>`:
/// `http://alice:PW@h/x` → `http://alice:<redacted>@h/x`, `alice:PW@h` → `alice:<redacted>@h`.
///
/// The authority is what follows a `://` (or the start of the text) up to the first `/`, as the
/// client builder reads a registry string (so a `?` or `#` before the `@` hides more, never less); an `@` in it ends a userinfo, and the
/// userinfo's first `:` starts the password. A userinfo without a password (`TOKEN@host`, as git and some registries
/// take a token) is hidden whole.
pub(crate) fn userinfo(s: &str) -> String {
    // One pass. An authority starts after `scheme://` or a delimiter; `colon` is the first ':'
    // since its start, `path` whether a '/' came since (then an '@' is not in it).
    let bytes = s.as_bytes();
    let mut hide: Vec<(usize, usize)> = Vec::new();
    let (mut start, mut colon, mut path) = (0usize, None::<usize>, false);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b':' && bytes[i..].starts_with(b"://") {
            (start, colon, path) = (i + 3, None, false);
            i += 3;
            continue;
        }
        if i == start && bytes[i..].starts_with(b"//") {
            // A network-path reference: `//user:password@host/...`.
            start = i + 2;
            i += 2;
            continue;
        }
        match b {
            b'/' => path = true,
            b':' if colon.is_none() => colon = Some(i),
            b'@' if !path => {
                let digest = s[i + 1..].starts_with("sha256:") || s[i + 1..].starts_with("sha512:");
                match (colon, digest) {
                    // user:password@: the user name stays, the password goes (even before what
                    // looks like a digest: `app:v1@sha256:…` loses its tag in messages rather
                    // than risk a password).
                    (Some(c), _) => hide.push((c + 1, i)),
                    // token@ (a user name alone may be a token): all of it goes, unless it is
                    // a name before a digest (`alpine@sha256:…`).
                    (None, false) if i > start => hide.push((start, i)),
                    (None, _) => {}
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    for (from, to) in hide {
        let from = from.max(pos);
        out.push_str(&s[pos..from]);
        if !out.ends_with("<redacted>") {
            out.push_str("<redacted>");
        }
        pos = to;
    }
    out.push_str(&s[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::userinfo;

    #[test]
    fn passwords_are_redacted() {
        for (input, expected) in [
            (
                "http://alice:PW@127.0.0.1:5420/team/app",
                "http://alice:<redacted>@127.0.0.1:5420/team/app",
            ),
            ("https://alice:p:w@h", "https://alice:<redacted>@h"),
            ("https://alice:p@ss@h/x", "https://alice:<redacted>@h/x"),
            (
                "alice:PW@registry.example",
                "alice:<redacted>@registry.example",
            ),
            ("https://ghp_token@h/x", "https://<redacted>@h/x"),
            (
                "alice:topsecret@https://host",
                "alice:<redacted>@https://host",
            ),
            ("a@b://c@d/e", "<redacted>@b://<redacted>@d/e"),
            ("ht tps://u:secretpw@o st/x", "ht tps://u:<redacted>@o st/x"),
            ("//u:secretpw@h", "//u:<redacted>@h"),
            ("https://h/x@y:z", "https://h/x@y:z"),
            ("team/app@sha256:abc", "team/app@sha256:abc"),
            ("h:5000/app:v1@sha256:abc", "h:5000/app:v1@sha256:abc"),
            ("alpine@sha256:abc", "alpine@sha256:abc"),
            ("http:u:p@s:s:@sha512:s", "http:<redacted>@sha512:s"),
            ("", ""),
            (
                "from http://a:1@h/x to https://b:2@k/y",
                "from http://a:<redacted>@h/x to https://b:<redacted>@k/y",
            ),
            ("\"http://a:s3cret@h\"", "\"http://a:<redacted>@h\""),
            (
                "http://a:pass word\twith tabs@h/x",
                "http://a:<redacted>@h/x",
            ),
            ("http://é:ü@h", "http://é:<redacted>@h"),
        ] {
            assert_eq!(userinfo(input), expected, "{input:?}");
        }
    }

    #[test]
    fn never_panics_on_odd_text() {
        for s in [
            "://",
            "@",
            ":@",
            "a://:@",
            "://a:b@",
            "x://y://z:w@q",
            "é://ü:ö@ä",
            ":::@@@",
        ] {
            let r = userinfo(s);
            assert!(!r.contains(":w@") && !r.contains(":ö@"), "{s:?} -> {r:?}");
        }
        // Linear: a long run of '@' or ':' is fast.
        let long = "@:".repeat(200_000);
        assert!(userinfo(&long).len() <= long.len() + 10);
    }
}
