//! The fields of a topic's or a subscriber's request body, read as the original's body
//! parsers read them, plus plain `application/json`, which it ignored:
//!
//! - `application/x-www-form-urlencoded` (the original's main form);
//! - `application/json` and `application/*+json`: a JSON object, whose strings, numbers and
//!   booleans are fields (`null`, arrays and objects count as absent); an array, or an empty
//!   body, has no fields;
//! - `multipart/form-data`: its text parts (file parts are not fields);
//! - any other type, or none: no fields.
//!
//! A field given twice counts once, the first time. A body that does not parse as its type
//! says is a 400 `INVALID BODY`; one over the gateway's body limit a 413.

use std::collections::HashMap;

use axum::body::to_bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use ontime_gateway::AppState;
use serde_json::Value;

use super::answer::Text;

/// The request body's fields, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(HashMap<String, String>);

impl Fields {
    /// The field `name`, unless absent or empty: the original took an empty field for an
    /// absent one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn add(&mut self, name: String, value: String) {
        self.0.entry(name).or_insert(value);
    }
}

#[cfg(test)]
impl<const N: usize> From<[(&str, &str); N]> for Fields {
    fn from(fields: [(&str, &str); N]) -> Self {
        let mut all = Fields::default();
        for (name, value) in fields {
            all.add(name.to_owned(), value.to_owned());
        }
        all
    }
}

/// How a body is read, by its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Form,
    Json,
    Multipart,
    Ignored,
}

impl Kind {
    fn of(headers: &HeaderMap) -> Self {
        let Some(value) = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        else {
            return Self::Ignored;
        };
        let essence = value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.split_once('/') {
            Some(("application", "x-www-form-urlencoded")) => Self::Form,
            Some(("application", "json")) => Self::Json,
            Some(("application", subtype)) if subtype.ends_with("+json") => Self::Json,
            Some(("multipart", "form-data")) => Self::Multipart,
            _ => Self::Ignored,
        }
    }
}

fn invalid() -> Text {
    Text::bad_request("INVALID BODY")
}

impl FromRequest<AppState> for Fields {
    type Rejection = Text;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Text> {
        let kind = Kind::of(request.headers());
        if kind == Kind::Multipart {
            let multipart = Multipart::from_request(request, state)
                .await
                .map_err(|_| invalid())?;
            return multipart_fields(multipart).await;
        }
        let limit = state.config.max_body_bytes;
        // Reading fails past the limit, or when the client goes away (then nobody hears).
        let body = to_bytes(request.into_body(), limit)
            .await
            .map_err(|_| Text::too_large())?;
        match kind {
            Kind::Form => form_fields(&body),
            Kind::Json => json_fields(&body),
            Kind::Multipart | Kind::Ignored => Ok(Fields::default()),
        }
    }
}

fn form_fields(body: &Bytes) -> Result<Fields, Text> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| invalid())?;
    let mut fields = Fields::default();
    for (name, value) in pairs {
        fields.add(name, value);
    }
    Ok(fields)
}

fn json_fields(body: &Bytes) -> Result<Fields, Text> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Fields::default());
    }
    let mut fields = Fields::default();
    match serde_json::from_slice::<Value>(body).map_err(|_| invalid())? {
        Value::Object(members) => {
            for (name, value) in members {
                let text = match value {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null | Value::Array(_) | Value::Object(_) => continue,
                };
                fields.add(name, text);
            }
            Ok(fields)
        }
        Value::Array(_) => Ok(fields),
        // The original's JSON parser was strict: only an object or an array.
        _ => Err(invalid()),
    }
}

async fn multipart_fields(mut multipart: Multipart) -> Result<Fields, Text> {
    let mut fields = Fields::default();
    while let Some(part) = multipart.next_field().await.map_err(|_| invalid())? {
        let name = part.name().map(str::to_owned);
        let is_file = part.file_name().is_some();
        let text = part.text().await.map_err(|_| invalid())?;
        if let (Some(name), false) = (name, is_file) {
            fields.add(name, text);
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content_type(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_body_is_read_by_its_type() {
        for (value, kind) in [
            ("application/x-www-form-urlencoded", Kind::Form),
            (
                "application/x-www-form-urlencoded; charset=utf-8",
                Kind::Form,
            ),
            ("application/json", Kind::Json),
            ("Application/JSON; charset=utf-8", Kind::Json),
            ("application/vnd.x+json", Kind::Json),
            ("multipart/form-data; boundary=x", Kind::Multipart),
            ("text/plain", Kind::Ignored),
            ("application/octet-stream", Kind::Ignored),
            ("json", Kind::Ignored),
        ] {
            assert_eq!(Kind::of(&content_type(value)), kind, "{value}");
        }
        assert_eq!(Kind::of(&HeaderMap::new()), Kind::Ignored);
    }

    #[test]
    fn form_fields_first_one_wins_and_empty_is_absent() {
        let fields = form_fields(&Bytes::from("name=a+b&name=c&description=&x=%C3%A9")).unwrap();
        assert_eq!(fields.get("name"), Some("a b"));
        assert_eq!(fields.get("description"), None);
        assert_eq!(fields.get("x"), Some("é"));
    }

    #[test]
    fn json_fields_are_scalars() {
        let body = Bytes::from(
            r#"{"uri": "http://x", "retries": 2, "on": true, "n": null, "o": {"a": 1}}"#,
        );
        let fields = json_fields(&body).unwrap();
        assert_eq!(fields.get("uri"), Some("http://x"));
        assert_eq!(fields.get("retries"), Some("2"));
        assert_eq!(fields.get("on"), Some("true"));
        assert_eq!(fields.get("n"), None);
        assert_eq!(fields.get("o"), None);
        assert_eq!(json_fields(&Bytes::from("[1]")).unwrap(), Fields::default());
        assert_eq!(json_fields(&Bytes::from(" ")).unwrap(), Fields::default());
        for bad in ["{", "\"x\"", "5", "{\"a\": 1} x"] {
            assert_eq!(json_fields(&Bytes::from(bad)), Err(invalid()), "{bad}");
        }
    }
}
