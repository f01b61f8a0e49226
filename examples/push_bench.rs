//! Push benchmark (issue 4): a generated single-layer image of 256 MiB and an image of 20 layers
//! of 100 KiB, pushed by ocireg, next to a `curl` POST+PUT of the same kind of blob in the same
//! run, alternating runs.
//!
//! ```text
//! cargo run --release --example push_bench [-- --runs 3 --size-mib 256]
//! OCIREG_BENCH_REGISTRY=127.0.0.1:5010 cargo run --release --example push_bench
//! ```
//!
//! Without `OCIREG_BENCH_REGISTRY` an in-process `ocireg::testing::Registry` is started (it
//! keeps blobs in memory). Only `127.0.0.1` is accepted. Every ocireg push runs in a fresh child
//! process (this executable with `--child`), so its wall time, CPU time (`/proc/self/stat`) and
//! peak RSS (`VmHWM`) are the client's own; every run pushes fresh content (nothing is skipped
//! by a HEAD), and the layer files are written and hashed beforehand (as in an OCI layout), for
//! ocireg and curl alike. `OCIREG_BENCH_THREADS` overrides [`PushOptions::threads`] (default 4).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use ocireg::{
    Client, Credentials, Digest, Image, ImageBuilder, OciLayout, PushOptions, media_types,
};

type BoxError = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..])
    } else {
        parent(&args)
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("push_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements of the current process.

/// User + system CPU time of this process, from `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let Ok(stat) = fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // rest starts at field 3 (state): utime is field 14 -> index 11, stime 15 -> index 12.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Peak resident set size (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Child: one push, measured.

/// `--child big URL REPO LAYOUT` or `--child small URL REPO SEED`: prints
/// `wall_s cpu_s rss_kib requests [repush_wall_s repush_requests]`.
fn child(args: &[String]) -> Result<(), BoxError> {
    let [mode, url, repo, arg] = args else {
        return Err("usage: --child big|small URL REPO LAYOUT|SEED".into());
    };
    let client = Client::builder(url)
        .credentials(Credentials::Anonymous)
        .build()?;
    let image = match mode.as_str() {
        "big" => Image::from_layout(arg, None)?,
        "small" => {
            let mut b = ImageBuilder::new().config(config(arg));
            for i in 0..20 {
                b = b.layer_bytes(
                    random_bytes(&format!("{arg}-{i}"), 100 * 1024),
                    media_types::OCI_LAYER_GZIP,
                );
            }
            b.build()?
        }
        other => return Err(format!("unknown mode {other}").into()),
    };
    let mut options = PushOptions::default();
    if let Some(t) = std::env::var("OCIREG_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        options.threads = t;
    }
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let pushed = client.push_image(repo, "bench", &image, &options)?;
    let wall = t0.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    let mut line = format!(
        "{:.4} {:.3} {} {}",
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        peak_rss_kib(),
        pushed.stats.requests
    );
    if mode == "small" {
        let t1 = Instant::now();
        let again = client.push_image(repo, "bench", &image, &options)?;
        line.push_str(&format!(
            " {:.4} {}",
            t1.elapsed().as_secs_f64(),
            again.stats.requests
        ));
    }
    println!("{line}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Parent: data, registry, alternating runs, table.

fn config(seed: &str) -> Vec<u8> {
    format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["BENCH={seed}"]}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    )
    .into_bytes()
}

fn xorshift_seed(seed: &str) -> u64 {
    let mut x: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        x = (x ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    x | 1
}

fn random_bytes(seed: &str, len: usize) -> Vec<u8> {
    let mut x = xorshift_seed(seed);
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Writes `len` pseudo-random bytes to `path` (1 MiB at a time) and returns their digest.
fn write_random_file(path: &Path, seed: &str, len: u64) -> Result<Digest, BoxError> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut x = xorshift_seed(seed);
    let mut h = ocireg::Hasher::new(ocireg::Algorithm::Sha256);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for chunk in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        h.update(&buf[..n]);
        w.write_all(&buf[..n])?;
        left -= n as u64;
    }
    w.flush()?;
    Ok(h.finish())
}

/// An OCI layout with one image whose single layer is a fresh `size`-byte file.
fn make_layout(dir: &Path, seed: &str, size: u64) -> Result<(Digest, PathBuf), BoxError> {
    let layout = OciLayout::create(dir)?;
    fs::create_dir_all(dir.join("blobs/sha256"))?;
    let tmp = dir.join("layer.tmp");
    let digest = write_random_file(&tmp, seed, size)?;
    let blob = layout.blob_path(&digest);
    fs::rename(&tmp, &blob)?;
    let image = ImageBuilder::new()
        .config(config(seed))
        .layer_file_with_digest(&blob, media_types::OCI_LAYER_GZIP, digest.clone())
        .build()?;
    let cfg = image.config().ok_or("no config")?;
    let written = layout.write_blob(&config(seed))?;
    if written != cfg.digest {
        return Err("config digest mismatch".into());
    }
    layout.write_blob(&image.manifest().bytes)?;
    let mut layout = layout;
    layout.set_ref(image.manifest().descriptor(), Some("bench"));
    layout.save()?;
    Ok((digest, blob))
}

struct Run {
    wall: f64,
    cpu: f64,
    rss_kib: u64,
    requests: u64,
    extra: Vec<f64>,
}

fn run_child(mode: &str, url: &str, repo: &str, arg: &str) -> Result<Run, BoxError> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .args(["--child", mode, url, repo, arg])
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "child {mode} failed: {}",
            String::from_utf8_lossy(&out.stdout)
        )
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<f64> = text
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    if f.len() < 4 {
        return Err(format!("child printed {text:?}").into());
    }
    Ok(Run {
        wall: f[0],
        cpu: f[1],
        rss_kib: f[2] as u64,
        requests: f[3] as u64,
        extra: f[4..].to_vec(),
    })
}

/// `curl` POST then PUT of `file` (streamed with `-T`; wall time of both), without
/// `Expect: 100-continue`.
fn curl_upload(url: &str, repo: &str, file: &Path, digest: &Digest) -> Result<f64, BoxError> {
    let t0 = Instant::now();
    let post = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", "-X", "POST"])
        .arg(format!("{url}/v2/{repo}/blobs/uploads/"))
        .output()?;
    let headers = String::from_utf8_lossy(&post.stdout);
    let location = headers
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("location")
                .then(|| v.trim().to_string())
        })
        .ok_or_else(|| format!("curl POST: no Location in {headers:?}"))?;
    let location = if location.starts_with('/') {
        format!("{url}{location}")
    } else {
        location
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let put = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
        .args([
            "-H",
            "Content-Type: application/octet-stream",
            "-H",
            "Expect:",
        ])
        .arg("-T")
        .arg(file)
        .arg(format!(
            "{location}{sep}digest={}",
            digest.to_string().replace(':', "%3A")
        ))
        .output()?;
    let wall = t0.elapsed().as_secs_f64();
    let code = String::from_utf8_lossy(&put.stdout).to_string();
    if code.trim() != "201" {
        return Err(format!("curl PUT answered {code}").into());
    }
    Ok(wall)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn parent(args: &[String]) -> Result<(), BoxError> {
    let mut runs = 3usize;
    let mut size_mib = 256u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => runs = it.next().ok_or("--runs N")?.parse()?,
            "--size-mib" => size_mib = it.next().ok_or("--size-mib N")?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let size = size_mib << 20;

    let mut _local = None;
    let (url, kind) = match std::env::var("OCIREG_BENCH_REGISTRY") {
        Ok(r) if !r.trim().is_empty() => {
            let r = r.trim().trim_start_matches("http://").to_string();
            if !r.starts_with("127.0.0.1:") {
                return Err(
                    format!("OCIREG_BENCH_REGISTRY={r}: only 127.0.0.1:PORT is allowed").into(),
                );
            }
            (format!("http://{r}"), "external registry")
        }
        _ => {
            let reg = ocireg::testing::Registry::start()?;
            let url = reg.url();
            _local = Some(reg);
            (url, "in-process ocireg::testing::Registry (in memory)")
        }
    };
    let have_curl = Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let work = std::env::temp_dir().join(format!("ocireg-push-bench-{}", std::process::id()));
    fs::create_dir_all(&work)?;
    let tag = format!("{}", std::process::id());
    println!(
        "ocireg push benchmark: {url} ({kind}), {runs} run(s), release={}",
        !cfg!(debug_assertions)
    );
    println!();
    println!(
        "{size_mib} MiB single-layer image (POST+PUT monolithic, default options), alternating:"
    );
    println!("run  tool     wall s    MiB/s   cpu s  peak RSS MiB  requests");
    let mut ratios = Vec::new();
    let mut ocireg_walls = Vec::new();
    let mut curl_walls = Vec::new();
    let mut cpus = Vec::new();
    let mut rsss = Vec::new();
    for run in 1..=runs {
        // Alternate which goes first.
        let order: [&str; 2] = if run % 2 == 1 {
            ["ocireg", "curl"]
        } else {
            ["curl", "ocireg"]
        };
        let mut pair = (f64::NAN, f64::NAN);
        for tool in order {
            let seed = format!("{tag}-{run}-{tool}");
            let dir = work.join(&seed);
            let (digest, blob) = make_layout(&dir, &seed, size)?;
            let repo = format!("bench/big-{tag}-{run}-{tool}");
            if tool == "ocireg" {
                let r = run_child("big", &url, &repo, &dir.display().to_string())?;
                println!(
                    "{run:<4} ocireg {:>8.3} {:>8.1} {:>7.3} {:>13.1} {:>9}",
                    r.wall,
                    size_mib as f64 / r.wall,
                    r.cpu,
                    r.rss_kib as f64 / 1024.0,
                    r.requests
                );
                pair.0 = r.wall;
                ocireg_walls.push(r.wall);
                cpus.push(r.cpu);
                rsss.push(r.rss_kib as f64 / 1024.0);
            } else if have_curl {
                let wall = curl_upload(&url, &repo, &blob, &digest)?;
                println!(
                    "{run:<4} curl   {:>8.3} {:>8.1} {:>7} {:>13} {:>9}",
                    wall,
                    size_mib as f64 / wall,
                    "-",
                    "-",
                    2
                );
                pair.1 = wall;
                curl_walls.push(wall);
            }
            fs::remove_dir_all(&dir)?;
        }
        if pair.0.is_finite() && pair.1.is_finite() {
            ratios.push(pair.0 / pair.1);
        }
    }
    println!(
        "median: ocireg {:.3} s, curl {:.3} s, paired ratio ocireg/curl {:.3}; ocireg cpu {:.3} s, peak RSS {:.1} MiB",
        median(&mut ocireg_walls),
        median(&mut curl_walls),
        median(&mut ratios),
        median(&mut cpus),
        median(&mut rsss)
    );
    println!();
    println!("20 x 100 KiB layers + config (3 requests per blob + 1 manifest), then a re-push:");
    println!("run  wall s  cpu s  peak RSS MiB  requests  re-push wall s  re-push requests");
    let mut walls = Vec::new();
    for run in 1..=runs {
        let seed = format!("{tag}-small-{run}");
        let repo = format!("bench/small-{tag}-{run}");
        let r = run_child("small", &url, &repo, &seed)?;
        println!(
            "{run:<4} {:>6.3} {:>6.3} {:>13.1} {:>9} {:>15.4} {:>17}",
            r.wall,
            r.cpu,
            r.rss_kib as f64 / 1024.0,
            r.requests,
            r.extra.first().copied().unwrap_or(f64::NAN),
            r.extra.get(1).copied().unwrap_or(f64::NAN)
        );
        walls.push(r.wall);
    }
    println!("median wall {:.3} s", median(&mut walls));
    fs::remove_dir_all(&work)?;
    Ok(())
}
