//! Why process variables do not fit a task's input, told without echoing any value.
//!
//! serde_json's errors quote what they found (`invalid type: string "<the secret>", expected
//! u64`), and a sensitive field's value would reach the span status, the incident and the CLI.
//! So when the fast deserialisation fails, the input is deserialised once more from a
//! [`SafeValue`]: a view of the same JSON whose error type ([`SafeError`]) receives serde's
//! parts separately (what kind of value was found, what was expected) and keeps only the kinds.
//! `serde_path_to_error` names the field. Only the error path pays for this.
//!
//! A free-form message (a type's own `Deserialize` calling `Error::custom`) is kept for
//! ordinary fields and withheld for sensitive ones (and at the root of an input that has any).

use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, MapDeserializer, SeqDeserializer};
use serde::de::{self, Deserializer, Expected, IntoDeserializer, Unexpected, Visitor};
use serde_json::Value;

/// An error that never holds a value: only kinds, names and expectations.
#[derive(Debug)]
pub(crate) enum SafeError {
    /// Safe text (kinds and type names only).
    Safe(String),
    /// A free-form message from a type's `Deserialize`: may hold the value.
    Custom(String),
}

impl fmt::Display for SafeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SafeError::Safe(s) | SafeError::Custom(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for SafeError {}

/// What kind of value serde found, without the value.
fn kind(unexp: &Unexpected<'_>) -> &'static str {
    match unexp {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
        Unexpected::Float(_) => "a number",
        Unexpected::Char(_) => "a character",
        Unexpected::Str(_) => "a string",
        Unexpected::Bytes(_) => "bytes",
        Unexpected::Unit => "null",
        Unexpected::Option => "an optional value",
        Unexpected::NewtypeStruct => "a newtype struct",
        Unexpected::Seq => "an array",
        Unexpected::Map => "an object",
        Unexpected::Enum => "an enum",
        Unexpected::UnitVariant | Unexpected::NewtypeVariant | Unexpected::TupleVariant | Unexpected::StructVariant => {
            "an enum variant"
        }
        Unexpected::Other(_) => "another kind of value",
    }
}

impl de::Error for SafeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SafeError::Custom(msg.to_string())
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        SafeError::Safe(format!("expected {exp}, found {}", kind(&unexp)))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        SafeError::Safe(format!("expected {exp}, found {} that is not one", kind(&unexp)))
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        SafeError::Safe(format!("expected {exp}, found {len} elements"))
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        SafeError::Safe(format!("unknown variant, expected one of {}", names(expected)))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        // a field name is a variable's name, not its value
        SafeError::Safe(format!("unknown field `{field}`, expected one of {}", names(expected)))
    }

    fn missing_field(field: &'static str) -> Self {
        SafeError::Safe(format!("missing field `{field}`"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        SafeError::Safe(format!("duplicate field `{field}`"))
    }
}

fn names(list: &[&str]) -> String {
    if list.is_empty() {
        return "nothing".into();
    }
    list.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// A borrowed JSON value that deserialises as serde_json's `Value` does, with [`SafeError`].
#[derive(Clone, Copy)]
pub(crate) struct SafeValue<'a>(pub &'a Value);

impl<'de> IntoDeserializer<'de, SafeError> for SafeValue<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for SafeValue<'de> {
    type Error = SafeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SafeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (None, Some(i)) => visitor.visit_i64(i),
                _ => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(SafeValue));
                let out = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            Value::Object(map) => {
                let mut access = MapDeserializer::new(map.iter().map(|(k, v)| (k.as_str(), SafeValue(v))));
                let out = visitor.visit_map(&mut access)?;
                access.end()?;
                Ok(out)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, SafeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, SafeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, SafeError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(BorrowedStrDeserializer::new(s)),
            Value::Object(map) if map.len() == 1 => visitor.visit_enum(MapAccessDeserializer::new(
                MapDeserializer::new(map.iter().map(|(k, v)| (k.as_str(), SafeValue(v)))),
            )),
            other => Err(de::Error::invalid_type(
                unexpected(other),
                &"a string or an object with one key",
            )),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(_) => Unexpected::Float(0.0),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// Why `value` does not deserialise as `I`, naming the field (`serde_path_to_error`'s path)
/// and the expected type, never a value. `sensitive` are the input's sensitive field names.
pub(crate) fn explain<I: de::DeserializeOwned>(value: &Value, sensitive: &[&str]) -> String {
    match serde_path_to_error::deserialize::<_, I>(SafeValue(value)) {
        // (only asked after serde_json failed: a different verdict is told without detail)
        Ok(_) => "the values do not have the types the input expects".into(),
        Err(e) => {
            let path = e.path().to_string();
            let top = e.path().iter().next().map(|s| s.to_string());
            let withheld = match &top {
                Some(field) => sensitive.contains(&field.as_str()),
                None => !sensitive.is_empty(),
            };
            let reason = match e.into_inner() {
                SafeError::Safe(s) => s,
                SafeError::Custom(s) if !withheld => s,
                SafeError::Custom(_) => {
                    "the value is not valid (the reason is withheld: the field is sensitive)".into()
                }
            };
            match top {
                Some(_) => format!("field `{path}`: {reason}"),
                None => reason,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::explain;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Input {
        user: String,
        limit: u64,
        token: Option<u32>,
        mode: Mode,
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    enum Mode {
        Fast,
        Slow,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        weight: u8,
    }

    const SECRET: &str = "canary-\"quoted\", expected nothing";

    fn check(value: serde_json::Value, want: &str) {
        assert!(serde_json::from_value::<Input>(value.clone()).is_err());
        let why = explain::<Input>(&value, &["token"]);
        assert_eq!(why, want);
        assert!(!why.contains("canary"), "{why}");
    }

    #[test]
    fn names_the_field_and_the_expected_type_never_the_value() {
        let ok = json!({"user": "ann", "limit": 3, "token": 1, "mode": "Fast", "items": [{"weight": 1}]});
        assert!(serde_json::from_value::<Input>(ok.clone()).is_ok());
        let with = |k: &str, v: serde_json::Value| {
            let mut o = ok.clone();
            o[k] = v;
            o
        };
        check(
            with("limit", json!(SECRET)),
            "field `limit`: expected u64, found a string",
        );
        check(
            with("token", json!(SECRET)),
            "field `token`: expected u32, found a string",
        );
        check(
            with("token", json!(-5)),
            "field `token`: expected u32, found an integer that is not one",
        );
        check(
            with("mode", json!(SECRET)),
            "field `mode`: unknown variant, expected one of `Fast`, `Slow`",
        );
        check(
            with("items", json!([{"weight": SECRET}])),
            "field `items[0].weight`: expected u8, found a string",
        );
        check(
            with("items", json!([{"weight": 300}])),
            "field `items[0].weight`: expected u8, found an integer that is not one",
        );
        let mut missing = ok.clone();
        missing.as_object_mut().unwrap().remove("limit");
        check(missing, "missing field `limit`");
        check(json!(SECRET), "expected struct Input, found a string");
    }

    #[test]
    fn custom_messages_of_sensitive_fields_are_withheld() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Addr {
            host: std::net::IpAddr,
            key: std::net::IpAddr,
        }
        let v = json!({"host": "1.2.3.4", "key": "canary-key"});
        assert!(serde_json::from_value::<Addr>(v.clone()).is_err());
        let why = explain::<Addr>(&v, &["key"]);
        assert!(why.starts_with("field `key`: the value is not valid"), "{why}");
        assert!(!why.contains("canary"));
    }
}
