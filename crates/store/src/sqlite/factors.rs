//! Second factors on SQLite. Every write runs on the one writer connection, so a conditional
//! statement there is also the whole race: of concurrent uses of a code or a step, one changes a row.

use super::{SqliteStore, Tx, audit_params, owned_key, positional};
use crate::factors_sql as q;
use crate::{AuditRow, FactorRow, Result, Spend, StepOutcome, StoreError, TicketKey};
use rusqlite::{Connection, OptionalExtension, params};

/// A backup code's use: the record's code with hash `?2`, deleted by its whole key (one row at
/// most). [`spend_code`] tries the code's hashes (one per server key) until one deletes a row.
const CONSUME_BACKUP_CODE: &str =
    "DELETE FROM factor_codes WHERE record_id = ?1 AND code_hash = ?2";

fn factor(r: &rusqlite::Row<'_>) -> rusqlite::Result<FactorRow> {
    Ok(FactorRow {
        id: r.get(0)?,
        collection_id: r.get(1)?,
        record_id: r.get(2)?,
        kind: r.get(3)?,
        status: r.get(4)?,
        secret: r.get(5)?,
        target: r.get(6)?,
        data: r.get(7)?,
        created: r.get(8)?,
        last_used: r.get(9)?,
        last_step: r.get(10)?,
    })
}

/// Every column of a factor, in table order (?1 = id … ?11 = last_step).
fn factor_params(r: &FactorRow) -> impl rusqlite::Params + '_ {
    (
        &r.id,
        &r.collection_id,
        &r.record_id,
        &r.kind,
        &r.status,
        &r.secret,
        &r.target,
        &r.data,
        &r.created,
        &r.last_used,
        r.last_step,
    )
}

pub(super) fn insert_events(c: &Connection, events: &[AuditRow]) -> rusqlite::Result<()> {
    for event in events {
        c.prepare_cached(positional!(crate::sql::INSERT_AUDIT))?
            .execute(audit_params(event))?;
    }
    Ok(())
}

/// The record's backup-code set becomes `row` with these hashes.
fn replace_codes(c: &Connection, row: &FactorRow, hashes: &[String]) -> rusqlite::Result<()> {
    c.prepare_cached(positional!(q::DELETE_BACKUP_CODES))?
        .execute([&row.record_id])?;
    c.prepare_cached(positional!(q::DELETE_BACKUP_FACTOR))?
        .execute([&row.record_id])?;
    c.prepare_cached(positional!(q::INSERT_FACTOR))?
        .execute(factor_params(row))?;
    let mut insert = c.prepare_cached(positional!(q::INSERT_BACKUP_CODE))?;
    for hash in hashes {
        insert.execute([&row.id, &row.record_id, hash])?;
    }
    Ok(())
}

/// A record's factors and codes, inside its delete's transaction.
pub(super) fn delete_of_record(c: &Connection, record_id: &str) -> rusqlite::Result<usize> {
    c.prepare_cached(positional!(q::DELETE_RECORD_CODES))?
        .execute([record_id])?;
    c.prepare_cached(positional!(q::DELETE_RECORD_FACTORS))?
        .execute([record_id])
}

/// A collection's factors and codes, inside its delete's transaction.
pub(super) fn delete_of_collection(c: &Connection, collection_id: &str) -> rusqlite::Result<()> {
    c.execute(positional!(q::DELETE_COLLECTION_CODES), [collection_id])?;
    c.execute(positional!(q::DELETE_COLLECTION_FACTORS), [collection_id])?;
    Ok(())
}

pub(super) fn list(store: &SqliteStore, record_id: &str) -> Result<Vec<FactorRow>> {
    store.read(|c| of_record(c, record_id))
}

/// A record's factors, oldest first, on `c`.
pub(super) fn of_record(c: &Connection, record_id: &str) -> rusqlite::Result<Vec<FactorRow>> {
    c.prepare_cached(positional!(q::LIST_FACTORS))?
        .query_map([record_id], factor)?
        .collect()
}

pub(super) fn of_kind(store: &SqliteStore, kind: &str) -> Result<Vec<FactorRow>> {
    store.read(|c| {
        c.prepare_cached(positional!(q::FACTORS_OF_KIND))?
            .query_map([kind], factor)?
            .collect()
    })
}

pub(super) fn count_codes(store: &SqliteStore, record_id: &str) -> Result<i64> {
    store.read(|c| {
        c.prepare_cached(positional!(q::COUNT_BACKUP_CODES))?
            .query_row([record_id], |r| r.get(0))
    })
}

pub(super) async fn put_pending(
    store: &SqliteStore,
    row: &FactorRow,
    events: &[AuditRow],
) -> Result<()> {
    let row = row.as_pending();
    let events = events.to_vec();
    store
        .write(move |c| {
            let tx = Tx::begin(c)?;
            if tx
                .prepare_cached(positional!(q::PUT_PENDING_FACTOR))?
                .execute(factor_params(&row))?
                == 0
            {
                return Ok(Err(StoreError::Unique {
                    target: "kind".to_owned(),
                }));
            }
            insert_events(&tx, &events)?;
            tx.commit()?;
            Ok(Ok(()))
        })
        .await?
}

pub(super) async fn verify(
    store: &SqliteStore,
    record_id: &str,
    id: &str,
    last_step: i64,
    backup: Option<(&FactorRow, &[String])>,
    events: &[AuditRow],
) -> Result<bool> {
    let key = [record_id.to_owned(), id.to_owned()];
    let backup = backup.map(|(row, hashes)| (row.clone(), hashes.to_vec()));
    let events = events.to_vec();
    store
        .write(move |c| {
            let tx = Tx::begin(c)?;
            if tx
                .prepare_cached(positional!(q::VERIFY_FACTOR))?
                .execute(params![key[0], key[1], last_step])?
                == 0
            {
                return Ok(false);
            }
            if let Some((row, hashes)) = &backup {
                replace_codes(&tx, row, hashes)?;
            }
            insert_events(&tx, &events)?;
            tx.commit()?;
            Ok(true)
        })
        .await
}

pub(super) async fn replace_backup_codes(
    store: &SqliteStore,
    row: &FactorRow,
    code_hashes: &[String],
    events: &[AuditRow],
) -> Result<()> {
    let row = row.clone();
    let hashes = code_hashes.to_vec();
    let events = events.to_vec();
    store
        .write(move |c| {
            let tx = Tx::begin(c)?;
            replace_codes(&tx, &row, &hashes)?;
            insert_events(&tx, &events)?;
            tx.commit()
        })
        .await
}

pub(super) async fn consume_backup_code(
    store: &SqliteStore,
    record_id: &str,
    code_hashes: &[String],
    used_at: &str,
) -> Result<Option<i64>> {
    let (record_id, hashes, used_at) = (
        record_id.to_owned(),
        code_hashes.to_vec(),
        used_at.to_owned(),
    );
    store
        .write(move |c| {
            let tx = Tx::begin(c)?;
            let left = spend_code(&tx, &record_id, &hashes, &used_at)?;
            if left.is_some() {
                tx.commit()?;
            }
            Ok(left)
        })
        .await
}

/// A [`Spend`] the writer thread can own.
enum OwnedSpend {
    TotpStep {
        factor_id: String,
        step: i64,
        used_at: String,
    },
    BackupCode {
        record_id: String,
        hashes: Vec<String>,
        used_at: String,
    },
}

impl OwnedSpend {
    fn of(spend: Spend<'_>) -> Self {
        match spend {
            Spend::TotpStep {
                factor_id,
                step,
                used_at,
            } => Self::TotpStep {
                factor_id: factor_id.to_owned(),
                step,
                used_at: used_at.to_owned(),
            },
            Spend::BackupCode {
                record_id,
                code_hashes,
                used_at,
            } => Self::BackupCode {
                record_id: record_id.to_owned(),
                hashes: code_hashes.to_vec(),
                used_at: used_at.to_owned(),
            },
        }
    }
}

/// Spends one backup code (of the record, hash any of `hashes`) inside the caller's
/// transaction and stamps the set; the codes left, or `None` when none matched (nothing changed).
fn spend_code(
    c: &Connection,
    record_id: &str,
    hashes: &[String],
    used_at: &str,
) -> rusqlite::Result<Option<i64>> {
    let mut consume = c.prepare_cached(CONSUME_BACKUP_CODE)?;
    let mut spent = false;
    for hash in hashes {
        if consume.execute(params![record_id, hash])? > 0 {
            spent = true;
            break;
        }
    }
    if !spent {
        return Ok(None);
    }
    c.prepare_cached(positional!(q::TOUCH_BACKUP_FACTOR))?
        .execute(params![record_id, used_at])?;
    c.prepare_cached(positional!(q::COUNT_BACKUP_CODES))?
        .query_row([record_id], |r| r.get(0))
        .map(Some)
}

/// Whether `spend` went through inside the caller's transaction, and the codes left of a backup code.
fn spend_one(c: &Connection, spend: &OwnedSpend) -> rusqlite::Result<Option<Option<i64>>> {
    match spend {
        OwnedSpend::TotpStep {
            factor_id,
            step,
            used_at,
        } => Ok((c
            .prepare_cached(positional!(q::USE_TOTP_STEP))?
            .execute(params![factor_id, step, used_at])?
            > 0)
        .then_some(None)),
        OwnedSpend::BackupCode {
            record_id,
            hashes,
            used_at,
        } => Ok(spend_code(c, record_id, hashes, used_at)?.map(Some)),
    }
}

pub(super) async fn complete_second_step(
    store: &SqliteStore,
    session: TicketKey<'_>,
    max_failures: i64,
    now_ms: i64,
    spend: Spend<'_>,
    events: &[AuditRow],
) -> Result<StepOutcome> {
    let key = owned_key(session);
    let spend = OwnedSpend::of(spend);
    let events = events.to_vec();
    store
        .write(move |c| {
            // Dropping the transaction without a commit rolls back whatever it did so far.
            let tx = Tx::begin(c)?;
            let session = tx
                .prepare_cached(positional!(crate::sql::CONSUME_TICKET))?
                .query_row(
                    params![key[0], key[1], key[2], "", now_ms, max_failures],
                    |_| Ok(()),
                )
                .optional()?;
            if session.is_none() {
                return Ok(StepOutcome::NoSession);
            }
            let Some(backup_codes_left) = spend_one(&tx, &spend)? else {
                return Ok(StepOutcome::Refused);
            };
            insert_events(&tx, &events)?;
            tx.commit()?;
            Ok(StepOutcome::Done { backup_codes_left })
        })
        .await
}

/// One conditional statement (`query`, already [`positional!`], with `args`); whether it changed
/// a row.
pub(super) async fn change<const N: usize>(
    store: &SqliteStore,
    query: &'static str,
    args: [rusqlite::types::Value; N],
) -> Result<bool> {
    store
        .write(move |c| {
            c.prepare_cached(query)?
                .execute(rusqlite::params_from_iter(args))
        })
        .await
        .map(|n| n > 0)
}

pub(super) async fn delete_one(
    store: &SqliteStore,
    record_id: &str,
    kind: &str,
    events: &[AuditRow],
) -> Result<bool> {
    let key = [record_id.to_owned(), kind.to_owned()];
    let events = events.to_vec();
    store
        .write(move |c| {
            let tx = Tx::begin(c)?;
            tx.prepare_cached(positional!(q::DELETE_FACTOR_CODES))?
                .execute(params![key[0], key[1]])?;
            if tx
                .prepare_cached(positional!(q::DELETE_FACTOR))?
                .execute(params![key[0], key[1]])?
                == 0
            {
                return Ok(false);
            }
            insert_events(&tx, &events)?;
            tx.commit()?;
            Ok(true)
        })
        .await
}

pub(super) async fn delete_all(
    store: &SqliteStore,
    record_id: &str,
    events: &[AuditRow],
) -> Result<u64> {
    let record_id = record_id.to_owned();
    let events = events.to_vec();
    store
        .write(move |c| {
            let tx = Tx::begin(c)?;
            let deleted = delete_of_record(&tx, &record_id)?;
            insert_events(&tx, &events)?;
            tx.commit()?;
            Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
        })
        .await
}
