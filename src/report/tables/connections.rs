//! Report layer, tables: a capture's connections, one row each. Must not import sentences or the
//! terminal report.

use comfy_table::Table;

use super::cells::{glued, table};
use crate::report::labels;
use crate::report::units::TimeUnit;
use crate::track::{Connection, Side};

/// One row per connection, with a "… N more" row for the `hidden` ones not given. Counts of a
/// kind share a column (SYN/SYN-ACK/FIN/RST, pure ACK/data, retransmissions/duplicate ACKs) so
/// the table stays narrow; the server column is left out when every connection has the same
/// server (the caller names it).
pub fn connection_table(conns: &[Connection], hidden: usize) -> Table {
    let one_server = one_server(conns).is_some();
    let mut header = vec!["#", "client"];
    if !one_server {
        header.push("server");
    }
    header.extend([
        "S/SA/F/R",
        "ACK/data",
        "retr/dup",
        "req",
        "handshake",
        "teardown",
        "closer",
        "state",
    ]);
    // An address is one word, kept whole by the fitting; "(guessed)" after it may wrap.
    let mut t = table(&header);
    let times: Vec<f64> = conns
        .iter()
        .flat_map(|c| [c.handshake_s(), c.teardown_s()])
        .flatten()
        .collect();
    let unit = TimeUnit::for_column(times);
    let time = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |s| unit.format(s));
    for c in conns {
        let client = if c.syn_seen {
            c.client.to_string()
        } else {
            format!("{} (guessed)", c.client)
        };
        let n = &c.counts;
        let mut row = vec![c.stream.to_string(), client];
        if !one_server {
            row.push(c.server.to_string());
        }
        row.extend([
            format!("{}/{}/{}/{}", n.syn, n.synack, n.fin, n.rst),
            format!("{}/{}", n.pure_ack, n.data),
            format!("{}/{}", n.retransmissions, n.dup_acks),
            labels::requests(c.requests()),
            time(c.handshake_s()),
            time(c.teardown_s()),
            // Who closed: the first FIN's sender, else the reset's.
            c.first_fin
                .map(|f| f.1)
                .or(c.rst_by)
                .map_or("—", Side::name)
                .to_string(),
            c.final_state().name().to_string(),
        ]);
        t.add_row(glued(row));
    }
    if hidden > 0 {
        t.add_row(glued(vec![
            "…".to_string(),
            format!("{hidden} more (--all)"),
        ]));
    }
    t
}

/// The server every connection in `conns` went to, when there is one.
pub fn one_server(conns: &[Connection]) -> Option<std::net::SocketAddr> {
    let first = conns.first()?.server;
    conns.iter().all(|c| c.server == first).then_some(first)
}
