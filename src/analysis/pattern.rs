//! Attribute layer: which pattern a capture shows — one request per connection (non-persistent)
//! or many requests over few connections (persistent) — counted one connection at a time. Its
//! words are the report's (`report::text::pattern`).

use crate::track::Connection;

/// What the requests per connection show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// No TCP connection at all.
    NoConnections,
    /// One connection with one request: no pattern to tell.
    OneRequest,
    /// Several connections, each with one request (non-persistent).
    OneEach { connections: u64 },
    /// Some connection carried more than one request (persistent).
    Persistent {
        requests: u64,
        connections: u64,
        /// Connections with more than one request.
        with_more: u64,
    },
    /// Neither: connections without a request among them.
    Other { requests: u64, connections: u64 },
}

/// Requests per connection, accumulated.
#[derive(Debug, Default, Clone, Copy)]
pub struct RequestPattern {
    connections: u64,
    requests: u64,
    with_one: u64,
    with_more: u64,
}

impl RequestPattern {
    /// Counts one connection's requests (see [`Connection::requests`]).
    pub fn add(&mut self, conn: &Connection) {
        let requests = conn.requests();
        self.connections += 1;
        self.requests += requests;
        self.with_one += u64::from(requests == 1);
        self.with_more += u64::from(requests > 1);
    }

    /// The pattern these connections show.
    pub fn pattern(&self) -> Pattern {
        let (connections, requests) = (self.connections, self.requests);
        if connections == 0 {
            Pattern::NoConnections
        } else if connections == 1 && self.with_one == 1 {
            // One request shows no pattern: a keep-alive client with one file sends the same.
            Pattern::OneRequest
        } else if self.with_one == connections {
            Pattern::OneEach { connections }
        } else if self.with_more > 0 {
            Pattern::Persistent {
                requests,
                connections,
                with_more: self.with_more,
            }
        } else {
            Pattern::Other {
                requests,
                connections,
            }
        }
    }
}
