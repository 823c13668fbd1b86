//! Report layer: JSON objects written field by field into a buffer, byte for byte as
//! `serde_json::to_writer` writes the same view struct, for the views written once per
//! connection. serde_json escapes every field name each time it writes one: through it, or
//! through a serializer of serde's own that writes names as they are, a connection took twice
//! to more than three times the instructions it takes here. The view structs stay the source of
//! the names and their order: tests/golden checks every connection of the golden captures
//! against serde_json.
//!
//! Imports nothing of the other layers.

use std::io::Write as _;

/// One JSON object being written into `out`.
pub struct JsonObject<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> JsonObject<'o> {
    /// Opens an object at the end of `out`.
    pub fn begin(out: &'o mut Vec<u8>) -> JsonObject<'o> {
        out.push(b'{');
        JsonObject { out, first: true }
    }

    /// Closes the object.
    pub fn end(self) {
        self.out.push(b'}');
    }

    /// Writes `"name":` and hands out the buffer for the value. This and the writers of each kind
    /// of value are inlined where the field is named, so that the name is copied with its length
    /// known rather than through a call to `memcpy`.
    #[inline(always)]
    pub fn key(&mut self, name: &str) -> &mut Vec<u8> {
        debug_assert!(
            name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{name} would need escaping"
        );
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// An unsigned integer.
    #[inline(always)]
    pub fn uint(&mut self, name: &str, value: impl Into<u64>) {
        let value = value.into();
        push_decimal(self.key(name), value);
    }

    /// An optional unsigned integer (null when none).
    #[inline(always)]
    pub fn opt_uint(&mut self, name: &str, value: Option<impl Into<u64>>) {
        match value {
            Some(v) => self.uint(name, v),
            None => self.key(name).extend_from_slice(b"null"),
        }
    }

    /// A number (null when not finite, as serde_json writes it).
    #[inline(always)]
    pub fn float(&mut self, name: &str, value: f64) {
        let out = self.key(name);
        push_float(out, value);
    }

    /// An optional number.
    #[inline(always)]
    pub fn opt_float(&mut self, name: &str, value: Option<f64>) {
        match value {
            Some(v) => self.float(name, v),
            None => self.key(name).extend_from_slice(b"null"),
        }
    }

    /// A boolean.
    #[inline(always)]
    pub fn bool(&mut self, name: &str, value: bool) {
        let text: &[u8] = if value { b"true" } else { b"false" };
        self.key(name).extend_from_slice(text);
    }

    /// A name from the report's fixed vocabulary ("closed", "server"): nothing to escape.
    #[inline(always)]
    pub fn word(&mut self, name: &str, value: &'static str) {
        debug_assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        );
        let out = self.key(name);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    }

    /// An optional word.
    #[inline(always)]
    pub fn opt_word(&mut self, name: &str, value: Option<&'static str>) {
        match value {
            Some(v) => self.word(name, v),
            None => self.key(name).extend_from_slice(b"null"),
        }
    }

    /// A socket address as a string (its text needs no escaping), as its `Display` writes it.
    #[inline]
    pub fn address(&mut self, name: &str, value: std::net::SocketAddr) {
        let out = self.key(name);
        out.push(b'"');
        match value {
            std::net::SocketAddr::V4(v4) => {
                for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        out.push(b'.');
                    }
                    push_decimal(out, octet.into());
                }
                out.push(b':');
                push_decimal(out, v4.port().into());
            }
            // Writing into a Vec cannot fail.
            v6 => {
                let _ = write!(out, "{v6}");
            }
        }
        out.push(b'"');
    }

    /// An optional string (null when none), escaped as serde_json escapes it: only quotes,
    /// backslashes and control characters are, so text without them is copied as it is.
    #[inline]
    pub fn opt_str(&mut self, name: &str, value: Option<&str>) {
        match value {
            None => self.key(name).extend_from_slice(b"null"),
            Some(text) if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') => {
                let out = self.key(name);
                out.push(b'"');
                out.extend_from_slice(text.as_bytes());
                out.push(b'"');
            }
            Some(text) => self.value(name, &text),
        }
    }

    /// An optional value (null when none), through serde_json.
    #[inline]
    pub fn opt_value(&mut self, name: &str, value: Option<&impl serde::Serialize>) {
        match value {
            Some(v) => self.value(name, v),
            None => self.key(name).extend_from_slice(b"null"),
        }
    }

    /// Any other value, through serde_json (text that may need escaping, nested views).
    #[inline]
    pub fn value(&mut self, name: &str, value: &impl serde::Serialize) {
        let out = self.key(name);
        if serde_json::to_writer(&mut *out, value).is_err() {
            out.extend_from_slice(b"null");
        }
    }
}

/// A number as serde_json writes it: the shortest text that reads back as the same number, and
/// null for NaN and the infinities.
pub fn push_float(out: &mut Vec<u8>, value: f64) {
    if value.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(value).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Appends `value` in decimal, as itoa (and so serde_json) writes it. The digits are gathered
/// in a register and stored once: formatted in a buffer and copied out with `memcpy`, each number
/// waited for its bytes to be read back from the stores that had just written them.
#[inline(always)]
fn push_decimal(out: &mut Vec<u8>, value: u64) {
    // Most counts of a connection are one digit.
    if value < 10 {
        out.push(b'0' + value as u8);
        return;
    }
    if value >= 10_u64.pow(16) {
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        return;
    }
    let mut digits = 1;
    let mut rest = value / 10;
    while rest > 0 {
        digits += 1;
        rest /= 10;
    }
    // The last digit in byte `digits - 1`, the first in byte 0.
    let mut text = 0u128;
    let mut rest = value;
    for at in (0..digits).rev() {
        text |= u128::from(b'0' + (rest % 10) as u8) << (8 * at);
        rest /= 10;
    }
    let start = out.len();
    out.extend_from_slice(&text.to_le_bytes());
    out.truncate(start + digits);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_as_itoa_writes_them() {
        let mut powers: Vec<u64> = (0..20).map(|p| 10_u64.pow(p)).collect();
        powers.extend(powers.clone().iter().map(|p| p - 1));
        powers.extend([12_345, 18_480, 65_535, 1_764_955_932_123_456, u64::MAX]);
        for v in powers {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, v);
            assert_eq!(out[1..], *itoa::Buffer::new().format(v).as_bytes(), "{v}");
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for text in [
            "/",
            "/a b/\u{7f}é?q=1&r",
            "tab\there",
            "a \"quote\"",
            "back\\slash",
            "\u{1}",
        ] {
            let mut ours = Vec::new();
            let mut o = JsonObject::begin(&mut ours);
            o.opt_str("s", Some(text));
            o.end();
            let theirs = serde_json::to_vec(&serde_json::json!({ "s": text })).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }

    #[test]
    fn numbers_are_written_as_serde_json_writes_them() {
        for v in [
            0.0,
            -0.0,
            1e-5,
            0.1 + 0.2,
            1_700_000_000.000_01,
            1e300,
            f64::NAN,
            f64::INFINITY,
            5e-324,
        ] {
            let mut ours = Vec::new();
            push_float(&mut ours, v);
            assert_eq!(ours, serde_json::to_vec(&v).unwrap(), "{v}");
        }
        let mut out = Vec::new();
        let mut o = JsonObject::begin(&mut out);
        o.uint("a", u64::MAX);
        o.opt_uint("b", None::<u32>);
        o.bool("c", false);
        o.word("d", "four-way");
        o.address("e", "[::1]:80".parse().unwrap());
        o.address("g", "127.0.0.1:8080".parse().unwrap());
        o.value("f", &Some("a \"quoted\"\n/path"));
        o.opt_str("h", Some("/a b/\u{7f}é"));
        o.opt_str("i", Some("tab\there"));
        o.opt_str("j", None);
        o.opt_value("k", None::<&u8>);
        o.opt_value("l", Some(&[1, 2]));
        o.end();
        let expected = serde_json::json!({
            "a": u64::MAX, "b": null, "c": false, "d": "four-way", "e": "[::1]:80", "g": "127.0.0.1:8080",
            "f": "a \"quoted\"\n/path", "h": "/a b/\u{7f}é", "i": "tab\there", "j": null,
            "k": null, "l": [1, 2],
        });
        let ours: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(ours, expected);
    }
}
