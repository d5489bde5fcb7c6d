//! Where the server key comes from: `GATEHOUSE_ENCRYPTION_KEY` (64 hex characters), or the file
//! `gatehouse.key` in the data dir, created on first start with mode 0600. Instances that share a
//! PostgreSQL database must share the key (set the variable on each), or one instance cannot check
//! the codes another sent: the database remembers its key's id, and an instance with another key
//! refuses to start.
//!
//! After a rotation the key is a ring: the file holds one key per line, the current one first;
//! the variable holds them comma-separated in the same order. Older keys only open secrets not
//! yet re-sealed and check codes hashed under them.

use anyhow::{Context, bail};
use gatehouse_domain::server_key::ServerKey;
use gatehouse_store::Store;
use std::path::Path;

const ENV: &str = "GATEHOUSE_ENCRYPTION_KEY";
const FILE: &str = "gatehouse.key";
/// The settings entry where the database keeps the id of the key it was set up with.
const KEY_ID_SETTING: &str = "serverKeyId";

/// The ring as text: each key in hex, the current one first.
struct Ring {
    keys: Vec<String>,
    from_env: bool,
}

pub fn load(data_dir: &Path) -> anyhow::Result<ServerKey> {
    to_key(&load_ring(data_dir)?)
}

fn load_ring(data_dir: &Path) -> anyhow::Result<Ring> {
    if let Ok(value) = std::env::var(ENV) {
        let keys = split(&value, ',');
        return Ok(Ring {
            keys,
            from_env: true,
        });
    }
    let path = data_dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Ring {
            keys: split(&text, '\n'),
            from_env: false,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("creating {}", data_dir.display()))?;
            let hex = new_key_hex();
            write_new(&path, &hex)?;
            tracing::info!(file = %path.display(), "created a new server key");
            Ok(Ring {
                keys: vec![hex],
                from_env: false,
            })
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn split(text: &str, separator: char) -> Vec<String> {
    text.split(separator)
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

fn to_key(ring: &Ring) -> anyhow::Result<ServerKey> {
    let source = if ring.from_env {
        ENV.to_owned()
    } else {
        FILE.to_owned()
    };
    let mut keys = ring.keys.iter().map(|hex| {
        parse(hex).with_context(|| format!("{source}: each key must be 64 hex characters"))
    });
    let current = keys
        .next()
        .with_context(|| format!("{source} holds no key"))??;
    let older = keys.collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ServerKey::with_older(current, older))
}

/// 64 random hex characters: a new server key.
pub fn new_key_hex() -> String {
    (0..2)
        .map(|_| gatehouse_domain::random::string_from(b"0123456789abcdef", 32))
        .collect()
}

/// Refuses a key other than the one the database was set up with: codes, limit and lockout
/// counters and the sealed secrets are keyed by it, so instances with different keys on one
/// database would silently neither accept each other's codes nor count together.
pub async fn check_matches_database(store: &dyn Store, key: &ServerKey) -> anyhow::Result<()> {
    let mine = key.key_id();
    match store.get_setting(KEY_ID_SETTING).await? {
        Some(stored) if stored == mine => Ok(()),
        Some(stored) if key.key_ids().contains(&stored) => bail!(
            "a key rotation has not finished: this instance's current key is {mine}, the \
             database's is still {stored}; run `gatehouse keys rotate` again"
        ),
        Some(stored) => bail!(
            "this database was set up with server key {stored}, but this instance has key {mine}: \
             every instance on one database needs the same {ENV} (or {FILE})"
        ),
        None => Ok(store.put_setting(KEY_ID_SETTING, &mine).await?),
    }
}

/// What a rotation did.
pub struct Rotation {
    pub new_key_id: String,
    /// Whether a new key was made (false: an unfinished rotation was finished).
    pub created: bool,
    pub resealed: gatehouse_domain::service::key_rotation::Resealed,
}

/// Puts a new key first in the ring (the file is rewritten before anything is re-sealed, so an
/// interrupted rotation loses nothing), re-seals every stored secret under it, then records its
/// id in the database. With the key in the environment, the operator puts the new key first
/// there and this finishes the job.
pub async fn rotate(
    data_dir: &Path,
    store: std::sync::Arc<dyn Store>,
    start: impl AsyncFnOnce(
        std::sync::Arc<dyn Store>,
        ServerKey,
    ) -> anyhow::Result<gatehouse_domain::Gatehouse>,
) -> anyhow::Result<Rotation> {
    let mut ring = load_ring(data_dir)?;
    let key = to_key(&ring)?;
    let stored = store.get_setting(KEY_ID_SETTING).await?;
    let unfinished = stored
        .as_ref()
        .is_some_and(|id| *id != key.key_id() && key.key_ids().contains(id));
    if let Some(id) = &stored
        && !key.key_ids().contains(id)
    {
        bail!(
            "this database was set up with server key {id}, which is not in this instance's {ENV} or {FILE}"
        );
    }
    let created = !unfinished;
    if created {
        if ring.from_env {
            bail!(
                "the server key comes from {ENV}: put a new key first in it (comma-separated, \
                 e.g. NEW,OLD; `gatehouse keys generate` prints one), then run `gatehouse keys rotate`"
            );
        }
        ring.keys.insert(0, new_key_hex());
        replace_file(&data_dir.join(FILE), &ring.keys.join("\n"))?;
    }
    let key = to_key(&ring)?;
    let new_key_id = key.key_id();
    let gh = start(store.clone(), key).await?;
    let resealed = gh.reseal_secrets().await?;
    store.put_setting(KEY_ID_SETTING, &new_key_id).await?;
    Ok(Rotation {
        new_key_id,
        created,
        resealed,
    })
}

fn parse(hex: &str) -> anyhow::Result<[u8; 32]> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("expected 64 hex characters");
    }
    let mut bytes = [0u8; 32];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)?;
    }
    Ok(bytes)
}

/// Writes the key file anew: a sibling file (mode 0600) renamed over it, so a crash leaves the
/// old ring or the new one, never half a file.
fn replace_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let temporary = path.with_extension("key.new");
    let _ = std::fs::remove_file(&temporary);
    write_new(&temporary, text)?;
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))
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
    file.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn write_new(path: &Path, hex: &str) -> anyhow::Result<()> {
    std::fs::write(path, hex).with_context(|| format!("creating {}", path.display()))
}
