//! Where the server key comes from: `GATEHOUSE_ENCRYPTION_KEY` (64 hex characters), or the file
//! `gatehouse.key` in the data dir, created on first start with mode 0600. Instances that share a
//! PostgreSQL database must share the key (set the variable on each), or one instance cannot check
//! the codes another sent.

use anyhow::{Context, bail};
use gatehouse_domain::server_key::ServerKey;
use std::path::Path;

const ENV: &str = "GATEHOUSE_ENCRYPTION_KEY";
const FILE: &str = "gatehouse.key";

pub fn load(data_dir: &Path) -> anyhow::Result<ServerKey> {
    if let Ok(hex) = std::env::var(ENV) {
        return parse(hex.trim()).with_context(|| format!("{ENV} must be 64 hex characters"));
    }
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            parse(text.trim()).with_context(|| format!("{} is not a valid key", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("creating {}", data_dir.display()))?;
            let hex: String = (0..2)
                .map(|_| gatehouse_domain::random::string_from(b"0123456789abcdef", 32))
                .collect();
            write_new(&path, &hex)?;
            tracing::info!(file = %path.display(), "created a new server key");
            parse(&hex)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn parse(hex: &str) -> anyhow::Result<ServerKey> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("expected 64 hex characters");
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
    }
    Ok(ServerKey::new(bytes))
}

#[cfg(unix)]
fn write_new(path: &Path, hex: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(hex.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_new(path: &Path, hex: &str) -> anyhow::Result<()> {
    std::fs::write(path, hex).with_context(|| format!("creating {}", path.display()))
}
