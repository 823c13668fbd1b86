//! A TCP conversation built byte by byte for the readers of what rides on TCP (TLS, HTTP/2):
//! payload each way in segments that may be split, resent, reordered, cut or lost.

use std::net::SocketAddr;

use crate::capture::segment::{FlowKey, Segment, TcpFlags};
use crate::timeline::Ts;
use crate::track::tls::TlsHandshake;
use crate::track::{Connection, Tracker};

/// A conversation: SYN, SYN-ACK, ACK, then payload each way; every segment 1 ms after the last.
pub(crate) struct Conversation {
    t: i64,
    client: SocketAddr,
    server: SocketAddr,
    /// The next sequence number of each side: client, server.
    next: [u32; 2],
    /// The segments with their captured bytes, in capture order.
    pub segs: Vec<(Segment, Vec<u8>)>,
}

impl Conversation {
    pub(crate) fn new() -> Conversation {
        Conversation::with_syn_data(&[])
    }

    /// A conversation whose SYN carries `data` (TCP Fast Open).
    pub(crate) fn with_syn_data(data: &[u8]) -> Conversation {
        let mut c = Conversation {
            t: 0,
            client: "127.0.0.1:40000".parse().unwrap(),
            server: "127.0.0.1:443".parse().unwrap(),
            next: [100, u32::MAX - 10],
            segs: Vec::new(),
        };
        c.segment(true, true, c.next[0], data, data.len() as u32);
        c.segment(false, true, c.next[1], &[], 0);
        c.next = [c.next[0] + 1 + data.len() as u32, c.next[1].wrapping_add(1)];
        c
    }

    pub(crate) fn segment(
        &mut self,
        from_client: bool,
        syn: bool,
        seq: u32,
        bytes: &[u8],
        len: u32,
    ) {
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let (key, dir) = FlowKey::of(src, dst);
        self.t += 1_000_000;
        let seg = Segment {
            ts: Ts(self.t),
            key,
            dir,
            seq,
            ack: 0,
            flags: TcpFlags {
                syn,
                ack: !(syn && from_client),
                ..TcpFlags::default()
            },
            window: 1000,
            payload_len: len,
            wire_len: 66 + len,
            http: None,
            mss: None,
            window_scale: None,
        };
        self.segs.push((seg, bytes.to_vec()));
    }

    pub(crate) fn side(from_client: bool) -> usize {
        usize::from(!from_client)
    }

    /// Sends `bytes` in one segment, next in sequence.
    pub(crate) fn send(&mut self, from_client: bool, bytes: &[u8]) -> &mut Conversation {
        let i = Self::side(from_client);
        let seq = self.next[i];
        self.segment(from_client, false, seq, bytes, bytes.len() as u32);
        self.next[i] = seq.wrapping_add(bytes.len() as u32);
        self
    }

    /// Sends `bytes` in one segment of which the capture keeps the first `kept`.
    pub(crate) fn send_cut(
        &mut self,
        from_client: bool,
        bytes: &[u8],
        kept: usize,
    ) -> &mut Conversation {
        self.send(from_client, bytes);
        if let Some((_, captured)) = self.segs.last_mut() {
            captured.truncate(kept);
        }
        self
    }

    /// Sends `bytes` in segments of at most `size` bytes.
    pub(crate) fn send_in(
        &mut self,
        from_client: bool,
        bytes: &[u8],
        size: usize,
    ) -> &mut Conversation {
        for chunk in bytes.chunks(size) {
            self.send(from_client, chunk);
        }
        self
    }

    pub(crate) fn c(&mut self, bytes: &[u8]) -> &mut Conversation {
        self.send(true, bytes)
    }

    pub(crate) fn s(&mut self, bytes: &[u8]) -> &mut Conversation {
        self.send(false, bytes)
    }

    /// Sends the last segment again.
    pub(crate) fn resend_last(&mut self) -> &mut Conversation {
        let last = self.segs.last().cloned().unwrap();
        self.resend(&last)
    }

    /// Swaps the last two segments (the later one seen first).
    pub(crate) fn reorder_last_two(&mut self) -> &mut Conversation {
        let n = self.segs.len();
        self.segs.swap(n - 1, n - 2);
        let (a, b) = (self.segs[n - 2].0.ts, self.segs[n - 1].0.ts);
        self.segs[n - 2].0.ts = a.min(b);
        self.segs[n - 1].0.ts = a.max(b);
        self
    }

    /// Drops the last segment from the capture (the sender's bytes stay sent).
    pub(crate) fn lose_last(&mut self) -> &mut Conversation {
        self.segs.pop();
        self
    }

    /// Takes the last segment out of the capture (lost on the way), to come again later.
    pub(crate) fn take_last(&mut self) -> (Segment, Vec<u8>) {
        self.segs.pop().expect("a segment to take")
    }

    /// Sends a taken segment again, now (its resend).
    pub(crate) fn resend(&mut self, taken: &(Segment, Vec<u8>)) -> &mut Conversation {
        self.t += 1_000_000;
        let (seg, bytes) = taken.clone();
        self.segs.push((
            Segment {
                ts: Ts(self.t),
                ..seg
            },
            bytes,
        ));
        self
    }

    /// The time of segment `i`, from 0 (the SYN).
    pub(crate) fn ts(&self, i: usize) -> Ts {
        self.segs[i].0.ts
    }

    pub(crate) fn track(&self) -> Connection {
        let mut tracker = Tracker::new();
        for (seg, bytes) in &self.segs {
            tracker.push_with_payload(seg, bytes);
        }
        let mut conns = tracker.finish();
        assert_eq!(conns.len(), 1);
        conns.remove(0)
    }

    pub(crate) fn tls(&self) -> TlsHandshake {
        self.track()
            .tls()
            .expect("the connection speaks TLS")
            .clone()
    }
}
