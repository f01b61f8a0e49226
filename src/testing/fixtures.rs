//! Small, real image content for tests: tar archives and gzip streams made without any
//! compression library, so test images are genuine images that other tools (skopeo, docker,
//! umoci) accept as they are.

/// A tar archive (ustar) holding `files` (name, content), each a regular file with mode 0644.
///
/// ```
/// let tar = ocireg::testing::tar(&[("hello.txt", b"hello\n")]);
/// assert_eq!(tar.len() % 512, 0);
/// assert_eq!(&tar[257..262], b"ustar");
/// ```
pub fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, content) in files {
        let mut h = [0u8; 512];
        let name = name.as_bytes();
        let n = name.len().min(99);
        h[..n].copy_from_slice(&name[..n]);
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(content);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// A valid gzip stream of `data` (deflate "stored" blocks: no compression, byte-for-byte
/// deterministic, so a re-push of the same content deduplicates).
///
/// ```
/// let gz = ocireg::testing::gzip(b"abc");
/// assert_eq!(&gz[..2], &[0x1f, 0x8b]);
/// ```
pub fn gzip(data: &[u8]) -> Vec<u8> {
    // Header: magic, deflate, no flags, mtime 0, no extra flags, OS unknown.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut chunks = data.chunks(65_535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// A gzip-compressed tar archive of `files`: a layer of media type
/// `application/vnd.oci.image.layer.v1.tar+gzip`.
pub fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    gzip(&tar(files))
}

/// CRC-32 (IEEE 802.3), as gzip wants it.
fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *slot = c;
    }
    let mut crc = !0u32;
    for b in data {
        crc = table[((crc ^ *b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_gzip() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let gz = gzip(b"");
        assert_eq!(gz.len(), 10 + 5 + 8);
        let big = vec![7u8; 200_000];
        let gz = gzip(&big);
        assert_eq!(gz.len(), 10 + 4 * 5 + 200_000 + 8);
        let t = tar(&[("a", b"x"), ("b", &[0u8; 600])]);
        assert_eq!(t.len(), 512 + 512 + 512 + 1024 + 1024);
    }

    #[test]
    fn gzip_is_readable_by_the_system_gzip() {
        let Ok(mut child) = std::process::Command::new("gzip")
            .arg("-dc")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("skipped: no gzip on this machine");
            return;
        };
        let data = tar(&[("hello.txt", b"hello\n")]);
        let gz = gzip(&data);
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            stdin.write_all(&gz).unwrap();
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, data);
    }
}
