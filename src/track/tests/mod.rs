//! Tests of the tracker on segments built by hand, grouped by phase (smoltcp's style); `Wire` builds
//! the segments of one conversation.

use std::net::SocketAddr;

use super::{Connection, Tracker};
use crate::capture::segment::{FlowKey, Segment, TcpFlags};
use crate::timeline::Ts;

pub(crate) mod conversation;
mod lifecycle;
mod retransmissions;
mod rounds;

const CLIENT: &str = "127.0.0.1:40000";
const SERVER: &str = "127.0.0.1:8080";

#[derive(Default)]
struct SynOptions {
    mss: Option<u16>,
    window_scale: Option<u8>,
}

struct Wire {
    t: i64,
    window: u16,
    options: SynOptions,
    segs: Vec<Segment>,
    client: SocketAddr,
    server: SocketAddr,
}

fn flags(s: &str) -> TcpFlags {
    TcpFlags {
        syn: s.contains('S'),
        ack: s.contains('A'),
        fin: s.contains('F'),
        rst: s.contains('R'),
        psh: s.contains('P'),
    }
}

impl Wire {
    fn new() -> Wire {
        Wire::with(CLIENT)
    }
    fn with(client: &str) -> Wire {
        Wire {
            t: 1_000_000,
            window: 1000,
            options: SynOptions::default(),
            segs: Vec::new(),
            client: client.parse().unwrap(),
            server: SERVER.parse().unwrap(),
        }
    }
    fn send(&mut self, from_client: bool, f: &str, seq: u32, ack: u32, len: u32) -> &mut Wire {
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let (key, dir) = FlowKey::of(src, dst);
        self.t += 1_000;
        self.segs.push(Segment {
            ts: Ts(self.t),
            key,
            dir,
            seq,
            ack,
            flags: flags(f),
            payload_len: len,
            window: self.window,
            wire_len: 66 + len,
            http: None,
            mss: self.options.mss,
            window_scale: self.options.window_scale,
        });
        self.options = SynOptions::default();
        self
    }
    /// The window field of the segments that follow.
    fn window(&mut self, window: u16) -> &mut Wire {
        self.window = window;
        self
    }
    /// MSS and window scale options on the next segment.
    fn options(&mut self, mss: u16, window_scale: Option<u8>) -> &mut Wire {
        self.options = SynOptions {
            mss: Some(mss),
            window_scale,
        };
        self
    }
    fn pause(&mut self, us: i64) -> &mut Wire {
        self.t += us * 1_000;
        self
    }
    fn c(&mut self, f: &str, seq: u32, ack: u32, len: u32) -> &mut Wire {
        self.send(true, f, seq, ack, len)
    }
    fn s(&mut self, f: &str, seq: u32, ack: u32, len: u32) -> &mut Wire {
        self.send(false, f, seq, ack, len)
    }
    /// SYN, SYN-ACK, ACK; client ISN 100, server ISN 500.
    fn handshake(&mut self) -> &mut Wire {
        self.c("S", 100, 0, 0)
            .s("SA", 500, 101, 0)
            .c("A", 101, 501, 0)
    }
    fn track(&self) -> Vec<Connection> {
        let mut tracker = Tracker::new();
        for seg in &self.segs {
            tracker.push(seg);
        }
        tracker.finish()
    }
}
