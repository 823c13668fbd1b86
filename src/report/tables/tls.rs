//! Report layer, tables: TLS handshakes as counted on the wire — one row per connection, and the
//! totals. Reads `labels`; must not import sentences or the terminal report.

use comfy_table::Table;

use super::cells::{glued, table};
use crate::report::labels;
use crate::report::units::TimeUnit;
use crate::track::Connection;
use crate::track::tls::{ReadStop, TlsHandshake, TlsTotals};

/// One row per connection that spoke TLS: version, resumption, early data, and the times from
/// its ClientHello to each side's first application data record.
pub fn tls_table(conns: &[Connection]) -> Table {
    let mut t = table(&[
        "#",
        "version",
        "hellos C/S/HRR",
        "resumed",
        "early data",
        "handshake",
        "→ server data",
        "read",
    ]);
    let tls: Vec<(&Connection, &TlsHandshake)> =
        conns.iter().filter_map(|c| Some((c, c.tls()?))).collect();
    let unit = TimeUnit::for_column(
        tls.iter()
            .flat_map(|(_, h)| [h.handshake_s(), h.server_data_s()])
            .flatten(),
    );
    let time = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |s| unit.format(s));
    for (c, h) in tls {
        let early = match (h.early_data_offered, h.early_data_records) {
            (false, 0) => "no".to_string(),
            (true, 0) => "offered".to_string(),
            (_, 1) => "1 record".to_string(),
            (_, n) => format!("{n} records"),
        };
        let read = match (h.client_stop, h.server_stop) {
            (Some(ReadStop::Gap), _) | (_, Some(ReadStop::Gap)) => "gap",
            (Some(ReadStop::NotTls), _) | (_, Some(ReadStop::NotTls)) => "not TLS",
            _ if h.client_cut || h.server_cut => "cut",
            _ => "ok",
        };
        t.add_row(glued(vec![
            c.stream.to_string(),
            h.version
                .map_or_else(|| "—".to_string(), labels::protocol_version),
            format!(
                "{}/{}/{}",
                h.client_hellos(),
                h.server_hellos(),
                h.hello_retry_requests
            ),
            labels::resumption(h.resumption).to_string(),
            early,
            time(h.handshake_s()),
            time(h.server_data_s()),
            read.to_string(),
        ]));
    }
    t
}

/// TLS over all connections: versions, resumptions, early data, and every plaintext handshake
/// message type seen.
pub fn tls_totals_table(totals: &TlsTotals) -> Table {
    let mut t = table(&["TLS", "count"]);
    let mut row = |name: String, n: u64| {
        t.add_row(glued(vec![name, n.to_string()]));
    };
    row("connections".into(), totals.connections);
    for (&v, &n) in &totals.versions {
        row(labels::protocol_version(v), n);
    }
    row("resumed".into(), totals.resumed);
    row("early data offered".into(), totals.early_data_offered);
    row("early data sent".into(), totals.early_data_sent);
    row(
        "HelloRetryRequest (in ServerHello)".into(),
        totals.hello_retry_requests,
    );
    if totals.incomplete > 0 {
        row("read with cuts or gaps".into(), totals.incomplete);
    }
    for (msg_type, n) in totals.messages.iter() {
        row(labels::handshake_type(msg_type), u64::from(n));
    }
    t
}
