//! Track layer: groups segments into connections, as Wireshark groups them into TCP streams, and
//! hands closed ones out so that memory follows the connections open at once.
//!
//! Works on `Segment` alone; must not import `pcap`, `etherparse`, analysis or report code.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use super::connection::Connection;
use super::seq::SeqNumber;
use crate::capture::segment::{FlowKey, Segment};
use crate::timeline::Ts;

/// How long a closed connection is kept for late packets (a retransmitted FIN, the ACK from
/// TIME-WAIT) before it is handed out, in capture time.
pub const LINGER: Ts = Ts(5_000_000_000);

/// Groups segments into connections, as Wireshark groups them into TCP streams. Memory follows the
/// connections open at once: closed ones are handed out by `drain_closed` after `LINGER`.
#[derive(Debug, Default)]
pub struct Tracker {
    open: FxHashMap<FlowKey, Connection>,
    closing: VecDeque<(Ts, FlowKey, usize)>,
    ready: Vec<Connection>,
    streams: usize,
    now: Ts,
}

impl Tracker {
    /// A tracker with no connections.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Adds one segment whose payload bytes were not captured (or are not needed).
    pub fn push(&mut self, seg: &Segment) {
        self.push_with_payload(seg, &[]);
    }

    /// Adds one segment with the payload bytes the capture holds for it (possibly fewer than
    /// `seg.payload_len`): connections that speak TLS read their handshakes from them.
    pub fn push_with_payload(&mut self, seg: &Segment, payload: &[u8]) {
        use std::collections::hash_map::Entry;
        self.now = self.now.max(seg.ts);
        let conn = match self.open.entry(seg.key) {
            Entry::Occupied(entry) => {
                let entry = entry.into_mut();
                if starts_new_connection(entry, seg) {
                    self.streams += 1;
                    let old = std::mem::replace(entry, Connection::new(self.streams - 1, seg));
                    self.ready.push(old);
                }
                entry
            }
            Entry::Vacant(entry) => {
                self.streams += 1;
                entry.insert(Connection::new(self.streams - 1, seg))
            }
        };
        let was_finished = conn.is_finished();
        conn.update(seg, payload);
        if !was_finished && conn.is_finished() {
            self.closing.push_back((seg.ts, seg.key, conn.stream));
        }
    }

    /// Hands out the connections that closed more than `LINGER` ago (in capture time) or were
    /// replaced by a new connection on the same 4-tuple.
    pub fn drain_closed(&mut self) -> impl Iterator<Item = Connection> + '_ {
        while let Some(&(closed, key, stream)) = self.closing.front() {
            if self.now.0.saturating_sub(closed.0) < LINGER.0 {
                break;
            }
            self.closing.pop_front();
            let lingering = self
                .open
                .get(&key)
                .is_some_and(|c| c.stream == stream && c.is_finished());
            if lingering && let Some(conn) = self.open.remove(&key) {
                self.ready.push(conn);
            }
        }
        self.ready.drain(..)
    }

    /// Connections open (or lingering) now.
    pub fn open_connections(&self) -> usize {
        self.open.len()
    }

    /// Ends tracking; returns every connection not yet handed out, in stream order.
    pub fn finish(mut self) -> Vec<Connection> {
        let mut all = std::mem::take(&mut self.ready);
        all.extend(self.open.into_values());
        all.sort_by_key(|c| c.stream);
        all
    }
}

/// A new SYN on a 4-tuple whose connection has ended, or with another ISN, is a new connection
/// (ports cycle through short connections).
fn starts_new_connection(conn: &Connection, seg: &Segment) -> bool {
    let f = seg.flags;
    let other_isn = conn
        .half(conn.side_of(seg))
        .isn()
        .is_some_and(|isn| isn != SeqNumber(seg.seq));
    f.syn && !f.ack && (conn.is_finished() || !conn.syn_seen || other_isn)
}
