//! The spellings of the first `ocireg` CLI (`ocireg login REG`, `ocireg tags REF`,
//! `ocireg push LAYOUT REF`, …), kept working as hidden aliases: the command line is rewritten
//! into the grouped form before clap sees it, so neither `--help` nor the completions show them.

use std::ffi::OsString;

/// Global options that take a value (their value is never a command name).
const VALUE_OPTIONS: &[&str] = &[
    "-u",
    "--username",
    "-p",
    "--password",
    "--ca-cert",
    "--docker-config",
    "--timeout",
    "-r",
    "--registry",
    "-i",
    "--image-ref",
    "--platform",
    "-o",
    "--output",
];

fn takes_value(arg: &str) -> bool {
    VALUE_OPTIONS.contains(&arg)
}

/// Rewrites an old spelling into the grouped one; any other command line is returned as is.
///
/// | old                              | new                                  |
/// |----------------------------------|--------------------------------------|
/// | `login REG`                      | `auth login -r REG`                  |
/// | `logout REG`                     | `auth logout -r REG`                 |
/// | `auth-status REG`                | `auth status -r REG`                 |
/// | `ping REG`                       | `ping -r REG`                        |
/// | `tags REPO`                      | `tag list -i REPO`                   |
/// | `catalog REG`                    | `catalog list -r REG`                |
/// | `search REG PATTERN`             | `catalog search PATTERN -r REG`      |
/// | `manifest REF`                   | `manifest get -i REF`                |
/// | `digest REF`                     | `manifest digest -i REF`             |
/// | `push LAYOUT REF`                | `image push LAYOUT -i REF`           |
/// | `pull REF DIR`                   | `image pull -i REF DIR`              |
/// | `verify REF LAYOUT`              | `image verify -i REF LAYOUT`         |
pub fn rewrite(args: Vec<OsString>) -> Vec<OsString> {
    let Some(s) = args
        .iter()
        .map(|a| a.to_str().map(str::to_string))
        .collect::<Option<Vec<String>>>()
    else {
        return args;
    };
    // The command: the first argument that is neither an option nor an option's value.
    let mut i = 1;
    while i < s.len() {
        let a = &s[i];
        if a == "--" {
            return args;
        }
        if a.starts_with('-') && a.len() > 1 {
            i += if takes_value(a) { 2 } else { 1 };
            continue;
        }
        break;
    }
    if i >= s.len() {
        return args;
    }
    let cmd = s[i].as_str();
    // The positionals after it, and everything else (options, with their values) in order.
    let mut positionals = Vec::new();
    let mut others = Vec::new();
    let mut j = i + 1;
    while j < s.len() {
        let a = &s[j];
        if a == "--" {
            others.extend(s[j..].iter().cloned());
            break;
        }
        if a.starts_with('-') && a.len() > 1 {
            others.push(a.clone());
            if takes_value(a) && j + 1 < s.len() {
                others.push(s[j + 1].clone());
                j += 1;
            }
        } else {
            positionals.push(a.clone());
        }
        j += 1;
    }
    let p = |n: usize| positionals.get(n).cloned();
    let first = p(0);
    let is_sub = |subs: &[&str]| first.as_deref().is_none_or(|f| subs.contains(&f));
    let opt = |flag: &str, v: Option<String>| match v {
        Some(v) => vec![flag.to_string(), v],
        None => Vec::new(),
    };
    let (head, used): (Vec<String>, usize) = match cmd {
        "login" | "logout" | "auth-status" => {
            let sub = match cmd {
                "login" => "login",
                "logout" => "logout",
                _ => "status",
            };
            let mut h = vec!["auth".into(), sub.into()];
            h.extend(opt("-r", p(0)));
            (h, 1)
        }
        "ping" if first.is_some() => (vec!["ping".into(), "-r".into(), p(0).unwrap()], 1),
        "tags" => {
            let mut h = vec!["tag".into(), "list".into()];
            h.extend(opt("-i", p(0)));
            (h, 1)
        }
        "catalog" if !is_sub(&["list", "search", "help"]) => (
            vec!["catalog".into(), "list".into(), "-r".into(), p(0).unwrap()],
            1,
        ),
        "search" => {
            let mut h = vec!["catalog".into(), "search".into()];
            h.extend(p(1));
            h.extend(opt("-r", p(0)));
            (h, 2)
        }
        "manifest" if !is_sub(&["get", "info", "digest", "put", "delete", "help"]) => (
            vec!["manifest".into(), "get".into(), "-i".into(), p(0).unwrap()],
            1,
        ),
        "digest" => {
            let mut h = vec!["manifest".into(), "digest".into()];
            h.extend(opt("-i", p(0)));
            (h, 1)
        }
        "push" => {
            let mut h = vec!["image".into(), "push".into()];
            h.extend(p(0));
            h.extend(opt("-i", p(1)));
            (h, 2)
        }
        "pull" | "verify" => {
            let mut h = vec!["image".into(), cmd.into()];
            h.extend(opt("-i", p(0)));
            h.extend(p(1));
            (h, 2)
        }
        _ => return args,
    };
    let mut out: Vec<OsString> = s[..i].iter().map(OsString::from).collect();
    out.extend(head.into_iter().map(OsString::from));
    out.extend(others.into_iter().map(OsString::from));
    out.extend(positionals.into_iter().skip(used).map(OsString::from));
    out
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    fn rw(s: &str) -> String {
        let args = s.split(' ').map(Into::into).collect();
        rewrite(args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn old_spellings_become_groups() {
        assert_eq!(
            rw("ocireg --docker-config c login h:5 -u a -p b"),
            "ocireg --docker-config c auth login -r h:5 -u a -p b"
        );
        assert_eq!(
            rw("ocireg -u a -p b tags h/r"),
            "ocireg -u a -p b tag list -i h/r"
        );
        assert_eq!(rw("ocireg search h x/"), "ocireg catalog search x/ -r h");
        assert_eq!(rw("ocireg push L h/r:v"), "ocireg image push L -i h/r:v");
        assert_eq!(rw("ocireg pull h/r:v D"), "ocireg image pull -i h/r:v D");
        assert_eq!(rw("ocireg catalog h"), "ocireg catalog list -r h");
        assert_eq!(rw("ocireg manifest h/r:v"), "ocireg manifest get -i h/r:v");
        assert_eq!(rw("ocireg tags"), "ocireg tag list");
        // The grouped spellings are left alone.
        assert_eq!(rw("ocireg catalog list -r h"), "ocireg catalog list -r h");
        assert_eq!(
            rw("ocireg manifest get -i h/r"),
            "ocireg manifest get -i h/r"
        );
        assert_eq!(rw("ocireg ping -r h"), "ocireg ping -r h");
        assert_eq!(rw("ocireg tag list -i h/r"), "ocireg tag list -i h/r");
    }
}
