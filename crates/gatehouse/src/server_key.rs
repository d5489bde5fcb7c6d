//! Where the server key comes from: `GATEHOUSE_ENCRYPTION_KEY` (64 hex characters), or the file
//! `gatehouse.key` in the data dir, created on first start with mode 0600. Instances that share a
//! PostgreSQL database must share the key (set the variable on each), or one instance cannot check
//! the codes another sent: the database remembers its key's id, and an instance with another key
//! refuses to start.

use anyhow::{Context, bail};
use gatehouse_domain::server_key::ServerKey;
use std::path::Path;

const ENV: &str = "GATEHOUSE_ENCRYPTION_KEY";
const FILE: &str = "gatehouse.key";
/// The settings entry where the database keeps the id of the key it was set up with.
const KEY_ID_SETTING: &str = "serverKeyId";

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

/// Refuses a key other than the one the database was set up with: codes, limit and lockout
/// counters and the sealed SMTP password are keyed by it, so instances with different keys on one
/// database would silently neither accept each other's codes nor count together.
pub async fn check_matches_database(
    store: &dyn gatehouse_store::Store,
    key: &ServerKey,
) -> anyhow::Result<()> {
    let mine = key.key_id();
    match store.get_setting(KEY_ID_SETTING).await? {
        Some(stored) if stored == mine => Ok(()),
        Some(stored) => bail!(
            "this database was set up with server key {stored}, but this instance has key {mine}: \
             every instance on one database needs the same {ENV} (or {FILE})"
        ),
        None => Ok(store.put_setting(KEY_ID_SETTING, &mine).await?),
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
