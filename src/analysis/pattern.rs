//! Attribute layer: which pattern a capture shows — one request per connection (non-persistent)
//! or many requests over few connections (persistent) — counted one connection at a time.

use crate::track::Connection;

/// Requests per connection, accumulated.
#[derive(Debug, Default, Clone, Copy)]
pub struct RequestPattern {
    connections: u64,
    requests: u64,
    with_one: u64,
    with_more: u64,
}

impl RequestPattern {
    /// Counts one connection's requests: HTTP request lines when the snap length kept them, else
    /// request/response exchanges.
    pub fn add(&mut self, conn: &Connection) {
        let requests = if conn.http_requests > 0 {
            conn.http_requests
        } else {
            conn.exchanges.len() as u64
        };
        self.connections += 1;
        self.requests += requests;
        self.with_one += u64::from(requests == 1);
        self.with_more += u64::from(requests > 1);
    }

    /// One line naming the pattern.
    pub fn describe(&self) -> String {
        let (n, r) = (self.connections, self.requests);
        if n == 0 {
            "no TCP connections".into()
        } else if n == 1 && self.with_one == 1 {
            // One request shows no pattern: a keep-alive client with one file sends the same.
            "1 connection carrying one request".into()
        } else if self.with_one == n {
            format!(
                "{} each carrying one request (non-persistent)",
                crate::words::counted(n, "connection", "connections")
            )
        } else if self.with_more > 0 {
            format!(
                "{} over {} (persistent: {} more than one)",
                crate::words::counted(r, "request", "requests"),
                crate::words::counted(n, "connection", "connections"),
                crate::words::counted(self.with_more, "carries", "carry")
            )
        } else {
            format!(
                "{} over {}",
                crate::words::counted(r, "request", "requests"),
                crate::words::counted(n, "connection", "connections")
            )
        }
    }
}
