//! Transfer layer: the connection lifecycle log printed with `-v`. Must not import capture or
//! report code.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use crate::timeline::Ts;

/// Which end of the connection recorded an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Side {
    Client,
    Server,
}

/// One step in a connection's life, as seen by the side that records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum EventKind {
    /// The client is about to call `connect`.
    Connect,
    /// `connect` returned: the handshake completed.
    Connected,
    /// The client's TLS handshake is complete (its Finished sent).
    TlsDone {
        version: &'static str,
        resumed: bool,
    },
    /// The server accepted the connection.
    Accept,
    /// A request was sent (client) or read (server).
    Request { path: String },
    /// The server could not read a request, and answers it with an error: why.
    Refused { reason: String },
    /// The connection broke off (a reset, a failed TLS handshake, a send that timed out): why.
    Broken { reason: String },
    /// The status line was read (client) or written (server).
    ResponseStart { status: u16 },
    /// The last body byte was read (client) or written (server).
    ResponseEnd { bytes: u64 },
    /// This side shut down its sending half (its FIN leaves now).
    FinSent,
    /// A read returned end of file: the peer's FIN arrived.
    FinReceived,
    /// The socket was closed.
    Closed,
    /// The client's first QUIC Initial leaves (h3).
    QuicConnect,
    /// The client's QUIC handshake is complete; with 0-RTT, whether the server took the requests
    /// it carried.
    QuicConnected { zero_rtt: Option<bool> },
    /// The server took a QUIC connection.
    QuicAccept,
    /// This side closed the QUIC connection (CONNECTION_CLOSE), or saw the peer close it.
    QuicClosed,
}

/// A timestamped lifecycle event of one connection.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// When it happened, serialised as nanoseconds since the Unix epoch.
    #[serde(serialize_with = "serialize_ts")]
    pub ts: Ts,
    /// Which end recorded it.
    pub side: Side,
    /// The recording end's address.
    pub local: SocketAddr,
    /// The other end's address.
    pub peer: SocketAddr,
    /// What happened.
    pub kind: EventKind,
}

/// Serialises a timestamp as nanoseconds since the Unix epoch.
pub(crate) fn serialize_ts<S: serde::Serializer>(
    ts: &Ts,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(ts.0)
}

/// A log shared by the client and the server's connection threads; clones share one list.
#[derive(Debug, Clone, Default)]
pub struct EventLog(Arc<Mutex<Vec<Event>>>);

impl EventLog {
    /// An empty log.
    pub fn new() -> EventLog {
        EventLog::default()
    }

    /// Appends one event.
    pub fn record(&self, event: Event) {
        // A thread that panicked while holding the lock cannot have left a Vec half-pushed,
        // so the data is still usable.
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event);
    }

    /// Removes and returns every event recorded so far, oldest first.
    pub fn take(&self) -> Vec<Event> {
        let mut events =
            std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        // Threads record concurrently, and the client records Connect after the fact with its
        // earlier timestamp, so insertion order is not time order. The sort is stable.
        events.sort_by_key(|event| event.ts);
        events
    }
}

/// The recorder one connection carries: fixed side and addresses, optional log.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionEvents<'a> {
    log: Option<&'a EventLog>,
    side: Side,
    local: SocketAddr,
    peer: SocketAddr,
}

impl<'a> ConnectionEvents<'a> {
    /// A recorder for one connection; records nothing when `log` is None.
    pub(crate) fn new(
        log: Option<&'a EventLog>,
        side: Side,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> Self {
        ConnectionEvents {
            log,
            side,
            local,
            peer,
        }
    }

    /// Whether events are kept, so a caller can skip building one that would be dropped.
    pub(crate) fn records(&self) -> bool {
        self.log.is_some()
    }

    /// Records `kind` as happening now.
    pub(crate) fn now(&self, kind: EventKind) {
        self.at(Ts::now(), kind);
    }

    /// Records `kind` with a timestamp taken earlier.
    pub(crate) fn at(&self, ts: Ts, kind: EventKind) {
        if let Some(log) = self.log {
            log.record(Event {
                ts,
                side: self.side,
                local: self.local,
                peer: self.peer,
                kind,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn take_sorts_by_time_and_empties_the_log() {
        let log = EventLog::new();
        let conn = ConnectionEvents::new(Some(&log), Side::Client, addr(40000), addr(8080));
        conn.at(Ts(20), EventKind::Connected);
        conn.at(Ts(10), EventKind::Connect);
        let shared = log.clone();
        shared.record(Event {
            ts: Ts(15),
            side: Side::Server,
            local: addr(8080),
            peer: addr(40000),
            kind: EventKind::Accept,
        });
        let kinds: Vec<EventKind> = log.take().into_iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [EventKind::Connect, EventKind::Accept, EventKind::Connected]
        );
        assert!(log.take().is_empty());
    }
}
