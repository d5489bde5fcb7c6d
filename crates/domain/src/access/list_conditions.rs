//! Compiled list conditions, kept for the next list that would compile the same one.
//!
//! A list rule compiles to a different condition for each caller (`@request.auth.id` becomes a
//! constant), but the same caller listing the same collection again (paging, polling, a
//! dashboard) gets the same one. Compiling it and writing its SQL is a sizeable part of a short
//! list, so the result ([`ListCondition`], which keeps its SQL) is kept.
//!
//! The key is everything compiling reads that can change between requests: the collection's
//! definition (its rules and fields; compared by identity, since the registry replaces the
//! whole definition when anything in it changes), which expressions apply and the values of the
//! `@request.*` operands in them. Expressions that read the clock (`@now`, `@todayStart` …) are
//! compiled every time. Keys hold request values (a caller's id, a header a rule reads): they
//! stay in this bounded map and are never logged.

use super::Scope;
use crate::collection::Collection;
use crate::filter::{self, Expr, Operand};
use gatehouse_store::{Condition, ListCondition};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

/// Past this many, the map is emptied: a miss costs one compile, so a simple bound is enough.
const MAX_ENTRIES: usize = 1024;

#[derive(Default)]
pub struct ListConditionCache {
    compiled: RwLock<HashMap<String, Entry>>,
}

struct Entry {
    collection: Arc<Collection>,
    condition: ListCondition,
}

impl ListConditionCache {
    /// The condition `compile` gives for `exprs` on `collection`, compiled once per distinct
    /// `@request.*` values. `variant` names what else decides the compile (such as the
    /// `filter` parameter's text and whether hidden fields are known).
    pub fn get_or_compile<E>(
        &self,
        collection: &Arc<Collection>,
        variant: &str,
        exprs: &[&Expr],
        scope: Scope<'_>,
        compile: impl FnOnce() -> Result<Condition, E>,
    ) -> Result<ListCondition, E> {
        let Some(key) = key(&collection.id, variant, exprs, scope) else {
            return compile().map(ListCondition::new);
        };
        let cached = lock_read(&self.compiled)
            .get(&key)
            .filter(|e| Arc::ptr_eq(&e.collection, collection))
            .map(|e| e.condition.clone());
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let condition = ListCondition::new(compile()?);
        let mut map = match self.compiled.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            key,
            Entry {
                collection: collection.clone(),
                condition: condition.clone(),
            },
        );
        Ok(condition)
    }
}

/// `None` when an expression reads something other than the request (the clock).
fn key(collection_id: &str, variant: &str, exprs: &[&Expr], scope: Scope<'_>) -> Option<String> {
    let mut key = String::with_capacity(128);
    // Lengths first, so that no two different inputs give the same key.
    let _ = write!(
        key,
        "{}:{collection_id}{}:{variant}",
        collection_id.len(),
        variant.len()
    );
    for expr in exprs {
        key.push('|');
        for operand in expr.ident_operands() {
            let Operand::Ident { path, .. } = operand else {
                continue;
            };
            if !path.starts_with('@') {
                continue;
            }
            if !path.starts_with("@request.") {
                return None;
            }
            // JSON text never holds a raw NUL, so NUL separates values unambiguously.
            let _ = write!(key, "{}\0", filter::value(operand, &scope));
        }
    }
    Some(key)
}

fn lock_read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    match lock.read() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests;
