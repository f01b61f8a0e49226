//! The `ocireg` CLI in regshape's command groups, run as a user runs it (a child process)
//! against the in-memory registry: the seed's `auth` messages and exit codes word for word,
//! the prompt through a pseudo-terminal, `--json` on every command, telemetry on stderr with no
//! secret, progress bars on a terminal only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ocireg::testing::{AuthMode, BearerPolicy, Registry};
use ocireg::{Client, Credentials, ImageBuilder, PullOptions, PushOptions, media_types};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ocireg");

/// A scratch directory, also the HOME of the commands (no stored credentials leak in).
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Scratch {
        let d =
            std::env::temp_dir().join(format!("ocireg-cli-groups-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn config(&self) -> String {
        self.path("docker/config.json")
            .to_str()
            .unwrap()
            .to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn command(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"));
    c
}

fn run(home: &Path, args: &[&str]) -> Output {
    command(home, args)
        .stdin(Stdio::null())
        .output()
        .expect("run ocireg")
}

fn run_stdin(home: &Path, args: &[&str], input: &str) -> Output {
    let mut child = command(home, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ocireg");
    // The program may exit before it reads (a usage error): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn both(o: &Output) -> String {
    format!("stdout: {}\nstderr: {}", out(o), err(o))
}

/// stdout is exactly one JSON document.
fn doc(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", both(o)))
}

fn ok_json(o: &Output) -> Value {
    assert_eq!(o.status.code(), Some(0), "{}", both(o));
    let d = doc(o);
    assert_eq!(d["status"], "success", "{d}");
    d
}

fn err_json(o: &Output, code: i32, kind: &str) -> Value {
    assert_eq!(o.status.code(), Some(code), "{}", both(o));
    let d = doc(o);
    assert_eq!(d["status"], "error", "{d}");
    assert_eq!(d["kind"], kind, "{d}");
    assert!(d["message"].as_str().is_some_and(|m| !m.is_empty()), "{d}");
    assert!(d.get("http_status").is_some(), "{d}");
    assert!(d["registry_errors"].is_array(), "{d}");
    d
}

/// Runs a command on a pseudo-terminal (python3's pty module): each `(expect, send)` step
/// waits for `expect` in the output, then types `send`. Returns the exit code and everything
/// the terminal showed.
fn on_pty(home: &Path, args: &[&str], steps: &[(&str, &str)]) -> (i32, String) {
    const DRIVER: &str = r#"
import json, os, pty, select, sys, time
steps = json.loads(os.environ["PTY_STEPS"])
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
def more(deadline):
    global out
    r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
    if not r:
        return False
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        return None
    if not chunk:
        return None
    out += chunk
    return True
for expect, send in steps:
    deadline = time.time() + 30
    while expect.encode() not in out:
        if not more(deadline):
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            sys.stdout.buffer.write(out)
            sys.exit("pty driver: no %r on the terminal" % expect)
    time.sleep(0.3)  # the program turns echo off after printing its prompt
    os.write(fd, send.encode())
deadline = time.time() + 120
while True:
    r = more(deadline)
    if r is None:
        break
    if r is False:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        sys.stdout.buffer.write(out)
        sys.exit("pty driver: the program did not finish (waiting for input?)")
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let steps: Vec<[&str; 2]> = steps.iter().map(|(a, b)| [*a, *b]).collect();
    let o = Command::new("python3")
        .arg("-c")
        .arg(DRIVER)
        .arg(BIN)
        .args(args)
        .env("PTY_STEPS", serde_json::to_string(&steps).unwrap())
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env("HOME", home)
        .env("TERM", "xterm")
        .env("COLUMNS", "160")
        .stdin(Stdio::null())
        .output()
        .expect("python3 (the pseudo-terminal driver) runs");
    (
        o.status.code().unwrap_or(-1),
        format!("{}{}", out(&o), err(&o)),
    )
}

fn bearer(user: &str, password: &str) -> Registry {
    Registry::builder()
        .auth(AuthMode::Bearer(BearerPolicy::full_access(&[(
            user, password,
        )])))
        .start()
        .unwrap()
}

/// An OCI layout of a one-layer linux/amd64 image of `layer_size` bytes, made by pushing with
/// the library and pulling into `dir`.
fn layout(
    reg: &Registry,
    creds: Option<(&str, &str)>,
    dir: &Path,
    layer_size: usize,
) -> ocireg::Digest {
    let mut b = Client::builder(&reg.url());
    if let Some((u, p)) = creds {
        b = b.credentials(Credentials::basic(u, p));
    }
    let c = b.build().unwrap();
    let mut layer = Vec::with_capacity(layer_size);
    let mut x: u32 = 12345;
    while layer.len() < layer_size {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        layer.push((x >> 16) as u8);
    }
    let image = ImageBuilder::new()
        .config(
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
                .to_vec(),
        )
        .layer_bytes(layer, media_types::OCI_LAYER_GZIP)
        .build()
        .unwrap();
    c.push_image("seed/layout", "v1", &image, &PushOptions::default())
        .unwrap();
    c.pull_image("seed/layout", "v1", dir, &PullOptions::default())
        .unwrap();
    image.digest().clone()
}

// ------------------------------------------------------------------------------------ auth

#[test]
fn auth_login_logout_status_say_the_seeds_words() {
    let reg = bearer("alice", "s3cr3t-login");
    let host = reg.host();
    let s = Scratch::new("auth");
    let cfg = s.config();
    let home = &s.0;

    // Wrong credentials: the seed's message, exit 1, nothing stored.
    let wrong = run(
        home,
        &[
            "auth",
            "login",
            "-r",
            &host,
            "-u",
            "alice",
            "-p",
            "nope",
            "--docker-config",
            &cfg,
        ],
    );
    assert_eq!(wrong.status.code(), Some(1), "{}", both(&wrong));
    assert!(
        err(&wrong).starts_with(&format!(
            "Error: Login failed for {host}: authentication rejected"
        )),
        "{}",
        both(&wrong)
    );
    assert_eq!(out(&wrong), "");
    assert!(!both(&wrong).contains("nope"));
    assert!(
        !Path::new(&cfg).exists(),
        "nothing stored after a failed login"
    );

    // The same under --json: an error object on stdout, same exit code.
    let wrong = run(
        home,
        &[
            "--json",
            "auth",
            "login",
            "-r",
            &host,
            "-u",
            "alice",
            "-p",
            "nope",
            "--docker-config",
            &cfg,
        ],
    );
    let d = err_json(&wrong, 1, "authentication");
    assert_eq!(d["http_status"], 401, "{d}");
    assert_eq!(d["registry"], host.as_str());
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Login failed for {host}: "))
    );
    assert_eq!(d["registry_errors"][0]["code"], "UNAUTHORIZED", "{d}");
    assert!(!both(&wrong).contains("nope"));

    // Unreachable: still "Login failed", exit 1.
    let gone = run(
        home,
        &[
            "auth",
            "login",
            "-r",
            "127.0.0.1:1",
            "-u",
            "alice",
            "-p",
            "x",
            "--docker-config",
            &cfg,
        ],
    );
    assert_eq!(gone.status.code(), Some(1), "{}", both(&gone));
    assert!(
        err(&gone).starts_with("Error: Login failed for 127.0.0.1:1: "),
        "{}",
        both(&gone)
    );

    // Right credentials: exactly "Login succeeded.", stored in the config file.
    let ok = run(
        home,
        &[
            "auth",
            "login",
            "-r",
            &host,
            "-u",
            "alice",
            "-p",
            "s3cr3t-login",
            "--docker-config",
            &cfg,
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", both(&ok));
    assert_eq!(out(&ok), "Login succeeded.\n");
    assert!(!both(&ok).contains("s3cr3t-login"));
    let stored = std::fs::read_to_string(&cfg).unwrap();
    assert!(stored.contains(&host), "{stored}");

    let ok = run(
        home,
        &[
            "--json",
            "auth",
            "login",
            "-r",
            &host,
            "-u",
            "alice",
            "-p",
            "s3cr3t-login",
            "--docker-config",
            &cfg,
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", both(&ok));
    assert_eq!(
        doc(&ok),
        serde_json::json!({"status": "success", "registry": host})
    );

    // Where the credentials come from (the seed's open question).
    let st = run(
        home,
        &["auth", "status", "-r", &host, "--docker-config", &cfg],
    );
    assert_eq!(st.status.code(), Some(0), "{}", both(&st));
    assert!(out(&st).contains("config file"), "{}", both(&st));
    let st = ok_json(&run(
        home,
        &[
            "--json",
            "auth",
            "status",
            "-r",
            &host,
            "--docker-config",
            &cfg,
        ],
    ));
    assert_eq!(st["source"], "config_file");
    assert_eq!(st["path"], cfg.as_str());
    let st = ok_json(&run(
        home,
        &[
            "--json",
            "auth",
            "status",
            "-r",
            &host,
            "-u",
            "bob",
            "-p",
            "x",
            "--docker-config",
            &cfg,
        ],
    ));
    assert_eq!(st["source"], "flags");

    // The stored credentials are used by the other commands.
    let tags = run(
        home,
        &[
            "tag",
            "list",
            "-i",
            &format!("{host}/none/here"),
            "--docker-config",
            &cfg,
        ],
    );
    assert_eq!(tags.status.code(), Some(1), "{}", both(&tags));
    assert!(err(&tags).contains("not found"), "{}", both(&tags));

    // Logout: the seed's two messages, both exit 0.
    let lo = run(
        home,
        &["auth", "logout", "-r", &host, "--docker-config", &cfg],
    );
    assert_eq!(lo.status.code(), Some(0), "{}", both(&lo));
    assert_eq!(
        out(&lo),
        format!("Removing login credentials for {host}.\n")
    );
    let lo = run(
        home,
        &["auth", "logout", "-r", &host, "--docker-config", &cfg],
    );
    assert_eq!(lo.status.code(), Some(0), "{}", both(&lo));
    assert_eq!(out(&lo), format!("Not logged in to {host}.\n"));
    let lo = run(
        home,
        &[
            "--json",
            "auth",
            "logout",
            "-r",
            &host,
            "--docker-config",
            &cfg,
        ],
    );
    assert_eq!(lo.status.code(), Some(0), "{}", both(&lo));
    assert_eq!(
        doc(&lo),
        serde_json::json!({"status": "success", "registry": host})
    );
    let st = ok_json(&run(
        home,
        &[
            "--json",
            "auth",
            "status",
            "-r",
            &host,
            "--docker-config",
            &cfg,
        ],
    ));
    assert_eq!(st["source"], "anonymous");
}

#[cfg(unix)]
fn helper_script(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(unix)]
#[test]
fn login_stores_through_the_credential_helper_and_says_when_it_cannot() {
    let reg = bearer("alice", "s3cr3t-helper");
    let host = reg.host();
    let s = Scratch::new("helper");
    let bin = s.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let store = s.path("store.json");
    // A working helper keeping one credential in a file.
    helper_script(
        &bin,
        "file",
        &format!(
            r#"case "$1" in
store) cat > "{0}" ;;
get) if [ -f "{0}" ]; then cat "{0}"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) rm -f "{0}" ;;
list) echo "{{}}" ;;
esac"#,
            store.display()
        ),
    );
    // A helper whose store fails.
    helper_script(
        &bin,
        "broken",
        r#"echo "the keychain is locked" >&2; echo "the keychain is locked"; exit 1"#,
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let cfg = s.config();
    std::fs::create_dir_all(s.path("docker")).unwrap();
    let run_with = |args: &[&str]| {
        command(&s.0, args)
            .env("PATH", &path)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };

    std::fs::write(&cfg, format!(r#"{{"credHelpers": {{"{host}": "file"}}}}"#)).unwrap();
    let ok = run_with(&[
        "auth",
        "login",
        "-r",
        &host,
        "-u",
        "alice",
        "-p",
        "s3cr3t-helper",
        "--docker-config",
        &cfg,
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", both(&ok));
    assert_eq!(out(&ok), "Login succeeded.\n");
    assert!(std::fs::read_to_string(&store).unwrap().contains("alice"));
    assert!(
        !std::fs::read_to_string(&cfg).unwrap().contains("auth\""),
        "nothing in auths"
    );
    let st = run_with(&["auth", "status", "-r", &host, "--docker-config", &cfg]);
    assert!(
        out(&st).contains("credential helper docker-credential-file"),
        "{}",
        both(&st)
    );
    let lo = run_with(&["auth", "logout", "-r", &host, "--docker-config", &cfg]);
    assert_eq!(
        out(&lo),
        format!("Removing login credentials for {host}.\n"),
        "{}",
        both(&lo)
    );
    assert!(!store.exists());

    std::fs::write(
        &cfg,
        format!(r#"{{"credHelpers": {{"{host}": "broken"}}}}"#),
    )
    .unwrap();
    let bad = run_with(&[
        "auth",
        "login",
        "-r",
        &host,
        "-u",
        "alice",
        "-p",
        "s3cr3t-helper",
        "--docker-config",
        &cfg,
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", both(&bad));
    assert!(
        err(&bad).starts_with("Error: Could not store credentials: "),
        "{}",
        both(&bad)
    );
    assert!(!both(&bad).contains("s3cr3t-helper"));
    let bad = run_with(&[
        "--json",
        "auth",
        "login",
        "-r",
        &host,
        "-u",
        "alice",
        "-p",
        "s3cr3t-helper",
        "--docker-config",
        &cfg,
    ]);
    let d = err_json(&bad, 1, "credentials");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .starts_with("Could not store credentials: "),
        "{d}"
    );
}

#[test]
fn password_stdin_and_the_usage_errors_of_login() {
    let reg = bearer("alice", "s3cr3t-stdin");
    let host = reg.host();
    let s = Scratch::new("stdin");
    let cfg = s.config();
    let home = &s.0;

    let ok = run_stdin(
        home,
        &[
            "auth",
            "login",
            "-r",
            &host,
            "-u",
            "alice",
            "--password-stdin",
            "--docker-config",
            &cfg,
        ],
        "s3cr3t-stdin\n",
    );
    assert_eq!(ok.status.code(), Some(0), "{}", both(&ok));
    assert_eq!(out(&ok), "Login succeeded.\n");

    // -p with --password-stdin is a usage error, before anything happens.
    let both_given = run_stdin(
        home,
        &[
            "auth",
            "login",
            "-r",
            &host,
            "-u",
            "alice",
            "-p",
            "x",
            "--password-stdin",
            "--docker-config",
            &cfg,
        ],
        "y\n",
    );
    assert_eq!(both_given.status.code(), Some(2), "{}", both(&both_given));
    assert!(
        err(&both_given).contains("cannot be used with"),
        "{}",
        both(&both_given)
    );
    let j = run_stdin(
        home,
        &[
            "--json",
            "auth",
            "login",
            "-r",
            &host,
            "-u",
            "alice",
            "-p",
            "x",
            "--password-stdin",
        ],
        "y\n",
    );
    err_json(&j, 2, "usage");

    // Nothing to prompt on: a clear error, exit 2.
    let no_tty = run(
        home,
        &[
            "auth",
            "login",
            "-r",
            &host,
            "-u",
            "alice",
            "--docker-config",
            &cfg,
        ],
    );
    assert_eq!(no_tty.status.code(), Some(2), "{}", both(&no_tty));
    assert!(
        err(&no_tty).contains("no terminal to prompt for the password"),
        "{}",
        both(&no_tty)
    );
    let no_tty = run(
        home,
        &["auth", "login", "-r", &host, "--docker-config", &cfg],
    );
    assert_eq!(no_tty.status.code(), Some(2), "{}", both(&no_tty));
    assert!(
        err(&no_tty).contains("no terminal to prompt for the user name"),
        "{}",
        both(&no_tty)
    );

    // -r is required.
    let no_r = run(home, &["auth", "login", "-u", "alice", "-p", "x"]);
    assert_eq!(no_r.status.code(), Some(2), "{}", both(&no_r));
    assert!(err(&no_r).contains("--registry"), "{}", both(&no_r));
}

#[test]
fn the_prompt_on_a_terminal_hides_the_password() {
    let reg = bearer("alice", "s3cr3t-pty");
    let host = reg.host();
    let s = Scratch::new("pty");
    let cfg = s.config();
    let (code, screen) = on_pty(
        &s.0,
        &["auth", "login", "-r", &host, "--docker-config", &cfg],
        &[("Username: ", "alice\n"), ("Password: ", "s3cr3t-pty\n")],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Login succeeded."), "{screen}");
    assert!(
        !screen.contains("s3cr3t-pty"),
        "the password was echoed: {screen}"
    );
    assert!(
        screen.contains("alice"),
        "the user name is echoed: {screen}"
    );
    assert!(std::fs::read_to_string(&cfg).unwrap().contains(&host));

    // -u given: only the password is asked; a wrong one is the seed's failure.
    let (code, screen) = on_pty(
        &s.0,
        &[
            "auth",
            "login",
            "-r",
            &host,
            "-u",
            "alice",
            "--docker-config",
            &cfg,
        ],
        &[("Password: ", "wrong-pty\n")],
    );
    assert_eq!(code, 1, "{screen}");
    assert!(!screen.contains("Username:"), "{screen}");
    assert!(
        screen.contains(&format!(
            "Error: Login failed for {host}: authentication rejected"
        )),
        "{screen}"
    );
    assert!(!screen.contains("wrong-pty"), "{screen}");

    // Any command with -u and no password prompts, once, even for two registries (a copy).
    let other = bearer("alice", "s3cr3t-pty");
    let lay = s.path("layout");
    layout(&reg, Some(("alice", "s3cr3t-pty")), &lay, 1000);
    let (code, screen) = on_pty(
        &s.0,
        &[
            "-q",
            "-u",
            "alice",
            "image",
            "copy",
            "-i",
            &format!("{host}/seed/layout:v1"),
            &format!("{}/copied/app:v1", other.host()),
        ],
        &[("Password: ", "s3cr3t-pty\n")],
    );
    assert_eq!(code, 0, "{screen}");
    assert_eq!(screen.matches("Password: ").count(), 1, "{screen}");
    assert!(screen.contains("Copied"), "{screen}");
    assert!(!screen.contains("s3cr3t-pty"), "{screen}");
}

// ------------------------------------------------------------------------------- conventions

#[test]
fn help_on_every_command_goes_to_stdout_with_exit_0() {
    let s = Scratch::new("help");
    let paths: &[&[&str]] = &[
        &[],
        &["auth"],
        &["auth", "login"],
        &["auth", "logout"],
        &["auth", "status"],
        &["ping"],
        &["tag"],
        &["tag", "list"],
        &["tag", "delete"],
        &["catalog"],
        &["catalog", "list"],
        &["catalog", "search"],
        &["manifest"],
        &["manifest", "get"],
        &["manifest", "info"],
        &["manifest", "digest"],
        &["manifest", "put"],
        &["manifest", "delete"],
        &["blob"],
        &["blob", "head"],
        &["blob", "get"],
        &["blob", "upload"],
        &["blob", "mount"],
        &["blob", "delete"],
        &["image"],
        &["image", "push"],
        &["image", "verify"],
        &["image", "pull"],
        &["image", "copy"],
        &["image", "tag"],
        &["serve"],
        &["completion"],
    ];
    for path in paths {
        for flag in ["-h", "--help"] {
            let mut args = path.to_vec();
            args.push(flag);
            let o = run(&s.0, &args);
            assert_eq!(o.status.code(), Some(0), "{args:?}: {}", both(&o));
            assert!(out(&o).contains("Usage: ocireg"), "{args:?}: {}", both(&o));
            assert!(out(&o).contains("Exit codes"), "{args:?}: {}", both(&o));
            assert_eq!(err(&o), "", "{args:?}");
        }
    }
    let top = run(&s.0, &["--help"]);
    for line in [
        "Exit codes:",
        "0  success",
        "1  failure",
        "2  usage error",
        "3  not supported",
    ] {
        assert!(out(&top).contains(line), "{line}: {}", out(&top));
    }
    // The old spellings stay hidden.
    assert!(!out(&top).contains("auth-status"));
    let v = run(&s.0, &["--version"]);
    assert_eq!(v.status.code(), Some(0));
    assert_eq!(out(&v), format!("ocireg {}\n", env!("CARGO_PKG_VERSION")));
    // No command: the help on stderr, a usage error.
    let none = run(&s.0, &[]);
    assert_eq!(none.status.code(), Some(2));
    assert!(err(&none).contains("Usage: ocireg"));
}

#[test]
fn completion_scripts_for_bash_zsh_and_fish() {
    let s = Scratch::new("completion");
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef ocireg"),
        ("fish", "complete -c ocireg"),
    ] {
        let o = run(&s.0, &["completion", shell]);
        assert_eq!(o.status.code(), Some(0), "{}", both(&o));
        assert!(out(&o).contains(marker), "{shell}: {}", out(&o));
        assert!(out(&o).contains("image"), "{shell}");
        let d = ok_json(&run(&s.0, &["--json", "completion", shell]));
        assert!(d["script"].as_str().unwrap().contains(marker));
    }
    let bad = run(&s.0, &["completion", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}

// ---------------------------------------------------------------------- every command, --json

#[test]
fn every_command_in_plain_text_and_in_json() {
    let reg = Registry::start().unwrap();
    let other = Registry::start().unwrap();
    let host = reg.host();
    let s = Scratch::new("json");
    let home = &s.0;
    let lay = s.path("layout");
    let digest = layout(&reg, None, &lay, 4096);
    let lay = lay.to_str().unwrap();
    let app = format!("{host}/team/app");
    let r = |args: &[&str]| run(home, args);
    let j = |args: &[&str]| {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        run(home, &a)
    };

    // ping
    assert_eq!(
        out(&r(&["ping", "-r", &host])),
        format!("{host} speaks the registry API v2.\n")
    );
    assert_eq!(
        ok_json(&j(&["ping", "-r", &host]))["registry"],
        host.as_str()
    );

    // image push (verified), and --no-verify
    let push = r(&["image", "push", lay, "-i", &format!("{app}:v1")]);
    assert_eq!(push.status.code(), Some(0), "{}", both(&push));
    assert!(
        out(&push).contains(&format!("Pushed team/app:v1 {digest}")),
        "{}",
        both(&push)
    );
    assert!(out(&push).contains("Verified"), "{}", both(&push));
    let d = ok_json(&j(&["image", "push", lay, "-i", &format!("{app}:v2")]));
    assert_eq!(d["pushed"]["digest"], digest.to_string());
    assert_eq!(d["verify"]["outcome"], "verified");
    let d = ok_json(&j(&[
        "image",
        "push",
        "--no-verify",
        lay,
        "-i",
        &format!("{app}:v3"),
    ]));
    assert!(d.get("verify").is_none(), "{d}");
    // A re-push of what the tag already holds: a HEAD by tag and one by digest (at once, one
    // round trip), nothing sent, no blob checks.
    let before = reg.request_count();
    let again = r(&["image", "push", lay, "-i", &format!("{app}:v1")]);
    assert_eq!(again.status.code(), Some(0), "{}", both(&again));
    assert!(
        out(&again).starts_with(&format!(
            "Already there: the registry holds team/app:v1 as {digest}"
        )),
        "{}",
        both(&again)
    );
    assert_eq!(
        reg.request_count() - before,
        2,
        "a re-push is a HEAD by tag and one by digest"
    );
    let d = ok_json(&j(&["image", "push", lay, "-i", &format!("{app}:v1")]));
    assert_eq!(d["verify"]["outcome"], "already_present", "{d}");

    // image verify
    let v = r(&["image", "verify", "-i", &format!("{app}:v1"), lay]);
    assert_eq!(v.status.code(), Some(0), "{}", both(&v));
    assert!(out(&v).contains("Verified:"), "{}", both(&v));
    assert_eq!(
        ok_json(&j(&["image", "verify", "-i", &format!("{app}:v1"), lay]))["outcome"],
        "verified"
    );

    // tag list: all, one page, with digests
    assert_eq!(out(&r(&["tag", "list", "-i", &app])), "v1\nv2\nv3\n");
    assert_eq!(
        ok_json(&j(&["tag", "list", "-i", &app]))["tags"],
        serde_json::json!(["v1", "v2", "v3"])
    );
    let page = ok_json(&j(&["tag", "list", "-i", &app, "--n", "2"]));
    assert_eq!(page["tags"], serde_json::json!(["v1", "v2"]));
    assert_eq!(page["next"], "v2");
    let page = ok_json(&j(&["tag", "list", "-i", &app, "--last", "v2"]));
    assert_eq!(page["tags"], serde_json::json!(["v3"]));
    let with = ok_json(&j(&["tag", "list", "-i", &app, "--digests"]));
    assert_eq!(with["tags"][0]["digest"], digest.to_string());
    assert!(out(&r(&["tag", "list", "-i", &app, "--digests"])).contains(&format!("v1\t{digest}")));

    // catalog list / search
    assert_eq!(
        out(&r(&["catalog", "list", "-r", &host])),
        "seed/layout\nteam/app\n"
    );
    assert_eq!(
        ok_json(&j(&["catalog", "list", "-r", &host]))["repositories"],
        serde_json::json!(["seed/layout", "team/app"])
    );
    assert_eq!(
        ok_json(&j(&["catalog", "list", "-r", &host, "--n", "1"]))["repositories"],
        serde_json::json!(["seed/layout"])
    );
    assert_eq!(
        out(&r(&["catalog", "search", "team/", "-r", &host])),
        "team/app\n"
    );
    assert_eq!(
        ok_json(&j(&["catalog", "search", "nothing", "-r", &host]))["repositories"],
        serde_json::json!([])
    );

    // manifest get / info / digest (by HEAD) / put / delete
    let m = r(&["manifest", "get", "-i", &format!("{app}:v1")]);
    assert_eq!(m.status.code(), Some(0));
    let bytes = &m.stdout[..m.stdout.len() - 1];
    assert_eq!(ocireg::Digest::sha256_of(bytes), digest);
    let d = ok_json(&j(&["manifest", "get", "-i", &format!("{app}:v1")]));
    assert_eq!(d["digest"], digest.to_string());
    assert_eq!(d["manifest"]["schemaVersion"], 2);
    let info = r(&["manifest", "info", "-i", &format!("{app}:v1")]);
    assert!(out(&info).contains("layers:     1"), "{}", both(&info));
    let info = ok_json(&j(&["manifest", "info", "-i", &format!("{app}:v1")]));
    assert_eq!(info["layers"].as_array().unwrap().len(), 1);
    assert_eq!(info["layers"][0]["size"], 4096);
    reg.clear_requests();
    assert_eq!(
        out(&r(&["manifest", "digest", "-i", &format!("{app}:v1")])),
        format!("{digest}\n")
    );
    let methods: Vec<String> = reg
        .requests()
        .iter()
        .filter(|q| q.path.contains("/manifests/"))
        .map(|q| q.method.clone())
        .collect();
    assert_eq!(methods, ["HEAD"], "digest is a HEAD, never a GET");
    assert_eq!(
        ok_json(&j(&["manifest", "digest", "-i", &format!("{app}:v1")]))["digest"],
        digest.to_string()
    );
    // --platform: a plain manifest answers its own digest for its platform, else not_found.
    assert_eq!(
        ok_json(&j(&[
            "manifest",
            "digest",
            "-i",
            &format!("{app}:v1"),
            "--platform",
            "linux/amd64"
        ]))["digest"],
        digest.to_string()
    );
    err_json(
        &j(&[
            "manifest",
            "digest",
            "-i",
            &format!("{app}:v1"),
            "--platform",
            "linux/s390x",
        ]),
        1,
        "not_found",
    );
    err_json(
        &j(&[
            "manifest",
            "digest",
            "-i",
            &format!("{app}:v1"),
            "--platform",
            "linux",
        ]),
        2,
        "usage",
    );
    let file = s.path("manifest.json");
    std::fs::write(&file, bytes).unwrap();
    let put = r(&[
        "manifest",
        "put",
        "-i",
        &format!("{app}:put1"),
        file.to_str().unwrap(),
    ]);
    assert_eq!(put.status.code(), Some(0), "{}", both(&put));
    let d = ok_json(&j(&[
        "manifest",
        "put",
        "-i",
        &format!("{app}:put2"),
        file.to_str().unwrap(),
    ]));
    assert_eq!(d["digest"], digest.to_string());
    let d = ok_json(&run_stdin(
        home,
        &["--json", "manifest", "put", "-i", &format!("{app}:put3")],
        &String::from_utf8_lossy(bytes),
    ));
    assert_eq!(d["digest"], digest.to_string());

    // blob head / get / upload / mount / delete
    let layer = info["layers"][0]["digest"].as_str().unwrap().to_string();
    let blob_ref = format!("{app}@{layer}");
    assert_eq!(
        out(&r(&["blob", "head", "-i", &blob_ref])),
        format!("{layer} 4096 bytes\n")
    );
    assert_eq!(
        ok_json(&j(&["blob", "head", "-i", &blob_ref]))["size"],
        4096
    );
    let missing = format!("{app}@sha256:{}", "0".repeat(64));
    err_json(&j(&["blob", "head", "-i", &missing]), 1, "not_found");
    let raw = r(&["blob", "get", "-i", &blob_ref]);
    assert_eq!(raw.stdout.len(), 4096);
    let to = s.path("blob.bin");
    let d = ok_json(&j(&[
        "blob",
        "get",
        "-i",
        &blob_ref,
        "-o",
        to.to_str().unwrap(),
    ]));
    assert_eq!(d["size"], 4096);
    assert_eq!(std::fs::read(&to).unwrap(), raw.stdout);
    err_json(&j(&["blob", "get", "-i", &blob_ref]), 2, "usage");
    err_json(&j(&["blob", "get", "-i", &app]), 2, "usage");
    let up = s.path("up.bin");
    std::fs::write(&up, b"a blob from the command line").unwrap();
    let up_digest = ocireg::Digest::sha256_of(b"a blob from the command line").to_string();
    let d = ok_json(&j(&[
        "blob",
        "upload",
        "-i",
        &format!("{host}/team/blobs"),
        up.to_str().unwrap(),
    ]));
    assert_eq!(d["digest"], up_digest.as_str());
    assert_eq!(d["blob_status"], "uploaded");
    let again = r(&[
        "blob",
        "upload",
        "-i",
        &format!("{host}/team/blobs"),
        up.to_str().unwrap(),
    ]);
    assert!(
        out(&again).starts_with("Existed team/blobs@"),
        "{}",
        both(&again)
    );
    let d = ok_json(&j(&[
        "blob",
        "mount",
        "-i",
        &format!("{host}/team/mounted@{up_digest}"),
        "--from",
        "team/blobs",
    ]));
    assert_eq!(d["mounted"], true);
    assert!(
        ok_json(&j(&[
            "blob",
            "head",
            "-i",
            &format!("{host}/team/mounted@{up_digest}")
        ]))["exists"]
            == true
    );
    ok_json(&j(&[
        "blob",
        "delete",
        "-i",
        &format!("{host}/team/mounted@{up_digest}"),
    ]));
    err_json(
        &j(&[
            "blob",
            "head",
            "-i",
            &format!("{host}/team/mounted@{up_digest}"),
        ]),
        1,
        "not_found",
    );

    // image pull (layout, --layers, --platform)
    let pulled = s.path("pulled");
    let p = r(&[
        "image",
        "pull",
        "-i",
        &format!("{app}:v1"),
        pulled.to_str().unwrap(),
    ]);
    assert_eq!(p.status.code(), Some(0), "{}", both(&p));
    assert!(pulled.join("index.json").exists());
    let d = ok_json(&j(&[
        "image",
        "pull",
        "-i",
        &format!("{app}:v1"),
        s.path("pulled2").to_str().unwrap(),
        "--platform",
        "linux/amd64",
    ]));
    assert_eq!(d["digest"], digest.to_string());
    let d = ok_json(&j(&[
        "image",
        "pull",
        "--layers",
        "-i",
        &format!("{app}:v1"),
        s.path("layers").to_str().unwrap(),
    ]));
    let path = d["layers"][0]["path"].as_str().unwrap();
    assert_eq!(std::fs::read(path).unwrap(), raw.stdout);

    // image copy: in the registry (mount), and to another registry (streamed)
    let c = r(&[
        "image",
        "copy",
        "-i",
        &format!("{app}:v1"),
        &format!("{host}/team/copy:c1"),
    ]);
    assert_eq!(c.status.code(), Some(0), "{}", both(&c));
    assert!(out(&c).contains("Copied"), "{}", both(&c));
    let d = ok_json(&j(&[
        "image",
        "copy",
        "-i",
        &format!("{app}:v1"),
        &format!("{}/elsewhere/app:c2", other.host()),
    ]));
    assert_eq!(d["copied"]["digest"], digest.to_string());
    assert_eq!(d["copied"]["stats"]["blobs_uploaded"], 2);
    assert_eq!(
        ok_json(&j(&[
            "manifest",
            "digest",
            "-i",
            &format!("{}/elsewhere/app:c2", other.host())
        ]))["digest"],
        digest.to_string()
    );
    let v = r(&[
        "image",
        "verify",
        "-i",
        &format!("{}/elsewhere/app:c2", other.host()),
        lay,
    ]);
    assert_eq!(v.status.code(), Some(0), "{}", both(&v));

    // image tag: a tag in the same repository, and REPO:TAG
    let t = r(&["image", "tag", "-i", &format!("{app}:v1"), "stable"]);
    assert_eq!(
        out(&t),
        format!("Tagged team/app:stable {digest}\n"),
        "{}",
        both(&t)
    );
    let d = ok_json(&j(&[
        "image",
        "tag",
        "-i",
        &format!("{app}:v1"),
        &format!("{host}/team/other:t1"),
    ]));
    assert_eq!(d["repository"], "team/other");
    assert_eq!(
        ok_json(&j(&["tag", "list", "-i", &format!("{host}/team/other")]))["tags"],
        serde_json::json!(["t1"])
    );
    err_json(
        &j(&[
            "image",
            "tag",
            "-i",
            &format!("{app}:v1"),
            &format!("{}/x/y:z", other.host()),
        ]),
        2,
        "usage",
    );

    // tag delete: the manifest goes, with every tag on it
    let d = ok_json(&j(&[
        "tag",
        "delete",
        "-i",
        &format!("{host}/team/copy:c1"),
    ]));
    assert_eq!(d["digest"], digest.to_string());
    assert!(
        d["removed_tags"]
            .as_array()
            .unwrap()
            .contains(&Value::from("c1"))
    );
    err_json(
        &j(&["tag", "delete", "-i", &format!("{host}/team/copy:c1")]),
        1,
        "not_found",
    );
    let td = r(&["tag", "delete", "-i", &format!("{host}/team/other:t1")]);
    assert_eq!(td.status.code(), Some(0), "{}", both(&td));
    assert!(out(&td).contains("t1"), "{}", both(&td));

    // manifest delete: by digest only
    err_json(
        &j(&["manifest", "delete", "-i", &format!("{app}:v1")]),
        2,
        "usage",
    );
    let d = ok_json(&j(&[
        "manifest",
        "delete",
        "-i",
        &format!("{app}@{digest}"),
    ]));
    assert_eq!(d["digest"], digest.to_string());
    err_json(
        &j(&["manifest", "get", "-i", &format!("{app}:v1")]),
        1,
        "not_found",
    );

    // A bad reference: 2, before any request.
    reg.clear_requests();
    err_json(
        &j(&["tag", "list", "-i", &format!("{host}/Team/App")]),
        2,
        "invalid_reference",
    );
    assert_eq!(reg.request_count(), 0);
}

#[test]
fn serve_runs_the_test_registry_in_the_foreground() {
    use std::io::BufRead;
    let s = Scratch::new("serve");
    let mut child = command(
        &s.0,
        &[
            "--json",
            "serve",
            "--auth",
            "basic",
            "--user",
            "alice:serve-pw",
        ],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let d: Value = serde_json::from_str(&line).unwrap();
    let host = d["host"].as_str().unwrap().to_string();
    assert_eq!(d["status"], "serving");
    let denied = run(&s.0, &["--json", "catalog", "list", "-r", &host]);
    err_json(&denied, 1, "authentication");
    let ok = run(
        &s.0,
        &[
            "--json", "-u", "alice", "-p", "serve-pw", "ping", "-r", &host,
        ],
    );
    ok_json(&ok);
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn exit_code_3_when_the_registry_does_not_support_it() {
    let reg = Registry::start().unwrap();
    let s = Scratch::new("unsupported");
    reg.fail_next(1, 405, None);
    let o = run(&s.0, &["catalog", "list", "-r", &reg.host()]);
    assert_eq!(o.status.code(), Some(3), "{}", both(&o));
    assert!(
        err(&o).contains("does not support the catalog API"),
        "{}",
        both(&o)
    );
    reg.fail_next(1, 405, None);
    let d = err_json(
        &run(
            &s.0,
            &["--json", "catalog", "search", "x", "-r", &reg.host()],
        ),
        3,
        "unsupported",
    );
    assert!(d["message"].as_str().unwrap().contains("catalog"), "{d}");
}

#[test]
fn verify_tells_failed_from_inconclusive() {
    let reg = Registry::start().unwrap();
    let s = Scratch::new("verify");
    let lay = s.path("layout");
    let digest = layout(&reg, None, &lay, 2048);
    let lay = lay.to_str().unwrap();
    let image = format!("{}/seed/layout:v1", reg.host());

    // Refused checks: nothing found wrong, but not verified either.
    reg.fail_next(100, 403, None);
    let o = run(&s.0, &["image", "verify", "-i", &image, lay]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert!(err(&o).contains("Inconclusive"), "{}", both(&o));
    assert!(!err(&o).contains("Failed"), "{}", both(&o));
    reg.fail_next(100, 403, None);
    let d = err_json(
        &run(&s.0, &["--json", "image", "verify", "-i", &image, lay]),
        1,
        "verify_inconclusive",
    );
    assert_eq!(d["verify"]["outcome"], "inconclusive");
    reg.fail_next(0, 403, None);

    // A missing layer: Failed.
    let m = Client::builder(&reg.url())
        .build()
        .unwrap()
        .manifest("seed/layout", "v1")
        .unwrap();
    let layer = m.image().unwrap().layers[0].digest.clone();
    assert_eq!(m.digest, digest);
    assert!(reg.delete_blob("seed/layout", &layer));
    let o = run(&s.0, &["image", "verify", "-i", &image, lay]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert!(err(&o).contains("Failed"), "{}", both(&o));
    let d = err_json(
        &run(&s.0, &["--json", "image", "verify", "-i", &image, lay]),
        1,
        "verify_failed",
    );
    assert_eq!(d["verify"]["outcome"], "failed");
    assert!(
        d["verify"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["status"] == "failed")
    );
}

// ------------------------------------------------------------------------------- telemetry

#[test]
fn telemetry_goes_to_stderr_and_shows_no_secret() {
    let password = "PW-telemetry-7781";
    let reg = bearer("alice", password);
    let host = reg.host();
    let s = Scratch::new("telemetry");
    let cfg = s.config();
    let lay = s.path("layout");
    layout(&reg, Some(("alice", password)), &lay, 1024);
    let lay = lay.to_str().unwrap();
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{password}"))
    };

    let flags = ["--time-methods", "--time-scenarios", "--debug-calls"];
    let mut runs = Vec::new();
    let mut a = flags.to_vec();
    a.extend([
        "auth",
        "login",
        "-r",
        &host,
        "-u",
        "alice",
        "-p",
        password,
        "--docker-config",
        &cfg,
    ]);
    runs.push(run(&s.0, &a));
    let reference = format!("{host}/tele/app:v1");
    let mut a = flags.to_vec();
    a.extend([
        "--docker-config",
        &cfg,
        "image",
        "push",
        lay,
        "-i",
        &reference,
    ]);
    runs.push(run(&s.0, &a));
    let mut a = flags.to_vec();
    a.extend([
        "-u", "alice", "-p", password, "image", "pull", "-i", &reference,
    ]);
    let pulled = s.path("pulled");
    a.push(pulled.to_str().unwrap());
    let copy_ref = format!("{host}/tele/copy:v1");
    runs.push(run(&s.0, &a));
    let mut a = flags.to_vec();
    a.extend([
        "--json",
        "--docker-config",
        &cfg,
        "image",
        "copy",
        "-i",
        &reference,
        &copy_ref,
    ]);
    runs.push(run(&s.0, &a));
    let mut a = flags.to_vec();
    a.extend([
        "auth",
        "login",
        "-r",
        &host,
        "-u",
        "alice",
        "-p",
        "wrong-PW-5531",
        "--docker-config",
        &cfg,
    ]);
    runs.push(run(&s.0, &a));

    for (i, o) in runs.iter().enumerate() {
        let text = both(o);
        if i < 4 {
            assert_eq!(o.status.code(), Some(0), "{text}");
        }
        for secret in [password, basic.as_str(), "wrong-PW-5531"] {
            assert!(!text.contains(secret), "run {i} shows a secret: {text}");
        }
        let e = err(o);
        assert!(e.contains("debug-calls: GET http://"), "run {i}: {e}");
        assert!(
            e.contains("debug-calls:   > "),
            "request headers, run {i}: {e}"
        );
        assert!(
            e.contains("debug-calls:   < "),
            "response headers, run {i}: {e}"
        );
        assert!(e.contains("time-methods: "), "run {i}: {e}");
        assert!(e.contains("time-scenarios: "), "run {i}: {e}");
        // Every credential header is redacted, and a token never appears.
        for line in e.lines() {
            let l = line.to_ascii_lowercase();
            if l.contains("> authorization:") {
                assert!(line.ends_with("<redacted>"), "run {i}: {line}");
            }
            if l.contains("token\":") || l.contains("access_token") {
                panic!("a token body in the log: {line}");
            }
        }
        // stdout holds the result only.
        assert!(!out(o).contains("debug-calls"), "run {i}");
        assert!(!out(o).contains("time-"), "run {i}");
    }
    let login = err(&runs[0]);
    assert!(
        login.contains("> Authorization: Basic <redacted>")
            || login.contains("> authorization: Basic <redacted>"),
        "{login}"
    );
    assert!(login.contains("time-scenarios: login"), "{login}");
    assert!(login.contains("time-methods: ocireg::login"), "{login}");
    assert!(
        err(&runs[1]).contains("time-scenarios: push"),
        "{}",
        err(&runs[1])
    );
    assert!(err(&runs[1]).contains("time-methods: Client::push_image"));
    assert!(
        err(&runs[1]).contains("Bearer <redacted>"),
        "{}",
        err(&runs[1])
    );
    assert!(err(&runs[2]).contains("time-scenarios: pull"));
    assert!(err(&runs[3]).contains("time-scenarios: copy"));
    doc(&runs[3]);
    assert_eq!(runs[4].status.code(), Some(1));
}

// -------------------------------------------------------------------------------- progress

#[test]
fn progress_bars_on_a_terminal_only() {
    let reg = Registry::start().unwrap();
    let s = Scratch::new("progress");
    let lay = s.path("layout");
    layout(&reg, None, &lay, 3 << 20);
    let lay = lay.to_str().unwrap();
    let host = reg.host();

    // A terminal: a bar per blob and a total.
    let (code, screen) = on_pty(
        &s.0,
        &["image", "push", lay, "-i", &format!("{host}/p/tty:v1")],
        &[],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("total (push)"), "{screen}");
    assert!(screen.contains("sha256:"), "{screen}");
    assert!(screen.contains("MiB"), "bytes are shown: {screen}");
    let (code, screen) = on_pty(
        &s.0,
        &[
            "image",
            "pull",
            "-i",
            &format!("{host}/p/tty:v1"),
            s.path("pulled").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("total (pull)"), "{screen}");
    let (code, screen) = on_pty(
        &s.0,
        &[
            "image",
            "copy",
            "-i",
            &format!("{host}/p/tty:v1"),
            &format!("{host}/p/copy:v1"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("total (copy)"), "{screen}");

    // A terminal but --quiet or --json: none.
    let (code, screen) = on_pty(
        &s.0,
        &[
            "--quiet",
            "image",
            "push",
            lay,
            "-i",
            &format!("{host}/p/quiet:v1"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("total ("), "{screen}");
    let (code, screen) = on_pty(
        &s.0,
        &[
            "--json",
            "image",
            "push",
            lay,
            "-i",
            &format!("{host}/p/json:v1"),
        ],
        &[],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("total ("), "{screen}");
    let d: Value = serde_json::from_str(screen.trim()).unwrap_or_else(|e| panic!("{e}: {screen}"));
    assert_eq!(d["status"], "success");

    // A pipe: none.
    let o = run(
        &s.0,
        &["image", "push", lay, "-i", &format!("{host}/p/pipe:v1")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert!(!err(&o).contains("total ("), "{}", both(&o));
    assert_eq!(err(&o), "");
    let o = run(
        &s.0,
        &[
            "image",
            "pull",
            "-i",
            &format!("{host}/p/pipe:v1"),
            s.path("pulled-pipe").to_str().unwrap(),
        ],
    );
    assert_eq!(err(&o), "", "{}", both(&o));
}

// ------------------------------------------------------------------------------ old spellings

#[test]
fn the_first_clis_spellings_still_work() {
    let reg = bearer("alice", "old-pw");
    let host = reg.host();
    let s = Scratch::new("legacy");
    let cfg = s.config();
    let lay = s.path("layout");
    layout(&reg, Some(("alice", "old-pw")), &lay, 512);
    let lay = lay.to_str().unwrap();
    let r = |args: &[&str]| {
        let mut a = vec!["--docker-config", cfg.as_str()];
        a.extend_from_slice(args);
        run(&s.0, &a)
    };
    let ok = |o: Output| {
        assert_eq!(o.status.code(), Some(0), "{}", both(&o));
        out(&o)
    };
    assert_eq!(
        ok(r(&["login", &host, "-u", "alice", "-p", "old-pw"])),
        "Login succeeded.\n"
    );
    assert!(ok(r(&["auth-status", &host])).contains("config file"));
    assert!(ok(r(&["ping", &host])).contains("API v2"));
    let reference = format!("{host}/old/app:v1");
    assert!(ok(r(&["push", lay, &reference])).contains("Verified"));
    assert_eq!(ok(r(&["tags", &format!("{host}/old/app")])), "v1\n");
    assert!(ok(r(&["catalog", &host])).contains("old/app"));
    assert_eq!(ok(r(&["search", &host, "old/"])), "old/app\n");
    assert!(ok(r(&["manifest", &reference])).contains("schemaVersion"));
    assert!(ok(r(&["digest", &reference])).starts_with("sha256:"));
    assert!(ok(r(&["verify", &reference, lay])).contains("Verified"));
    let pulled = s.path("pulled");
    ok(r(&["pull", &reference, pulled.to_str().unwrap()]));
    assert!(pulled.join("index.json").exists());
    assert!(ok(r(&["--debug", "tags", &format!("{host}/old/app")])).contains("v1"));
    assert_eq!(
        ok(r(&["logout", &host])),
        format!("Removing login credentials for {host}.\n")
    );
    // The bench's spelling: global credentials before the old command.
    let o = run(
        &s.0,
        &[
            "-u",
            "alice",
            "-p",
            "old-pw",
            "tags",
            &format!("{host}/old/app"),
        ],
    );
    assert_eq!(out(&o), "v1\n", "{}", both(&o));
}

/// A registry (mockito) whose token, cookie and presigned blob URL are known secrets: none of
/// them may show in `--debug-calls`, which still shows every exchange with its headers.
#[test]
fn debug_calls_redact_tokens_cookies_and_signatures() {
    use mockito::{Matcher, Server};
    let mut server = Server::new();
    let host = server.host_with_port();
    let blob = b"a presigned blob".to_vec();
    let digest = ocireg::Digest::sha256_of(&blob).to_string();
    let path = format!("/v2/team/app/blobs/{digest}");
    let challenge = format!(r#"Bearer realm="http://{host}/token",service="mock""#);
    let _v2 = server
        .mock("GET", "/v2/")
        .with_status(401)
        .with_header("www-authenticate", &challenge)
        .create();
    let _token = server
        .mock("GET", "/token")
        .match_query(Matcher::Any)
        .with_status(200)
        .with_header("set-cookie", "session=COOKIE-SECRET-314; HttpOnly")
        .with_body(
            r#"{"token":"TOKEN-SECRET-271","access_token":"TOKEN-SECRET-271","expires_in":300}"#,
        )
        .create();
    let _authorized = server
        .mock("GET", path.as_str())
        .match_header("authorization", "Bearer TOKEN-SECRET-271")
        .with_status(307)
        .with_header(
            "location",
            &format!("http://{host}/objects/blob?X-Amz-Credential=CRED-SECRET-161&X-Amz-Signature=SIG-SECRET-577"),
        )
        .create();
    let _anonymous = server
        .mock("GET", path.as_str())
        .with_status(401)
        .with_header(
            "www-authenticate",
            &format!(r#"{challenge},scope="repository:team/app:pull""#),
        )
        .create();
    let _object = server
        .mock("GET", "/objects/blob")
        .match_query(Matcher::Any)
        .with_status(200)
        .with_body(&blob)
        .create();

    let s = Scratch::new("redact");
    let to = s.path("blob.bin");
    let o = run(
        &s.0,
        &[
            "--debug-calls",
            "-u",
            "alice",
            "-p",
            "PASSWORD-SECRET-828",
            "blob",
            "get",
            "-i",
            &format!("{host}/team/app@{digest}"),
            "-o",
            to.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", both(&o));
    assert_eq!(std::fs::read(&to).unwrap(), blob);
    let text = both(&o);
    for secret in [
        "TOKEN-SECRET-271",
        "COOKIE-SECRET-314",
        "CRED-SECRET-161",
        "SIG-SECRET-577",
        "PASSWORD-SECRET-828",
    ] {
        assert!(!text.contains(secret), "{secret} shown: {text}");
    }
    let e = err(&o);
    assert!(
        e.contains(&format!("debug-calls: GET http://{host}/token -> 200")),
        "{e}"
    );
    assert!(
        e.lines().any(|l| l.starts_with(&format!(
            "debug-calls: GET http://{host}/v2/team/app/blobs/sha256:"
        )) && l.contains(" -> 307 ")),
        "{e}"
    );
    assert!(
        e.contains("debug-calls: GET http://") && e.contains("/objects/blob -> 200"),
        "{e}"
    );
    assert!(
        e.to_ascii_lowercase().contains("< set-cookie: <redacted>"),
        "{e}"
    );
    assert!(
        e.to_ascii_lowercase().contains("< location: http://"),
        "{e}"
    );
    assert!(e.contains("?<redacted>"), "the presigned query is cut: {e}");
    assert!(e.contains("Bearer <redacted>"), "{e}");
    assert!(e.contains("Basic <redacted>"), "{e}");
}

/// `--platform` on an index of two platforms: digest, info, get, pull, copy.
#[test]
fn platform_picks_a_child_of_an_index() {
    let reg = Registry::start().unwrap();
    let host = reg.host();
    let c = Client::builder(&reg.url()).build().unwrap();
    let mut entries = Vec::new();
    let mut digests = Vec::new();
    for (arch, text) in [
        ("amd64", b"amd64 layer".as_slice()),
        ("arm64", b"arm64 layer"),
    ] {
        let image = ImageBuilder::new()
            .config(format!(r#"{{"architecture":"{arch}","os":"linux"}}"#).into_bytes())
            .layer_bytes(
                ocireg::testing::tar_gz(&[("f", text)]),
                media_types::OCI_LAYER_GZIP,
            )
            .build()
            .unwrap();
        let d = image.digest().to_string();
        c.push_image("multi/app", &d, &image, &PushOptions::default())
            .unwrap();
        let size = image.descriptor().size;
        entries.push(format!(
            r#"{{"mediaType":"{}","digest":"{d}","size":{size},"platform":{{"architecture":"{arch}","os":"linux"}}}}"#,
            media_types::OCI_MANIFEST
        ));
        digests.push(d);
    }
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{}]}}"#,
        media_types::OCI_INDEX,
        entries.join(",")
    );
    let index_digest = c
        .put_manifest("multi/app", "v1", media_types::OCI_INDEX, index.as_bytes())
        .unwrap()
        .to_string();
    let s = Scratch::new("platform");
    let j = |args: &[&str]| {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        run(&s.0, &a)
    };
    let app = format!("{host}/multi/app:v1");

    let d = ok_json(&j(&["manifest", "digest", "-i", &app]));
    assert_eq!(d["digest"], index_digest.as_str());
    let d = ok_json(&j(&[
        "manifest",
        "digest",
        "-i",
        &app,
        "--platform",
        "linux/arm64",
    ]));
    assert_eq!(d["digest"], digests[1].as_str());
    let e = err_json(
        &j(&[
            "manifest",
            "digest",
            "-i",
            &app,
            "--platform",
            "linux/s390x",
        ]),
        1,
        "not_found",
    );
    assert!(
        e["message"].as_str().unwrap().contains("linux/arm64"),
        "names what exists: {e}"
    );

    let info = run(&s.0, &["manifest", "info", "-i", &app]);
    assert!(
        out(&info).contains("linux/amd64") && out(&info).contains("linux/arm64"),
        "{}",
        both(&info)
    );
    let d = ok_json(&j(&["manifest", "info", "-i", &app]));
    assert_eq!(d["manifests"][1]["platform"], "linux/arm64");
    let d = ok_json(&j(&[
        "manifest",
        "get",
        "-i",
        &app,
        "--platform",
        "linux/amd64",
    ]));
    assert_eq!(d["digest"], digests[0].as_str());
    assert_eq!(d["manifest"]["layers"].as_array().unwrap().len(), 1);

    let dir = s.path("arm64");
    let d = ok_json(&j(&[
        "image",
        "pull",
        "-i",
        &app,
        dir.to_str().unwrap(),
        "--platform",
        "linux/arm64",
    ]));
    assert_eq!(d["digest"], digests[1].as_str());
    assert_eq!(d["platform"], "linux/arm64");
    let d = ok_json(&j(&[
        "image",
        "copy",
        "-i",
        &app,
        &format!("{host}/multi/arm:v1"),
        "--platform",
        "linux/arm64",
    ]));
    assert_eq!(d["copied"]["digest"], digests[1].as_str());
    let d = ok_json(&j(&[
        "image",
        "copy",
        "-i",
        &app,
        &format!("{host}/multi/all:v1"),
    ]));
    assert_eq!(d["copied"]["digest"], index_digest.as_str());
}
