//! Track layer: groups segments into connections, as Wireshark groups them into TCP streams, and
//! hands closed ones out so that memory follows the connections open at once.
//!
//! Works on `Segment` alone; must not import `pcap`, `etherparse`, analysis or report code.

use std::collections::VecDeque;
use std::sync::Arc;

use super::connection::Connection;
use super::keylog::KeyLog;
use super::seq::SeqNumber;
use super::tuple_map::TupleMap;
use crate::capture::segment::{FlowKey, Segment};
use crate::timeline::Ts;

/// How long a closed connection is kept for late packets (a retransmitted FIN, the ACK from
/// TIME-WAIT) before it is handed out, in capture time.
pub const LINGER: Ts = Ts(5_000_000_000);

/// Groups segments into connections, as Wireshark groups them into TCP streams. Memory follows the
/// connections open at once: closed ones are handed out by `drain_closed` after `LINGER`.
///
/// Connections live in slots that are used again once handed out, and are handed out by
/// reference: a connection is written once, where it stays until it is done with, and a
/// connection's struct is never moved or freed on the way (at hundreds of thousands of
/// connections a second, moving them cost more than tracking them).
#[derive(Debug, Default)]
pub struct Tracker {
    /// The slot of the open connection on each 4-tuple: a small map the packets of open
    /// connections find in the cache.
    open: TupleMap<usize>,
    /// The slot of the closed connection kept on each 4-tuple for late packets.
    lingering: TupleMap<usize>,
    /// Connections not yet handed out, and free slots (in `free`) holding old ones.
    slots: Vec<Connection>,
    /// Slots whose connection was handed out.
    free: Vec<usize>,
    /// Connections that closed, in the order they did: (when, its 4-tuple, its stream).
    closing: VecDeque<(Ts, FlowKey, usize)>,
    /// Slots of connections to hand out at the next drain, in the order they became ready.
    ready: Vec<usize>,
    streams: usize,
    now: Ts,
    /// The secrets TLS connections are decrypted with, when given.
    keylog: Option<Arc<KeyLog>>,
}

impl Tracker {
    /// A tracker with no connections.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// A tracker that decrypts TLS connections with the secrets of `keylog`.
    pub fn with_keylog(keylog: Arc<KeyLog>) -> Tracker {
        Tracker {
            keylog: Some(keylog),
            ..Tracker::default()
        }
    }

    /// Adds one segment whose payload bytes were not captured (or are not needed).
    pub fn push(&mut self, seg: &Segment) {
        self.push_with_payload(seg, &[]);
    }

    /// Adds one segment with the payload bytes the capture holds for it (possibly fewer than
    /// `seg.payload_len`): connections that speak TLS read their handshakes from them.
    pub fn push_with_payload(&mut self, seg: &Segment, payload: &[u8]) {
        self.now = self.now.max(seg.ts);
        let slot = match self.open.get(&seg.key) {
            Some(&slot) if !starts_new_connection(&self.slots[slot], seg) => slot,
            Some(&slot) => {
                self.ready.push(slot);
                self.open_new(seg)
            }
            // A lingering connection has ended, so a SYN starts the next one: its slot, likely
            // out of the cache by now, is not read for that.
            None => match self.lingering.get(&seg.key) {
                Some(&slot) if !is_opening_syn(seg) => slot,
                Some(&slot) => {
                    self.lingering.remove(&seg.key);
                    self.ready.push(slot);
                    self.open_new(seg)
                }
                None => self.open_new(seg),
            },
        };
        let conn = &mut self.slots[slot];
        let was_finished = conn.is_finished();
        conn.update(seg, payload);
        if !was_finished && conn.is_finished() {
            self.closing.push_back((seg.ts, seg.key, conn.stream));
            self.open.remove(&seg.key);
            self.lingering.insert(&seg.key, slot);
        }
    }

    /// Starts the next stream's connection with `seg`, open on its 4-tuple; returns its slot.
    fn open_new(&mut self, seg: &Segment) -> usize {
        self.streams += 1;
        let mut conn = Connection::new(self.streams - 1, seg);
        if let Some(keylog) = &self.keylog {
            conn.decrypt_with(Arc::clone(keylog));
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = conn;
                slot
            }
            None => {
                self.slots.push(conn);
                self.slots.len() - 1
            }
        };
        self.open.insert(&seg.key, slot);
        slot
    }

    /// Hands `sink` the connections that closed more than `LINGER` ago (in capture time) or were
    /// replaced by a new connection on the same 4-tuple: the replaced ones first, each group in
    /// the order it became ready.
    pub fn drain_closed(&mut self, mut sink: impl FnMut(&Connection)) {
        while let Some(&(closed, key, stream)) = self.closing.front() {
            if self.now.0.saturating_sub(closed.0) < LINGER.0 {
                break;
            }
            self.closing.pop_front();
            if let Some(&slot) = self.lingering.get(&key)
                && self.slots[slot].stream == stream
            {
                self.lingering.remove(&key);
                self.ready.push(slot);
            }
        }
        fetch(&self.slots, &self.ready);
        for slot in self.ready.drain(..) {
            sink(&self.slots[slot]);
            self.free.push(slot);
        }
    }

    /// Connections open (or lingering) now.
    pub fn open_connections(&self) -> usize {
        self.open.len() + self.lingering.len()
    }

    /// Ends tracking; hands `sink` every connection not yet handed out, in stream order.
    pub fn finish_into(mut self, mut sink: impl FnMut(&Connection)) {
        for batch in self.in_stream_order().chunks(FETCH_BATCH) {
            fetch(&self.slots, batch);
            for &slot in batch {
                sink(&self.slots[slot]);
            }
        }
    }

    /// Ends tracking; returns every connection not yet handed out, in stream order.
    pub fn finish(mut self) -> Vec<Connection> {
        let order = self.in_stream_order();
        let mut slots: Vec<Option<Connection>> = self.slots.into_iter().map(Some).collect();
        order
            .into_iter()
            .filter_map(|slot| slots[slot].take())
            .collect()
    }

    /// The slots of the connections not yet handed out, in stream order.
    fn in_stream_order(&mut self) -> Vec<usize> {
        let mut left: Vec<(usize, usize)> = self
            .ready
            .drain(..)
            .chain(self.open.drain())
            .chain(self.lingering.drain())
            .map(|slot| (self.slots[slot].stream, slot))
            .collect();
        left.sort_unstable();
        left.into_iter().map(|(_, slot)| slot).collect()
    }
}

/// Connections fetched at once when the rest are handed out at the end.
const FETCH_BATCH: usize = 64;

/// Starts fetching the connections in `batch` from memory, all at once: a connection handed out
/// has mostly left the cache since it closed (on a capture of short connections, tens of
/// thousands linger), and its reader would wait for each part in turn.
fn fetch(slots: &[Connection], batch: &[usize]) {
    let sum = batch
        .iter()
        .fold(0u64, |sum, &slot| sum.wrapping_add(slots[slot].fetch()));
    std::hint::black_box(sum);
}

/// A new SYN on a 4-tuple whose connection has ended, or with another ISN, is a new connection
/// (ports cycle through short connections).
fn starts_new_connection(conn: &Connection, seg: &Segment) -> bool {
    let other_isn = || {
        conn.half(conn.side_of(seg))
            .isn()
            .is_some_and(|isn| isn != SeqNumber(seg.seq))
    };
    is_opening_syn(seg) && (conn.is_finished() || !conn.syn_seen || other_isn())
}

/// A SYN without ACK: what opens a connection.
fn is_opening_syn(seg: &Segment) -> bool {
    seg.flags.syn && !seg.flags.ack
}
