//! Report layer, sentences: what a key log did for each TLS connection `analyze` shows.

use crate::track::Connection;
use crate::track::quic::{OneRttDecryption, QuicConnection};
use crate::track::tls::Decryption;

/// The heading of the key log's lines.
pub const KEYLOG_HEADING: &str = "Decryption with the key log (--keylog), per TLS connection:";

/// The HTTP/2 table's heading when some of its connections were decrypted.
const KEYLOG_HTTP2_HEADING: &str = "HTTP/2 in cleartext or decrypted with the key log (frames \
     counted on the wire; requests = client streams opened by a HEADERS frame; C/S = \
     client/server)";

/// The HTTP/2 table's heading for `connections`: it names the key log when it decrypted some.
pub fn http2_heading(connections: &[Connection]) -> &'static str {
    let decrypted = connections.iter().any(|c| {
        c.http2().is_some() && matches!(c.decryption(), Some(Decryption::Decrypted { .. }))
    });
    if decrypted {
        KEYLOG_HTTP2_HEADING
    } else {
        super::HTTP2_HEADING
    }
}

/// One line for a TLS connection a key log was given for: decrypted (and what its plaintext
/// showed), or why not; `None` without a key log or TLS.
pub fn decryption_line(conn: &Connection) -> Option<String> {
    let why = match conn.decryption()? {
        Decryption::Decrypted { opened, failed } => {
            let carried = match conn.requests().known() {
                Some(n) if conn.http2().is_some() => format!("HTTP/2, {n} requests"),
                Some(n) => format!("{n} requests"),
                None => "requests unknown".to_string(),
            };
            let failed = match failed {
                0 => String::new(),
                n => format!(", {n} not opened"),
            };
            format!("decrypted: {carried} ({opened} records opened{failed})")
        }
        Decryption::NoSecrets => {
            "not decrypted: the key log holds no secret for its client random".to_string()
        }
        Decryption::UnknownSuite(suite) => {
            format!("not decrypted: cipher suite 0x{suite:04x} is not an AEAD one synack opens")
        }
        Decryption::NoHello => {
            "not decrypted: its ClientHello or ServerHello is not in the capture".to_string()
        }
    };
    Some(format!("  #{:<5} {why}", conn.stream))
}

/// The heading of the key log's lines on QUIC connections.
pub const KEYLOG_QUIC_HEADING: &str = "Decryption with the key log (--keylog), per QUIC connection \
     (HTTP/3 requests = client-initiated bidirectional streams):";

/// One line for a QUIC connection a key log was given for: its 1-RTT packets opened and the
/// streams they carried, or why not; `None` without a key log.
pub fn quic_decryption_line(conn: &QuicConnection) -> Option<String> {
    let why = match conn.one_rtt.as_ref()? {
        OneRttDecryption::Decrypted(s) => {
            let failed = match s.failed {
                0 => String::new(),
                n => format!(", {n} not opened or read"),
            };
            format!(
                "decrypted: {} HTTP/3 requests, {} streams ({} 0-RTT and 1-RTT packets opened{failed})",
                s.client_bidirectional(),
                s.streams(),
                s.opened
            )
        }
        OneRttDecryption::NoSecrets => {
            "not decrypted: the key log holds no 1-RTT secret for its client random".to_string()
        }
    };
    Some(format!("  #{:<5} {why}", conn.number))
}
