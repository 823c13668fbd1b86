//! Report layer: one CSV row per connection (`analyze --csv`).

use crate::track::Connection;

/// The column names.
pub const HEADER: [&str; 31] = [
    "stream",
    "client",
    "server",
    "client_guessed",
    "syn",
    "synack",
    "handshake_ack",
    "pure_ack",
    "data",
    "fin",
    "rst",
    "packets",
    "bytes",
    "retransmissions",
    "dup_acks",
    "requests",
    "client_payload_bytes",
    "server_payload_bytes",
    "start_unix_s",
    "handshake_s",
    "time_to_first_data_s",
    "duration_s",
    "teardown_s",
    "active_closer",
    "final_state",
    "http_requests",
    "tfo_syn_data",
    "tls_version",
    "tls_resumed",
    "tls_early_data",
    "tls_handshake_s",
];

fn opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v:.9}"))
}

/// The row of one connection, in `HEADER` order.
pub fn row(c: &Connection) -> Vec<String> {
    let tls = c.tls();
    vec![
        c.stream.to_string(),
        c.client.to_string(),
        c.server.to_string(),
        (!c.syn_seen).to_string(),
        c.counts.syn.to_string(),
        c.counts.synack.to_string(),
        c.counts.handshake_ack.to_string(),
        c.counts.pure_ack.to_string(),
        c.counts.data.to_string(),
        c.counts.fin.to_string(),
        c.counts.rst.to_string(),
        c.counts.packets.to_string(),
        c.counts.bytes.to_string(),
        c.counts.retransmissions.to_string(),
        c.counts.dup_acks.to_string(),
        // Empty where the requests are encrypted HTTP/2.
        c.requests()
            .known()
            .map(|n| n.to_string())
            .unwrap_or_default(),
        c.client_bytes.to_string(),
        c.server_bytes.to_string(),
        format!("{:.9}", c.first_ts.as_secs_f64()),
        opt(c.handshake_s()),
        opt(c.time_to_first_data_s()),
        format!("{:.9}", c.last_ts.secs_since(c.first_ts)),
        opt(c.teardown_s()),
        c.first_fin.map_or("", |f| f.1.name()).to_string(),
        c.final_state().name().to_string(),
        c.http_requests.to_string(),
        c.syn_data.to_string(),
        tls.and_then(|t| t.version)
            .map(super::json::protocol_version_json)
            .unwrap_or_default(),
        tls.map(|t| t.resumed().to_string()).unwrap_or_default(),
        tls.map(|t| (t.early_data_records > 0).to_string())
            .unwrap_or_default(),
        opt(tls.and_then(|t| t.handshake_s())),
    ]
}
