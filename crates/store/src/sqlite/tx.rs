//! A write transaction whose BEGIN, COMMIT and ROLLBACK are cached prepared statements.
//! rusqlite's `Transaction` parses them anew on every use (`execute_batch`), which cost a hot
//! write (a login's second step) about a tenth of its instructions.

use rusqlite::Connection;
use std::ops::Deref;

/// An open transaction: a write one (`BEGIN IMMEDIATE`) takes the write lock at the start, so a
/// write never fails half-way to upgrade a read lock. Dropped without [`Tx::commit`], it rolls
/// back.
pub(super) struct Tx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl<'c> Tx<'c> {
    pub(super) fn begin(conn: &'c Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Self { conn, open: true })
    }

    /// A read transaction: the statements in it see one snapshot, under one read lock.
    pub(super) fn snapshot(conn: &'c Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("BEGIN")?.execute([])?;
        Ok(Self { conn, open: true })
    }

    /// Commits; on failure the drop rolls back what is still open.
    pub(super) fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            // Nothing to report to: the error that ended the transaction is already on its way.
            let _ = self
                .conn
                .prepare_cached("ROLLBACK")
                .and_then(|mut rollback| rollback.execute([]));
        }
    }
}
