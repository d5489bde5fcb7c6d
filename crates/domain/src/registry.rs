//! The collections, cached in memory. Every request needs its collection (and token checks need its
//! secrets), so reading them from the database each time would dominate a token refresh. Local
//! changes invalidate the cache at once; changes made by another instance sharing the database are
//! picked up within `MAX_AGE_MS`.

use crate::clock::Clock;
use crate::collection::Collection;
use crate::error::{Error, Result};
use gatehouse_store::Store;
use std::sync::{Arc, RwLock};

const MAX_AGE_MS: i64 = 1000;

struct Snapshot {
    collections: Vec<Arc<Collection>>,
    loaded_at: i64,
}

pub struct Registry {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    snapshot: RwLock<Arc<Snapshot>>,
    reload: tokio::sync::Mutex<()>,
}

impl Registry {
    pub async fn load(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Self> {
        let snapshot = Arc::new(read_all(&*store, clock.now_millis()).await?);
        Ok(Self {
            store,
            clock,
            snapshot: RwLock::new(snapshot),
            reload: tokio::sync::Mutex::new(()),
        })
    }

    /// A collection by id or (case-insensitive) name.
    pub async fn get(&self, id_or_name: &str) -> Result<Option<Arc<Collection>>> {
        let snapshot = self.fresh().await?;
        Ok(snapshot
            .collections
            .iter()
            .find(|c| c.id == id_or_name || c.name.eq_ignore_ascii_case(id_or_name))
            .cloned())
    }

    pub async fn all(&self) -> Result<Vec<Arc<Collection>>> {
        Ok(self.fresh().await?.collections.clone())
    }

    /// Re-reads the collections now (after a local change).
    pub async fn invalidate(&self) -> Result<()> {
        let _guard = self.reload.lock().await;
        self.replace(read_all(&*self.store, self.clock.now_millis()).await?);
        Ok(())
    }

    async fn fresh(&self) -> Result<Arc<Snapshot>> {
        let current = self.current();
        if self.clock.now_millis() - current.loaded_at < MAX_AGE_MS {
            return Ok(current);
        }
        // One request reloads; the others wait for it rather than all hitting the database.
        let _guard = self.reload.lock().await;
        let current = self.current();
        let now = self.clock.now_millis();
        if now - current.loaded_at < MAX_AGE_MS {
            return Ok(current);
        }
        let snapshot = read_all(&*self.store, now).await?;
        self.replace(snapshot);
        Ok(self.current())
    }

    fn current(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        match self.snapshot.write() {
            Ok(mut guard) => *guard = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }
}

async fn read_all(store: &dyn Store, now: i64) -> Result<Snapshot> {
    let mut collections = Vec::new();
    for row in store.list_collections().await? {
        let collection: Collection = serde_json::from_str(&row.definition).map_err(|e| {
            Error::internal(format!("stored collection {} is unreadable: {e}", row.id))
        })?;
        collections.push(Arc::new(collection));
    }
    Ok(Snapshot {
        collections,
        loaded_at: now,
    })
}
