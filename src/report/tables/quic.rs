//! Report layer, tables: a capture's QUIC connections — their packets by type and direction, and
//! what their Initial packets show of TLS. Reads `labels`; must not import sentences or the
//! terminal report.

use comfy_table::Table;

use super::cells::{glued, table};
use crate::report::labels;
use crate::report::units::{TimeUnit, bytes};
use crate::track::quic::{PacketCounts, QuicConnection};

/// A count per direction, client's first ("12/9").
fn both(client: u64, server: u64) -> String {
    format!("{client}/{server}")
}

/// One row per QUIC connection: datagrams and packets of each type, client's/server's, the
/// bytes, the handshake (the client's first Initial → its first 1-RTT packet) and the time to
/// its last packet.
pub fn quic_table(conns: &[QuicConnection]) -> Table {
    let mut t = table(&[
        "#",
        "client",
        "server",
        "datagrams C/S",
        "Initial C/S",
        "0-RTT",
        "Handshake C/S",
        "1-RTT C/S",
        "Retry/VN",
        "bytes",
        "handshake",
        "last packet",
    ]);
    let unit = TimeUnit::for_column(
        conns
            .iter()
            .flat_map(|c| [c.handshake_s(), Some(c.duration_s())])
            .flatten(),
    );
    for c in conns {
        let (cp, sp): (&PacketCounts, &PacketCounts) =
            (&c.client_sent.packets, &c.server_sent.packets);
        let all = c.packets();
        t.add_row(glued(vec![
            c.number.to_string(),
            c.client.to_string(),
            c.server.to_string(),
            both(c.client_sent.datagrams, c.server_sent.datagrams),
            both(cp.initial, sp.initial),
            all.zero_rtt.to_string(),
            both(cp.handshake, sp.handshake),
            both(cp.one_rtt, sp.one_rtt),
            both(all.retry, all.version_negotiation),
            bytes(c.bytes() as f64),
            c.handshake_s()
                .map_or_else(|| "—".to_string(), |s| unit.format(s)),
            unit.format(c.duration_s()),
        ]));
    }
    t
}

/// One row per QUIC connection: what its Initial packets' ClientHello and ServerHello say.
pub fn quic_tls_table(conns: &[QuicConnection]) -> Table {
    let mut t = table(&[
        "#",
        "QUIC",
        "TLS",
        "session offered",
        "resumed",
        "early data",
        "malformed",
    ]);
    for c in conns {
        let tls = &c.tls;
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let hello_read = tls.client_hello.is_some();
        t.add_row(glued(vec![
            c.number.to_string(),
            labels::quic_version(c.version),
            tls.version
                .map_or_else(|| "—".to_string(), labels::protocol_version),
            if hello_read {
                yes_no(tls.psk_offered)
            } else {
                "—"
            }
            .to_string(),
            if tls.server_hello.is_some() {
                yes_no(tls.resumed)
            } else {
                "—"
            }
            .to_string(),
            labels::quic_early_data(c.early_data()).to_string(),
            c.malformed.to_string(),
        ]));
    }
    t
}
