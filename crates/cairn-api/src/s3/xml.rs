//! The few XML documents S3 answers, written by hand, and the text encodings around them.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

/// The S3 namespace of every response document.
pub(crate) const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// An XML document being written, declaration first.
pub(crate) struct Xml(String);

impl Xml {
    pub(crate) fn new() -> Xml {
        Xml(String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#))
    }

    /// `<tag xmlns="...">`, the root element of a response.
    pub(crate) fn root(&mut self, tag: &str) -> &mut Xml {
        let _ = write!(self.0, r#"<{tag} xmlns="{NAMESPACE}">"#);
        self
    }

    pub(crate) fn open(&mut self, tag: &str) -> &mut Xml {
        let _ = write!(self.0, "<{tag}>");
        self
    }

    pub(crate) fn close(&mut self, tag: &str) -> &mut Xml {
        let _ = write!(self.0, "</{tag}>");
        self
    }

    /// `<tag>text</tag>`, the text escaped.
    pub(crate) fn element(&mut self, tag: &str, text: &str) -> &mut Xml {
        let _ = write!(self.0, "<{tag}>{}</{tag}>", escape(text));
        self
    }

    /// `<tag/>`-free raw text (already escaped).
    pub(crate) fn raw(&mut self, text: &str) -> &mut Xml {
        self.0.push_str(text);
        self
    }

    pub(crate) fn finish(&mut self) -> String {
        std::mem::take(&mut self.0)
    }
}

/// Escapes text for an element's content. `\r` and characters XML 1.0 cannot carry literally
/// become character references (as S3 writes them), so a parser reads back the same text.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// `encoding-type=url`: every byte but RFC 3986's unreserved characters and `/` as `%XX` (the
/// AWS CLI decodes with `unquote_plus`, so `+` and space must be escaped too).
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as in query strings);
/// malformed escapes stay literal. `None` when the result is not UTF-8.
pub(crate) fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let input = text.as_bytes();
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (input[i], input.get(i + 1..i + 3)) {
            (b'%', Some(&[h, l])) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
                continue;
            }
            (b'+', _) if plus_is_space => out.push(b' '),
            (byte, _) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `2026-11-23T08:15:02.000Z`, the timestamp format of S3's XML (second precision).
pub(crate) fn iso8601(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

/// `Mon, 23 Nov 2026 08:15:02 GMT`, the HTTP date of `Last-Modified`.
pub(crate) fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The text of the first `<tag>...</tag>` in `doc`, entity references resolved; `None` when
/// absent. Enough for the one request document S3 reads here (`CreateBucketConfiguration`).
pub(crate) fn first_element_text(doc: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = doc.find(&open)? + open.len();
    let end = start + doc[start..].find(&close)?;
    Some(unescape(doc[start..end].trim()))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_text_readable_back() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("x\ry\u{1}"), "x&#xD;y&#x1;");
        assert_eq!(escape("ünï code"), "ünï code");
    }

    #[test]
    fn url_encoding_round_trips_through_percent_decoding() {
        let key = "AWSLogs/a b+c/ü%.json";
        let encoded = url_encode(key);
        assert_eq!(encoded, "AWSLogs/a%20b%2Bc/%C3%BC%25.json");
        assert_eq!(percent_decode(&encoded, true).as_deref(), Some(key));
        assert_eq!(percent_decode("a+b%2", false).as_deref(), Some("a+b%2"));
        assert_eq!(percent_decode("a+b", true).as_deref(), Some("a b"));
        assert_eq!(percent_decode("%FF", false), None);
    }

    #[test]
    fn dates_have_s3_formats() {
        let t = DateTime::parse_from_rfc3339("2026-11-23T08:15:02.678Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(iso8601(t), "2026-11-23T08:15:02.000Z");
        assert_eq!(http_date(t), "Mon, 23 Nov 2026 08:15:02 GMT");
    }

    #[test]
    fn reads_the_location_constraint() {
        let doc = r#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"#;
        assert_eq!(
            first_element_text(doc, "LocationConstraint").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(first_element_text("<A/>", "LocationConstraint"), None);
    }
}
