//! [`Field`] (absent / null / typed / raw), [`Flag`] (boolean or string) and the lenient
//! deserialization machinery shared by every record object.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{
    I128Deserializer, MapAccessDeserializer, SeqAccessDeserializer, U128Deserializer,
};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// One optional member of a record object, in one of four states, so that a parsed record
/// serializes back to exactly the JSON it came from.
///
/// | JSON                          | `Field`          |
/// |-------------------------------|------------------|
/// | member missing                | [`Field::Absent`] |
/// | `"name": null`                | [`Field::Null`]   |
/// | value of the expected type    | [`Field::Typed`]  |
/// | value of any other JSON type  | [`Field::Raw`]    |
///
/// Parsing a `Field` never fails on a well-formed JSON value: an unexpected type (a number
/// where a string is expected, an array where an object is expected, ...) is kept verbatim in
/// [`Field::Raw`] instead of rejecting the whole record.
///
/// A struct holding a `Field` must skip it when it is [`Field::Absent`] on output (the record
/// types of this module do). Serializing an `Absent` field on its own writes `null`. When a
/// `Field` is a member of your own `#[derive(Deserialize)]` struct, mark it `#[serde(default)]`
/// so that a missing member becomes `Absent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Field<T> {
    /// The member is not present in the JSON object.
    #[default]
    Absent,
    /// The member is present with the value `null`.
    Null,
    /// The member is present with a value of the expected type.
    Typed(T),
    /// The member is present with a value of an unexpected JSON type, kept verbatim. Never
    /// `Value::Null` when produced by parsing (that is [`Field::Null`]).
    Raw(Value),
}

impl<T> From<T> for Field<T> {
    fn from(value: T) -> Self {
        Field::Typed(value)
    }
}

impl From<&str> for Field<String> {
    fn from(value: &str) -> Self {
        Field::Typed(value.to_owned())
    }
}

impl<T> Field<T> {
    /// `true` when the member is missing.
    pub const fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    /// `true` when the member is present with the value `null`.
    pub const fn is_null(&self) -> bool {
        matches!(self, Field::Null)
    }

    /// `true` when the member is present, whatever its value (including `null`).
    pub const fn is_present(&self) -> bool {
        !self.is_absent()
    }

    /// The typed value, if the member holds a value of the expected type.
    pub const fn get(&self) -> Option<&T> {
        match self {
            Field::Typed(value) => Some(value),
            _ => None,
        }
    }

    /// The typed value, mutably, if the member holds a value of the expected type.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        match self {
            Field::Typed(value) => Some(value),
            _ => None,
        }
    }

    /// The verbatim JSON value, if the member holds a value of an unexpected type.
    pub const fn raw(&self) -> Option<&Value> {
        match self {
            Field::Raw(value) => Some(value),
            _ => None,
        }
    }

    /// Consumes the field, returning the typed value if there is one.
    pub fn into_typed(self) -> Option<T> {
        match self {
            Field::Typed(value) => Some(value),
            _ => None,
        }
    }
}

impl Field<String> {
    /// The string, if the member is a JSON string.
    pub fn as_str(&self) -> Option<&str> {
        self.get().map(String::as_str)
    }
}

impl Field<Flag> {
    /// The boolean meaning of the member: see [`Flag::as_bool`]. `None` when absent, `null`,
    /// of another JSON type, or a string other than `"true"`/`"false"`.
    pub fn as_bool(&self) -> Option<bool> {
        self.get().and_then(Flag::as_bool)
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Absent | Field::Null => serializer.serialize_unit(),
            Field::Typed(value) => value.serialize(serializer),
            Field::Raw(value) => value.serialize(serializer),
        }
    }
}

/// A boolean that real logs sometimes write as a string: `readOnly`, `managementEvent`,
/// `sessionCredentialFromConsole`, `sessionContext.assumedRoot`.
///
/// CloudTrail documents `readOnly` and `managementEvent` as JSON booleans but
/// `sessionCredentialFromConsole` as the string `"true"`, and records re-serialized by other
/// tools have been seen with `"readOnly": "true"`. Both spellings are accepted and written back
/// exactly as read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Flag {
    /// A JSON boolean.
    Bool(bool),
    /// A JSON string (normally `"true"` or `"false"`).
    Text(String),
}

impl Flag {
    /// The boolean meaning: `Bool(b)` → `b`; `Text` → `true`/`false` when the text is
    /// `"true"`/`"false"` (ASCII case-insensitive, surrounding whitespace ignored), otherwise
    /// `None`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Flag::Bool(b) => Some(*b),
            Flag::Text(text) => parse_bool_text(text),
        }
    }
}

impl From<bool> for Flag {
    fn from(value: bool) -> Self {
        Flag::Bool(value)
    }
}

/// `"true"` / `"false"` (ASCII case-insensitive, trimmed) as a boolean.
pub(crate) fn parse_bool_text(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlagVisitor;
        impl Visitor<'_> for FlagVisitor {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean or a string")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag::Bool(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Flag, E> {
                Ok(Flag::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Flag, E> {
                Ok(Flag::Text(v))
            }
        }
        deserializer.deserialize_any(FlagVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Lenient deserialization.

/// How a type is built from the JSON value of a [`Field`]. Each hook receives one JSON kind and
/// returns [`Field::Typed`] when that kind is the expected one, [`Field::Raw`] otherwise (the
/// defaults keep everything raw). `null` is handled by the visitor ([`Field::Null`]), numbers
/// are always raw (no record field is typed as a number).
pub(crate) trait Lenient: Sized {
    fn from_bool(v: bool) -> Field<Self> {
        Field::Raw(Value::Bool(v))
    }

    fn from_text(v: &str) -> Field<Self> {
        Field::Raw(Value::String(v.to_owned()))
    }

    fn from_owned_text(v: String) -> Field<Self> {
        Field::Raw(Value::String(v))
    }

    fn from_map<'de, A: MapAccess<'de>>(map: A) -> Result<Field<Self>, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Field::Raw)
    }

    fn from_seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Field<Self>, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Field::Raw)
    }
}

impl Lenient for String {
    fn from_text(v: &str) -> Field<Self> {
        Field::Typed(v.to_owned())
    }

    fn from_owned_text(v: String) -> Field<Self> {
        Field::Typed(v)
    }
}

impl Lenient for Flag {
    fn from_bool(v: bool) -> Field<Self> {
        Field::Typed(Flag::Bool(v))
    }

    fn from_text(v: &str) -> Field<Self> {
        Field::Typed(Flag::Text(v.to_owned()))
    }

    fn from_owned_text(v: String) -> Field<Self> {
        Field::Typed(Flag::Text(v))
    }
}

/// Converts a parsed field back into the JSON value it came from (`Absent` → `null`, which
/// never happens for an element read from a JSON array).
pub(crate) fn field_to_value<T: Serialize, E: de::Error>(field: Field<T>) -> Result<Value, E> {
    match field {
        Field::Absent | Field::Null => Ok(Value::Null),
        Field::Raw(value) => Ok(value),
        Field::Typed(value) => serde_json::to_value(value).map_err(E::custom),
    }
}

/// Deserializes a [`Field<T>`] from any JSON value.
pub(crate) struct FieldSeed<T>(PhantomData<fn() -> T>);

impl<T> FieldSeed<T> {
    pub(crate) const fn new() -> Self {
        FieldSeed(PhantomData)
    }
}

impl<'de, T: Lenient> DeserializeSeed<'de> for FieldSeed<T> {
    type Value = Field<T>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field<T>, D::Error> {
        deserializer.deserialize_any(FieldVisitor::<T>(PhantomData))
    }
}

struct FieldVisitor<T>(PhantomData<fn() -> T>);

impl<'de, T: Lenient> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Field<T>, E> {
        Ok(T::from_bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Field<T>, E> {
        Ok(Field::Raw(Value::Number(v.into())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field<T>, E> {
        Ok(Field::Raw(Value::Number(v.into())))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Field<T>, E> {
        Value::deserialize(I128Deserializer::<E>::new(v)).map(Field::Raw)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Field<T>, E> {
        Value::deserialize(U128Deserializer::<E>::new(v)).map(Field::Raw)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Field<T>, E> {
        // Same conversion as serde_json's own `Value` visitor (JSON has no non-finite numbers).
        Ok(Field::Raw(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field<T>, E> {
        Ok(T::from_text(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Field<T>, E> {
        Ok(T::from_owned_text(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field<T>, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Field<T>, A::Error> {
        T::from_map(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Field<T>, A::Error> {
        T::from_seq(seq)
    }
}

/// Implements `Deserialize` for `Field<$ty>` (concrete types only, so that the crate-private
/// [`Lenient`] trait stays out of the public API).
macro_rules! field_deserialize {
    ($($ty:ty),* $(,)?) => {$(
        impl<'de> ::serde::Deserialize<'de> for $crate::record::field::Field<$ty> {
            fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
            where
                D: ::serde::Deserializer<'de>,
            {
                ::serde::de::DeserializeSeed::deserialize(
                    $crate::record::field::FieldSeed::<$ty>::new(),
                    deserializer,
                )
            }
        }
    )*};
}
pub(crate) use field_deserialize;

field_deserialize!(String, Flag);

/// A member slot of a record object: a [`Field`] or a free-form `Option<Value>` (`None` =
/// absent, `Some(Value::Null)` = explicit `null`).
pub(crate) trait Slot {
    /// `true` when the member is absent (and must not be written).
    fn is_vacant(&self) -> bool;
    /// Reads the member's value from `map` (called right after its key).
    fn read<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error>;
}

impl<T: Lenient> Slot for Field<T> {
    #[inline]
    fn is_vacant(&self) -> bool {
        self.is_absent()
    }

    #[inline]
    fn read<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        *self = map.next_value_seed(FieldSeed::<T>::new())?;
        Ok(())
    }
}

impl Slot for Option<Value> {
    #[inline]
    fn is_vacant(&self) -> bool {
        self.is_none()
    }

    #[inline]
    fn read<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<(), A::Error> {
        *self = Some(map.next_value::<Value>()?);
        Ok(())
    }
}

/// A JSON value read and dropped, failing exactly where building a [`Value`] from it would:
/// numbers out of range, lone surrogate escapes, nesting past the deserializer's limit.
/// (`serde::de::IgnoredAny` only checks the syntax: serde_json skips such values without
/// complaint, and a record kept with one could then never be parsed again.)
pub(crate) struct CheckedSkip;

impl<'de> Deserialize<'de> for CheckedSkip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SkipVisitor;
        impl<'de> Visitor<'de> for SkipVisitor {
            type Value = CheckedSkip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<CheckedSkip, E> {
                Ok(CheckedSkip)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<CheckedSkip, E> {
                Ok(CheckedSkip)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<CheckedSkip, E> {
                Ok(CheckedSkip)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<CheckedSkip, E> {
                Ok(CheckedSkip)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<CheckedSkip, E> {
                Ok(CheckedSkip)
            }
            fn visit_unit<E: de::Error>(self) -> Result<CheckedSkip, E> {
                Ok(CheckedSkip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CheckedSkip, A::Error> {
                while seq.next_element::<CheckedSkip>()?.is_some() {}
                Ok(CheckedSkip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CheckedSkip, A::Error> {
                while map.next_entry::<CheckedSkip, CheckedSkip>()?.is_some() {}
                Ok(CheckedSkip)
            }
        }
        deserializer.deserialize_any(SkipVisitor)
    }
}

/// Reads an object key, borrowing it from the input when possible (no allocation for the known
/// member names of a record parsed from a string).
pub(crate) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse<T>(json: &str) -> Field<T>
    where
        Field<T>: for<'de> Deserialize<'de>,
    {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn string_field_states() {
        assert_eq!(parse::<String>(r#""abc""#), Field::Typed("abc".to_owned()));
        assert_eq!(
            parse::<String>(r#""a\"b""#),
            Field::Typed("a\"b".to_owned())
        );
        assert_eq!(parse::<String>("null"), Field::Null);
        assert_eq!(parse::<String>("12"), Field::Raw(json!(12)));
        assert_eq!(parse::<String>("-12"), Field::Raw(json!(-12)));
        assert_eq!(parse::<String>("1.5"), Field::Raw(json!(1.5)));
        assert_eq!(parse::<String>("true"), Field::Raw(json!(true)));
        assert_eq!(
            parse::<String>(r#"[1,"a",{}]"#),
            Field::Raw(json!([1, "a", {}]))
        );
        assert_eq!(
            parse::<String>(r#"{"a":[null]}"#),
            Field::Raw(json!({"a": [null]}))
        );
    }

    #[test]
    fn flag_field_states() {
        assert_eq!(parse::<Flag>("true"), Field::Typed(Flag::Bool(true)));
        assert_eq!(
            parse::<Flag>(r#""false""#),
            Field::Typed(Flag::Text("false".into()))
        );
        assert_eq!(parse::<Flag>("1"), Field::Raw(json!(1)));
        assert_eq!(parse::<Flag>("null"), Field::Null);
        assert_eq!(parse::<Flag>("true").as_bool(), Some(true));
        assert_eq!(parse::<Flag>(r#""TRUE""#).as_bool(), Some(true));
        assert_eq!(parse::<Flag>(r#"" false ""#).as_bool(), Some(false));
        assert_eq!(parse::<Flag>(r#""yes""#).as_bool(), None);
        assert_eq!(parse::<Flag>("1").as_bool(), None);
        assert_eq!(Field::<Flag>::Absent.as_bool(), None);
    }

    #[test]
    fn flag_serializes_as_read() {
        assert_eq!(
            serde_json::to_value(Flag::Bool(false)).unwrap(),
            json!(false)
        );
        assert_eq!(
            serde_json::to_value(Flag::Text("true".into())).unwrap(),
            json!("true")
        );
        assert_eq!(
            serde_json::from_value::<Flag>(json!("x")).unwrap(),
            Flag::Text("x".into())
        );
        assert!(serde_json::from_value::<Flag>(json!(1)).is_err());
    }

    #[test]
    fn field_serializes_each_state() {
        assert_eq!(
            serde_json::to_value(Field::<String>::Null).unwrap(),
            Value::Null
        );
        assert_eq!(
            serde_json::to_value(Field::<String>::Absent).unwrap(),
            Value::Null
        );
        assert_eq!(
            serde_json::to_value(Field::<String>::from("x")).unwrap(),
            json!("x")
        );
        assert_eq!(
            serde_json::to_value(Field::<String>::Raw(json!([1]))).unwrap(),
            json!([1])
        );
    }

    #[test]
    fn field_accessors() {
        let typed: Field<String> = "x".into();
        assert_eq!(typed.as_str(), Some("x"));
        assert!(typed.is_present() && !typed.is_null() && !typed.is_absent());
        assert_eq!(typed.raw(), None);
        assert_eq!(typed.clone().into_typed(), Some("x".to_owned()));
        let raw = Field::<String>::Raw(json!(7));
        assert_eq!(raw.as_str(), None);
        assert_eq!(raw.raw(), Some(&json!(7)));
        assert!(Field::<String>::Null.is_present());
        assert!(Field::<String>::default().is_absent());
        let mut f = Field::<String>::from("a");
        f.get_mut().unwrap().push('b');
        assert_eq!(f.as_str(), Some("ab"));
    }

    #[test]
    fn field_from_value_deserializer() {
        // The same states when deserializing from an in-memory `Value` (owned strings).
        assert_eq!(
            serde_json::from_value::<Field<String>>(json!("s")).unwrap(),
            Field::from("s")
        );
        assert_eq!(
            serde_json::from_value::<Field<String>>(Value::Null).unwrap(),
            Field::Null
        );
        assert_eq!(
            serde_json::from_value::<Field<String>>(json!(u64::MAX)).unwrap(),
            Field::Raw(json!(u64::MAX))
        );
    }
}
