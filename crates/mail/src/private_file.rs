//! Files only the server's user may read: the log mailer's messages and the log SMS sender's
//! texts hold codes and links, so their folder is 0700 and each file 0600.

use std::path::{Path, PathBuf};

/// Writes `bytes` to the new file `name` in `dir` (created if missing); the file's path, or an
/// error that names it.
pub async fn write_private_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    let mut folder = tokio::fs::DirBuilder::new();
    folder.recursive(true);
    #[cfg(unix)]
    folder.mode(0o700);
    folder
        .create(dir)
        .await
        .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let path = dir.join(name);
    write_private(&path, bytes)
        .await
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(unix)]
async fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .await?;
    file.write_all(bytes).await?;
    file.flush().await
}

#[cfg(not(unix))]
async fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    tokio::fs::write(path, bytes).await
}
