//! Report layer, sentences: TLS in words — a mode's sessions, the TLS a comparison asked for, and
//! the notes under `analyze`'s TLS tables. Must not import tables or the terminal report.

use std::fmt::Write as _;

use crate::analysis::comparison::{
    Comparison, ModeResult, NoSessionToResume, TlsSessions, TlsSettings,
};
use crate::track::tls::{ProtocolVersion, TlsTotals};
use crate::transfer::tls::TlsVersion;

/// A mode's TLS sessions in one line; where resumption was asked for and none happened, it says
/// why: each run starts without a session, and either a run had only the one connection or every
/// connection of each run opened before the run's first handshake was done.
pub fn mode_tls_line(cmp: &Comparison, m: &ModeResult, t: &TlsSessions) -> String {
    let mut line = tls_line(t);
    let Some(tls) = cmp.tls.filter(|tls| tls.resume) else {
        return line;
    };
    if t.resumed > 0 {
        return line;
    }
    let early_data = if tls.early_data {
        " or could send its request as early data"
    } else {
        ""
    };
    let why = match m.no_session_to_resume() {
        Some(NoSessionToResume::OneConnectionPerRun) => {
            "each run starts without a session and had one connection"
        }
        Some(NoSessionToResume::OpenedBeforeFirstHandshake) => {
            "every connection of a run opened before its first TLS handshake was done"
        }
        None => return line,
    };
    let _ = write!(
        line,
        " ({why}, so none had a session to resume{early_data})"
    );
    line
}

/// The TLS a comparison asked for, in a few words: "TLS 1.3, resumed, early data".
pub fn tls_settings(tls: &TlsSettings) -> String {
    let mut words = vec![tls.version.name().to_string()];
    if tls.resume {
        words.push("resumed after each run's first connection".into());
    }
    if tls.early_data {
        words.push("their requests as 0-RTT early data".into());
    }
    words.join(", ")
}

/// A mode's TLS sessions in one sentence (the client's own count).
pub fn tls_line(t: &TlsSessions) -> String {
    use crate::words::counted;
    let mut line = format!(
        "{}: {}, {} and {} resumed",
        t.version.map_or("TLS", TlsVersion::name),
        counted(t.connections, "connection", "connections"),
        counted(
            t.connections - t.resumed,
            "full handshake",
            "full handshakes"
        ),
        t.resumed
    );
    if t.hello_retry > 0 {
        let _ = write!(line, ", {} after a HelloRetryRequest", t.hello_retry);
    }
    if t.early_data_sent > 0 {
        let _ = write!(
            line,
            "; {} as 0-RTT early data, {} accepted (early data can be replayed by anyone who \
             captured it, so servers take it only for requests safe to repeat)",
            counted(t.early_data_sent, "request sent", "requests sent"),
            t.early_data_accepted
        );
    }
    line
}

/// The heading of the TLS section of `analyze`.
pub const TLS_HEADING: &str =
    "TLS handshakes (counted on the wire; handshake = ClientHello → client's first data record)";

/// The heading of `analyze`'s QUIC connections table.
pub const QUIC_HEADING: &str = "QUIC connections (as tshark numbers them; C/S = sent by the client/server; \
     handshake = client's first Initial → its first 1-RTT packet)";

/// The heading of the QUIC TLS table.
pub const QUIC_TLS_HEADING: &str =
    "QUIC TLS (the ClientHello and ServerHello read from the Initial packets, without keys)";

/// What the QUIC tables can and cannot tell without keys.
pub const QUIC_NOTE: &str = "Whether a server accepted early data is in its encrypted \
     extensions: \"resumed\" means it took the session, which early data needs; \"refused\" means \
     it did not. CONNECTION_CLOSE travels encrypted, so a connection ends at its last packet.";

/// QUIC datagrams of no connection, when there are any: those whose connection began before the
/// capture, and those that start like QUIC but do not hold together.
pub fn quic_stray(unattributed: u64, malformed: u64) -> Option<String> {
    let datagrams = |n: u64| crate::words::counted(n, "datagram", "datagrams");
    match (unattributed, malformed) {
        (0, 0) => None,
        (u, 0) => Some(format!(
            "{} of QUIC belong to no connection whose first Initial the capture holds.",
            datagrams(u)
        )),
        (0, m) => Some(format!(
            "{} start like a QUIC long header but do not hold together (malformed).",
            datagrams(m)
        )),
        (u, m) => Some(format!(
            "{} of QUIC belong to no connection whose first Initial the capture holds; {} start \
             like a QUIC long header but do not hold together (malformed).",
            datagrams(u),
            datagrams(m)
        )),
    }
}

/// What the TLS table's "read" column means.
pub const TLS_READ_NOTE: &str = "read: ok = every record was read; cut = the snap length cut \
     off bytes that had to be read, so records were counted again from the next segment that \
     starts one, but handshake messages no more; gap = bytes missing from the capture stopped the \
     reading.";

/// The line under the TLS table when it leaves connections out.
pub fn tls_hidden(hidden: usize) -> Option<String> {
    (hidden > 0).then(|| format!("… {hidden} more TLS connections (--all shows them)"))
}

/// A line under the TLS tables saying what the capture cannot show without keys.
pub fn tls_note(totals: &TlsTotals) -> Option<String> {
    let tls13 = totals
        .versions
        .get(&ProtocolVersion::TLS_1_3)
        .copied()
        .unwrap_or(0);
    (tls13 > 0).then(|| {
        "TLS 1.3 encrypts the rest of the handshake: its Finished and the server's first data \
         record are inferred from record order (the server's may be a session ticket), and \
         whether early data was accepted is not visible."
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tls_session_is_told_in_the_singular() {
        let one = TlsSessions {
            version: Some(TlsVersion::Tls13),
            connections: 1,
            resumed: 0,
            hello_retry: 0,
            early_data_sent: 1,
            early_data_accepted: 1,
        };
        let line = tls_line(&one);
        assert!(
            line.starts_with(
                "TLS 1.3: 1 connection, 1 full handshake and 0 resumed; 1 request sent as 0-RTT"
            ),
            "{line}"
        );
    }
}
