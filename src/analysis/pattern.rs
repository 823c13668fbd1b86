//! Attribute layer: which pattern a capture shows — one request per connection (non-persistent)
//! or many requests over few connections (persistent) — counted one connection at a time. Its
//! words are the report's (`report::sentences::pattern`).

use crate::timeline::Ts;
use crate::track::Connection;

/// What the requests per connection show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// No TCP connection at all.
    NoConnections,
    /// One connection with one request: no pattern to tell.
    OneRequest,
    /// Several connections, each with one request (non-persistent); at most `at_once` of them
    /// open at the same time (more than one: in parallel).
    OneEach { connections: u64, at_once: u64 },
    /// Some connection carried more than one request (persistent).
    Persistent {
        requests: u64,
        connections: u64,
        /// Connections with more than one request.
        with_more: u64,
    },
    /// Neither: connections without a request among them.
    Other { requests: u64, connections: u64 },
    /// Every connection's requests are encrypted HTTP/2: not countable without keys.
    Encrypted { connections: u64 },
}

/// Requests per connection, accumulated.
#[derive(Debug, Default, Clone)]
pub struct RequestPattern {
    connections: u64,
    requests: u64,
    with_one: u64,
    with_more: u64,
    never_established: u64,
    /// Connections whose requests are encrypted HTTP/2 (left out of the pattern).
    encrypted: u64,
    /// Each connection's first packet and the client's end of it.
    spans: Vec<(Ts, Ts)>,
}

impl RequestPattern {
    /// Counts one connection's requests (see [`Connection::requests`]). A connection whose SYN
    /// was never answered with a SYN-ACK (unanswered, or refused with a reset) and that carried
    /// nothing is counted apart, as never established; so is one whose requests are encrypted
    /// HTTP/2, which tells no pattern.
    pub fn add(&mut self, conn: &Connection) {
        if conn.syn_seen && conn.synack_ts.is_none() && conn.first_data.is_none() {
            self.never_established += 1;
            return;
        }
        let Some(requests) = conn.requests().known() else {
            self.encrypted += 1;
            return;
        };
        // Open from the first packet until the client is done with it (its FIN, a reset, else
        // its last packet): the teardown's last ACKs overlap the next connection of a
        // sequential client.
        let done = conn.client_fin.or(conn.rst_ts).unwrap_or(conn.last_ts);
        self.spans.push((conn.first_ts, done.max(conn.first_ts)));
        self.connections += 1;
        self.requests += requests;
        self.with_one += u64::from(requests == 1);
        self.with_more += u64::from(requests > 1);
    }

    /// The pattern these connections show.
    pub fn pattern(&self) -> Pattern {
        let (connections, requests) = (self.connections, self.requests);
        if connections == 0 && self.encrypted > 0 {
            Pattern::Encrypted {
                connections: self.encrypted,
            }
        } else if connections == 0 {
            Pattern::NoConnections
        } else if connections == 1 && self.with_one == 1 {
            // One request shows no pattern: a keep-alive client with one file sends the same.
            Pattern::OneRequest
        } else if self.with_one == connections {
            Pattern::OneEach {
                connections,
                at_once: self.most_open_at_once(),
            }
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

    /// Connections whose requests are encrypted HTTP/2 (not in the pattern).
    pub fn encrypted(&self) -> u64 {
        self.encrypted
    }

    /// Connections that sent a SYN and were never established.
    pub fn never_established(&self) -> u64 {
        self.never_established
    }

    /// The most connections open at one instant (at least 1).
    fn most_open_at_once(&self) -> u64 {
        let mut edges: Vec<(Ts, i64)> = self
            .spans
            .iter()
            .flat_map(|&(from, to)| [(from, 1), (to, -1)])
            .collect();
        // At one instant, a close goes before an open: back to back is not at once.
        edges.sort();
        let (mut open, mut most) = (0i64, 0i64);
        for (_, change) in edges {
            open += change;
            most = most.max(open);
        }
        most.max(1) as u64
    }
}
