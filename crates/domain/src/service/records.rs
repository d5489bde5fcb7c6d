//! Auth records CRUD (`/api/collections/{c}/records[/{id}]`) with PocketBase's rules on who may
//! see and change what.

use super::audit::{Event, kinds};
use super::external_auths::is_external_auths;
use super::paging::Paging;
use super::{Gatehouse, ListOf};
use crate::access::{
    Caller, Compiler, RequestInfo, Rule, Scope, Subject, and, can_manage, is_superuser,
};
use crate::collection::{Collection, FieldKind, SUPERUSERS_ID};
use crate::error::{Error, FieldErrors, Result, codes};
use crate::filter;
use crate::password::Password;
use crate::random;
use crate::record::{Record, View};
use gatehouse_store::{
    AuditRow, Column, Condition, ListCondition, ListQuery, RecordRow, SortKey, SortTerm,
    StoreError, UniqueIndex,
};
use serde_json::{Map, Value, json};
use std::sync::Arc;

const ONLY_SUPERUSERS: &str = "Only superusers can perform this action.";
/// PocketBase's answer to a bad `filter` or `sort`: no details.
const GENERIC_400: &str = "Something went wrong while processing your request.";
/// PocketBase's limit on the terms of `sort`; it also keeps the ORDER BY within the databases'
/// limits on terms and bound parameters.
const MAX_SORT_TERMS: usize = 8;

/// Query parameters of a records list.
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub page: i64,
    pub per_page: i64,
    pub sort: String,
    pub filter: String,
    pub skip_total: bool,
}

impl Gatehouse {
    pub async fn list_records(
        &self,
        collection: &str,
        params: ListParams,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<ListOf<Value>> {
        if is_external_auths(collection) {
            return self.list_external_auths(params, caller).await;
        }
        let c = self.collection_for_records(collection).await?;
        let su = is_superuser(caller);
        let paging = Paging::new(params.page, params.per_page);
        let sort = parse_sort(&c, &params.sort, su)?;
        let scope = self.scope(caller, request);
        let condition = self.list_condition(&c, su, &params.filter, scope)?;
        if condition.is_never() {
            return Ok(empty_page(paging, params.skip_total));
        }
        let query = ListQuery {
            collection_id: c.id.clone(),
            condition,
            sort,
            limit: paging.per_page,
            offset: paging.offset(),
            skip_total: params.skip_total,
        };
        let result = self.store.list_records(&query).await?;
        let items = result
            .rows
            .into_iter()
            .map(|row| {
                let record = Record::from_row(row);
                let view = self.view_for(&c, caller, &record, request);
                record.render(&c, view)
            })
            .collect();
        let (total_items, total_pages) = match result.total {
            Some(total) => (total, paging.total_pages(total)),
            None => (-1, -1),
        };
        Ok(ListOf {
            items,
            page: paging.page,
            per_page: paging.per_page,
            total_items,
            total_pages,
        })
    }

    /// Which records of `c` a list shows: the list rule (unless a superuser asks) and the
    /// `filter` parameter. Compiled once per caller and filter (see [`ListConditionCache`]).
    fn list_condition(
        &self,
        c: &Arc<Collection>,
        su: bool,
        filter_src: &str,
        scope: Scope<'_>,
    ) -> Result<ListCondition> {
        let rule = match su {
            true => None,
            false => match self.rules.get(c.list_rule.as_deref()) {
                rule if matches!(*rule, Rule::SuperusersOnly) => {
                    return Err(Error::forbidden(ONLY_SUPERUSERS));
                }
                rule => Some(rule),
            },
        };
        let filter = match filter_src.trim().is_empty() {
            true => None,
            false => Some(parse_filter(filter_src, !su)?),
        };
        let exprs: Vec<&filter::Expr> = [rule.as_deref().and_then(Rule::expr), filter.as_ref()]
            .into_iter()
            .flatten()
            .collect();
        let compile = || -> Result<Condition> {
            let from_rule = match &rule {
                Some(rule) => rule.list_condition(c, scope),
                None => Condition::Const(true),
            };
            Ok(match &filter {
                Some(expr) => and(from_rule, compile_filter(c, scope, expr, !su)?),
                None => from_rule,
            })
        };
        if exprs.is_empty() {
            return compile().map(ListCondition::new);
        }
        let variant = format!("{su}:{filter_src}");
        self.list_conditions
            .get_or_compile(c, &variant, &exprs, scope, compile)
    }

    pub async fn view_record(
        &self,
        collection: &str,
        id: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<Value> {
        if is_external_auths(collection) {
            return self.view_external_auth(id, caller).await;
        }
        let c = self.collection_for_records(collection).await?;
        let rule = self.rule_for(c.view_rule.as_deref(), caller)?;
        // Reading your own record: the token check loaded it a moment ago.
        let record = match caller.filter(|x| x.record.id() == id && x.collection.id == c.id) {
            Some(own) => own.record.clone(),
            None => self.load(&c, id).await?,
        };
        self.check(&rule, &c, &record, caller, request)?;
        Ok(record.render(&c, self.view_for(&c, caller, &record, request)))
    }

    /// Creates a record from `request.body` (which the rules see as submitted).
    pub async fn create_record(
        &self,
        collection: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<Value> {
        if is_external_auths(collection) {
            return self.write_external_auth(caller);
        }
        let c = self.collection_for_records(collection).await?;
        let (record, manage) = self.new_record(&c, caller, request).await?;
        match self.store.insert_record(&record.to_row()).await {
            Ok(()) => {}
            Err(StoreError::Unique { target }) => {
                return Err(unique_error(&c, &target, "Failed to create record."));
            }
            Err(e) => return Err(e.into()),
        }
        let view = self.view_for(&c, caller, &record, request);
        Ok(record.render(
            &c,
            View {
                email: view.email || manage,
                ..view
            },
        ))
    }

    /// The record `request.body` creates, validated and allowed by the create rule, with its
    /// password hashed; not stored yet. Also whether the caller may manage it.
    pub(super) async fn new_record(
        &self,
        c: &Collection,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<(Record, bool)> {
        let mut body = request.body.clone();
        let su = is_superuser(caller);
        let rule = self.rule_for(c.create_rule.as_deref(), caller)?;
        if !su {
            drop_hidden_fields(c, &mut body);
        }
        let mut errors = FieldErrors::default();

        let id = match body.get("id").map(crate::collection::field::cast_string) {
            Some(id) if !id.is_empty() => {
                if id.len() != 15 {
                    errors.length_out_of_range("id", 15, 15);
                } else if !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                {
                    errors.add_code("id", codes::MATCH_INVALID);
                }
                id
            }
            _ => random::record_id(),
        };
        let now = self.now();
        let mut record = Record::from_row(RecordRow {
            id,
            collection_id: c.id.clone(),
            email: String::new(),
            email_visibility: false,
            verified: c.id == SUPERUSERS_ID,
            password_hash: String::new(),
            token_key: random::secret(),
            data: "{}".to_owned(),
            created: now.clone(),
            updated: now.clone(),
        });

        let email = body.get("email").cloned().unwrap_or(Value::Null);
        self.apply_email(c, &mut record, &email, &mut errors)
            .await?;
        if let Some(v) = body.get("emailVisibility") {
            record.row.email_visibility = as_bool(v);
        }
        let password = check_new_password(c, &body, true, &mut errors);
        self.apply_custom_fields(c, &mut record, &body, true, &now, &mut errors)
            .await?;
        // The create and manage rules see the record as submitted.
        let manage = can_manage(&self.subject(c, &record, caller, request));
        if let Some(v) = body.get("verified").map(as_bool)
            && c.id != SUPERUSERS_ID
        {
            if v && !manage {
                errors.add_code("verified", codes::VALUES_MISMATCH);
            }
            record.row.verified = v;
        }
        errors.into_result("Failed to create record.")?;
        if let Some(rule) = &rule
            && !rule.allows(&self.subject(c, &record, caller, request))
        {
            return Err(Error::bad_request("Failed to create record."));
        }

        if let Some(password) = password {
            record.row.password_hash = self.passwords.hash(&password).await?;
        }
        Ok((record, manage))
    }

    /// Applies `request.body` to the record (the rules see it as submitted).
    pub async fn update_record(
        &self,
        collection: &str,
        id: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<Value> {
        if is_external_auths(collection) {
            return self.write_external_auth(caller);
        }
        let mut body = request.body.clone();
        let c = self.collection_for_records(collection).await?;
        let rule = self.rule_for(c.update_rule.as_deref(), caller)?;
        let su = is_superuser(caller);
        if !su {
            drop_hidden_fields(&c, &mut body);
        }
        let mut record = self.load(&c, id).await?;
        let before = record.clone();
        self.check(&rule, &c, &record, caller, request)?;
        let manage = can_manage(&self.subject(&c, &record, caller, request));
        let mut errors = FieldErrors::default();

        if let Some(new_id) = body.get("id").map(crate::collection::field::cast_string)
            && new_id != record.row.id
        {
            errors.add_code("id", codes::VALUES_MISMATCH);
        }
        let mut rotate_token_key = false;
        if let Some(email) = body.get("email")
            && crate::collection::field::cast_string(email).trim() != record.row.email
        {
            if manage {
                self.apply_email(&c, &mut record, email, &mut errors)
                    .await?;
                rotate_token_key = true;
            } else {
                errors.add_code("email", codes::VALUES_MISMATCH);
            }
        }
        if let Some(v) = body.get("emailVisibility") {
            record.row.email_visibility = as_bool(v);
        }
        if let Some(v) = body.get("verified").map(as_bool)
            && v != record.row.verified
            && c.id != SUPERUSERS_ID
        {
            if manage {
                record.row.verified = v;
            } else {
                errors.add_code("verified", codes::VALUES_MISMATCH);
            }
        }
        let password = check_new_password(&c, &body, false, &mut errors);
        if password.is_some() && !manage {
            let old = body
                .get("oldPassword")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if old.is_empty() {
                errors.add_code("oldPassword", codes::REQUIRED);
            } else if !errors.has("password") && !errors.has("passwordConfirm") {
                // Guessing the old password is guessing a password: the login's lockout holds.
                self.before_old_password_check(record.id(), &request.ip)
                    .await?;
                let verdict = self
                    .passwords
                    .verify(&Password(old.to_owned()), Some(&record.row.password_hash))
                    .await?;
                self.after_old_password_check(record.id(), &request.ip, verdict.matched)
                    .await?;
                if !verdict.matched {
                    errors.add_code("oldPassword", codes::INVALID_OLD_PASSWORD);
                }
            }
        }
        let now = self.now();
        self.apply_custom_fields(&c, &mut record, &body, false, &now, &mut errors)
            .await?;
        errors.into_result("Failed to update record.")?;

        let mut events = Vec::new();
        let new_password = password.is_some();
        if let Some(password) = password {
            record.row.password_hash = self.passwords.hash(&password).await?;
            rotate_token_key = true;
            let by = caller.map(|x| x.record.id()).unwrap_or_default();
            let event = Event {
                kind: kinds::PASSWORD_CHANGED,
                collection_id: &c.id,
                record_id: id,
                method: "",
                data: json!({"by": by, "self": by == id}),
            };
            events.push(self.audit_row(event, request));
        }
        if rotate_token_key {
            // Kills every token of the record, the caller's own included (PocketBase does the same).
            record.row.token_key = random::secret();
        }
        record.row.updated = now;
        match self.save_changes(&before, &record, &events).await {
            Ok(()) => {}
            Err(StoreError::Unique { target }) => {
                return Err(unique_error(&c, &target, "Failed to update record."));
            }
            Err(StoreError::NotFound) => return Err(Error::resource_not_found()),
            // Credentials changed since the record was read (a reset, another PATCH): this
            // write was checked against the old ones, so it is refused rather than applied.
            Err(StoreError::Stale) => return Err(Error::bad_request("Failed to update record.")),
            Err(e) => return Err(e.into()),
        }
        if rotate_token_key {
            self.forget_credentials(id, new_password).await?;
            tracing::info!(record = id, collection = %c.name, "credentials changed; previous tokens revoked");
        }
        Ok(record.render(&c, self.view_for(&c, caller, &record, request)))
    }

    pub async fn delete_record(
        &self,
        collection: &str,
        id: &str,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<()> {
        if is_external_auths(collection) {
            return self.unlink_external_auth(id, caller, request).await;
        }
        let c = self.collection_for_records(collection).await?;
        let rule = self.rule_for(c.delete_rule.as_deref(), caller)?;
        let record = self.load(&c, id).await?;
        self.check(&rule, &c, &record, caller, request)?;
        self.delete_checked(&c.id, id).await?;
        Ok(())
    }

    /// Deletes a record; a superuser only while another one remains, checked by the delete
    /// itself so that two concurrent deletes cannot remove the last two.
    pub(super) async fn delete_checked(&self, collection_id: &str, id: &str) -> Result<()> {
        let superuser = collection_id == SUPERUSERS_ID;
        if self
            .store
            .delete_record(collection_id, id, superuser)
            .await?
        {
            return Ok(());
        }
        match superuser && self.store.find_record(collection_id, id).await?.is_some() {
            true => Err(Error::bad_request(
                "You can't delete the only existing superuser.",
            )),
            false => Err(Error::resource_not_found()),
        }
    }

    /// Writes what changed in `record` since it was read as `before`. A write that touches
    /// credentials, the address or its proof lands only if the record still has the `tokenKey`
    /// it was read with (else `Stale`, nothing written): it was checked against that state.
    pub(super) async fn save_changes(
        &self,
        before: &Record,
        record: &Record,
        events: &[AuditRow],
    ) -> std::result::Result<(), StoreError> {
        let changes = record.changes_since(before);
        let expected = changes
            .touches_credentials()
            .then_some(before.row.token_key.as_str());
        self.store
            .update_record(
                &record.row.collection_id,
                record.id(),
                &changes,
                expected,
                events,
            )
            .await
    }

    async fn load(&self, c: &Collection, id: &str) -> Result<Record> {
        let row = self
            .store
            .find_record(&c.id, id)
            .await?
            .ok_or_else(Error::resource_not_found)?;
        Ok(Record::from_row(row))
    }

    fn view_for(
        &self,
        c: &Collection,
        caller: Option<&Caller>,
        record: &Record,
        request: &RequestInfo,
    ) -> View {
        let su = is_superuser(caller);
        let own = caller.is_some_and(|x| x.record.id() == record.id());
        View {
            email: su || own || can_manage(&self.subject(c, record, caller, request)),
            hidden: su,
        }
    }

    /// What a rule about `record` is evaluated against, for a plain API request.
    fn subject<'a>(
        &self,
        c: &'a Collection,
        record: &'a Record,
        caller: Option<&'a Caller>,
        request: &'a RequestInfo,
    ) -> Subject<'a> {
        Subject {
            collection: c,
            record,
            scope: self.scope(caller, request),
        }
    }

    /// `@request.*` for a plain API request.
    fn scope<'a>(&self, caller: Option<&'a Caller>, request: &'a RequestInfo) -> Scope<'a> {
        Scope {
            caller,
            context: "default",
            request,
            now_millis: self.clock.now_millis(),
        }
    }

    /// A loaded record that fails the rule is a 404, like a missing one.
    fn check(
        &self,
        rule: &Option<Arc<Rule>>,
        c: &Collection,
        record: &Record,
        caller: Option<&Caller>,
        request: &RequestInfo,
    ) -> Result<()> {
        match rule {
            Some(rule) if !rule.allows(&self.subject(c, record, caller, request)) => {
                Err(Error::resource_not_found())
            }
            _ => Ok(()),
        }
    }

    /// Validates and sets the email (format, domain rules, uniqueness in the collection).
    async fn apply_email(
        &self,
        c: &Collection,
        record: &mut Record,
        value: &Value,
        errors: &mut FieldErrors,
    ) -> Result<()> {
        let Some(field) = c.field("email") else {
            return Ok(());
        };
        match field.normalize(value) {
            Ok(v) => {
                let email = v.as_str().unwrap_or_default().to_owned();
                if !email.is_empty()
                    && let Some(other) = self.store.find_record_by_email(&c.id, &email).await?
                    && other.id != record.row.id
                {
                    errors.add_code("email", codes::NOT_UNIQUE);
                }
                record.row.email = email;
            }
            Err((code, message)) => errors.add("email", code, &message),
        }
        Ok(())
    }

    /// Validates the custom fields present in `body` (all of them on create) into `record.data`.
    async fn apply_custom_fields(
        &self,
        c: &Collection,
        record: &mut Record,
        body: &Map<String, Value>,
        creating: bool,
        now: &str,
        errors: &mut FieldErrors,
    ) -> Result<()> {
        let unique: Vec<UniqueIndex> = unique_indexes(c);
        for field in c.custom_fields() {
            let name = field.name.as_str();
            if let FieldKind::Autodate {
                on_create,
                on_update,
            } = field.kind
            {
                if (creating && on_create) || (!creating && on_update) {
                    record.data.insert(name.to_owned(), json!(now));
                }
                continue;
            }
            let input = match body.get(name) {
                Some(v) => v.clone(),
                None if creating => field.zero_value(),
                None => continue,
            };
            match field.normalize(&input) {
                Ok(value) => {
                    if let Some(index) = unique.iter().find(|i| i.field == name)
                        && let Some(text) = value.as_str().filter(|s| !s.is_empty())
                        && let Some(other) = self
                            .store
                            .find_record_by_field(&c.id, name, text, index.nocase)
                            .await?
                        && other.id != record.row.id
                    {
                        errors.add_code(name, codes::NOT_UNIQUE);
                    }
                    record.data.insert(name.to_owned(), value);
                }
                Err((code, message)) => errors.add(name, code, &message),
            }
        }
        Ok(())
    }

    /// After new credentials (a new `tokenKey`): pending codes and MFA sessions end, as in
    /// PocketBase; a new password also forgets the record's known login locations.
    pub(super) async fn forget_credentials(
        &self,
        record_id: &str,
        new_password: bool,
    ) -> Result<()> {
        let mut kinds = vec![super::otp::OTP_TICKET, super::mfa::MFA_TICKET];
        if new_password {
            kinds.push(super::auth_alert::ORIGIN_TICKET);
        }
        for kind in kinds {
            self.store.delete_record_tickets(record_id, kind).await?;
        }
        if new_password {
            // A trusted device skipped the second step on the old password's strength.
            self.forget_devices(record_id).await?;
        }
        Ok(())
    }

    /// The rule to check for a non-superuser (`None`: a superuser, nothing to check). A `null`
    /// rule is a 403 before anything is loaded, as in PocketBase.
    fn rule_for(&self, rule: Option<&str>, caller: Option<&Caller>) -> Result<Option<Arc<Rule>>> {
        if is_superuser(caller) {
            return Ok(None);
        }
        let rule = self.rules.get(rule);
        match *rule {
            Rule::SuperusersOnly => Err(Error::forbidden(ONLY_SUPERUSERS)),
            _ => Ok(Some(rule)),
        }
    }
}

/// The unique indexes a collection declares on custom fields, as the store applies them.
pub fn unique_indexes(c: &Collection) -> Vec<UniqueIndex> {
    c.index_specs()
        .iter()
        .filter_map(|s| {
            let col = s.unique_column()?;
            c.custom_fields()
                .any(|f| f.name == col)
                .then(|| UniqueIndex {
                    field: col.to_owned(),
                    nocase: s.nocase,
                })
        })
        .collect()
}

/// Non-superusers cannot write hidden fields, except the password (so `tokenKey` stays ours).
fn drop_hidden_fields(c: &Collection, body: &mut Map<String, Value>) {
    for f in c.fields.iter().filter(|f| f.hidden && f.name != "password") {
        body.remove(&f.name);
    }
}

/// The new password of a create (required) or an update (when given), checked against the
/// collection's limits and `passwordConfirm`.
fn check_new_password(
    c: &Collection,
    body: &Map<String, Value>,
    required: bool,
    errors: &mut FieldErrors,
) -> Option<Password> {
    let password = body
        .get("password")
        .map(crate::collection::field::cast_string)
        .unwrap_or_default();
    let confirm = body
        .get("passwordConfirm")
        .map(crate::collection::field::cast_string)
        .unwrap_or_default();
    if password.is_empty() {
        if required {
            errors.add_code("password", codes::REQUIRED);
        }
        if required && confirm.is_empty() {
            errors.add_code("passwordConfirm", codes::REQUIRED);
        }
        return None;
    }
    let min = c.password_min();
    let max = c.password_max();
    if password.chars().count() < min {
        errors.add(
            "password",
            "validation_min_text_constraint",
            &format!("Must be at least {min} character(s)."),
        );
    } else if password.len() > max {
        errors.add(
            "password",
            "validation_max_text_constraint",
            &format!("Must be less than {max} character(s)."),
        );
    }
    if confirm.is_empty() {
        errors.add_code("passwordConfirm", codes::REQUIRED);
    } else if confirm != password {
        errors.add_code("passwordConfirm", codes::VALUES_MISMATCH);
    }
    Some(Password(password))
}

/// A unique-constraint clash as PocketBase reports it; `target` is a column's name, a field's,
/// or the physical name of one of the collection's field indexes.
fn unique_error(c: &Collection, target: &str, message: &str) -> Error {
    let indexes = unique_indexes(c);
    let target = UniqueIndex::field_of(&indexes, &c.id, target).unwrap_or(target);
    let mut errors = FieldErrors::default();
    match target {
        "id" => errors.add_code("id", codes::INVALID_AUTH_ID),
        "tokenKey" => return Error::internal("token key collision"),
        field => errors.add_code(field, codes::NOT_UNIQUE),
    }
    Error::validation(message, errors)
}

fn as_bool(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.trim(), "true" | "1" | "on"),
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        _ => false,
    }
}

fn empty_page(paging: Paging, skip_total: bool) -> ListOf<Value> {
    let total = if skip_total { -1 } else { 0 };
    ListOf {
        items: Vec::new(),
        page: paging.page,
        per_page: paging.per_page,
        total_items: total,
        total_pages: total,
    }
}

/// Like PocketBase, a bad `filter` is a generic 400 with no details (the reason goes to the
/// debug log, without the filter itself: its literals may be secrets being guessed at).
fn invalid_filter(detail: &str) -> Error {
    tracing::debug!(detail, "invalid filter");
    Error::bad_request(GENERIC_400)
}

/// The `filter` parameter, parsed. Only superusers may use `@request` and `@collection` in it
/// (`public`: a non-superuser's).
pub(super) fn parse_filter(src: &str, public: bool) -> Result<filter::Expr> {
    let expr = filter::parse(src).map_err(|e| invalid_filter(&e.to_string()))?;
    if public {
        for (path, _) in expr.identifiers() {
            for prefix in ["@request.", "@collection."] {
                if path.starts_with(prefix) {
                    return Err(Error::forbidden(format!(
                        "Only superusers can filter by {prefix}"
                    )));
                }
            }
        }
    }
    Ok(expr)
}

/// The parsed `filter` parameter as a store condition.
fn compile_filter(
    c: &Collection,
    scope: Scope<'_>,
    expr: &filter::Expr,
    public: bool,
) -> Result<Condition> {
    Compiler {
        collection: c,
        scope,
        public,
    }
    .compile(expr)
    .map_err(|e| invalid_filter(&e.0))
}

/// `sort=-created,name`: system columns or visible custom fields, `-` for descending.
fn parse_sort(c: &Collection, sort: &str, su: bool) -> Result<Vec<SortTerm>> {
    let mut terms = Vec::new();
    for part in sort.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if terms.len() == MAX_SORT_TERMS {
            return Err(Error::bad_request(GENERIC_400));
        }
        let (descending, name) = match part.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, part.strip_prefix('+').unwrap_or(part)),
        };
        let key = match name {
            "id" => SortKey::Column(Column::Id),
            // Others sort by shown addresses only, as `email = "…"` matches shown ones only.
            "email" if su => SortKey::Column(Column::Email),
            "email" => SortKey::ShownEmail,
            "emailVisibility" => SortKey::Column(Column::EmailVisibility),
            "verified" => SortKey::Column(Column::Verified),
            "created" if c.field("created").is_some() => SortKey::Column(Column::Created),
            "updated" if c.field("updated").is_some() => SortKey::Column(Column::Updated),
            other => match c.custom_fields().find(|f| f.name == other) {
                Some(f) if su || !f.hidden => SortKey::Field(f.name.clone()),
                _ => return Err(Error::bad_request(GENERIC_400)),
            },
        };
        terms.push(SortTerm { key, descending });
    }
    Ok(terms)
}
