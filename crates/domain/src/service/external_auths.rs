//! PocketBase's `_externalAuths` collection: the OAuth2 links, read and removed through the
//! records API as the SDK's `listExternalAuths` and `unlinkExternalAuth` do it
//! (`GET …/_externalAuths/records?filter=recordRef='…'`, `DELETE …/_externalAuths/records/{id}`).
//! Its list, view and delete rule is PocketBase's owner rule: a record sees and removes its own
//! links, a superuser every link; nobody creates or edits one through the API.
//!
//! The links are few per record, so the `filter` and `sort` parameters are applied here, on the
//! record's links; a superuser's list over every record reads at most [`MAX_SCAN`] links.

use super::audit::{Event, kinds};
use super::paging::Paging;
use super::records::{ListParams, parse_filter};
use super::{Gatehouse, ListOf};
use crate::access::{Caller, RequestInfo, is_superuser};
use crate::error::{Error, Result};
use crate::filter::{self, Expr, OpKind, Operand};
use gatehouse_store::ExternalAuthRow;
use serde_json::{Map, Value, json};
use std::cmp::Ordering;

/// PocketBase's name and id of the collection.
pub const NAME: &str = "_externalAuths";
pub const ID: &str = "pbc_2281828961";
/// The most links a superuser's list over all records looks at.
pub const MAX_SCAN: i64 = 10_000;
const FIELDS: &[&str] = &[
    "id",
    "collectionRef",
    "recordRef",
    "provider",
    "providerId",
    "created",
    "updated",
];
const GENERIC_400: &str = "Something went wrong while processing your request.";
const ONLY_SUPERUSERS: &str = "Only superusers can perform this action.";

/// Whether a records route names this collection.
pub fn is_external_auths(collection: &str) -> bool {
    collection == NAME || collection == ID
}

/// A link as PocketBase renders an `_externalAuths` record.
fn render(link: &ExternalAuthRow) -> Map<String, Value> {
    let item = json!({
        "collectionId": ID,
        "collectionName": NAME,
        "id": link.id,
        "collectionRef": link.collection_id,
        "recordRef": link.record_id,
        "provider": link.provider,
        "providerId": link.provider_id,
        "created": link.created,
        "updated": link.updated,
    });
    match item {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The owner rule: the caller is the link's record (superusers pass any rule).
fn may_see(link: &ExternalAuthRow, caller: Option<&Caller>) -> bool {
    match caller {
        Some(x) if x.is_superuser() => true,
        Some(x) => x.record.id() == link.record_id && x.collection.id == link.collection_id,
        None => false,
    }
}

struct Item<'a>(&'a Map<String, Value>);

impl filter::Context for Item<'_> {
    fn lookup(&self, path: &str) -> Option<Value> {
        self.0.get(path).cloned()
    }
}

/// The record a filter pins with a top-level `recordRef = '…'` (the SDK's filters all do).
fn pinned_record(expr: &Expr) -> Option<&str> {
    let parts = match expr {
        Expr::And(parts) => parts.as_slice(),
        other => std::slice::from_ref(other),
    };
    parts.iter().find_map(|part| match part {
        Expr::Compare {
            left:
                Operand::Ident {
                    path,
                    modifier: None,
                },
            op,
            right: Operand::Str(id),
        } if path == "recordRef" && op.kind == OpKind::Eq && !op.any => Some(id.as_str()),
        _ => None,
    })
}

/// `sort` over the item's fields (`-created,provider`); anything else is PocketBase's 400.
fn sort_keys(sort: &str) -> Result<Vec<(&str, bool)>> {
    sort.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .take(8)
        .map(|term| {
            let (field, descending) = match term.strip_prefix('-') {
                Some(f) => (f, true),
                None => (term.strip_prefix('+').unwrap_or(term), false),
            };
            match FIELDS.contains(&field) {
                true => Ok((field, descending)),
                false => Err(Error::bad_request(GENERIC_400)),
            }
        })
        .collect()
}

fn compare_by(keys: &[(&str, bool)], a: &Map<String, Value>, b: &Map<String, Value>) -> Ordering {
    keys.iter()
        .map(|(field, descending)| {
            let text = |m: &Map<String, Value>| m.get(*field).map(filter::text).unwrap_or_default();
            let (x, y) = (text(a), text(b));
            match descending {
                true => y.cmp(&x),
                false => x.cmp(&y),
            }
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

impl Gatehouse {
    /// `GET /api/collections/_externalAuths/records`.
    pub async fn list_external_auths(
        &self,
        params: ListParams,
        caller: Option<&Caller>,
    ) -> Result<ListOf<Value>> {
        let su = is_superuser(caller);
        let paging = Paging::new(params.page, params.per_page);
        let filter = match params.filter.trim().is_empty() {
            true => None,
            false => Some(parse_filter(&params.filter, !su)?),
        };
        let keys = sort_keys(&params.sort)?;
        let links = match (caller, filter.as_ref().and_then(pinned_record)) {
            (None, _) => Vec::new(),
            (Some(_), Some(record_id)) => self.store.list_external_auths(record_id).await?,
            (Some(_), None) if su => self.store.list_all_external_auths(MAX_SCAN).await?,
            (Some(x), None) => self.store.list_external_auths(x.record.id()).await?,
        };
        let mut items: Vec<Map<String, Value>> = links
            .iter()
            .filter(|link| may_see(link, caller))
            .map(render)
            .filter(|item| {
                filter
                    .as_ref()
                    .is_none_or(|f| filter::evaluate(f, &Item(item)))
            })
            .collect();
        if !keys.is_empty() {
            items.sort_by(|a, b| compare_by(&keys, a, b));
        }
        let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
        let offset = usize::try_from(paging.offset()).unwrap_or(usize::MAX);
        let per_page = usize::try_from(paging.per_page).unwrap_or(0);
        let page: Vec<Value> = items
            .into_iter()
            .skip(offset)
            .take(per_page)
            .map(Value::Object)
            .collect();
        let (total_items, total_pages) = match params.skip_total {
            true => (-1, -1),
            false => (total, paging.total_pages(total)),
        };
        Ok(ListOf {
            items: page,
            page: paging.page,
            per_page: paging.per_page,
            total_items,
            total_pages,
        })
    }

    /// `GET /api/collections/_externalAuths/records/{id}`: someone else's link is not found.
    pub async fn view_external_auth(&self, id: &str, caller: Option<&Caller>) -> Result<Value> {
        let link = self.visible_link(id, caller).await?;
        Ok(Value::Object(render(&link)))
    }

    /// `DELETE /api/collections/_externalAuths/records/{id}`: unlinks the account, with an
    /// `oauth2.unlinked` event in the same transaction.
    pub async fn unlink_external_auth(
        &self,
        id: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<()> {
        let link = self.visible_link(id, caller).await?;
        let event = Event {
            kind: kinds::OAUTH2_UNLINKED,
            collection_id: &link.collection_id,
            record_id: &link.record_id,
            method: "oauth2",
            data: json!({
                "provider": link.provider,
                "by": caller.map(|x| x.record.id()).unwrap_or_default(),
            }),
        };
        let row = self.audit_row(event, request);
        match self.store.delete_external_auth(&link.id, &[row]).await? {
            true => Ok(()),
            // Unlinked meanwhile by another request.
            false => Err(Error::resource_not_found()),
        }
    }

    /// Creating or editing a link is for the OAuth2 login alone (PocketBase's null rules).
    pub fn write_external_auth(&self, caller: Option<&Caller>) -> Result<Value> {
        match is_superuser(caller) {
            true => Err(Error::bad_request(
                "OAuth2 links are made by signing in with the provider.",
            )),
            false => Err(Error::forbidden(ONLY_SUPERUSERS)),
        }
    }

    async fn visible_link(&self, id: &str, caller: Option<&Caller>) -> Result<ExternalAuthRow> {
        match self.store.find_external_auth_by_id(id).await? {
            Some(link) if may_see(&link, caller) => Ok(link),
            _ => Err(Error::resource_not_found()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // fixed inputs: a failure fails the test at once
mod tests {
    use super::*;

    #[test]
    fn the_sdk_filters_pin_the_record() {
        let list = filter::parse("recordRef = 'abc'").unwrap();
        assert_eq!(pinned_record(&list), Some("abc"));
        let unlink = filter::parse("recordRef = 'abc' && provider = 'github'").unwrap();
        assert_eq!(pinned_record(&unlink), Some("abc"));
        let either = filter::parse("recordRef = 'abc' || provider = 'github'").unwrap();
        assert_eq!(pinned_record(&either), None);
    }

    #[test]
    fn sort_takes_only_the_items_fields() {
        assert_eq!(
            sort_keys("-created, provider").unwrap(),
            vec![("created", true), ("provider", false)]
        );
        assert!(sort_keys("password").is_err());
    }
}
