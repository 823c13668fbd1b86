//! Track layer: TLS handshakes added up over connections.
//!
//! Works on `TlsHandshake` alone; must not import capture, analysis or report code.

use std::collections::BTreeMap;

use super::handshake::{HandshakeCounts, ProtocolVersion, RecordCounts, TlsHandshake};

/// TLS counted over many connections.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsTotals {
    /// Connections that spoke TLS.
    pub connections: u64,
    /// Connections by the version their server chose (those whose ServerHello was seen).
    pub versions: BTreeMap<ProtocolVersion, u64>,
    /// Connections that resumed a session.
    pub resumed: u64,
    /// Connections whose ClientHello offered early data.
    pub early_data_offered: u64,
    /// Connections whose client sent early data.
    pub early_data_sent: u64,
    /// HelloRetryRequests.
    pub hello_retry_requests: u64,
    /// Connections whose reading the capture cut short: bytes cut off by the snap length or
    /// missing.
    pub incomplete: u64,
    /// Plaintext handshake messages by type.
    pub messages: HandshakeCounts,
    /// Records by content type.
    pub records: RecordCounts,
}

impl TlsTotals {
    /// Adds one connection's handshake.
    pub fn add(&mut self, h: &TlsHandshake) {
        self.connections += 1;
        if let Some(v) = h.version {
            *self.versions.entry(v).or_default() += 1;
        }
        self.resumed += u64::from(h.resumed());
        self.early_data_offered += u64::from(h.early_data_offered);
        self.early_data_sent += u64::from(h.early_data_records > 0);
        self.hello_retry_requests += u64::from(h.hello_retry_requests);
        self.incomplete += u64::from(h.is_incomplete());
        self.messages.merge(&h.messages);
        let r = &mut self.records;
        r.change_cipher_spec += h.records.change_cipher_spec;
        r.alert += h.records.alert;
        r.handshake += h.records.handshake;
        r.application_data += h.records.application_data;
        r.heartbeat += h.records.heartbeat;
    }
}
