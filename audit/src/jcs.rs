//! RFC 8785 (JCS) canonical JSON, written straight into a reused buffer.
//!
//! `serde_json_canonicalizer` buffers every object member in its own
//! allocations and parses each key again to sort it, which made it most of
//! the cost of hashing a record. This module writes the same bytes for the
//! values a record holds, with no allocation for objects already in key
//! order, and leaves the one hard part, formatting a non-integer number the
//! way ECMAScript does, to that crate. Tests compare the two on awkward
//! inputs, and the known-answer test pins the hashes.
//!
//! It also has [`Json`], a JSON value that borrows its strings from the text
//! it was parsed from and keeps object members in a sorted `Vec`, so that a
//! verifier can canonicalize a parsed payload without building a
//! [`serde_json::Value`].

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

use crate::AuditError;

/// A value with an RFC 8785 form.
pub(crate) trait Canonical {
    /// Appends the canonical JSON of `self` to `out`.
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), AuditError>;
}

impl<T: Canonical + ?Sized> Canonical for &T {
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), AuditError> {
        (**self).write_canonical(out)
    }
}

impl Canonical for str {
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), AuditError> {
        write_str(out, self);
        Ok(())
    }
}

impl<T: Canonical> Canonical for Option<T> {
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), AuditError> {
        match self {
            Some(value) => value.write_canonical(out),
            None => {
                out.extend_from_slice(b"null");
                Ok(())
            }
        }
    }
}

impl Canonical for i64 {
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), AuditError> {
        write_i64(out, *self)
    }
}

impl Canonical for i32 {
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), AuditError> {
        write_i64(out, i64::from(*self))
    }
}

impl Canonical for Value {
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), AuditError> {
        match self {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Bool(b) => write_bool(out, *b),
            Value::Number(n) => write_number(out, n)?,
            Value::String(s) => write_str(out, s),
            Value::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_canonical(out)?;
                }
                out.push(b']');
            }
            Value::Object(map) => {
                let in_order = map
                    .keys()
                    .zip(map.keys().skip(1))
                    .all(|(a, b)| utf16_cmp(a, b) == Ordering::Less);
                if in_order {
                    write_members(out, map.iter())?;
                } else {
                    // Only when a key needs a surrogate pair, or the map keeps insertion order.
                    let mut members: Vec<(&String, &Value)> = map.iter().collect();
                    members.sort_by(|a, b| utf16_cmp(a.0, b.0));
                    write_members(out, members.into_iter())?;
                }
            }
        }
        Ok(())
    }
}

fn write_members<'v, K, V>(
    out: &mut Vec<u8>,
    members: impl Iterator<Item = (&'v K, &'v V)>,
) -> Result<(), AuditError>
where
    K: AsRef<str> + ?Sized + 'v,
    V: Canonical + ?Sized + 'v,
{
    out.push(b'{');
    for (i, (key, value)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key.as_ref());
        out.push(b':');
        value.write_canonical(out)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Integers up to 2^53 in magnitude are exact doubles, which ECMAScript
/// prints as plain digits; beyond that the double's rounding matters.
const EXACT: u64 = 1 << 53;

fn write_i64(out: &mut Vec<u8>, n: i64) -> Result<(), AuditError> {
    if n.unsigned_abs() <= EXACT {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        Ok(())
    } else {
        write_f64(out, n as f64)
    }
}

fn write_u64(out: &mut Vec<u8>, n: u64) -> Result<(), AuditError> {
    if n <= EXACT {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        Ok(())
    } else {
        write_f64(out, n as f64)
    }
}

/// ECMAScript number formatting, left to the JCS crate.
fn write_f64(out: &mut Vec<u8>, n: f64) -> Result<(), AuditError> {
    serde_json_canonicalizer::to_writer(&n, out)?;
    Ok(())
}

fn write_number(out: &mut Vec<u8>, n: &Number) -> Result<(), AuditError> {
    if let Some(n) = n.as_u64() {
        write_u64(out, n)
    } else if let Some(n) = n.as_i64() {
        write_i64(out, n)
    } else {
        // serde_json numbers are always one of the three.
        write_f64(out, n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Whether JCS escapes this byte of a string: `"`, `\` and control characters.
fn escaped(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The index of the first byte of `bytes` from `from` on that needs escaping,
/// or its length. Blocks of 16 bytes are tested without branching per byte,
/// which the compiler turns into a few vector instructions.
fn next_escaped(bytes: &[u8], mut from: usize) -> usize {
    while let Some(block) = bytes.get(from..from + 16) {
        if block.iter().fold(false, |any, &b| any | escaped(b)) {
            break;
        }
        from += 16;
    }
    bytes[from..]
        .iter()
        .position(|&b| escaped(b))
        .map_or(bytes.len(), |i| from + i)
}

/// A JSON string as JCS writes it: only `"`, `\` and control characters are
/// escaped, the usual ones by their short forms, the others as `\u00xx`.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    loop {
        let i = next_escaped(bytes, start);
        out.extend_from_slice(&bytes[start..i]);
        let Some(&b) = bytes.get(i) else { break };
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
        start = i + 1;
    }
    out.push(b'"');
}

/// Orders strings by their UTF-16 code units, as RFC 8785 sorts keys.
///
/// UTF-8 byte order is code point order, which differs from UTF-16 order
/// only between a character above U+FFFF (a surrogate pair, D800-DBFF
/// first; UTF-8 lead byte F0-F4) and one in U+E000-U+FFFF (lead byte EE or
/// EF). Where two strings first differ, both bytes are lead bytes of
/// differing characters or both continuation bytes of characters with the
/// same lead, so that byte pair decides.
pub(crate) fn utf16_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match a.iter().zip(b).find(|(x, y)| x != y) {
        None => a.len().cmp(&b.len()),
        Some((&x, &y)) => {
            let pair = |c: u8| c >= 0xf0;
            let upper = |c: u8| c == 0xee || c == 0xef;
            if (pair(x) && upper(y)) || (upper(x) && pair(y)) {
                y.cmp(&x)
            } else {
                x.cmp(&y)
            }
        }
    }
}

/// A parsed JSON value that borrows its strings where it can. Object
/// members are sorted as JCS writes them, and a repeated key keeps its last
/// value, as [`serde_json::Value`] does.
#[derive(Debug, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl Canonical for Json<'_> {
    fn write_canonical(&self, out: &mut Vec<u8>) -> Result<(), AuditError> {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::Bool(b) => write_bool(out, *b),
            Json::U64(n) => write_u64(out, *n)?,
            Json::I64(n) => write_i64(out, *n)?,
            Json::F64(n) => write_f64(out, *n)?,
            Json::String(s) => write_str(out, s),
            Json::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write_canonical(out)?;
                }
                out.push(b']');
            }
            Json::Object(members) => {
                write_members(out, members.iter().map(|(k, v)| (k.as_ref(), v)))?;
            }
        }
        Ok(())
    }
}

/// A string that borrows from the input when it holds no escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

// Any `'a` that the input outlives, so that a derived `#[serde(borrow)]` field can hold one.
impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor(PhantomData))
    }
}

struct JsonVisitor<'a>(PhantomData<Json<'a>>);

impl<'de: 'a, 'a> Visitor<'de> for JsonVisitor<'a> {
    type Value = Json<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Json::I64(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Json::U64(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Json::F64(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(v)))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        Json::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Vec<(Cow<'a, str>, Json<'a>)> = Vec::new();
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            members.push((key, map.next_value()?));
        }
        // Stable, so among equal keys the last one parsed stays last.
        members.sort_by(|a, b| utf16_cmp(&a.0, &b.0));
        let mut i = 0;
        while i + 1 < members.len() {
            if members[i].0 == members[i + 1].0 {
                members.remove(i);
            } else {
                i += 1;
            }
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crate_jcs(value: &Value) -> String {
        serde_json_canonicalizer::to_string(value).unwrap()
    }

    fn ours(value: &impl Canonical) -> String {
        let mut out = Vec::new();
        value.write_canonical(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn samples() -> Vec<String> {
        let mut texts = vec![
            r#"{"z":1,"a":[true,false,null],"m":{"y":"x","b":{}}}"#.to_owned(),
            r#"[0,-0,1,-1,0.5,-0.0,1e21,1e-7,123456789012345678901234567890,3.14159]"#.to_owned(),
            r#"[9007199254740991,9007199254740992,9007199254740993,-9007199254740992,-9007199254740993]"#.to_owned(),
            r#"[18446744073709551615,-9223372036854775808,9223372036854775807,1.7976931348623157e308,5e-324]"#.to_owned(),
            r#"{"a":1,"a":2,"b":{"c":3,"c":[4]},"a":3}"#.to_owned(),
            r#"{"\u20ac":1,"\ud83d\ude00":2,"\ufb33":3,"é":4,"e":5,"":6,"\u0000":7,"ab":8,"a":9,"aé":10,"a\ud83d\ude00":11,"a\uffff":12}"#.to_owned(),
            r#""quote \" backslash \\ slash \/ ctl \u0000\u0001\b\t\n\u000b\f\r\u001f\u007f \u2028\u2029 é 😀""#.to_owned(),
            r#"{"nested":[{"b":1,"a":2},[[],{}],"x"],"":null}"#.to_owned(),
        ];
        for i in 0..40u32 {
            // Keys around the UTF-16 / code point order difference.
            let c =
                char::from_u32([0x7f, 0xe000, 0xfffd, 0x1_0000, 0x1_f600, 0xd7ff][i as usize % 6])
                    .unwrap();
            texts.push(format!(
                r#"{{"{c}{i}":{i},"k{i}":"{c}","{}":[{i}.25]}}"#,
                i % 7
            ));
        }
        texts
    }

    #[test]
    fn values_are_written_as_the_jcs_crate_writes_them() {
        for text in samples() {
            let value: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(ours(&value), crate_jcs(&value), "{text}");
        }
    }

    #[test]
    fn borrowed_values_canonicalize_as_parsed_values_do() {
        for text in samples() {
            let value: Value = serde_json::from_str(&text).unwrap();
            let json: Json<'_> = serde_json::from_str(&text).unwrap();
            assert_eq!(ours(&json), crate_jcs(&value), "{text}");
        }
    }

    #[test]
    fn borrowed_values_borrow_unescaped_strings() {
        let json: Json<'_> = serde_json::from_str(r#"{"a":"plain","b\n":"esc\"aped"}"#).unwrap();
        let Json::Object(members) = json else {
            panic!("not an object")
        };
        assert!(matches!(members[0].0, Cow::Borrowed("a")));
        assert!(matches!(members[0].1, Json::String(Cow::Borrowed("plain"))));
        assert!(matches!(members[1].0, Cow::Owned(_)));
        assert!(matches!(members[1].1, Json::String(Cow::Owned(_))));
    }

    #[test]
    fn integers_and_strings_match_the_jcs_crate() {
        for n in [
            0,
            1,
            -1,
            42,
            i64::from(i32::MIN),
            i64::from(i32::MAX),
            (1 << 53) - 1,
            1 << 53,
            (1 << 53) + 1,
            -(1 << 53) - 1,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(ours(&n), serde_json_canonicalizer::to_string(&n).unwrap());
        }
        let none: Option<&str> = None;
        assert_eq!(ours(&none), "null");
        for c in (0u32..0x300).chain([0x2028, 0xfeff, 0x1_f600]) {
            let s = format!("a{}b", char::from_u32(c).unwrap());
            assert_eq!(
                ours(&s.as_str()),
                serde_json_canonicalizer::to_string(&s).unwrap()
            );
        }
    }

    #[test]
    fn escapes_are_found_anywhere_in_long_strings() {
        for len in [15, 16, 17, 31, 32, 33, 47] {
            for at in 0..len {
                for c in ['"', '\\', '\n', '\u{1}', '\u{1f}', 'é'] {
                    let mut s: Vec<char> = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN"
                        .chars()
                        .take(len)
                        .collect();
                    s[at] = c;
                    let s: String = s.into_iter().collect();
                    assert_eq!(
                        ours(&s.as_str()),
                        serde_json_canonicalizer::to_string(&s).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        let keys = [
            "",
            "\u{0}",
            "a",
            "aa",
            "ab",
            "b",
            "é",
            "\u{e000}",
            "\u{fb33}",
            "\u{ffff}",
            "\u{10000}",
            "\u{1f600}",
            "\u{d7ff}",
            "a\u{1f600}",
            "a\u{ffff}",
        ];
        for a in keys {
            for b in keys {
                let expected = a.encode_utf16().cmp(b.encode_utf16());
                assert_eq!(utf16_cmp(a, b), expected, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn unsorted_maps_are_sorted() {
        // Keys in code point order that UTF-16 orders the other way round.
        let value = json!({"\u{ffff}": 1, "\u{1f600}": 2});
        assert_eq!(ours(&value), "{\"😀\":2,\"\u{ffff}\":1}");
        assert_eq!(ours(&value), crate_jcs(&value));
    }
}
