//! Superuser management of auth collections (`/api/collections`).

use super::audit::Event;
use super::paging::Paging;
use super::records::unique_indexes;
use super::{Gatehouse, ListOf, require_superuser};
use crate::access::{Caller, RequestInfo};
use crate::collection::{
    self, Collection, check_collection, check_raw_fields, merge_json, prepare,
};
use crate::error::{Error, FieldErrors, Result, codes};
use crate::random;
use gatehouse_store::{CollectionRow, StoreError};
use serde_json::{Value, json};

const BAD_FORMAT: &str = "Failed to load the submitted data due to invalid formatting.";

pub fn row_of(c: &Collection) -> CollectionRow {
    CollectionRow {
        id: c.id.clone(),
        name: c.name.clone(),
        kind: c.kind.clone(),
        system: c.system,
        definition: c.to_stored_json(),
        created: c.created.clone(),
        updated: c.updated.clone(),
    }
}

/// A collection insert or rename that hit the unique name (or id) constraint.
fn name_or_id_taken(target: &str, message: &str) -> Error {
    let mut errors = FieldErrors::default();
    if target == "id" {
        errors.add_code("id", codes::NOT_UNIQUE);
    } else {
        errors.add(
            "name",
            "validation_collection_name_exists",
            "Collection name must be unique (case insensitive).",
        );
    }
    Error::validation(message, errors)
}

impl Gatehouse {
    pub async fn list_collections(
        &self,
        caller: Option<&Caller>,
        page: i64,
        per_page: i64,
    ) -> Result<ListOf<Value>> {
        require_superuser(caller)?;
        let all = self.collections.all().await?;
        let paging = Paging::new(page, per_page);
        let total = all.len() as i64;
        let items = all
            .iter()
            .skip(usize::try_from(paging.offset()).unwrap_or(usize::MAX))
            .take(paging.per_page as usize)
            .map(|c| c.to_api_json())
            .collect();
        Ok(ListOf {
            items,
            page: paging.page,
            per_page: paging.per_page,
            total_items: total,
            total_pages: paging.total_pages(total),
        })
    }

    pub async fn get_collection(&self, caller: Option<&Caller>, id_or_name: &str) -> Result<Value> {
        require_superuser(caller)?;
        let c = self
            .collections
            .get(id_or_name)
            .await?
            .ok_or_else(Error::resource_not_found)?;
        Ok(c.to_api_json())
    }

    /// `POST /api/collections`: the type's scaffold with the body merged on top.
    pub async fn create_collection(&self, caller: Option<&Caller>, body: Value) -> Result<Value> {
        require_superuser(caller)?;
        let Value::Object(fields) = &body else {
            return Err(Error::bad_request(BAD_FORMAT));
        };
        let name = fields
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let kind = fields.get("type").and_then(Value::as_str).unwrap_or("base");
        let mut errors = check_raw_fields(&body);
        if kind != "auth" {
            errors.add(
                "type",
                "validation_unsupported_collection_type",
                "Gatehouse manages auth collections only (type \"auth\").",
            );
        }
        errors.into_result("Failed to create collection.")?;

        let now = self.now();
        let scaffold = collection::auth_scaffold(&name, &now);
        let mut merged = serde_json::to_value(&scaffold).map_err(Error::internal)?;
        merge_json(&mut merged, &body);
        let mut c: Collection =
            serde_json::from_value(merged).map_err(|_| Error::bad_request(BAD_FORMAT))?;
        if c.id.is_empty() {
            c.id = scaffold.id.clone();
        }
        c.kind = "auth".to_owned();
        c.system = false;
        c.created = now.clone();
        c.updated = now;
        prepare(&mut c);
        let mut errors = check_collection(&c, None);
        if !c
            .id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            || c.id.len() > 100
        {
            errors.add_code("id", codes::MATCH_INVALID);
        }
        errors.into_result("Failed to create collection.")?;

        match self.store.insert_collection(&row_of(&c)).await {
            Ok(()) => {}
            Err(StoreError::Unique { target }) => {
                return Err(name_or_id_taken(&target, "Failed to create collection."));
            }
            Err(e) => return Err(e.into()),
        }
        self.sync_indexes(&c, "Failed to create collection.")
            .await?;
        self.collections.invalidate().await?;
        tracing::info!(collection = %c.name, "collection created");
        Ok(c.to_api_json())
    }

    /// `PATCH /api/collections/{c}`: objects merge field by field, arrays replace.
    pub async fn update_collection(
        &self,
        caller: Option<&Caller>,
        id_or_name: &str,
        patch: Value,
        request: &RequestInfo,
    ) -> Result<Value> {
        require_superuser(caller)?;
        let old = self
            .collections
            .get(id_or_name)
            .await?
            .ok_or_else(Error::resource_not_found)?;
        if !patch.is_object() {
            return Err(Error::bad_request(BAD_FORMAT));
        }
        check_raw_fields(&patch).into_result("Failed to update collection.")?;
        let mut merged = serde_json::to_value(&*old).map_err(Error::internal)?;
        merge_json(&mut merged, &patch);
        let mut c: Collection =
            serde_json::from_value(merged).map_err(|_| Error::bad_request(BAD_FORMAT))?;
        c.id = old.id.clone();
        c.kind = old.kind.clone();
        c.system = old.system;
        c.created = old.created.clone();
        c.updated = self.now();
        crate::oauth2::keep_client_secrets(&mut c.oauth2.providers, &old.oauth2.providers);
        prepare(&mut c);
        check_collection(&c, Some(&old)).into_result("Failed to update collection.")?;
        if c.auth_rule != old.auth_rule {
            // PocketBase: a new authRule invalidates every auth token of the collection.
            c.auth_token.secret = random::secret();
        }
        self.sync_indexes(&c, "Failed to update collection.")
            .await?;
        match self.store.update_collection(&row_of(&c)).await {
            Ok(()) => {}
            Err(StoreError::Unique { target }) => {
                return Err(name_or_id_taken(&target, "Failed to update collection."));
            }
            Err(StoreError::NotFound) => return Err(Error::resource_not_found()),
            Err(e) => return Err(e.into()),
        }
        self.collections.invalidate().await?;
        let mut event = Event::settings_changed(&c.id, &patch, caller);
        event.data["collection"] = json!(c.name);
        self.audit(event, request).await?;
        if c.name != old.name {
            self.rename_rate_limit_labels(&old.name, &c.name).await?;
        }
        Ok(c.to_api_json())
    }

    pub async fn delete_collection(&self, caller: Option<&Caller>, id_or_name: &str) -> Result<()> {
        require_superuser(caller)?;
        let c = self
            .collections
            .get(id_or_name)
            .await?
            .ok_or_else(Error::resource_not_found)?;
        if c.system {
            return Err(Error::bad_request("System collections cannot be deleted."));
        }
        self.store.delete_collection(&c.id).await?;
        self.collections.invalidate().await?;
        tracing::info!(collection = %c.name, "collection deleted");
        Ok(())
    }

    /// Applies the declared unique indexes; existing duplicates make it a 400 on `indexes`.
    async fn sync_indexes(&self, c: &Collection, message: &str) -> Result<()> {
        match self
            .store
            .sync_unique_indexes(&c.id, &unique_indexes(c))
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::Unique { target }) => {
                let mut errors = FieldErrors::default();
                errors.add(
                    "indexes",
                    "validation_unique_index_conflict",
                    &format!("Existing records have duplicate \"{target}\" values."),
                );
                Err(Error::validation(message, errors))
            }
            Err(e) => Err(e.into()),
        }
    }
}
