//! The body of `POST /api/realtime`, read and checked as PocketBase does: any malformed value is
//! its generic 400, a `clientId` of 1–255 characters, at most 1000 subscriptions of at most 2500
//! characters each.

use crate::error::{Error, FieldErrors, Result, codes};
use serde_json::{Value, json};

/// PocketBase's message for both a body it cannot read and a field it refuses here.
const GENERIC: &str = "Something went wrong while processing your request.";
const MAX_CLIENT_ID: usize = 255;
const MAX_TOPICS: usize = 1000;
const MAX_TOPIC: usize = 2500;
/// All of a client's subscriptions together. PocketBase has no such bound (1000 × 2500 would
/// be 2.5 MB per client); an SDK subscription with its options is a hundred characters or so.
pub const MAX_TOPICS_TOTAL: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct SubscribeForm {
    pub client_id: String,
    pub subscriptions: Vec<String>,
}

impl SubscribeForm {
    /// Reads and checks the body (a JSON object, or form fields already turned into one).
    pub fn read(body: Value) -> Result<Self> {
        let generic = || Error::bad_request(GENERIC);
        let Value::Object(mut body) = body else {
            return Err(generic());
        };
        let client_id = match body.remove("clientId") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s,
            Some(_) => return Err(generic()),
        };
        let subscriptions = match body.remove("subscriptions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    _ => Err(generic()),
                })
                .collect::<Result<_>>()?,
            Some(_) => return Err(generic()),
        };
        let form = Self {
            client_id,
            subscriptions,
        };
        form.check()?;
        Ok(form)
    }

    fn check(&self) -> Result<()> {
        let mut errors = FieldErrors::default();
        let id_len = self.client_id.chars().count();
        if id_len == 0 {
            errors.add_code("clientId", codes::REQUIRED);
        } else if id_len > MAX_CLIENT_ID {
            errors.length_out_of_range("clientId", 1, MAX_CLIENT_ID);
        }
        if self.subscriptions.len() > MAX_TOPICS {
            too_long(&mut errors, "subscriptions", MAX_TOPICS);
        } else {
            let mut each = FieldErrors::default();
            for (i, topic) in self.subscriptions.iter().enumerate() {
                if topic.chars().count() > MAX_TOPIC {
                    too_long(&mut each, &i.to_string(), MAX_TOPIC);
                }
            }
            let total: usize = self.subscriptions.iter().map(String::len).sum();
            if each.is_empty() && total > MAX_TOPICS_TOTAL {
                errors.add_with_params(
                    "subscriptions",
                    "validation_length_too_long",
                    &format!("The total length must be no more than {MAX_TOPICS_TOTAL}."),
                    json!({"max": MAX_TOPICS_TOTAL}),
                );
            }
            errors.nest("subscriptions", each);
        }
        errors.into_result(GENERIC)
    }
}

/// ozzo-validation's `Length(0, max)` failure, as PocketBase renders it.
fn too_long(errors: &mut FieldErrors, field: &str, max: usize) {
    errors.add_with_params(
        field,
        "validation_length_too_long",
        &format!("The length must be no more than {max}."),
        json!({"max": max, "min": 0}),
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn refused(body: Value) -> Value {
        let e = SubscribeForm::read(body).unwrap_err();
        assert_eq!(e.message, GENERIC);
        Value::Object(e.data.into_map())
    }

    #[test]
    fn malformed_values_are_the_generic_400() {
        for body in [
            json!([]),
            json!({"clientId": 5}),
            json!({"clientId": "a", "subscriptions": "x"}),
            json!({"clientId": "a", "subscriptions": [1]}),
        ] {
            assert_eq!(refused(body), json!({}));
        }
    }

    #[test]
    fn fields_are_checked_as_pocketbase_does() {
        assert_eq!(
            refused(json!({}))["clientId"]["code"],
            "validation_required"
        );
        let long_id = refused(json!({"clientId": "a".repeat(256)}));
        assert_eq!(long_id["clientId"]["params"], json!({"max": 255, "min": 1}));
        let many = refused(json!({"clientId": "a", "subscriptions": vec!["x"; 1001]}));
        assert_eq!(
            many["subscriptions"],
            json!({"code": "validation_length_too_long", "message": "The length must be no more than 1000.", "params": {"max": 1000, "min": 0}})
        );
        let long = refused(json!({"clientId": "a", "subscriptions": ["x", "y".repeat(2501)]}));
        assert_eq!(
            long["subscriptions"]["1"]["code"],
            "validation_length_too_long"
        );
        let total = refused(json!({"clientId": "a", "subscriptions": vec!["z".repeat(2000); 40]}));
        assert_eq!(total["subscriptions"]["code"], "validation_length_too_long");
        let ok = SubscribeForm::read(json!({"clientId": "a", "subscriptions": null})).unwrap();
        assert!(ok.subscriptions.is_empty());
    }
}
