//! Attribute layer, comparison: what a mode's connections opened with — data on SYNs (TCP Fast
//! Open) in its capture, and its TLS sessions as the client saw them.

use crate::transfer::run::{ConnectionTiming, TlsTiming, TlsVersion};

/// Data on SYNs in one mode's capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct FastOpen {
    /// Connections whose SYN carried data.
    pub with_data: usize,
    /// All captured connections.
    pub connections: usize,
    /// The bytes those SYNs carried.
    pub bytes: u64,
}

/// A mode's TLS sessions as its client saw them, counted over every run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TlsSessions {
    /// The version negotiated.
    pub version: Option<TlsVersion>,
    /// Connections that spoke TLS.
    pub connections: usize,
    /// Of those, resumed sessions.
    pub resumed: usize,
    /// Of those, handshakes with a HelloRetryRequest.
    pub hello_retry: usize,
    /// Of those, requests sent as early data.
    pub early_data_sent: usize,
    /// Of those, early data the server accepted.
    pub early_data_accepted: usize,
}

impl TlsSessions {
    /// Counts the TLS sessions of these connections (None when none spoke TLS).
    pub fn of<'a>(connections: impl Iterator<Item = &'a ConnectionTiming>) -> Option<TlsSessions> {
        let sessions: Vec<_> = connections.filter_map(|c| c.tls).collect();
        if sessions.is_empty() {
            return None;
        }
        let count = |f: fn(&TlsTiming) -> bool| sessions.iter().filter(|s| f(s)).count();
        Some(TlsSessions {
            version: sessions.iter().find_map(|s| s.session.version),
            connections: sessions.len(),
            resumed: count(|s| s.session.resumed),
            hello_retry: count(|s| s.session.hello_retry),
            early_data_sent: count(|s| s.session.early_data_sent > 0),
            early_data_accepted: count(|s| s.session.early_data_accepted),
        })
    }
}
