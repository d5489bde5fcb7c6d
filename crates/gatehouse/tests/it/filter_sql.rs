//! Filters compiled to SQL select exactly the records the in-memory evaluator accepts, on both
//! backends: one corpus of expressions over records with awkward values (missing keys, empty
//! arrays, wildcards in text, numbers in JSON).

use crate::both_backends;
use crate::support::*;
use gatehouse_domain::access::{Compiler, RequestInfo, Scope, Subject};
use gatehouse_domain::collection::Collection;
use gatehouse_domain::filter;
use gatehouse_domain::record::Record;
use gatehouse_store::{Condition, ListCondition, ListQuery, RecordRow};
use serde_json::json;
use std::collections::BTreeSet;

const CORPUS: &[&str] = &[
    "name = 'Ann'",
    "name != 'Ann'",
    "name = ''",
    "name = null",
    "name != null",
    "name ~ 'an'",
    "name !~ 'an'",
    "name ~ 'A%'",
    "name ~ '100%'",
    "name ~ '_ob'",
    "name = 5",
    "'Ann' = name",
    "name:lower = 'ann'",
    "name:lower ~ 'zo'",
    "age > 18",
    "age >= 30",
    "age < 0",
    "age <= 5",
    "age = 5",
    "age = '5'",
    "age = 'abc'",
    "age != 'abc'",
    "30 < age",
    "age > age",
    "age > 10 && active = true",
    "age > 40 || name = 'bob'",
    "(age > 40 || name = 'bob') && active = false",
    "active = true",
    "active != true",
    "active = 'true'",
    "active = 1",
    "active = null",
    "tags ?= 'b'",
    "tags = 'b'",
    "tags ?!= 'b'",
    "tags != 'b'",
    "tags:length = 0",
    "tags:length > 1",
    "tags:each = 'b'",
    "tags:each ?= 'b'",
    "tags:each ?!= 'b'",
    "tags:each ?~ 'a'",
    "tags:each = ''",
    "tags ~ 'b'",
    "tags ?~ 'a'",
    "tags = ''",
    "tags ?= ''",
    "meta.plan = 'pro'",
    "meta.plan != 'pro'",
    "meta.plan = null",
    "meta.plan < 'q'",
    "meta.plan >= 'free'",
    "meta.plan <= ''",
    "meta.plan > ''",
    "meta.plan ~ 'r' && age > 1",
    "meta.plan !~ 'r'",
    "meta.plan ~ '%' || active = false",
    "meta.n = 5",
    "meta.n > 4",
    "verified = true",
    "emailVisibility = false",
    "email ~ 'example'",
    "created < @now",
    "created <= updated",
    "id != ''",
    "collectionName = 'people'",
    "5 = 5",
    "1 = 2",
    "@request.body.who = 'ann' && name:lower = @request.body.who",
    "name = @request.body.missing",
    "name ?= @request.body.names",
];

both_backends!(
    filters_in_sql_agree_with_the_evaluator,
    |app: TestApp| async move {
        let su = app.superuser_token().await;
        let r = app
            .post(
                "/api/collections",
                Some(&su),
                json!({
                    "name": "people", "type": "auth", "listRule": "",
                    "fields": [
                        {"name": "name", "type": "text"},
                        {"name": "age", "type": "number"},
                        {"name": "active", "type": "bool"},
                        {"name": "tags", "type": "select", "maxSelect": 3, "values": ["a", "b", "c"]},
                        {"name": "meta", "type": "json"}
                    ]
                }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let people = [
            json!({"name": "Ann", "age": 30, "active": true, "tags": ["a", "b"], "meta": {"plan": "pro", "n": 5}, "verified": true}),
            json!({"name": "bob", "age": 17, "tags": ["b"], "meta": {"plan": "free"}, "emailVisibility": true}),
            json!({"name": "", "age": 0, "tags": []}),
            json!({"name": "Zoë 100%", "age": 45.5, "active": true, "tags": ["c"], "meta": {"plan": "pro", "n": 7}}),
            json!({"name": "5", "age": 5, "meta": {"list": [1, 2]}}),
        ];
        for (i, mut person) in people.into_iter().enumerate() {
            person["email"] = json!(format!("p{i}@example.com"));
            person["password"] = json!("password-123");
            person["passwordConfirm"] = json!("password-123");
            let r = app
                .post("/api/collections/people/records", Some(&su), person)
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }

        let store = app.gh.store();
        let row = store
            .list_collections()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.name == "people")
            .unwrap();
        let collection: Collection = serde_json::from_str(&row.definition).unwrap();
        let list = |condition, limit, offset| ListQuery {
            collection_id: collection.id.clone(),
            condition: ListCondition::new(condition),
            sort: vec![],
            limit,
            offset,
            skip_total: false,
        };
        let rows: Vec<RecordRow> = store
            .list_records(&list(Condition::Const(true), 100, 0))
            .await
            .unwrap()
            .rows;
        assert_eq!(rows.len(), 5);

        let mut request = RequestInfo::default();
        request.body.insert("who".into(), json!("ann"));
        request.body.insert("names".into(), json!(["bob", "Ann"]));
        let scope = Scope {
            caller: None,
            context: "default",
            request: &request,
            now_millis: i64::try_from(
                std::time::SystemTime::UNIX_EPOCH
                    .elapsed()
                    .unwrap()
                    .as_millis(),
            )
            .unwrap(),
        };
        let mut mismatches = Vec::new();
        for src in CORPUS {
            let expr = filter::parse(src).unwrap();
            let expected: BTreeSet<String> = rows
                .iter()
                .filter(|row| {
                    let record = Record::from_row((*row).clone());
                    filter::evaluate(
                        &expr,
                        &Subject {
                            collection: &collection,
                            record: &record,
                            scope,
                        },
                    )
                })
                .map(|row| row.id.clone())
                .collect();
            let condition = Compiler {
                collection: &collection,
                scope,
                public: false,
            }
            .compile(&expr)
            .unwrap_or_else(|e| panic!("{src}: {e:?}"));
            let page = store
                .list_records(&list(condition.clone(), 100, 0))
                .await
                .unwrap_or_else(|e| panic!("{src}: {e}"));
            let got: BTreeSet<String> = page.rows.into_iter().map(|row| row.id).collect();
            if got != expected || page.total != Some(expected.len() as i64) {
                mismatches.push(format!(
                    "{src}: sql {got:?} (total {:?}) vs evaluator {expected:?}",
                    page.total
                ));
            }
            // A later page: the total still counts every match, the rows keep their order.
            let in_order: Vec<&String> = rows
                .iter()
                .map(|row| &row.id)
                .filter(|id| expected.contains(*id))
                .collect();
            let second = store
                .list_records(&list(condition, 2, 1))
                .await
                .unwrap_or_else(|e| panic!("{src}: {e}"));
            let second_ids: Vec<String> = second.rows.into_iter().map(|row| row.id).collect();
            let wanted: Vec<String> = in_order
                .iter()
                .skip(1)
                .take(2)
                .map(|id| (*id).clone())
                .collect();
            if second_ids != wanted || second.total != Some(expected.len() as i64) {
                mismatches.push(format!(
                    "{src}: page 2 {second_ids:?} (total {:?}) vs {wanted:?} of {}",
                    second.total,
                    expected.len()
                ));
            }
        }
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }
);
