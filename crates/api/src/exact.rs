//! Request fields read with exactly the JSON type their schema declares (ADR 0006).
//!
//! poem-openapi's `String` also takes JSON numbers and booleans (`{"title": 12}` would
//! become `"12"`), so request bodies use [`Text`] instead: a string and nothing else,
//! documented exactly as `String` is.
//!
//! A type mismatch found by poem-openapi fails the whole body without saying which field
//! it was in. So every field of a request body is a [`Field`]: it takes any JSON value,
//! and keeps either the value read as `T` or the reason it could not be ([`Mismatch`]).
//! `parse.rs` then reports each mismatch under the field's JSON name, together with the
//! fields that break a domain rule, in one 422 answer. Absent and `null` are told apart
//! by wrapping a `Field` in `Option` (both mean "none") or `MaybeUndefined`; a bare
//! `Field` is a required, non-nullable field.

use std::{borrow::Cow, fmt};

use poem_openapi::{
    registry::{MetaSchemaRef, Registry},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

/// A JSON string; any other JSON value is refused. Documented as `string`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The string, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(s.to_owned())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(s)
    }
}

impl Type for Text {
    const IS_REQUIRED: bool = <String as Type>::IS_REQUIRED;

    type RawValueType = String;

    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        <String as Type>::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        <String as Type>::schema_ref()
    }

    fn register(registry: &mut Registry) {
        <String as Type>::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::once(&self.0))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ParseFromJSON for Text {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => Ok(Text(s)),
            Some(other) => Err(ParseError::expected_type(other)),
            None => Err(ParseError::expected_input()),
        }
    }
}

impl ToJSON for Text {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// Why a request field could not be read as its documented type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// A required field is absent.
    Missing,
    /// `null` where the document does not allow it.
    Null,
    /// A value of another JSON type; says what was expected ("a string").
    Type(&'static str),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Missing => f.write_str("is missing"),
            // The same words as `conduit_domain::Invalid::Null`.
            Mismatch::Null => f.write_str("can't be null"),
            Mismatch::Type(expected) => write!(f, "must be {expected}"),
        }
    }
}

/// A request field: the value read as `T`, or why it could not be. Documented exactly as
/// `T` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<T>(Result<T, Mismatch>);

impl<T> Field<T> {
    /// A field that holds `value`.
    pub fn new(value: T) -> Self {
        Field(Ok(value))
    }

    /// A field that could not be read, for `mismatch`.
    pub fn refused(mismatch: Mismatch) -> Self {
        Field(Err(mismatch))
    }

    /// The value, or why there is none.
    pub fn into_result(self) -> Result<T, Mismatch> {
        self.0
    }
}

impl<T: Type> Field<T> {
    /// What `T`'s schema expects, in the words of an error message.
    fn expected() -> &'static str {
        match T::schema_ref() {
            MetaSchemaRef::Reference(_) => "an object",
            MetaSchemaRef::Inline(schema) => match schema.ty {
                "string" => "a string",
                "integer" => "an integer",
                "number" => "a number",
                "boolean" => "true or false",
                "object" => "an object",
                "array" => match schema.items.as_deref() {
                    Some(MetaSchemaRef::Inline(items)) if items.ty == "string" => {
                        "an array of strings"
                    }
                    _ => "an array",
                },
                _ => "of the documented type",
            },
        }
    }
}

impl From<&str> for Field<Text> {
    fn from(s: &str) -> Self {
        Field::new(s.into())
    }
}

impl<S: Into<Text>> FromIterator<S> for Field<Vec<Text>> {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Field::new(iter.into_iter().map(Into::into).collect())
    }
}

impl<T: Type> Type for Field<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;

    type RawValueType = T::RawValueType;

    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().ok()?.as_raw_value()
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Ok(value) => value.raw_element_iter(),
            Err(_) => Box::new(std::iter::empty()),
        }
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Field<T> {
    /// Never fails: a value `T` cannot read is kept as a [`Mismatch`].
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Field(match value {
            None => Err(Mismatch::Missing),
            Some(Value::Null) => Err(Mismatch::Null),
            Some(value) => {
                T::parse_from_json(Some(value)).map_err(|_| Mismatch::Type(Self::expected()))
            }
        }))
    }
}

impl<T: ToJSON> ToJSON for Field<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.as_ref().ok()?.to_json()
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::{Object, types::MaybeUndefined};
    use serde_json::json;

    use super::*;

    fn text(value: Value) -> ParseResult<Text> {
        Text::parse_from_json(Some(value))
    }

    #[test]
    fn text_takes_strings_and_nothing_else() {
        assert_eq!(text(json!("12")).ok(), Some(Text::from("12")));
        assert_eq!(text(json!("")).ok(), Some(Text::from("")));
        for other in [
            json!(12),
            json!(1.5),
            json!(true),
            json!(null),
            json!({}),
            json!(["a"]),
        ] {
            assert!(text(other.clone()).is_err(), "{other} taken as a string");
        }
        assert!(Text::parse_from_json(None).is_err());
    }

    #[test]
    fn text_is_documented_and_written_as_a_string() {
        assert_eq!(Text::name(), String::name());
        assert_eq!(
            serde_json::to_value(Text::schema_ref()).ok(),
            serde_json::to_value(String::schema_ref()).ok()
        );
        assert_eq!(Text::from("a").to_json(), Some(json!("a")));
    }

    #[test]
    fn a_field_keeps_the_value_or_the_reason() {
        let field = |value: Option<Value>| {
            Field::<Text>::parse_from_json(value)
                .expect("a field never fails")
                .into_result()
        };
        assert_eq!(field(Some(json!("x"))), Ok(Text::from("x")));
        assert_eq!(field(None), Err(Mismatch::Missing));
        assert_eq!(field(Some(json!(null))), Err(Mismatch::Null));
        for other in [json!(5), json!(false), json!({"a": 1}), json!(["x"])] {
            assert_eq!(field(Some(other)), Err(Mismatch::Type("a string")));
        }
    }

    #[test]
    fn list_fields_need_an_array_of_strings() {
        let list = |value: Value| {
            Field::<Vec<Text>>::parse_from_json(Some(value))
                .expect("a field never fails")
                .into_result()
        };
        assert_eq!(list(json!(["a", "b"])), Ok(vec!["a".into(), "b".into()]));
        assert_eq!(list(json!([])), Ok(vec![]));
        for other in [json!("a"), json!(["a", 1]), json!(["a", null]), json!({})] {
            assert_eq!(
                list(other.clone()),
                Err(Mismatch::Type("an array of strings")),
                "{other}"
            );
        }
    }

    #[derive(Debug, Object)]
    struct Inner {
        name: Field<Text>,
    }

    #[test]
    fn object_fields_need_an_object() {
        let inner = |value: Value| {
            Field::<Inner>::parse_from_json(Some(value))
                .expect("a field never fails")
                .into_result()
                .map(|inner| inner.name.into_result())
        };
        assert_eq!(inner(json!({"name": "n"})), Ok(Ok(Text::from("n"))));
        assert_eq!(inner(json!({})), Ok(Err(Mismatch::Missing)));
        assert_eq!(inner(json!("n")), Err(Mismatch::Type("an object")));
        assert_eq!(inner(json!(["n"])), Err(Mismatch::Type("an object")));
    }

    #[test]
    fn absent_and_null_are_told_apart_by_the_wrappers() {
        let optional = |value| Option::<Field<Text>>::parse_from_json(value).expect("parses");
        assert!(optional(None).is_none());
        assert!(optional(Some(json!(null))).is_none());
        assert_eq!(
            optional(Some(json!(1))).map(Field::into_result),
            Some(Err(Mismatch::Type("a string")))
        );
        let update = |value| MaybeUndefined::<Field<Text>>::parse_from_json(value).expect("parses");
        assert!(update(None).is_undefined());
        assert!(update(Some(json!(null))).is_null());
        assert!(matches!(
            update(Some(json!(true))),
            MaybeUndefined::Value(f) if f == Field::refused(Mismatch::Type("a string"))
        ));
    }

    #[test]
    fn a_field_is_documented_as_its_type() {
        assert_eq!(
            serde_json::to_value(Field::<Vec<Text>>::schema_ref()).ok(),
            serde_json::to_value(Vec::<String>::schema_ref()).ok()
        );
        const { assert!(<Field<Text> as Type>::IS_REQUIRED) };
        const { assert!(!<Option<Field<Text>> as Type>::IS_REQUIRED) };
        assert_eq!(Mismatch::Type("a string").to_string(), "must be a string");
        assert_eq!(Mismatch::Missing.to_string(), "is missing");
        assert_eq!(
            Mismatch::Null.to_string(),
            conduit_domain::Invalid::Null.to_string()
        );
    }
}
