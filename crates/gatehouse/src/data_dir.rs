//! The data dir is for the server's user alone: the SQLite database mints tokens, the key file
//! decrypts what the database keeps sealed, and the mail folder holds codes. A new data dir is
//! created 0700 and a new database file 0600 (SQLite gives its WAL and SHM files the database
//! file's mode). Anything already there that others may read is tightened at start, with a
//! warning, or only the warning when that is not allowed.

use anyhow::Context;
use std::path::{Path, PathBuf};

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Prepares `data_dir` and, for SQLite, the database file at `sqlite_file`, before they are opened.
pub fn prepare(data_dir: &Path, sqlite_file: Option<&Path>) -> anyhow::Result<()> {
    create_private_dir(data_dir)?;
    tighten(data_dir, DIR_MODE);
    tighten(&data_dir.join("mail"), DIR_MODE);
    tighten(&data_dir.join("gatehouse.key"), FILE_MODE);
    if let Some(db) = sqlite_file {
        create_private_file(db)?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            tighten(&with_suffix(db, suffix), FILE_MODE);
        }
    }
    Ok(())
}

/// The SQLite file a store configuration opens, if it is SQLite.
pub fn sqlite_file(data_dir: &Path, db_url: Option<&str>) -> Option<PathBuf> {
    match db_url {
        None => Some(data_dir.join("data.db")),
        Some(url) if url.starts_with("sqlite:") => {
            let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            // `:memory:` is no file.
            (!path.is_empty() && !path.starts_with(':')).then(|| PathBuf::from(path))
        }
        Some(_) => None,
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// An empty file is a valid empty SQLite database: creating it here fixes its mode.
#[cfg(unix)]
fn create_private_file(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Takes the group's and others' bits off `path` if it exists and has any.
#[cfg(unix)]
fn tighten(path: &Path, private: u32) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode() & 0o777;
    if meta.file_type().is_symlink() || mode & 0o077 == 0 {
        return;
    }
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(private)) {
        Ok(()) => tracing::warn!(
            path = %path.display(),
            was = format!("{mode:o}"),
            now = format!("{private:o}"),
            "others could read this; its mode was tightened"
        ),
        Err(e) => tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            error = %e,
            "others can read this and its mode cannot be changed: restrict it to the server's user"
        ),
    }
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

#[cfg(not(unix))]
fn create_private_file(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_path: &Path, _private: u32) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sqlite_file_of_each_configuration() {
        let dir = Path::new("gh_data");
        assert_eq!(sqlite_file(dir, None), Some(dir.join("data.db")));
        assert_eq!(
            sqlite_file(dir, Some("sqlite:///var/lib/gh.db?mode=rwc")),
            Some(PathBuf::from("/var/lib/gh.db"))
        );
        assert_eq!(sqlite_file(dir, Some("sqlite::memory:")), None);
        assert_eq!(sqlite_file(dir, Some("postgres://db/gh")), None);
    }
}
