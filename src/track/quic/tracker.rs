//! Track layer: UDP datagrams → QUIC connections, grouped as Wireshark numbers them
//! (`quic.connection.number`): a client Initial with a Destination Connection ID never seen opens
//! a connection; every other packet joins the connection one of whose IDs its Destination
//! Connection ID is (a short header's by prefix, its length not being on the wire), else the one
//! last seen on its UDP 4-tuple. That last rule goes beyond tshark: a short header sent to a
//! connection ID issued in an encrypted NEW_CONNECTION_ID frame gets no `quic.connection.number`
//! there, and is counted here as its 4-tuple's 1-RTT packet.
//!
//! Works on `Datagram` and its captured payload alone; must not import `pcap`, `etherparse`,
//! analysis or report code.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::connection::QuicConnection;
use super::crypto::{CryptoStream, HandshakeMessage, crypto_frames};
use super::keys::InitialKeys;
use super::one_rtt::{OneRttDecryption, OneRttReading};
use super::packet::{Coalesced, ConnectionId, MAX_CID_LEN, Packet, PacketType, starts_long_header};
use crate::capture::segment::{Datagram, FlowKey};
use crate::timeline::Ts;
use crate::track::keylog::KeyLog;
use crate::track::side::Side;
use crate::track::tls::hello::{ClientHello, ServerHello};
use crate::track::tls::{CLIENT_HELLO, ProtocolVersion, SERVER_HELLO};

/// Everything a capture's UDP datagrams showed of QUIC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuicCapture {
    /// The connections, by number.
    pub connections: Vec<QuicConnection>,
    /// Datagrams read as QUIC (those of connections, and the two kinds below).
    pub datagrams: u64,
    /// Datagrams whose first packet has a long header of a version synack reads but belongs to
    /// no connection seen from its client's first Initial (the capture began later).
    pub unattributed: u64,
    /// Datagrams whose first packet starts like a version 1 or 2 long header but does not hold
    /// together, on no known connection.
    pub malformed: u64,
}

/// What is read of a connection while its hellos are awaited; dropped once both are read.
#[derive(Debug)]
struct HelloReading {
    /// The Initial keys, and the client Destination Connection ID they derive from (a Retry
    /// changes it).
    keys: Option<(ConnectionId, InitialKeys)>,
    /// The largest Initial packet number each side sent: client, server.
    largest: [Option<u64>; 2],
    /// Each side's CRYPTO bytes: client, server.
    crypto: [CryptoStream; 2],
    /// The ClientHello's random and the ServerHello's cipher suite, for a key log.
    random: Option<[u8; 32]>,
    cipher_suite: Option<u16>,
}

/// A connection being tracked.
#[derive(Debug)]
struct Tracked {
    summary: QuicConnection,
    reading: Option<Box<HelloReading>>,
    /// With a key log: its 1-RTT packets being opened (`None` when the log has no secrets for
    /// it).
    one_rtt: Option<Box<OneRttReading>>,
    /// With a key log: 0-RTT packets that came before the hellos were read, to open once they
    /// are (the packet, where its number starts).
    early: Vec<(Vec<u8>, usize)>,
}

/// 0-RTT packets held for the keys, at most.
const MAX_EARLY_PACKETS: usize = 64;

/// Groups datagrams into QUIC connections.
#[derive(Debug, Default)]
pub struct QuicTracker {
    connections: Vec<Tracked>,
    /// The connection of every non-empty connection ID either side chose, and of each client's
    /// first Destination Connection ID.
    by_cid: FxHashMap<ConnectionId, usize>,
    /// The lengths of those IDs, for matching short headers by prefix.
    cid_lens: Vec<usize>,
    /// The connection last seen on each UDP 4-tuple.
    by_tuple: FxHashMap<FlowKey, usize>,
    datagrams: u64,
    unattributed: u64,
    malformed: u64,
    /// The secrets 1-RTT packets are opened with, when given.
    keylog: Option<Arc<KeyLog>>,
}

fn index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl QuicTracker {
    /// A tracker with no connections.
    pub fn new() -> QuicTracker {
        QuicTracker::default()
    }

    /// A tracker that opens 1-RTT packets with the secrets of `keylog`.
    pub fn with_keylog(keylog: Arc<KeyLog>) -> QuicTracker {
        QuicTracker {
            keylog: Some(keylog),
            ..QuicTracker::default()
        }
    }

    /// Reads one UDP datagram with the payload bytes the capture holds for it; false when it is
    /// not QUIC as far as synack reads it (then it belongs to no connection and is not counted).
    pub fn push(&mut self, datagram: &Datagram, payload: &[u8]) -> bool {
        let wire_len = datagram.payload_len as usize;
        if payload.is_empty() {
            // The snap length left nothing to read: a datagram of its 4-tuple's connection.
            let conn = self.by_tuple.get(&datagram.key).copied();
            if let Some(conn) = conn {
                self.count_datagram(conn, datagram);
            }
            return conn.is_some();
        }
        let mut packets = Coalesced::new(payload, wire_len);
        let first = match packets.next() {
            Some(Ok(Some(packet))) => packet,
            Some(Ok(None)) => return false,
            None | Some(Err(_)) => {
                if let Some(&conn) = self.by_tuple.get(&datagram.key) {
                    self.count_datagram(conn, datagram);
                    self.connections[conn].summary.malformed += 1;
                } else if starts_long_header(payload) {
                    self.datagrams += 1;
                    self.malformed += 1;
                } else {
                    return false;
                }
                return true;
            }
        };
        let Some(conn) = self.connection_of(&first, datagram) else {
            // A short header of no connection seen is not known to be QUIC at all.
            if first.long.is_none() {
                return false;
            }
            self.datagrams += 1;
            self.unattributed += 1;
            return true;
        };
        let side = self.count_datagram(conn, datagram);
        self.read(conn, side, datagram.ts, &first);
        for next in packets {
            match next {
                Ok(Some(packet)) => self.read(conn, side, datagram.ts, &packet),
                Ok(None) | Err(_) => self.connections[conn].summary.malformed += 1,
            }
        }
        true
    }

    /// Counts a datagram of `conn`; returns the side that sent it.
    fn count_datagram(&mut self, conn: usize, datagram: &Datagram) -> Side {
        self.datagrams += 1;
        self.by_tuple.insert(datagram.key, conn);
        let summary = &mut self.connections[conn].summary;
        let side = if datagram.key.source(datagram.dir) == summary.client {
            Side::Client
        } else {
            Side::Server
        };
        let flow = summary.sent_mut(side);
        flow.datagrams += 1;
        flow.bytes += u64::from(datagram.wire_len);
        summary.last_packet = summary.last_packet.max(datagram.ts);
        side
    }

    /// The connection a datagram's first packet belongs to, opened by a client's first Initial.
    fn connection_of(&mut self, packet: &Packet<'_>, datagram: &Datagram) -> Option<usize> {
        let known = match packet.long {
            Some(long) => self.by_cid.get(&long.dcid).copied(),
            None => self.short_header_connection(packet.bytes),
        };
        if known.is_some() {
            return known;
        }
        match packet.long {
            // A server's Initial to a client that chose an empty ID is found by its 4-tuple.
            Some(long) if packet.kind == PacketType::Initial && !long.dcid.is_empty() => {
                let number = self.connections.len();
                let sender = datagram.key.source(datagram.dir);
                let receiver = if sender == datagram.key.a {
                    datagram.key.b
                } else {
                    datagram.key.a
                };
                // A client's Initial opens with the keys of its own Destination Connection ID;
                // a server's, with those of an ID the capture does not hold.
                let server_first = packet.is_whole()
                    && InitialKeys::derive(&long.dcid, long.version).is_some_and(|keys| {
                        keys.open(Side::Client, packet.bytes, packet.pn_offset, None)
                            .is_err()
                    });
                let (client, server, original_dcid) = if server_first {
                    (receiver, sender, None)
                } else {
                    (sender, receiver, Some(long.dcid))
                };
                let summary = QuicConnection::new(
                    number,
                    client,
                    server,
                    long.version,
                    original_dcid,
                    datagram.ts,
                );
                // Without the client's first Initial, no Initial can be opened.
                let reading = original_dcid.map(|_| {
                    Box::new(HelloReading {
                        keys: None,
                        largest: [None; 2],
                        crypto: Default::default(),
                        random: None,
                        cipher_suite: None,
                    })
                });
                self.connections.push(Tracked {
                    summary,
                    reading,
                    one_rtt: None,
                    early: Vec::new(),
                });
                self.register(long.dcid, number);
                Some(number)
            }
            _ => self.by_tuple.get(&datagram.key).copied(),
        }
    }

    /// The connection whose ID a short header's Destination Connection ID starts with.
    fn short_header_connection(&self, bytes: &[u8]) -> Option<usize> {
        let dcid = bytes.get(1..)?;
        self.cid_lens.iter().find_map(|&len| {
            let id = ConnectionId::of(dcid.get(..len)?)?;
            self.by_cid.get(&id).copied()
        })
    }

    /// Files `cid` under `conn` (empty IDs are found by 4-tuple instead).
    fn register(&mut self, cid: ConnectionId, conn: usize) {
        if cid.is_empty() || cid.len() > MAX_CID_LEN {
            return;
        }
        self.by_cid.insert(cid, conn);
        if !self.cid_lens.contains(&cid.len()) {
            self.cid_lens.push(cid.len());
            // Longest first: a longer ID that matches is the more specific one.
            self.cid_lens.sort_unstable_by(|a, b| b.cmp(a));
        }
    }

    /// Counts one packet `side` sent, and reads what it says of the connection.
    fn read(&mut self, conn: usize, side: Side, ts: Ts, packet: &Packet<'_>) {
        let summary = &mut self.connections[conn].summary;
        summary.sent_mut(side).packets.add(packet.kind);
        if side == Side::Client && packet.kind == PacketType::OneRtt {
            summary.first_client_one_rtt.get_or_insert(ts);
        }
        let Some(long) = packet.long else {
            if packet.kind == PacketType::OneRtt {
                self.read_one_rtt(conn, side, packet);
            }
            return;
        };
        // The IDs each side chose: the Source Connection IDs of its long headers (a Retry's is
        // the one the client's next Initial is sent to).
        if packet.kind != PacketType::VersionNegotiation {
            self.register(long.scid, conn);
        }
        match packet.kind {
            PacketType::Initial => self.read_initial(conn, side, ts, packet, long.dcid),
            PacketType::ZeroRtt if side == Side::Client && self.keylog.is_some() => {
                let tracked = &mut self.connections[conn];
                match &mut tracked.one_rtt {
                    Some(one_rtt) => one_rtt.read_early(packet.bytes, packet.pn_offset),
                    None if tracked.reading.is_some()
                        && tracked.early.len() < MAX_EARLY_PACKETS =>
                    {
                        tracked
                            .early
                            .push((packet.bytes.to_vec(), packet.pn_offset));
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }

    /// Opens an Initial packet and reads its CRYPTO frames up to the hellos.
    fn read_initial(
        &mut self,
        conn: usize,
        side: Side,
        ts: Ts,
        packet: &Packet<'_>,
        dcid: ConnectionId,
    ) {
        let Tracked {
            summary, reading, ..
        } = &mut self.connections[conn];
        let Some(reading) = reading else {
            if summary.original_dcid.is_none() {
                summary.unopened_initials += 1;
            }
            return;
        };
        if !packet.is_whole() {
            summary.unopened_initials += 1;
            return;
        }
        // The client's Initials are protected with keys of their own Destination Connection
        // ID (a Retry changes it), the server's with those of the client's latest.
        let stale = match &reading.keys {
            Some((from, _)) => side == Side::Client && *from != dcid,
            None => true,
        };
        if stale {
            let from = match (side, summary.original_dcid) {
                (Side::Client, _) => Some(dcid),
                (Side::Server, original) => original,
            };
            reading.keys = from.and_then(|from| {
                InitialKeys::derive(&from, summary.version).map(|keys| (from, keys))
            });
        }
        let Some((_, keys)) = &reading.keys else {
            summary.unopened_initials += 1;
            return;
        };
        let i = index(side);
        let Ok((plain, pn)) = keys.open(side, packet.bytes, packet.pn_offset, reading.largest[i])
        else {
            summary.unopened_initials += 1;
            return;
        };
        reading.largest[i] = Some(reading.largest[i].map_or(pn, |l| l.max(pn)));
        let mut messages = Vec::new();
        let stream = &mut reading.crypto[i];
        let frames = crypto_frames(&plain, |offset, data| {
            messages.extend(stream.push(offset, data));
        });
        if frames.is_err() {
            summary.malformed += 1;
        }
        for message in messages {
            hello(summary, side, ts, &message);
            match message.msg_type {
                CLIENT_HELLO => {
                    reading.random = ClientHello::parse(&message.body).map(|h| h.random)
                }
                SERVER_HELLO => {
                    reading.cipher_suite = ServerHello::parse(&message.body)
                        .filter(|h| !h.retry_request)
                        .map(|h| h.cipher_suite)
                }
                _ => {}
            }
        }
        let tls = &summary.tls;
        let both_read =
            tls.client_hello.is_some() && (tls.server_hello.is_some() || tls.hello_retry_request);
        if both_read {
            let one_rtt = match (&self.keylog, reading.random, reading.cipher_suite) {
                (Some(keylog), Some(random), Some(suite)) => {
                    OneRttReading::new(keylog, &random, suite, summary.version).map(Box::new)
                }
                _ => None,
            };
            let tracked = &mut self.connections[conn];
            tracked.reading = None;
            tracked.one_rtt = one_rtt;
            let early = std::mem::take(&mut tracked.early);
            if let Some(one_rtt) = &mut tracked.one_rtt {
                for (packet, pn_offset) in early {
                    one_rtt.read_early(&packet, pn_offset);
                }
            }
        }
    }

    /// Opens a 1-RTT packet with the key log's keys, when it has the connection's: its
    /// packet number follows the Destination Connection ID, as long as the one of this
    /// connection's IDs it starts with (zero-length IDs are never registered).
    fn read_one_rtt(&mut self, conn: usize, side: Side, packet: &Packet<'_>) {
        let Some(reading) = &mut self.connections[conn].one_rtt else {
            return;
        };
        let dcid = packet.bytes.get(1..).unwrap_or_default();
        let len = self.cid_lens.iter().copied().find(|&len| {
            let id = dcid.get(..len).and_then(ConnectionId::of);
            id.is_some_and(|id| self.by_cid.get(&id) == Some(&conn))
        });
        reading.read(side, packet.bytes, len);
    }

    /// Ends tracking: the connections by number, and the counts.
    pub fn finish(self) -> QuicCapture {
        QuicCapture {
            connections: self
                .connections
                .into_iter()
                .map(|c| QuicConnection {
                    one_rtt: self.keylog.as_ref().map(|_| match c.one_rtt {
                        Some(reading) => OneRttDecryption::Decrypted(reading.streams().clone()),
                        None => OneRttDecryption::NoSecrets,
                    }),
                    ..c.summary
                })
                .collect(),
            datagrams: self.datagrams,
            unattributed: self.unattributed,
            malformed: self.malformed,
        }
    }
}

/// Reads `side`'s first handshake message into the connection's TLS facts.
fn hello(summary: &mut QuicConnection, side: Side, ts: Ts, message: &HandshakeMessage) {
    let tls = &mut summary.tls;
    match (side, message.msg_type) {
        (Side::Client, CLIENT_HELLO) => {
            let Some(hello) = ClientHello::parse(&message.body) else {
                summary.malformed += 1;
                return;
            };
            tls.client_hello = Some(ts);
            tls.psk_offered = hello.offers_pre_shared_key;
            tls.early_data_offered = hello.offers_early_data;
        }
        (Side::Server, SERVER_HELLO) => {
            let Some(hello) = ServerHello::parse(&message.body) else {
                summary.malformed += 1;
                return;
            };
            tls.version = Some(ProtocolVersion(hello.version));
            if hello.retry_request {
                tls.hello_retry_request = true;
                return;
            }
            tls.server_hello = Some(ts);
            tls.resumed = hello.pre_shared_key;
        }
        _ => {}
    }
}
