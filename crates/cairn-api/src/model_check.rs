//! Check JSON bodies against the botocore service models Cairn is wire-compatible with.
//!
//! The models are vendored, decompressed, under `crates/cairn-api/model/` (see the `NOTICE`
//! there for the source package, version and license). [`Model`] parses one and walks a JSON
//! body against an operation's output (or input) shape, reporting every violation with a JSON
//! path, e.g. `trailList[0].Name: expected string, got number`.
//!
//! What is checked, per shape type:
//!
//! | type | checks |
//! |---|---|
//! | structure | a JSON object; no unknown members; `required` members present |
//! | list | a JSON array; `min`/`max` item counts; every item |
//! | map | a JSON object; `min`/`max` entry counts; every key and value |
//! | string | a JSON string; `enum`; `min`/`max` length in code points; `pattern` (best effort) |
//! | integer, long | a JSON integer in the type's range; `min`/`max` |
//! | double, float | a JSON number, or `"NaN"`, `"Infinity"`, `"-Infinity"` |
//! | boolean | a JSON boolean |
//! | timestamp | a JSON number (epoch seconds), or a string for `iso8601`/`rfc822` formats |
//! | blob | a JSON string holding valid padded base64 |
//!
//! `null` is never accepted where a value of a shape is expected: AWS omits absent members, and
//! an SDK that meets `"Name": null` does not always treat it as absent.
//!
//! Patterns are ECMAScript regular expressions that, as in Smithy, are *not* implicitly anchored.
//! A small matcher here handles the syntax the CloudTrail models use (classes, `\d \w \s`,
//! `\uXXXX`, groups, alternation, greedy quantifiers, `^`/`$`, `(?s)`); a pattern it cannot parse
//! is skipped rather than guessed at.
//!
//! For `rest-json` models only members that travel in the body are walked: members bound to a
//! header, the query string, the URI or the status code are neither required nor allowed there.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::OnceLock;

use serde_json::Value;

/// The AWS CloudTrail model (`cloudtrail`, API version 2013-11-01, AWS JSON 1.1).
const CLOUDTRAIL_JSON: &str = include_str!("../model/cloudtrail-2013-11-01.json");
/// The CloudTrail Data model (`cloudtrail-data`, API version 2021-08-11, REST-JSON).
const CLOUDTRAIL_DATA_JSON: &str = include_str!("../model/cloudtrail-data-2021-08-11.json");

/// Errors any AWS JSON service may return for any operation, whether or not the model lists them.
pub const COMMON_ERRORS: &[&str] = &[
    "AccessDeniedException",
    "IncompleteSignature",
    "InternalFailure",
    "InvalidSignatureException",
    "MissingAuthenticationToken",
    "RequestExpired",
    "ServiceUnavailable",
    "ThrottlingException",
    "UnrecognizedClientException",
    "ValidationException",
    "SerializationException",
    "UnknownOperationException",
    "RequestEntityTooLargeException",
    "UnsupportedOperationException",
];

/// A parsed botocore `service-2.json` model.
#[derive(Debug, Clone)]
pub struct Model {
    uid: String,
    protocol: Protocol,
    target_prefix: Option<String>,
    operations: BTreeMap<String, Operation>,
    shapes: HashMap<String, Shape>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Json,
    RestJson,
}

#[derive(Debug, Clone)]
struct Operation {
    input: Option<String>,
    output: Option<String>,
    errors: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimestampFormat {
    UnixTimestamp,
    Iso8601,
    Rfc822,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bounds {
    min: Option<i64>,
    max: Option<i64>,
}

#[derive(Debug, Clone)]
struct Member {
    /// The member's name in the model (what `required` lists).
    name: String,
    /// The member's name on the wire (`jsonName`, else a body `locationName`, else `name`).
    wire_name: String,
    shape: String,
    /// False for members bound to a header, the query string, the URI or the status code.
    in_body: bool,
    timestamp_format: Option<TimestampFormat>,
}

#[derive(Debug, Clone)]
struct Structure {
    members: Vec<Member>,
    required: Vec<String>,
    /// REST-JSON: the member that is the whole body.
    payload: Option<String>,
    /// The error code when `error.code` overrides the shape name.
    error_code: Option<String>,
}

#[derive(Debug, Clone)]
struct StringShape {
    enum_values: Option<Vec<String>>,
    len: Bounds,
    /// The pattern's source, and its compiled form when the matcher understands it.
    pattern: Option<(String, Option<pattern::Regex>)>,
}

#[derive(Debug, Clone)]
enum Shape {
    Structure(Structure),
    List {
        member: String,
        len: Bounds,
    },
    Map {
        key: String,
        value: String,
        len: Bounds,
    },
    String(StringShape),
    Integer {
        range: Bounds,
        lo: i64,
        hi: i64,
    },
    Float,
    Boolean,
    Timestamp(Option<TimestampFormat>),
    Blob(Bounds),
    Document,
}

impl Model {
    /// The vendored AWS CloudTrail model (2013-11-01).
    pub fn cloudtrail() -> Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL
            .get_or_init(|| {
                Model::from_json(CLOUDTRAIL_JSON).expect("vendored cloudtrail model parses")
            })
            .clone()
    }

    /// The vendored CloudTrail Data model (2021-08-11).
    pub fn cloudtrail_data() -> Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL
            .get_or_init(|| {
                Model::from_json(CLOUDTRAIL_DATA_JSON)
                    .expect("vendored cloudtrail-data model parses")
            })
            .clone()
    }

    /// Parse a botocore `service-2.json` document. Only the `json` and `rest-json` protocols
    /// are supported, and every shape an operation or member names must exist.
    pub fn from_json(text: &str) -> Result<Model, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| format!("model JSON: {e}"))?;
        let metadata = doc.get("metadata").ok_or("model has no metadata")?;
        let protocol = match metadata.get("protocol").and_then(Value::as_str) {
            Some("json") => Protocol::Json,
            Some("rest-json") => Protocol::RestJson,
            other => return Err(format!("unsupported protocol {other:?}")),
        };
        let uid = metadata
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        let target_prefix = metadata
            .get("targetPrefix")
            .and_then(Value::as_str)
            .map(str::to_owned);

        let mut shapes = HashMap::new();
        for (name, def) in doc
            .get("shapes")
            .and_then(Value::as_object)
            .ok_or("model has no shapes")?
        {
            shapes.insert(
                name.clone(),
                parse_shape(def).map_err(|e| format!("shape {name}: {e}"))?,
            );
        }

        let mut operations = BTreeMap::new();
        for (name, def) in doc
            .get("operations")
            .and_then(Value::as_object)
            .ok_or("model has no operations")?
        {
            let shape_of = |key: &str| {
                def.get(key)
                    .and_then(|v| v.get("shape"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let errors = def
                .get("errors")
                .and_then(Value::as_array)
                .map(|errs| {
                    errs.iter()
                        .filter_map(|e| e.get("shape").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            operations.insert(
                name.clone(),
                Operation {
                    input: shape_of("input"),
                    output: shape_of("output"),
                    errors,
                },
            );
        }

        let model = Model {
            uid,
            protocol,
            target_prefix,
            operations,
            shapes,
        };
        model.check_references()?;
        Ok(model)
    }

    /// The model's `uid`, e.g. `cloudtrail-2013-11-01`.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The model's wire protocol: `json` (AWS JSON 1.1, CloudTrail) or `rest-json`
    /// (CloudTrail Data).
    pub fn protocol(&self) -> &'static str {
        match self.protocol {
            Protocol::Json => "json",
            Protocol::RestJson => "rest-json",
        }
    }

    /// Every operation the model defines, in name order.
    pub fn operation_names(&self) -> impl Iterator<Item = &str> {
        self.operations.keys().map(String::as_str)
    }

    /// Check the body of a successful (200) response to `operation` against its output shape.
    ///
    /// `operation` is the operation name (`DescribeTrails`) or a full `X-Amz-Target`.
    pub fn check_output(&self, operation: &str, body: &Value) -> Result<(), Vec<String>> {
        let op = self.operation(operation).map_err(|e| vec![e])?;
        self.check_body(op.output.as_deref(), body)
    }

    /// Check a request body for `operation` against its input shape.
    pub fn check_input(&self, operation: &str, body: &Value) -> Result<(), Vec<String>> {
        let op = self.operation(operation).map_err(|e| vec![e])?;
        self.check_body(op.input.as_deref(), body)
    }

    /// Is `error_type` an error `operation` may return: one the model lists for it, or one of
    /// the [`COMMON_ERRORS`]? `error_type` may be a bare name, a `namespace#Name` `__type`, or
    /// an `X-Amzn-ErrorType` value with a `:url` suffix.
    pub fn check_error(&self, operation: &str, error_type: &str) -> Result<(), String> {
        let code = error_type.split(':').next().unwrap_or(error_type);
        let code = code.rsplit('#').next().unwrap_or(code);
        if COMMON_ERRORS.contains(&code) {
            return Ok(());
        }
        let op = self.operation(operation)?;
        let modelled: Vec<&str> = op
            .errors
            .iter()
            .map(|shape| match self.shapes.get(shape) {
                Some(Shape::Structure(Structure {
                    error_code: Some(c),
                    ..
                })) => c.as_str(),
                _ => shape.as_str(),
            })
            .collect();
        if modelled.contains(&code) {
            Ok(())
        } else {
            Err(format!(
                "{code} is not an error {operation} may return; the model lists {} \
                 (besides the common errors)",
                modelled.join(", ")
            ))
        }
    }

    fn operation(&self, operation: &str) -> Result<&Operation, String> {
        let name = match &self.target_prefix {
            Some(prefix) => operation
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
                .unwrap_or(operation),
            None => operation,
        };
        self.operations
            .get(name)
            .ok_or_else(|| format!("{} has no operation {operation}", self.uid))
    }

    fn check_body(&self, shape: Option<&str>, body: &Value) -> Result<(), Vec<String>> {
        let mut walker = Walker {
            model: self,
            violations: Vec::new(),
        };
        match shape {
            Some(shape) => walker.check(shape, body, "", None),
            None => {
                // No shape: AWS JSON sends `{}`; REST-JSON may send no body at all (`null` here).
                let empty_ok = match body {
                    Value::Object(o) => o.is_empty(),
                    Value::Null => self.protocol == Protocol::RestJson,
                    _ => false,
                };
                if !empty_ok {
                    walker.violations.push(format!(
                        "{}: the operation has no shape here; expected {{}}",
                        display(""),
                    ));
                }
            }
        }
        if walker.violations.is_empty() {
            Ok(())
        } else {
            Err(walker.violations)
        }
    }

    fn check_references(&self) -> Result<(), String> {
        let exists = |name: &str, from: &str| {
            if self.shapes.contains_key(name) {
                Ok(())
            } else {
                Err(format!("{from} names missing shape {name}"))
            }
        };
        for (name, op) in &self.operations {
            for shape in op.input.iter().chain(&op.output).chain(&op.errors) {
                exists(shape, name)?;
            }
        }
        for (name, shape) in &self.shapes {
            match shape {
                Shape::Structure(s) => {
                    for m in &s.members {
                        exists(&m.shape, name)?;
                    }
                }
                Shape::List { member, .. } => exists(member, name)?,
                Shape::Map { key, value, .. } => {
                    exists(key, name)?;
                    exists(value, name)?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn parse_shape(def: &Value) -> Result<Shape, String> {
    let ty = def.get("type").and_then(Value::as_str).ok_or("no type")?;
    let int = |key: &str| -> Option<i64> {
        let v = def.get(key)?;
        v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
    };
    let bounds = || Bounds {
        min: int("min"),
        max: int("max"),
    };
    let target = |key: &str| -> Result<String, String> {
        def.get(key)
            .and_then(|v| v.get("shape"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{ty} without {key}"))
    };
    if def.get("document").and_then(Value::as_bool) == Some(true) {
        return Ok(Shape::Document);
    }
    Ok(match ty {
        "structure" => {
            let mut members = Vec::new();
            if let Some(defs) = def.get("members").and_then(Value::as_object) {
                for (name, m) in defs {
                    let location = m.get("location").and_then(Value::as_str);
                    let in_body = location.is_none();
                    let wire_name = m
                        .get("jsonName")
                        .and_then(Value::as_str)
                        .or_else(|| {
                            in_body
                                .then(|| m.get("locationName").and_then(Value::as_str))
                                .flatten()
                        })
                        .unwrap_or(name)
                        .to_owned();
                    members.push(Member {
                        name: name.clone(),
                        wire_name,
                        shape: m
                            .get("shape")
                            .and_then(Value::as_str)
                            .ok_or_else(|| format!("member {name} has no shape"))?
                            .to_owned(),
                        in_body,
                        timestamp_format: timestamp_format(m)?,
                    });
                }
            }
            let required = def
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            Shape::Structure(Structure {
                members,
                required,
                payload: def
                    .get("payload")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                error_code: def
                    .get("error")
                    .and_then(|e| e.get("code"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        }
        "list" => Shape::List {
            member: target("member")?,
            len: bounds(),
        },
        "map" => Shape::Map {
            key: target("key")?,
            value: target("value")?,
            len: bounds(),
        },
        "string" => Shape::String(StringShape {
            enum_values: def.get("enum").and_then(Value::as_array).map(|values| {
                values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            }),
            len: bounds(),
            pattern: def
                .get("pattern")
                .and_then(Value::as_str)
                .map(|p| (p.to_owned(), pattern::Regex::new(p))),
        }),
        "integer" => Shape::Integer {
            range: bounds(),
            lo: i32::MIN.into(),
            hi: i32::MAX.into(),
        },
        "long" => Shape::Integer {
            range: bounds(),
            lo: i64::MIN,
            hi: i64::MAX,
        },
        "double" | "float" => Shape::Float,
        "boolean" => Shape::Boolean,
        "timestamp" => Shape::Timestamp(timestamp_format(def)?),
        "blob" => Shape::Blob(bounds()),
        other => return Err(format!("unsupported type {other}")),
    })
}

fn timestamp_format(def: &Value) -> Result<Option<TimestampFormat>, String> {
    match def.get("timestampFormat").and_then(Value::as_str) {
        None => Ok(None),
        Some("unixTimestamp") => Ok(Some(TimestampFormat::UnixTimestamp)),
        Some("iso8601") => Ok(Some(TimestampFormat::Iso8601)),
        Some("rfc822") => Ok(Some(TimestampFormat::Rfc822)),
        Some(other) => Err(format!("unknown timestampFormat {other}")),
    }
}

/// The path as shown in messages: the body itself has an empty path.
fn display(path: &str) -> &str {
    if path.is_empty() { "(body)" } else { path }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

struct Walker<'m> {
    model: &'m Model,
    violations: Vec<String>,
}

impl Walker<'_> {
    fn fail(&mut self, path: &str, message: impl std::fmt::Display) {
        self.violations
            .push(format!("{}: {message}", display(path)));
    }

    fn wrong_type(&mut self, path: &str, expected: &str, value: &Value) {
        let got = json_type(value);
        if value.is_null() {
            self.fail(
                path,
                format!("expected {expected}, got null (omit the member instead)"),
            );
        } else {
            self.fail(path, format!("expected {expected}, got {got}"));
        }
    }

    fn check_count(&mut self, path: &str, what: &str, n: usize, len: Bounds, shape: &str) {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        if let Some(min) = len.min
            && n < min
        {
            self.fail(
                path,
                format!("{n} {what}, fewer than the minimum {min} of {shape}"),
            );
        }
        if let Some(max) = len.max
            && n > max
        {
            self.fail(
                path,
                format!("{n} {what}, more than the maximum {max} of {shape}"),
            );
        }
    }

    fn check(
        &mut self,
        shape_name: &str,
        value: &Value,
        path: &str,
        member_ts: Option<TimestampFormat>,
    ) {
        let model = self.model;
        let Some(shape) = model.shapes.get(shape_name) else {
            // check_references guarantees this does not happen.
            self.fail(path, format!("the model has no shape {shape_name}"));
            return;
        };
        match shape {
            Shape::Structure(s) => self.check_structure(shape_name, s, value, path),
            Shape::List { member, len } => {
                let Some(items) = value.as_array() else {
                    return self.wrong_type(path, "array", value);
                };
                self.check_count(path, "items", items.len(), *len, shape_name);
                for (i, item) in items.iter().enumerate() {
                    self.check(member, item, &format!("{path}[{i}]"), None);
                }
            }
            Shape::Map { key, value: v, len } => {
                let Some(entries) = value.as_object() else {
                    return self.wrong_type(path, "object (map)", value);
                };
                self.check_count(path, "entries", entries.len(), *len, shape_name);
                for (k, item) in entries {
                    let item_path = format!("{path}[{k:?}]");
                    self.check(key, &Value::String(k.clone()), &item_path, None);
                    self.check(v, item, &item_path, None);
                }
            }
            Shape::String(s) => {
                let Some(text) = value.as_str() else {
                    return self.wrong_type(path, "string", value);
                };
                self.check_string(shape_name, s, text, path);
            }
            Shape::Integer { range, lo, hi } => {
                let Value::Number(n) = value else {
                    return self.wrong_type(path, "integer", value);
                };
                let Some(i) = n.as_i64().filter(|i| (*lo..=*hi).contains(i)) else {
                    let what = if n.is_f64() {
                        "not an integer"
                    } else {
                        "out of range"
                    };
                    return self.fail(path, format!("{n} is {what} for {shape_name}"));
                };
                if let Some(min) = range.min
                    && i < min
                {
                    self.fail(
                        path,
                        format!("{i} is less than the minimum {min} of {shape_name}"),
                    );
                }
                if let Some(max) = range.max
                    && i > max
                {
                    self.fail(
                        path,
                        format!("{i} is more than the maximum {max} of {shape_name}"),
                    );
                }
            }
            Shape::Float => match value {
                Value::Number(_) => {}
                Value::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => {}
                _ => self.wrong_type(path, "number", value),
            },
            Shape::Boolean => {
                if !value.is_boolean() {
                    self.wrong_type(path, "boolean", value);
                }
            }
            Shape::Timestamp(format) => {
                match member_ts
                    .or(*format)
                    .unwrap_or(TimestampFormat::UnixTimestamp)
                {
                    TimestampFormat::UnixTimestamp => {
                        if !value.is_number() {
                            self.wrong_type(path, "number (epoch seconds timestamp)", value);
                        }
                    }
                    TimestampFormat::Iso8601 | TimestampFormat::Rfc822 => {
                        if !value.is_string() {
                            self.wrong_type(path, "string timestamp", value);
                        }
                    }
                }
            }
            Shape::Blob(len) => {
                let Some(text) = value.as_str() else {
                    return self.wrong_type(path, "string (base64 blob)", value);
                };
                match base64_decoded_len(text) {
                    Some(n) => self.check_count(path, "bytes", n, *len, shape_name),
                    None => self.fail(path, "not valid padded base64"),
                }
            }
            Shape::Document => {}
        }
    }

    fn check_structure(&mut self, shape_name: &str, s: &Structure, value: &Value, path: &str) {
        if let Some(payload) = &s.payload
            && let Some(m) = s.members.iter().find(|m| &m.name == payload)
        {
            return self.check(&m.shape, value, path, m.timestamp_format);
        }
        let Some(object) = value.as_object() else {
            return self.wrong_type(path, &format!("object ({shape_name})"), value);
        };
        let child = |name: &str| {
            if path.is_empty() {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            }
        };
        for (key, item) in object {
            match s.members.iter().find(|m| m.in_body && &m.wire_name == key) {
                Some(m) => self.check(&m.shape, item, &child(key), m.timestamp_format),
                None => self.fail(&child(key), format!("unknown member of {shape_name}")),
            }
        }
        for name in &s.required {
            let Some(m) = s.members.iter().find(|m| &m.name == name) else {
                continue;
            };
            if m.in_body && !object.contains_key(&m.wire_name) {
                self.fail(
                    &child(&m.wire_name),
                    format!("missing required member of {shape_name}"),
                );
            }
        }
    }

    fn check_string(&mut self, shape_name: &str, s: &StringShape, text: &str, path: &str) {
        if let Some(values) = &s.enum_values
            && !values.iter().any(|v| v == text)
        {
            let mut message = format!("{text:?} is not a valid {shape_name}; expected one of ");
            for (i, v) in values.iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                let _ = write!(message, "{sep}{v}");
            }
            self.fail(path, message);
        }
        let n = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
        if let Some(min) = s.len.min
            && n < min
        {
            self.fail(
                path,
                format!("length {n} is less than the minimum {min} of {shape_name}"),
            );
        }
        if let Some(max) = s.len.max
            && n > max
        {
            self.fail(
                path,
                format!("length {n} is more than the maximum {max} of {shape_name}"),
            );
        }
        if let Some((source, Some(regex))) = &s.pattern
            && !regex.is_match(text)
        {
            self.fail(
                path,
                format!("{text:?} does not match the pattern {source} of {shape_name}"),
            );
        }
    }
}

/// The decoded length of standard, padded base64 text, or `None` if it is not valid.
fn base64_decoded_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if padding > 2 {
        return None;
    }
    let body = &bytes[..bytes.len() - padding];
    if !body
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
    {
        return None;
    }
    // The unused low bits of the last character before padding must be zero (canonical form).
    if padding > 0 {
        let last = body.last().copied()?;
        let sextet = match last {
            b'A'..=b'Z' => last - b'A',
            b'a'..=b'z' => last - b'a' + 26,
            b'0'..=b'9' => last - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let unused_mask = if padding == 1 { 0b11 } else { 0b1111 };
        if sextet & unused_mask != 0 {
            return None;
        }
    }
    Some(bytes.len() / 4 * 3 - padding)
}

/// A small backtracking matcher for the ECMAScript regular expressions the models use.
mod pattern {
    /// A compiled pattern. Matching searches (like `RegExp.test`): it is anchored only where the
    /// pattern says `^` or `$`.
    #[derive(Debug, Clone)]
    pub struct Regex {
        alternatives: Vec<Vec<Node>>,
        anchored_start: bool,
    }

    #[derive(Debug, Clone)]
    enum Node {
        /// Matches one character.
        Char(CharSet),
        Start,
        End,
        Group(Vec<Vec<Node>>),
        Repeat {
            node: Box<Node>,
            min: usize,
            max: Option<usize>,
        },
    }

    #[derive(Debug, Clone)]
    enum CharSet {
        Literal(char),
        /// `.`: anything but a line terminator, or anything at all under `(?s)`.
        Any {
            dot_all: bool,
        },
        Class {
            negated: bool,
            items: Vec<ClassItem>,
        },
    }

    #[derive(Debug, Clone)]
    enum ClassItem {
        Range(char, char),
        Digit,
        Word,
        Space,
    }

    impl ClassItem {
        fn matches(&self, c: char) -> bool {
            match self {
                ClassItem::Range(lo, hi) => (*lo..=*hi).contains(&c),
                ClassItem::Digit => c.is_ascii_digit(),
                ClassItem::Word => c.is_ascii_alphanumeric() || c == '_',
                ClassItem::Space => c.is_whitespace() || c == '\u{feff}',
            }
        }
    }

    impl CharSet {
        fn matches(&self, c: char) -> bool {
            match self {
                CharSet::Literal(l) => *l == c,
                CharSet::Any { dot_all } => {
                    *dot_all || !matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
                }
                CharSet::Class { negated, items } => items.iter().any(|i| i.matches(c)) != *negated,
            }
        }
    }

    struct Parser<'a> {
        chars: std::iter::Peekable<std::str::Chars<'a>>,
        dot_all: bool,
    }

    impl Regex {
        /// Compile `source`, or `None` if it uses syntax this matcher does not handle.
        pub fn new(source: &str) -> Option<Regex> {
            let mut source = source;
            let mut dot_all = false;
            if let Some(rest) = source.strip_prefix("(?s)") {
                source = rest;
                dot_all = true;
            }
            let mut parser = Parser {
                chars: source.chars().peekable(),
                dot_all,
            };
            let alternatives = parser.alternation()?;
            if parser.chars.next().is_some() {
                return None; // an unbalanced `)`
            }
            let anchored_start = alternatives
                .iter()
                .all(|alt| matches!(alt.first(), Some(Node::Start)));
            Some(Regex {
                alternatives,
                anchored_start,
            })
        }

        /// Does the pattern match anywhere in `text`?
        pub fn is_match(&self, text: &str) -> bool {
            let chars: Vec<char> = text.chars().collect();
            let last_start = if self.anchored_start { 0 } else { chars.len() };
            (0..=last_start).any(|start| {
                self.alternatives
                    .iter()
                    .any(|alt| match_seq(alt, &chars, start, &|_| true))
            })
        }
    }

    impl Parser<'_> {
        fn alternation(&mut self) -> Option<Vec<Vec<Node>>> {
            let mut alternatives = vec![self.sequence()?];
            while self.chars.peek() == Some(&'|') {
                self.chars.next();
                alternatives.push(self.sequence()?);
            }
            Some(alternatives)
        }

        fn sequence(&mut self) -> Option<Vec<Node>> {
            let mut nodes = Vec::new();
            while let Some(&c) = self.chars.peek() {
                if c == '|' || c == ')' {
                    break;
                }
                self.chars.next();
                let atom = match c {
                    '^' => Node::Start,
                    '$' => Node::End,
                    '.' => Node::Char(CharSet::Any {
                        dot_all: self.dot_all,
                    }),
                    '(' => {
                        if self.chars.peek() == Some(&'?') {
                            self.chars.next();
                            if self.chars.next() != Some(':') {
                                return None; // lookarounds and named groups
                            }
                        }
                        let group = self.alternation()?;
                        if self.chars.next() != Some(')') {
                            return None;
                        }
                        Node::Group(group)
                    }
                    '[' => Node::Char(self.class()?),
                    '\\' => match self.escape()? {
                        Escaped::Char(c) => Node::Char(CharSet::Literal(c)),
                        Escaped::Class(item) => Node::Char(CharSet::Class {
                            negated: false,
                            items: vec![item],
                        }),
                    },
                    '*' | '+' | '?' | '{' | ']' | '}' => return None,
                    c => Node::Char(CharSet::Literal(c)),
                };
                let node = self.quantified(atom)?;
                nodes.push(node);
            }
            Some(nodes)
        }

        fn quantified(&mut self, atom: Node) -> Option<Node> {
            let (min, max) = match self.chars.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => {
                    self.chars.next();
                    let mut spec = String::new();
                    loop {
                        match self.chars.next()? {
                            '}' => break,
                            c => spec.push(c),
                        }
                    }
                    let (min, max) = match spec.split_once(',') {
                        None => {
                            let n = spec.parse().ok()?;
                            (n, Some(n))
                        }
                        Some((lo, "")) => (lo.parse().ok()?, None),
                        Some((lo, hi)) => (lo.parse().ok()?, Some(hi.parse().ok()?)),
                    };
                    return self.finish_quantifier(atom, min, max);
                }
                _ => return Some(atom),
            };
            self.chars.next();
            self.finish_quantifier(atom, min, max)
        }

        fn finish_quantifier(
            &mut self,
            atom: Node,
            min: usize,
            max: Option<usize>,
        ) -> Option<Node> {
            if matches!(atom, Node::Start | Node::End) {
                return None;
            }
            // A lazy quantifier matches the same strings; only which match is found differs.
            if self.chars.peek() == Some(&'?') {
                self.chars.next();
            }
            if matches!(self.chars.peek(), Some('*' | '+' | '?' | '{')) {
                return None;
            }
            Some(Node::Repeat {
                node: Box::new(atom),
                min,
                max,
            })
        }

        fn class(&mut self) -> Option<CharSet> {
            let negated = self.chars.peek() == Some(&'^');
            if negated {
                self.chars.next();
            }
            let mut items = Vec::new();
            loop {
                let lo = match self.chars.next()? {
                    ']' => break,
                    '\\' => self.escape()?,
                    c => Escaped::Char(c),
                };
                let Escaped::Char(lo) = lo else {
                    if let Escaped::Class(item) = lo {
                        items.push(item);
                    }
                    continue;
                };
                // `a-z` is a range unless the `-` is last in the class.
                let mut lookahead = self.chars.clone();
                if lookahead.next() == Some('-') && lookahead.peek().is_some_and(|&c| c != ']') {
                    self.chars.next();
                    let hi = match self.chars.next()? {
                        '\\' => match self.escape()? {
                            Escaped::Char(c) => c,
                            Escaped::Class(_) => return None,
                        },
                        c => c,
                    };
                    if hi < lo {
                        return None;
                    }
                    items.push(ClassItem::Range(lo, hi));
                } else {
                    items.push(ClassItem::Range(lo, lo));
                }
            }
            Some(CharSet::Class { negated, items })
        }

        /// After a `\`.
        fn escape(&mut self) -> Option<Escaped> {
            Some(match self.chars.next()? {
                'd' => Escaped::Class(ClassItem::Digit),
                'w' => Escaped::Class(ClassItem::Word),
                's' => Escaped::Class(ClassItem::Space),
                't' => Escaped::Char('\t'),
                'n' => Escaped::Char('\n'),
                'r' => Escaped::Char('\r'),
                'u' => {
                    let hex: String = (0..4).map(|_| self.chars.next()).collect::<Option<_>>()?;
                    // A surrogate (half of a UTF-16 pair) is no `char`: give up on the pattern.
                    Escaped::Char(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?)
                }
                c if c.is_ascii_alphanumeric() => return None,
                c => Escaped::Char(c),
            })
        }
    }

    enum Escaped {
        Char(char),
        Class(ClassItem),
    }

    fn match_seq(seq: &[Node], text: &[char], pos: usize, k: &dyn Fn(usize) -> bool) -> bool {
        match seq.split_first() {
            None => k(pos),
            Some((node, rest)) => match_node(node, text, pos, &|p| match_seq(rest, text, p, k)),
        }
    }

    fn match_node(node: &Node, text: &[char], pos: usize, k: &dyn Fn(usize) -> bool) -> bool {
        match node {
            Node::Char(set) => text.get(pos).is_some_and(|&c| set.matches(c)) && k(pos + 1),
            Node::Start => pos == 0 && k(pos),
            Node::End => pos == text.len() && k(pos),
            Node::Group(alternatives) => {
                alternatives.iter().any(|alt| match_seq(alt, text, pos, k))
            }
            Node::Repeat { node, min, max } => match node.as_ref() {
                // One character at a time: count greedily, then back off, without recursing
                // per character (a 10,000-character `.*` must not exhaust the stack).
                Node::Char(set) => {
                    let limit = max.map_or(text.len(), |m| (pos + m).min(text.len()));
                    let mut end = pos;
                    while end < limit && set.matches(text[end]) {
                        end += 1;
                    }
                    (pos + min..=end).rev().any(k)
                }
                _ => repeat(node, *min, *max, 0, text, pos, k),
            },
        }
    }

    fn repeat(
        node: &Node,
        min: usize,
        max: Option<usize>,
        count: usize,
        text: &[char],
        pos: usize,
        k: &dyn Fn(usize) -> bool,
    ) -> bool {
        if max.is_none_or(|m| count < m)
            && match_node(node, text, pos, &|p| {
                (p != pos || count < min) && repeat(node, min, max, count + 1, text, p, k)
            })
        {
            return true;
        }
        count >= min && k(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn violations(result: Result<(), Vec<String>>) -> Vec<String> {
        result.expect_err("the body should have been rejected")
    }

    fn assert_one(result: Result<(), Vec<String>>, expected: &str) {
        let v = violations(result);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(
            v[0].contains(expected),
            "{:?} should contain {expected:?}",
            v[0]
        );
    }

    fn trail() -> Value {
        json!({
            "Name": "management",
            "S3BucketName": "cairn-logs",
            "S3KeyPrefix": "ct",
            "IncludeGlobalServiceEvents": true,
            "IsMultiRegionTrail": true,
            "HomeRegion": "us-east-1",
            "TrailARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/management",
            "LogFileValidationEnabled": true,
            "HasCustomEventSelectors": false,
            "HasInsightSelectors": false,
            "IsOrganizationTrail": false,
            "RecursiveLogging": false
        })
    }

    #[test]
    fn vendored_models_parse_and_are_recent() {
        let ct = Model::cloudtrail();
        assert_eq!(ct.uid(), "cloudtrail-2013-11-01");
        assert!(ct.operation_names().count() >= 60);
        assert!(ct.operation_names().any(|o| o == "LookupEvents"));
        assert!(CLOUDTRAIL_JSON.contains("RecursiveLogging"));
        let data = Model::cloudtrail_data();
        assert_eq!(data.uid(), "cloudtrail-data-2021-08-11");
        assert_eq!(ct.protocol(), "json");
        assert_eq!(data.protocol(), "rest-json");
        assert_eq!(
            data.operation_names().collect::<Vec<_>>(),
            ["PutAuditEvents"]
        );
    }

    #[test]
    fn valid_outputs_pass() {
        let ct = Model::cloudtrail();
        ct.check_output("DescribeTrails", &json!({ "trailList": [trail()] }))
            .unwrap();
        ct.check_output("DescribeTrails", &json!({ "trailList": [] }))
            .unwrap();
        ct.check_output("GetTrail", &json!({ "Trail": trail() }))
            .unwrap();
        ct.check_output(
            "GetTrailStatus",
            &json!({
                "IsLogging": true,
                "LatestDeliveryTime": 1_700_000_000.123,
                "StartLoggingTime": 1_699_000_000,
                "LatestDeliveryAttemptTime": "2023-11-14T22:13:20Z",
                "LatestDeliveryAttemptSucceeded": "2023-11-14T22:13:20Z",
                "TimeLoggingStarted": "2023-11-03T08:26:40Z",
                "LatestNotificationAttemptTime": "",
                "LatestNotificationAttemptSucceeded": "",
                "TimeLoggingStopped": ""
            }),
        )
        .unwrap();
        ct.check_output(
            "ListPublicKeys",
            &json!({
                "PublicKeyList": [{
                    "Value": "MIIBCgKCAQEA",
                    "ValidityStartTime": 1_700_000_000,
                    "ValidityEndTime": 1_700_086_400,
                    "Fingerprint": "0123456789abcdef0123456789abcdef"
                }]
            }),
        )
        .unwrap();
        ct.check_output(
            "LookupEvents",
            &json!({
                "Events": [{
                    "EventId": "6b1a1c4e-0000-4000-8000-000000000000",
                    "EventName": "CreateTrail",
                    "ReadOnly": "false",
                    "AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
                    "EventTime": 1_700_000_000,
                    "EventSource": "cloudtrail.amazonaws.com",
                    "Username": "alice",
                    "Resources": [{ "ResourceType": "AWS::CloudTrail::Trail", "ResourceName": "management" }],
                    "CloudTrailEvent": "{\"eventVersion\":\"1.11\"}"
                }],
                "NextToken": "opaque"
            }),
        )
        .unwrap();
        ct.check_output(
            "GetEventSelectors",
            &json!({
                "TrailARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/management",
                "EventSelectors": [{ "ReadWriteType": "All", "IncludeManagementEvents": true,
                                     "DataResources": [], "ExcludeManagementEventSources": [] }]
            }),
        )
        .unwrap();
        // A full X-Amz-Target names the operation too.
        ct.check_output(
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListTrails",
            &json!({ "Trails": [] }),
        )
        .unwrap();
    }

    #[test]
    fn unknown_member_fails_with_its_path() {
        let ct = Model::cloudtrail();
        let mut t = trail();
        t["IsLogging"] = json!(true);
        assert_one(
            ct.check_output("GetTrail", &json!({ "Trail": t })),
            "Trail.IsLogging: unknown member of Trail",
        );
        assert_one(
            ct.check_output("ListTrails", &json!({ "Trails": [], "trailList": [] })),
            "trailList: unknown member of ListTrailsResponse",
        );
    }

    #[test]
    fn wrong_types_fail_with_their_paths() {
        let ct = Model::cloudtrail();
        let mut t = trail();
        t["Name"] = json!(7);
        assert_one(
            ct.check_output("DescribeTrails", &json!({ "trailList": [trail(), t] })),
            "trailList[1].Name: expected string, got number",
        );
        assert_one(
            ct.check_output("GetTrailStatus", &json!({ "IsLogging": "true" })),
            "IsLogging: expected boolean, got string",
        );
        assert_one(
            ct.check_output("DescribeTrails", &json!({ "trailList": {} })),
            "trailList: expected array, got object",
        );
        assert_one(
            ct.check_output("DescribeTrails", &json!([])),
            "(body): expected object (DescribeTrailsResponse), got array",
        );
        // serde's `Option` without `skip_serializing_if` is the classic way to get here.
        assert_one(
            ct.check_output(
                "GetTrail",
                &json!({ "Trail": { "Name": "t", "KmsKeyId": null } }),
            ),
            "Trail.KmsKeyId: expected string, got null",
        );
        assert_one(
            ct.check_output(
                "ListPublicKeys",
                &json!({ "PublicKeyList": [{ "Value": "not base64!" }] }),
            ),
            "PublicKeyList[0].Value: not valid padded base64",
        );
    }

    #[test]
    fn timestamps_must_be_epoch_seconds() {
        let ct = Model::cloudtrail();
        assert_one(
            ct.check_output(
                "GetTrailStatus",
                &json!({ "IsLogging": true, "StartLoggingTime": "2023-11-14T22:13:20Z" }),
            ),
            "StartLoggingTime: expected number (epoch seconds timestamp), got string",
        );
        assert_one(
            ct.check_output(
                "LookupEvents",
                &json!({ "Events": [{ "EventTime": "1700000000" }] }),
            ),
            "Events[0].EventTime: expected number",
        );
    }

    #[test]
    fn missing_required_members_fail() {
        let ct = Model::cloudtrail();
        // CancelQuery is the one CloudTrail output whose top level has required members.
        assert_one(
            ct.check_output(
                "CancelQuery",
                &json!({ "QueryId": "6b1a1c4e-0000-4000-8000-000000000000" }),
            ),
            "QueryStatus: missing required member of CancelQueryResponse",
        );
        // Nested: a tag without its key.
        assert_one(
            ct.check_output(
                "ListTags",
                &json!({ "ResourceTagList": [{ "ResourceId": "arn", "TagsList": [{ "Value": "v" }] }] }),
            ),
            "ResourceTagList[0].TagsList[0].Key: missing required member of Tag",
        );
        let data = Model::cloudtrail_data();
        assert_one(
            data.check_output("PutAuditEvents", &json!({ "failed": [] })),
            "successful: missing required member of PutAuditEventsResponse",
        );
        data.check_output(
            "PutAuditEvents",
            &json!({ "failed": [], "successful": [{ "eventID": "e-1", "id": "a1" }] }),
        )
        .unwrap();
    }

    #[test]
    fn bad_enum_values_fail() {
        let ct = Model::cloudtrail();
        assert_one(
            ct.check_output(
                "GetEventSelectors",
                &json!({ "EventSelectors": [{ "ReadWriteType": "ReadAndWrite" }] }),
            ),
            "EventSelectors[0].ReadWriteType: \"ReadAndWrite\" is not a valid ReadWriteType; \
             expected one of ReadOnly, WriteOnly, All",
        );
        assert_one(
            ct.check_output(
                "CancelQuery",
                &json!({ "QueryId": "6b1a1c4e-0000-4000-8000-000000000000", "QueryStatus": "cancelled" }),
            ),
            "QueryStatus: \"cancelled\" is not a valid QueryStatus",
        );
    }

    #[test]
    fn lengths_counts_ranges_and_patterns_are_checked() {
        let ct = Model::cloudtrail();
        // TagValue has min 1: an empty value must be omitted, not sent as "".
        assert_one(
            ct.check_output(
                "ListTags",
                &json!({ "ResourceTagList": [{ "TagsList": [{ "Key": "k", "Value": "" }] }] }),
            ),
            "ResourceTagList[0].TagsList[0].Value: length 0 is less than the minimum 1 of TagValue",
        );
        // QueryId is a UUID: exactly 36 characters of [a-f0-9-].
        assert_one(
            ct.check_output(
                "CancelQuery",
                &json!({ "QueryId": "abc-1", "QueryStatus": "CANCELLED" }),
            ),
            "QueryId: length 5 is less than the minimum 36 of UUID",
        );
        assert_one(
            ct.check_output(
                "CancelQuery",
                &json!({ "QueryId": "6B1A1C4E-0000-4000-8000-000000000000", "QueryStatus": "CANCELLED" }),
            ),
            "QueryId: \"6B1A1C4E-0000-4000-8000-000000000000\" does not match the pattern ^[a-f0-9\\-]+$ of UUID",
        );
        // An advanced selector needs at least one field selector.
        assert_one(
            ct.check_output(
                "GetEventSelectors",
                &json!({ "AdvancedEventSelectors": [{ "FieldSelectors": [] }] }),
            ),
            "AdvancedEventSelectors[0].FieldSelectors: 0 items, fewer than the minimum 1 of AdvancedFieldSelectors",
        );
        // RetentionPeriod is an integer in 7..=3653.
        assert_one(
            ct.check_output("GetEventDataStore", &json!({ "RetentionPeriod": 3 })),
            "RetentionPeriod: 3 is less than the minimum 7 of RetentionPeriod",
        );
        assert_one(
            ct.check_output("GetEventDataStore", &json!({ "RetentionPeriod": 7.5 })),
            "RetentionPeriod: 7.5 is not an integer for RetentionPeriod",
        );
    }

    #[test]
    fn check_input_walks_the_input_shape() {
        let ct = Model::cloudtrail();
        ct.check_input("CreateTrail", &json!({ "Name": "t", "S3BucketName": "b" }))
            .unwrap();
        assert_one(
            ct.check_input("CreateTrail", &json!({ "Name": "t" })),
            "S3BucketName: missing required member of CreateTrailRequest",
        );
        ct.check_input(
            "LookupEvents",
            &json!({ "StartTime": 1_700_000_000, "MaxResults": 50,
                     "LookupAttributes": [{ "AttributeKey": "EventName", "AttributeValue": "CreateTrail" }] }),
        )
        .unwrap();
        assert_one(
            ct.check_input(
                "LookupEvents",
                &json!({ "LookupAttributes": [{ "AttributeKey": "Bogus", "AttributeValue": "x" }] }),
            ),
            "LookupAttributes[0].AttributeKey: \"Bogus\" is not a valid LookupAttributeKey",
        );
        // REST-JSON: query-string members are not body members.
        let data = Model::cloudtrail_data();
        let event = json!({ "id": "one", "eventData": "{}" });
        data.check_input("PutAuditEvents", &json!({ "auditEvents": [event] }))
            .unwrap();
        assert_one(
            data.check_input(
                "PutAuditEvents",
                &json!({ "auditEvents": [event], "channelArn": "arn:aws:cloudtrail:x" }),
            ),
            "channelArn: unknown member of PutAuditEventsRequest",
        );
        assert_one(
            data.check_input("PutAuditEvents", &json!({ "auditEvents": [] })),
            "auditEvents: 0 items, fewer than the minimum 1 of AuditEvents",
        );
        assert_one(
            ct.check_input("NoSuchOperation", &json!({})),
            "cloudtrail-2013-11-01 has no operation NoSuchOperation",
        );
    }

    #[test]
    fn every_violation_is_reported() {
        let ct = Model::cloudtrail();
        let v = violations(ct.check_output(
            "DescribeTrails",
            &json!({ "trailList": [{ "Name": 1, "IsLogging": true, "HomeRegion": false }] }),
        ));
        assert_eq!(v.len(), 3, "{v:#?}");
    }

    #[test]
    fn check_error_knows_each_operations_errors() {
        let ct = Model::cloudtrail();
        ct.check_error("GetTrail", "TrailNotFoundException")
            .unwrap();
        ct.check_error(
            "GetTrail",
            "com.amazonaws.cloudtrail.v20131101#TrailNotFoundException",
        )
        .unwrap();
        ct.check_error(
            "GetTrail",
            "TrailNotFoundException:http://internal.amazon.com/",
        )
        .unwrap();
        // DescribeTrails does not list TrailNotFoundException: unknown names are left out.
        let err = ct
            .check_error("DescribeTrails", "TrailNotFoundException")
            .unwrap_err();
        assert!(err.contains("InvalidTrailNameException"), "{err}");
        ct.check_error("LookupEvents", "InvalidNextTokenException")
            .unwrap();
        ct.check_error("ListTrails", "InvalidNextTokenException")
            .unwrap_err();
        // Common errors go with any operation, even one the model lacks.
        ct.check_error("DescribeTrails", "ThrottlingException")
            .unwrap();
        ct.check_error("NoSuchOperation", "UnknownOperationException")
            .unwrap();
        ct.check_error("NoSuchOperation", "TrailNotFoundException")
            .unwrap_err();
        let data = Model::cloudtrail_data();
        data.check_error("PutAuditEvents", "ChannelNotFound")
            .unwrap();
        data.check_error("PutAuditEvents", "ChannelNotFoundException")
            .unwrap_err();
    }

    #[test]
    fn base64_validation() {
        assert_eq!(base64_decoded_len(""), Some(0));
        assert_eq!(base64_decoded_len("Zg=="), Some(1));
        assert_eq!(base64_decoded_len("Zm8="), Some(2));
        assert_eq!(base64_decoded_len("Zm9v"), Some(3));
        assert_eq!(base64_decoded_len("Zm9"), None);
        assert_eq!(base64_decoded_len("Zh=="), None); // non-canonical trailing bits
        assert_eq!(base64_decoded_len("Z==="), None);
        assert_eq!(base64_decoded_len("Zm-v"), None);
    }

    #[test]
    fn pattern_matcher() {
        let re = |p: &str| pattern::Regex::new(p).unwrap_or_else(|| panic!("{p} should parse"));
        assert!(re("^[a-f0-9\\-]+$").is_match("6b1a-00"));
        assert!(!re("^[a-f0-9\\-]+$").is_match("6B1A"));
        assert!(!re("^[a-f0-9\\-]+$").is_match(""));
        // Not anchored: `\d+` only asks for a digit somewhere.
        assert!(re("\\d+").is_match("ab1"));
        assert!(!re("\\d+").is_match("abc"));
        let s3 = re("s3://[a-z0-9][\\.\\-a-z0-9]{1,61}[a-z0-9](/.*)?");
        assert!(s3.is_match("s3://my-bucket/prefix"));
        assert!(s3.is_match("s3://abc"));
        assert!(!s3.is_match("s3://ab"));
        assert!(!s3.is_match("https://bucket"));
        let source = re("^[a-z0-9_-]+\\.amazonaws\\.com$");
        assert!(source.is_match("cloudtrail.amazonaws.com"));
        assert!(!source.is_match("cloudtrail.amazonaws.com.evil"));
        assert!(!source.is_match("CloudTrail.amazonaws.com"));
        assert!(re("^[0-9]{2}:[0-9]{2}").is_match("09:30"));
        assert!(!re("^[0-9]{2}:[0-9]{2}").is_match("9:30"));
        assert!(re("^[ -~\\n]*$").is_match("SELECT *\nFROM t"));
        assert!(!re("^[ -~\\n]*$").is_match("caf\u{e9}"));
        assert!(re("^arn:.*$").is_match("arn:aws:cloudtrail:us-east-1:1:channel/x"));
        assert!(!re("^(a|bc)+$").is_match("abcb"));
        assert!(re("^(a|bc)+$").is_match("abc"));
        assert!(!re(".+").is_match("\n"));
        assert!(re("(?s).+").is_match("\n"));
        assert!(re("^[\\w+=,.@:\\/-]*$").is_match("ext-id_1=a@b"));
        assert!(!re("^[\\w+=,.@:\\/-]*$").is_match("a b"));
        // A long `.*` does not recurse per character.
        assert!(re("(?s).*x$").is_match(&format!("{}x", "a\n".repeat(100_000))));
        // Surrogate escapes are beyond a Rust `char`: such a pattern is skipped, not guessed.
        assert!(pattern::Regex::new("[\\uD800\\uDC00-\\uDBFF\\uDFFF]*").is_none());
    }

    #[test]
    fn every_model_pattern_is_understood_or_knowingly_skipped() {
        for text in [CLOUDTRAIL_JSON, CLOUDTRAIL_DATA_JSON] {
            let doc: Value = serde_json::from_str(text).unwrap();
            for (name, shape) in doc["shapes"].as_object().unwrap() {
                if let Some(p) = shape.get("pattern").and_then(Value::as_str) {
                    let skipped = pattern::Regex::new(p).is_none();
                    assert_eq!(skipped, p.contains("\\uD800"), "{name}: {p}");
                }
            }
        }
    }
}
