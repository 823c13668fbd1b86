//! Track layer: a QUIC connection's 1-RTT packets opened with the traffic secrets of a key log
//! (RFC 9001 §5: "quic key", "quic iv" and "quic hp" from CLIENT_TRAFFIC_SECRET_0 and
//! SERVER_TRAFFIC_SECRET_0, found by the ClientHello's random), its 0-RTT packets with
//! CLIENT_EARLY_TRAFFIC_SECRET's, and the streams their STREAM frames carry (RFC 9000 §19.8):
//! the client's bidirectional ones are HTTP/3's requests (RFC 9114 §6.1).
//!
//! Works on bytes alone; must not import capture, analysis or report code.

use std::collections::BTreeSet;

use super::crypto::{BadFrames, skip_ack};
use super::keys::{DirectionKeys, PacketKey, next_secret};
use super::packet::Cursor;
use crate::track::keylog::{ClientRandom, KeyLog, SecretLabel};
use crate::track::side::Side;

/// What the key log did for a QUIC connection's 1-RTT packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneRttDecryption {
    /// The key log holds no traffic secret for its ClientHello's random (or its hellos were
    /// not read, or it chose a cipher suite other than TLS 1.3's three).
    NoSecrets,
    /// Opened: the streams its packets carried.
    Decrypted(QuicStreams),
}

/// The streams a connection's opened 1-RTT packets carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuicStreams {
    /// Stream ids that carried a STREAM frame.
    ids: BTreeSet<u64>,
    /// 1-RTT and 0-RTT packets opened.
    pub opened: u64,
    /// 1-RTT and 0-RTT packets that did not open (a key update, damaged or cut bytes) or whose frames did
    /// not read.
    pub failed: u64,
}

impl QuicStreams {
    /// Streams that carried a STREAM frame.
    pub fn streams(&self) -> u64 {
        self.ids.len() as u64
    }

    /// Client-initiated bidirectional streams (ids ≡ 0 mod 4): HTTP/3's requests.
    pub fn client_bidirectional(&self) -> u64 {
        self.ids.iter().filter(|&&id| id % 4 == 0).count() as u64
    }
}

/// One direction's 1-RTT keys: the header protection key, and the payload key of the key phase
/// in use with its secret, from which the next phase's derives (RFC 9001 §6).
#[derive(Debug)]
struct DirectionOneRtt {
    keys: DirectionKeys,
    phase: Option<PacketKey>,
    secret: Vec<u8>,
    cipher_suite: u16,
    version: u32,
    largest: Option<u64>,
}

impl DirectionOneRtt {
    fn new(secret: &[u8], cipher_suite: u16, version: u32) -> Option<DirectionOneRtt> {
        Some(DirectionOneRtt {
            keys: DirectionKeys::from_secret(secret, cipher_suite, version)?,
            phase: None,
            secret: secret.to_vec(),
            cipher_suite,
            version,
            largest: None,
        })
    }

    /// Opens a packet with the key phase in use, or else with the next one (the sender updated
    /// its keys), which then is in use.
    fn open(&mut self, packet: &[u8], pn_offset: usize) -> Option<Vec<u8>> {
        let opened = match &self.phase {
            None => self.keys.open(packet, pn_offset, self.largest),
            Some(key) => self.keys.open_with(key, packet, pn_offset, self.largest),
        };
        let (plain, pn) = match opened {
            Ok(opened) => opened,
            Err(_) => {
                let secret = next_secret(&self.secret, self.cipher_suite, self.version)?;
                let key = PacketKey::from_secret(&secret, self.cipher_suite, self.version)?;
                let opened = self.keys.open_with(&key, packet, pn_offset, self.largest);
                let opened = opened.ok()?;
                (self.phase, self.secret) = (Some(key), secret);
                opened
            }
        };
        self.largest = Some(self.largest.map_or(pn, |l| l.max(pn)));
        Some(plain)
    }
}

/// Both directions' 1-RTT keys and what they opened.
#[derive(Debug)]
pub(super) struct OneRttReading {
    sides: [DirectionOneRtt; 2],
    /// The client's 0-RTT keys, when the key log has its early traffic secret.
    early: Option<DirectionKeys>,
    /// The length of the Destination Connection IDs each side's short headers carry, once seen:
    /// a connection ID issued later (in an encrypted NEW_CONNECTION_ID frame) has the same.
    dcid_len: [Option<usize>; 2],
    streams: QuicStreams,
}

impl OneRttReading {
    /// The keys `keylog` gives the connection whose ClientHello carried `random` and whose
    /// ServerHello chose `cipher_suite`, in QUIC `version`.
    pub(super) fn new(
        keylog: &KeyLog,
        random: &ClientRandom,
        cipher_suite: u16,
        version: u32,
    ) -> Option<OneRttReading> {
        let side =
            |label| DirectionOneRtt::new(keylog.secret(random, label)?, cipher_suite, version);
        let early = keylog
            .secret(random, SecretLabel::ClientEarlyTraffic)
            .and_then(|secret| DirectionKeys::from_secret(secret, cipher_suite, version));
        Some(OneRttReading {
            early,
            sides: [
                side(SecretLabel::ClientTraffic0)?,
                side(SecretLabel::ServerTraffic0)?,
            ],
            dcid_len: [None; 2],
            streams: QuicStreams::default(),
        })
    }

    /// Opens a 1-RTT packet `side` sent, whose Destination Connection ID is `dcid_len` bytes
    /// long when it is one the tracker knows, and notes the streams of its STREAM frames.
    pub(super) fn read(&mut self, side: Side, packet: &[u8], dcid_len: Option<usize>) {
        let i = usize::from(side == Side::Server);
        if dcid_len.is_some() {
            self.dcid_len[i] = dcid_len;
        }
        let pn_offset = 1 + self.dcid_len[i].unwrap_or(0);
        let plain = self.sides[i].open(packet, pn_offset);
        self.count_streams(plain);
    }

    /// Opens a 0-RTT packet the client sent, whose packet number starts at `pn_offset` (in the
    /// same number space as its 1-RTT packets), and notes the streams of its STREAM frames.
    pub(super) fn read_early(&mut self, packet: &[u8], pn_offset: usize) {
        let client = &mut self.sides[0];
        let plain = self.early.as_ref().and_then(|keys| {
            let (plain, pn) = keys.open(packet, pn_offset, client.largest).ok()?;
            client.largest = Some(client.largest.map_or(pn, |l| l.max(pn)));
            Some(plain)
        });
        self.count_streams(plain);
    }

    /// Counts an opened packet's streams, or a packet that did not open.
    fn count_streams(&mut self, plain: Option<Vec<u8>>) {
        let Some(plain) = plain else {
            self.streams.failed += 1;
            return;
        };
        self.streams.opened += 1;
        let ids = &mut self.streams.ids;
        if stream_frames(&plain, |id| {
            ids.insert(id);
        })
        .is_err()
        {
            self.streams.failed += 1;
        }
    }

    /// What was read.
    pub(super) fn streams(&self) -> &QuicStreams {
        &self.streams
    }
}

/// Hands `stream` the stream id of every STREAM frame in `plain`, a 1-RTT packet's opened
/// payload, reading past every frame type RFC 9000 §19 and RFC 9221 define.
fn stream_frames(plain: &[u8], mut stream: impl FnMut(u64)) -> Result<(), BadFrames> {
    let mut c = Cursor::new(plain);
    let varints = |c: &mut Cursor<'_>, n: usize| -> Result<(), BadFrames> {
        for _ in 0..n {
            c.varint().ok_or(BadFrames)?;
        }
        Ok(())
    };
    // Bounded: each pass reads at least one byte.
    while c.remaining() > 0 {
        let kind = c.varint().ok_or(BadFrames)?;
        match kind {
            // PADDING, PING, HANDSHAKE_DONE; IMMEDIATE_ACK (the ACK frequency extension).
            0x00 | 0x01 | 0x1e | 0x1f => {}
            0xaf => varints(&mut c, 4)?, // ACK_FREQUENCY
            0x02 | 0x03 => skip_ack(&mut c, kind)?,
            0x04 => varints(&mut c, 3)?, // RESET_STREAM
            0x05 | 0x11 | 0x15 => varints(&mut c, 2)?,
            0x06 => {
                // CRYPTO (post-handshake messages: session tickets).
                c.varint().ok_or(BadFrames)?;
                let len = c.length().ok_or(BadFrames)?;
                c.take(len).ok_or(BadFrames)?;
            }
            0x07 => {
                // NEW_TOKEN.
                let len = c.length().ok_or(BadFrames)?;
                c.take(len).ok_or(BadFrames)?;
            }
            0x08..=0x0f => {
                // STREAM: id, offset (bit 0x04), length (bit 0x02), data.
                let id = c.varint().ok_or(BadFrames)?;
                if kind & 0x04 != 0 {
                    c.varint().ok_or(BadFrames)?;
                }
                let len = if kind & 0x02 != 0 {
                    c.length().ok_or(BadFrames)?
                } else {
                    c.remaining()
                };
                c.take(len).ok_or(BadFrames)?;
                stream(id);
            }
            0x10 | 0x12 | 0x13 | 0x14 | 0x16 | 0x17 | 0x19 => varints(&mut c, 1)?,
            0x18 => {
                // NEW_CONNECTION_ID: sequence, retire prior to, the id, a reset token.
                varints(&mut c, 2)?;
                let len = usize::from(c.u8().ok_or(BadFrames)?);
                c.take(len + 16).ok_or(BadFrames)?;
            }
            0x1a | 0x1b => {
                c.take(8).ok_or(BadFrames)?; // PATH_CHALLENGE, PATH_RESPONSE
            }
            0x1c | 0x1d => {
                // CONNECTION_CLOSE: error code, (transport's) frame type, reason phrase.
                varints(&mut c, if kind == 0x1c { 2 } else { 1 })?;
                let len = c.length().ok_or(BadFrames)?;
                c.take(len).ok_or(BadFrames)?;
            }
            0x30 => {
                // DATAGRAM without a length: the rest of the packet.
                let rest = c.remaining();
                c.take(rest).ok_or(BadFrames)?;
            }
            0x31 => {
                let len = c.length().ok_or(BadFrames)?;
                c.take(len).ok_or(BadFrames)?;
            }
            _ => return Err(BadFrames),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_frames_are_found_among_the_others() {
        let plain = [
            0x02, 0x05, 0x00, 0x00, 0x01, // ACK
            0x0a, 0x04, 0x02, b'h', b'i', // STREAM 4, length 2
            0x01, // PING
            0x0e, 0x08, 0x03, 0x01, b'x', // STREAM 8, offset 3, length 1
            0x10, 0x40, 0x64, // MAX_DATA
            0x09, 0x00, b'r', b'e', b's', b't', // STREAM 0 to the end, FIN
        ];
        let mut ids = Vec::new();
        stream_frames(&plain, |id| ids.push(id)).unwrap();
        assert_eq!(ids, [4, 8, 0]);
        assert_eq!(stream_frames(&[0x40], |_| {}), Err(BadFrames));
        assert_eq!(
            stream_frames(&[0x0a, 0x04, 0x05, b'h'], |_| {}),
            Err(BadFrames)
        );
    }
}
