//! Report layer, sentences: a capture's request pattern in one line. Must not import tables or
//! the terminal report.

use crate::analysis::pattern::{Pattern, RequestPattern};

/// `n` connections whose requests are encrypted HTTP/2, and why, in a few words.
fn encrypted_requests(n: u64) -> String {
    let whose = if n == 1 { "its" } else { "their" };
    format!(
        "{} over TLS with h2 in {whose} ALPN (requests encrypted, unknown without keys)",
        crate::words::counted(n, "connection", "connections")
    )
}

/// A capture's request pattern in one line.
pub fn pattern(counted: &RequestPattern) -> String {
    let pattern = counted.pattern();
    let never_established = counted.never_established();
    let connections = |n: u64| crate::words::counted(n, "connection", "connections");
    let requests = |n: u64| crate::words::counted(n, "request", "requests");
    let line: String = match pattern {
        Pattern::NoConnections => "No TCP connections".into(),
        Pattern::OneRequest => "1 connection carrying one request".into(),
        Pattern::OneEach {
            connections: n,
            at_once: 1,
        } => format!(
            "{} each carrying one request (non-persistent)",
            connections(n)
        ),
        Pattern::OneEach {
            connections: n,
            at_once,
        } => format!(
            "{} each carrying one request (non-persistent, up to {at_once} open at once)",
            connections(n)
        ),
        Pattern::Persistent {
            requests: r,
            connections: n,
            with_more,
        } => format!(
            "{} over {} (persistent: {} more than one)",
            requests(r),
            connections(n),
            crate::words::counted(with_more, "carries", "carry")
        ),
        Pattern::Other {
            requests: r,
            connections: n,
        } => format!("{} over {}", requests(r), connections(n)),
        Pattern::Encrypted { connections: n } => encrypted_requests(n),
    };
    let line = match counted.encrypted() {
        n if n == 0 || matches!(pattern, Pattern::Encrypted { .. }) => line,
        n => format!("{line}; and {}", encrypted_requests(n)),
    };
    match never_established {
        0 => line,
        n if matches!(pattern, Pattern::NoConnections) => format!(
            "no TCP connection established ({} sent a SYN that no SYN-ACK answered)",
            crate::words::counted(n, "attempt", "attempts")
        ),
        1 => format!("{line}; 1 more connection never established (no SYN-ACK)"),
        n => format!("{line}; {n} more connections never established (no SYN-ACK)"),
    }
}
