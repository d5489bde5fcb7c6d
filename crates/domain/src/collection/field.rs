//! Collection fields: their JSON shape (as PocketBase emits it) and how a submitted value is
//! checked and normalised for storage.

use crate::clock::normalize_datetime;
use crate::error::{FieldErrors, codes};
use crate::random::crc32;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Field types Gatehouse stores. PocketBase's `file`, `relation`, `editor` and `geoPoint` are not
/// (yet) supported and are refused when a collection is saved.
pub const SUPPORTED_TYPES: &[&str] = &[
    "text", "email", "url", "number", "bool", "select", "date", "json", "autodate", "password",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub system: bool,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub presentable: bool,
    #[serde(flatten)]
    pub kind: FieldKind,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FieldKind {
    #[serde(rename_all = "camelCase")]
    Text {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        min: u32,
        #[serde(default)]
        max: u32,
        #[serde(default)]
        pattern: String,
        #[serde(default)]
        autogenerate_pattern: String,
        #[serde(default)]
        primary_key: bool,
        #[serde(default)]
        help: String,
    },
    Password {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        min: u32,
        #[serde(default)]
        max: u32,
        #[serde(default)]
        cost: u32,
        #[serde(default)]
        pattern: String,
        #[serde(default)]
        help: String,
    },
    #[serde(rename_all = "camelCase")]
    Email {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        except_domains: Vec<String>,
        #[serde(default)]
        only_domains: Vec<String>,
        #[serde(default)]
        help: String,
    },
    #[serde(rename_all = "camelCase")]
    Url {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        except_domains: Vec<String>,
        #[serde(default)]
        only_domains: Vec<String>,
        #[serde(default)]
        help: String,
    },
    #[serde(rename_all = "camelCase")]
    Number {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
        #[serde(default)]
        only_int: bool,
        #[serde(default)]
        help: String,
    },
    Bool {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        help: String,
    },
    #[serde(rename_all = "camelCase")]
    Select {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        values: Vec<String>,
        #[serde(default)]
        max_select: u32,
        #[serde(default)]
        help: String,
    },
    Date {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        min: String,
        #[serde(default)]
        max: String,
        #[serde(default)]
        help: String,
    },
    #[serde(rename_all = "camelCase")]
    Json {
        #[serde(default)]
        required: bool,
        #[serde(default)]
        max_size: u64,
        #[serde(default)]
        help: String,
    },
    #[serde(rename_all = "camelCase")]
    Autodate {
        #[serde(default)]
        on_create: bool,
        #[serde(default)]
        on_update: bool,
    },
}

/// JSON fields larger than this are refused unless the field sets its own `maxSize`.
const DEFAULT_JSON_MAX: u64 = 1 << 20;

impl FieldKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Password { .. } => "password",
            Self::Email { .. } => "email",
            Self::Url { .. } => "url",
            Self::Number { .. } => "number",
            Self::Bool { .. } => "bool",
            Self::Select { .. } => "select",
            Self::Date { .. } => "date",
            Self::Json { .. } => "json",
            Self::Autodate { .. } => "autodate",
        }
    }
}

impl Field {
    pub fn new(name: &str, kind: FieldKind) -> Self {
        let mut f = Self {
            id: String::new(),
            name: name.to_owned(),
            system: false,
            hidden: false,
            presentable: false,
            kind,
        };
        f.assign_id();
        f
    }

    pub fn system(mut self) -> Self {
        self.system = true;
        self
    }

    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// PocketBase's field id: the type name followed by the CRC-32 of the field name.
    pub fn assign_id(&mut self) {
        if self.id.is_empty() {
            self.id = format!("{}{}", self.kind.type_name(), crc32(self.name.as_bytes()));
        }
    }

    /// The value a record has for this field when nothing was stored.
    pub fn zero_value(&self) -> Value {
        match &self.kind {
            FieldKind::Number { .. } => json!(0),
            FieldKind::Bool { .. } => json!(false),
            FieldKind::Select { max_select, .. } if *max_select > 1 => json!([]),
            FieldKind::Json { .. } => Value::Null,
            _ => json!(""),
        }
    }

    /// Checks the field's own settings when a collection is saved.
    pub fn check_definition(&self, errors: &mut FieldErrors) {
        match &self.kind {
            FieldKind::Text {
                pattern, min, max, ..
            } => {
                if !pattern.is_empty() && Regex::new(pattern).is_err() {
                    errors.add(
                        "pattern",
                        "validation_invalid_regex",
                        "Invalid regular expression.",
                    );
                }
                if *max != 0 && min > max {
                    errors.min_threshold("max", i64::from(*min));
                }
            }
            FieldKind::Select {
                values, max_select, ..
            } => {
                if values.is_empty() {
                    errors.add_code("values", codes::REQUIRED);
                }
                if *max_select as usize > values.len().max(1) {
                    errors.max_threshold("maxSelect", values.len() as i64);
                }
            }
            FieldKind::Number {
                min: Some(min),
                max: Some(max),
                ..
            } if min > max => {
                errors.min_threshold("max", *min as i64);
            }
            _ => {}
        }
    }

    /// Checks a submitted value and returns what to store. Values of the wrong JSON type are cast
    /// the way PocketBase casts them (form posts send every value as a string).
    pub fn normalize(&self, input: &Value) -> Result<Value, (&'static str, String)> {
        let required = |ok: bool| if ok { Ok(()) } else { Err(blank()) };
        match &self.kind {
            FieldKind::Text {
                required: req,
                min,
                max,
                pattern,
                ..
            } => {
                let s = cast_string(input);
                let len = s.chars().count();
                if s.is_empty() {
                    if *req {
                        return Err(blank());
                    }
                    return Ok(json!(""));
                }
                if *min > 0 && len < *min as usize {
                    return Err((
                        "validation_min_text_constraint",
                        format!("Must be at least {min} character(s)."),
                    ));
                }
                let max = if *max == 0 { 5000 } else { *max as usize };
                if len > max {
                    return Err((
                        "validation_max_text_constraint",
                        format!("Must be less than {max} character(s)."),
                    ));
                }
                if !pattern.is_empty() && !Regex::new(pattern).is_ok_and(|re| re.is_match(&s)) {
                    return Err((codes::MATCH_INVALID.0, codes::MATCH_INVALID.1.to_owned()));
                }
                Ok(json!(s))
            }
            FieldKind::Email {
                required: req,
                except_domains,
                only_domains,
                ..
            } => {
                let s = cast_string(input).trim().to_owned();
                if s.is_empty() {
                    required(!req)?;
                    return Ok(json!(""));
                }
                if !is_email(&s) {
                    return Err((codes::IS_EMAIL.0, codes::IS_EMAIL.1.to_owned()));
                }
                check_domain(domain_of_email(&s), except_domains, only_domains)?;
                Ok(json!(s))
            }
            FieldKind::Url {
                required: req,
                except_domains,
                only_domains,
                ..
            } => {
                let s = cast_string(input).trim().to_owned();
                if s.is_empty() {
                    required(!req)?;
                    return Ok(json!(""));
                }
                let parsed = url::Url::parse(&s).ok().filter(|u| u.has_host());
                let Some(parsed) = parsed else {
                    return Err(("validation_is_url", "Must be a valid URL.".to_owned()));
                };
                check_domain(
                    parsed.host_str().unwrap_or_default(),
                    except_domains,
                    only_domains,
                )?;
                Ok(json!(s))
            }
            FieldKind::Number {
                required: req,
                min,
                max,
                only_int,
                ..
            } => {
                let n = match input {
                    Value::Number(n) => n.as_f64().unwrap_or(0.0),
                    Value::String(s) if s.trim().is_empty() => 0.0,
                    Value::String(s) => s.trim().parse::<f64>().map_err(|_| invalid_number())?,
                    Value::Bool(b) => f64::from(u8::from(*b)),
                    Value::Null => 0.0,
                    _ => return Err(invalid_number()),
                };
                if !n.is_finite() {
                    return Err(invalid_number());
                }
                if *req && n == 0.0 {
                    return Err(blank());
                }
                if *only_int && n.fract() != 0.0 {
                    return Err((
                        "validation_not_an_integer",
                        "Must be an integer.".to_owned(),
                    ));
                }
                if let Some(min) = min
                    && n < *min
                {
                    return Err((
                        "validation_min_number_constraint",
                        format!("Must be larger than {min}."),
                    ));
                }
                if let Some(max) = max
                    && n > *max
                {
                    return Err((
                        "validation_max_number_constraint",
                        format!("Must be less than {max}."),
                    ));
                }
                Ok(number_value(n))
            }
            FieldKind::Bool { required: req, .. } => {
                let b = match input {
                    Value::Bool(b) => *b,
                    Value::String(s) => matches!(s.trim(), "true" | "1" | "on"),
                    Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                    _ => false,
                };
                required(!*req || b)?;
                Ok(json!(b))
            }
            FieldKind::Select {
                required: req,
                values,
                max_select,
                ..
            } => {
                let mut picked: Vec<String> = match input {
                    Value::Array(items) => items.iter().map(cast_string).collect(),
                    Value::Null => Vec::new(),
                    other => vec![cast_string(other)],
                };
                picked.retain(|v| !v.is_empty());
                let mut seen = std::collections::HashSet::new();
                picked.retain(|v| seen.insert(v.clone()));
                required(!*req || !picked.is_empty())?;
                if picked.iter().any(|v| !values.contains(v)) {
                    return Err((codes::IN_INVALID.0, codes::IN_INVALID.1.to_owned()));
                }
                let max = (*max_select).max(1) as usize;
                if picked.len() > max {
                    return Err((
                        "validation_too_many_values",
                        format!("Select no more than {max}."),
                    ));
                }
                if *max_select > 1 {
                    Ok(json!(picked))
                } else {
                    Ok(json!(picked.pop().unwrap_or_default()))
                }
            }
            FieldKind::Date {
                required: req,
                min,
                max,
                ..
            } => {
                let s = cast_string(input);
                if s.trim().is_empty() {
                    required(!req)?;
                    return Ok(json!(""));
                }
                let Some(date) = normalize_datetime(&s) else {
                    return Err((
                        "validation_invalid_date",
                        "Must be a valid date.".to_owned(),
                    ));
                };
                if !min.is_empty() && normalize_datetime(min).is_some_and(|m| date < m) {
                    return Err((
                        "validation_min_date_constraint",
                        format!("Must be no earlier than {min}."),
                    ));
                }
                if !max.is_empty() && normalize_datetime(max).is_some_and(|m| date > m) {
                    return Err((
                        "validation_max_date_constraint",
                        format!("Must be no later than {max}."),
                    ));
                }
                Ok(json!(date))
            }
            FieldKind::Json {
                required: req,
                max_size,
                ..
            } => {
                let empty = matches!(input, Value::Null)
                    || matches!(input, Value::String(s) if s.is_empty())
                    || matches!(input, Value::Array(a) if a.is_empty())
                    || matches!(input, Value::Object(o) if o.is_empty());
                required(!*req || !empty)?;
                let max = if *max_size == 0 {
                    DEFAULT_JSON_MAX
                } else {
                    *max_size
                };
                if input.to_string().len() as u64 > max {
                    return Err((
                        "validation_json_size_limit",
                        format!("The maximum allowed JSON size is {max} bytes."),
                    ));
                }
                Ok(input.clone())
            }
            // Managed by the server; submitted values are ignored by the caller.
            FieldKind::Autodate { .. } | FieldKind::Password { .. } => Ok(input.clone()),
        }
    }
}

fn blank() -> (&'static str, String) {
    (codes::REQUIRED.0, codes::REQUIRED.1.to_owned())
}

fn invalid_number() -> (&'static str, String) {
    (
        "validation_invalid_number",
        "Must be a valid number.".to_owned(),
    )
}

/// Integers are stored as integers so that `5` does not come back as `5.0`.
fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

pub fn cast_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn domain_of_email(email: &str) -> &str {
    email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
}

fn check_domain(
    domain: &str,
    except: &[String],
    only: &[String],
) -> Result<(), (&'static str, String)> {
    let domain = domain.to_ascii_lowercase();
    if except.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
        return Err((
            "validation_email_domain_not_allowed",
            "Email domain is not allowed.".to_owned(),
        ));
    }
    if !only.is_empty() && !only.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
        return Err((
            "validation_email_domain_not_allowed",
            "Email domain is not allowed.".to_owned(),
        ));
    }
    Ok(())
}

/// A pragmatic email check close to PocketBase's `is.EmailFormat`: one `@`, a non-empty local
/// part without spaces, and a domain of dot-separated labels.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains(char::is_whitespace)
        && !local.contains(['@', '<', '>', '(', ')', ',', ';', ':', '\\', '"', '[', ']']);
    let domain_ok = !domain.is_empty()
        && domain.len() <= 255
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(min: u32, max: u32, pattern: &str) -> Field {
        Field::new(
            "t",
            FieldKind::Text {
                required: false,
                min,
                max,
                pattern: pattern.into(),
                autogenerate_pattern: String::new(),
                primary_key: false,
                help: String::new(),
            },
        )
    }

    #[test]
    fn text_limits_and_pattern() {
        assert_eq!(text(2, 4, "").normalize(&json!("abc")), Ok(json!("abc")));
        assert!(text(2, 4, "").normalize(&json!("a")).is_err());
        assert!(text(2, 4, "").normalize(&json!("abcde")).is_err());
        assert!(text(0, 0, "^[a-z]+$").normalize(&json!("ABC")).is_err());
        assert_eq!(text(0, 0, "").normalize(&json!(12)), Ok(json!("12")));
    }

    #[test]
    fn numbers_cast_from_strings() {
        let f = Field::new(
            "n",
            FieldKind::Number {
                required: false,
                min: Some(1.0),
                max: None,
                only_int: true,
                help: String::new(),
            },
        );
        assert_eq!(f.normalize(&json!("5")), Ok(json!(5)));
        assert!(f.normalize(&json!("x")).is_err());
        assert!(f.normalize(&json!(1.5)).is_err());
        assert!(f.normalize(&json!(0)).is_err());
    }

    #[test]
    fn select_single_and_multi() {
        let values = vec!["a".to_owned(), "b".to_owned()];
        let single = Field::new(
            "s",
            FieldKind::Select {
                required: false,
                values: values.clone(),
                max_select: 1,
                help: String::new(),
            },
        );
        assert_eq!(single.normalize(&json!("a")), Ok(json!("a")));
        assert!(single.normalize(&json!("z")).is_err());
        let multi = Field::new(
            "m",
            FieldKind::Select {
                required: false,
                values,
                max_select: 2,
                help: String::new(),
            },
        );
        assert_eq!(
            multi.normalize(&json!(["a", "b", "a"])),
            Ok(json!(["a", "b"]))
        );
    }

    #[test]
    fn emails() {
        assert!(is_email("u1@example.com"));
        assert!(!is_email("not-an-email"));
        assert!(!is_email("a b@example.com"));
        assert!(!is_email("a@-x.com"));
    }

    #[test]
    fn field_ids_follow_pocketbase() {
        let f = text(0, 0, "");
        assert_eq!(f.id, format!("text{}", crc32(b"t")));
    }
}
