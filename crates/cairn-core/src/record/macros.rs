//! `record_object!`: defines one JSON object of the record as a struct of typed members plus an
//! `extra` map, with a hand-written (non-buffering) lenient `Deserialize`.

/// Defines a record object.
///
/// ```ignore
/// record_object! {
///     /// Docs.
///     pub struct Name {
///         /// Member docs.
///         "wireName" => rust_name: Field<String>,
///         "freeForm" => free_form: Option<Value>,
///     }
/// }
/// ```
///
/// Every member type must implement `field::Slot` (`Field<T>` with `T: Lenient`, or
/// `Option<Value>`). The macro adds `pub extra: Map<String, Value>` holding every member whose
/// name is not listed, and generates:
/// - `Serialize` (derived): listed members in declaration order, absent ones skipped, then
///   `extra`;
/// - `Deserialize`: a single pass over the object's members, no buffering; accepts only a JSON
///   object; duplicate member names keep the last value, as `serde_json::Value` does;
/// - `Lenient` and `Deserialize for Field<Name>`, so the struct can itself be a `Field`.
macro_rules! record_object {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $wire:literal => $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, ::serde::Serialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(rename = $wire, skip_serializing_if = "crate::record::field::Slot::is_vacant")]
                pub $field: $ty,
            )*
            /// Every member not modelled by a typed field above, verbatim (wire name → JSON
            /// value), so that unknown and future members survive a round trip. Never holds one
            /// of the modelled names after parsing.
            #[serde(flatten)]
            pub extra: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
        }

        impl $name {
            /// Reads the members of a JSON object (the single-pass lenient core).
            fn from_map_access<'de, A>(map: A) -> ::std::result::Result<Self, A::Error>
            where
                A: ::serde::de::MapAccess<'de>,
            {
                Self::from_map_access_keeping(map, |_| true)
            }

            /// Reads the members of a JSON object whose wire name `keep` accepts; the others
            /// are checked as building them would check them, and dropped.
            fn from_map_access_keeping<'de, A, K>(
                mut map: A,
                keep: K,
            ) -> ::std::result::Result<Self, A::Error>
            where
                A: ::serde::de::MapAccess<'de>,
                K: Fn(&str) -> bool,
            {
                let mut out = Self::default();
                while let Some(key) = map.next_key_seed($crate::record::field::KeySeed)? {
                    if !keep(&key) {
                        map.next_value::<$crate::record::field::CheckedSkip>()?;
                        continue;
                    }
                    match &*key {
                        $(
                            $wire => $crate::record::field::Slot::read(&mut out.$field, &mut map)?,
                        )*
                        _ => {
                            let value = map.next_value::<::serde_json::Value>()?;
                            out.extra.insert(key.into_owned(), value);
                        }
                    }
                }
                Ok(out)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D>(deserializer: D) -> ::std::result::Result<Self, D::Error>
            where
                D: ::serde::Deserializer<'de>,
            {
                struct ObjectVisitor;
                impl<'de> ::serde::de::Visitor<'de> for ObjectVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!("a JSON object (", stringify!($name), ")"))
                    }
                    fn visit_map<A>(self, map: A) -> ::std::result::Result<$name, A::Error>
                    where
                        A: ::serde::de::MapAccess<'de>,
                    {
                        $name::from_map_access(map)
                    }
                }
                deserializer.deserialize_map(ObjectVisitor)
            }
        }

        impl $crate::record::field::Lenient for $name {
            fn from_map<'de, A>(map: A) -> ::std::result::Result<$crate::record::field::Field<Self>, A::Error>
            where
                A: ::serde::de::MapAccess<'de>,
            {
                Self::from_map_access(map).map($crate::record::field::Field::Typed)
            }
        }

        $crate::record::field::field_deserialize!($name);
    };
}
