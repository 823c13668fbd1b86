//! Track layer: TLS records opened with the secrets of a key log. Each direction is put back in
//! order and cut into whole records; the hellos give the client random (the key log's key), the
//! version and the cipher suite. TLS 1.3 (RFC 8446 §5.2, §7.3): every encrypted record is opened
//! with the key it decrypts under — 0-RTT, handshake, then the first application traffic keys,
//! tried in that order, each from sequence number 0, as the AEAD tag proves. TLS 1.2's AEAD
//! suites (`tls12_keys`): every record after the direction's ChangeCipherSpec, numbered from 0.
//! The application data inside is handed on in order.
//!
//! Works on `Segment` and its captured payload alone; must not import `pcap`, `etherparse`,
//! analysis or report code.

use std::sync::Arc;

use ring::aead::{
    AES_128_GCM, AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey,
};
use ring::hkdf::{HKDF_SHA256, HKDF_SHA384, Prk};

use super::hello::{ClientHello, ServerHello};
use super::record::{APPLICATION_DATA, CHANGE_CIPHER_SPEC, CLIENT_HELLO, HANDSHAKE, SERVER_HELLO};
use super::tls12_keys::{WriteKeys, write_keys};
use crate::capture::segment::Segment;
use crate::timeline::Ts;
use crate::track::byte_stream::{ByteStream, Piece};
use crate::track::keylog::{ClientRandom, KeyLog, SecretLabel};
use crate::track::quic::{expand_label, nonce_for};
use crate::track::seq::SeqNumber;
use crate::track::side::Side;

/// TLS_AES_128_GCM_SHA256.
const AES_128_GCM_SHA256: u16 = 0x1301;
/// TLS_AES_256_GCM_SHA384.
const AES_256_GCM_SHA384: u16 = 0x1302;
/// TLS_CHACHA20_POLY1305_SHA256.
const CHACHA20_POLY1305_SHA256: u16 = 0x1303;

/// A record header's length.
const HEADER_LEN: usize = 5;
/// The largest record: a header and 2¹⁴ + 256 bytes of ciphertext (RFC 8446 §5.2).
const MAX_RECORD: usize = HEADER_LEN + (1 << 14) + 256;
/// The hello bytes kept for reading, at most.
const MAX_HELLO: usize = 1 << 16;

/// The records' content handed on, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::track) enum Plain<'a> {
    /// Application data.
    Data(&'a [u8]),
    /// Bytes were lost or a record did not open: nothing more follows in this direction.
    Lost,
}

/// Encrypted records held until the keys are known (0-RTT data sent before the ServerHello),
/// at most this many bytes.
const MAX_EARLY: usize = 1 << 18;

/// What the key log did for a TLS connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decryption {
    /// Its hellos were not read (yet): no client random or cipher suite.
    NoHello,
    /// The key log holds no secret of its version for its client random.
    NoSecrets,
    /// A cipher suite other than TLS 1.3's three and TLS 1.2's AEAD ones.
    UnknownSuite(u16),
    /// Decrypted: records opened in each direction, and those that would not open (with none
    /// of the keys the log gives; e.g. after a KeyUpdate) or were cut off.
    Decrypted {
        /// Records opened.
        opened: u64,
        /// Records that did not open, or could not be read whole.
        failed: u64,
    },
}

/// A TLS 1.3 cipher suite's AEAD and hash.
#[derive(Debug, Clone, Copy)]
struct Suite {
    id: u16,
}

impl Suite {
    fn of(id: u16) -> Option<Suite> {
        matches!(
            id,
            AES_128_GCM_SHA256 | AES_256_GCM_SHA384 | CHACHA20_POLY1305_SHA256
        )
        .then_some(Suite { id })
    }

    /// The record key and IV a traffic secret gives (RFC 8446 §7.3).
    fn keys(self, secret: &[u8]) -> Option<RecordKey> {
        let (hash, aead) = match self.id {
            AES_128_GCM_SHA256 => (HKDF_SHA256, &AES_128_GCM),
            AES_256_GCM_SHA384 => (HKDF_SHA384, &AES_256_GCM),
            _ => (HKDF_SHA256, &CHACHA20_POLY1305),
        };
        if secret.len() != hash.hmac_algorithm().digest_algorithm().output_len() {
            return None;
        }
        let prk = Prk::new_less_safe(hash, secret);
        let key = match aead.key_len() {
            16 => UnboundKey::new(aead, &expand_label::<16>(&prk, b"key")),
            _ => UnboundKey::new(aead, &expand_label::<32>(&prk, b"key")),
        };
        // RFC 8446 §7.2: application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N,
        // "traffic upd", "", Hash.length).
        let next = match secret.len() {
            32 => expand_label::<32>(&prk, b"traffic upd").to_vec(),
            _ => expand_label::<48>(&prk, b"traffic upd").to_vec(),
        };
        Some(RecordKey {
            aead: LessSafeKey::new(key.ok()?),
            iv: expand_label(&prk, b"iv"),
            protection: Protection::Tls13,
            update: Some((self, next)),
        })
    }
}

/// How a record is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protection {
    /// TLS 1.3: the IV XOR the sequence number; the header as additional data; the content
    /// type inside, after the content and before the padding.
    Tls13,
    /// TLS 1.2 AES-GCM (RFC 5288): a 4-byte implicit nonce and an 8-byte explicit one at the
    /// body's start.
    Tls12Gcm,
    /// TLS 1.2 ChaCha20-Poly1305 (RFC 7905): the IV XOR the sequence number.
    Tls12Chacha,
}

/// One traffic secret's (or TLS 1.2 write key's) record protection.
struct RecordKey {
    aead: LessSafeKey,
    iv: [u8; 12],
    protection: Protection,
    /// TLS 1.3: the suite and the next traffic secret, for the keys a KeyUpdate moves to.
    update: Option<(Suite, Vec<u8>)>,
}

impl std::fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordKey")
    }
}

impl RecordKey {
    /// A TLS 1.2 write key.
    fn tls12(keys: &WriteKeys) -> Option<RecordKey> {
        let mut iv = [0; 12];
        iv[..keys.iv.len()].copy_from_slice(&keys.iv);
        Some(RecordKey {
            aead: LessSafeKey::new(UnboundKey::new(keys.aead, &keys.key).ok()?),
            iv,
            update: None,
            protection: if keys.iv.len() == 12 {
                Protection::Tls12Chacha
            } else {
                Protection::Tls12Gcm
            },
        })
    }

    /// Opens record `seq` (header, then ciphertext and tag) in place; its content type (TLS
    /// 1.3's inner one) and the content, padding stripped (RFC 8446 §5.4).
    fn open<'a>(&self, seq: u64, record: &'a mut [u8]) -> Option<(u8, &'a [u8])> {
        if self.protection != Protection::Tls13 {
            return self.open_tls12(seq, record);
        }
        let nonce = nonce_for(self.iv, seq);
        let (header, body) = record.split_at_mut(HEADER_LEN);
        let plain = self
            .aead
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&*header),
                body,
            )
            .ok()?;
        let end = plain.iter().rposition(|&b| b != 0)?;
        Some((plain[end], &plain[..end]))
    }

    /// Opens a TLS 1.2 record: the additional data is the sequence number, the header's type
    /// and version, and the plaintext's length (RFC 5246 §6.2.3.3).
    fn open_tls12<'a>(&self, seq: u64, record: &'a mut [u8]) -> Option<(u8, &'a [u8])> {
        let (header, body) = record.split_at_mut(HEADER_LEN);
        let mut nonce = self.iv;
        let ciphertext = match self.protection {
            Protection::Tls12Gcm => {
                let (explicit, rest) = body.split_at_mut_checked(8)?;
                nonce[4..].copy_from_slice(explicit);
                rest
            }
            _ => {
                nonce = nonce_for(self.iv, seq);
                body
            }
        };
        let plain_len = ciphertext
            .len()
            .checked_sub(self.aead.algorithm().tag_len())?;
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&seq.to_be_bytes());
        aad[8..11].copy_from_slice(&header[..3]);
        aad[11..].copy_from_slice(&(plain_len as u16).to_be_bytes());
        let plain = self
            .aead
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                ciphertext,
            )
            .ok()?;
        Some((header[0], plain))
    }
}

/// One direction: its bytes in order, cut into records and opened.
#[derive(Debug, Default, Clone)]
struct DirectionReader {
    stream: ByteStream,
    records: Records,
}

impl DirectionReader {
    fn stop(&mut self) {
        self.records.stop();
        self.stream.release();
    }
}

/// One direction's records, gathered whole and opened.
#[derive(Debug, Default, Clone)]
struct Records {
    /// Bytes of the record being gathered.
    buffer: Vec<u8>,
    /// Plaintext handshake bytes, until the hello is read.
    hello: Vec<u8>,
    hello_read: bool,
    /// The keys this direction's records may be under, in the order they come.
    keys: Vec<Arc<RecordKey>>,
    /// The key in use, and the sequence number of its next record.
    current: usize,
    seq: u64,
    /// TLS 1.2: a ChangeCipherSpec was sent; every record after it is encrypted.
    changed_cipher: bool,
    /// Encrypted records that came before the keys (TLS 1.3's early data), in order.
    early: Vec<Vec<u8>>,
    early_bytes: usize,
    /// Nothing more is read: bytes were lost, or the records stopped making sense.
    stopped: bool,
    /// Records that opened, and those that did not.
    opened: u64,
    failed: u64,
}

/// What a direction found, for the connection.
enum Found {
    ClientHello(ClientHello),
    ServerHello(ServerHello),
}

impl Records {
    /// Reads `bytes`, the next of the direction: hands a hello to `found`, which answers with
    /// the keys of this direction's records if it has them, and application data to `plain`.
    fn bytes(
        &mut self,
        bytes: &[u8],
        found: &mut impl FnMut(Found) -> Vec<Arc<RecordKey>>,
        plain: &mut impl FnMut(Plain<'_>),
    ) {
        if !self.early.is_empty() && !self.keys.is_empty() {
            for mut record in std::mem::take(&mut self.early) {
                self.open(&mut record, plain);
            }
            self.early_bytes = 0;
        }
        self.buffer.extend_from_slice(bytes);
        let mut at = 0;
        // Bounded: each pass consumes one whole record or stops.
        while !self.stopped && self.buffer.len() - at >= HEADER_LEN {
            let header = &self.buffer[at..at + HEADER_LEN];
            let len = HEADER_LEN + usize::from(u16::from_be_bytes([header[3], header[4]]));
            if header[1] != 3 || len > MAX_RECORD {
                self.lose(plain);
                break;
            }
            if self.buffer.len() - at < len {
                break;
            }
            let (content_type, record) = (header[0], at..at + len);
            at += len;
            let tls12 = self
                .keys
                .first()
                .is_some_and(|k| k.protection != Protection::Tls13);
            match content_type {
                CHANGE_CIPHER_SPEC => self.changed_cipher = true,
                _ if tls12 && self.changed_cipher => {
                    let mut record = self.buffer[record].to_vec();
                    self.open_tls12(&mut record, plain);
                }
                HANDSHAKE if !self.hello_read => {
                    let body = &self.buffer[record.start + HEADER_LEN..record.end];
                    self.hello.extend_from_slice(body);
                    self.read_hello(found);
                }
                APPLICATION_DATA if !self.keys.is_empty() => {
                    let mut record = self.buffer[record].to_vec();
                    self.open(&mut record, plain);
                }
                APPLICATION_DATA if self.hello_read => {
                    self.early_bytes += record.len();
                    if self.early_bytes > MAX_EARLY {
                        self.lose(plain);
                    } else {
                        self.early.push(self.buffer[record].to_vec());
                    }
                }
                _ => {}
            }
        }
        self.buffer.drain(..at);
    }

    /// Reads the first handshake message once it is whole.
    fn read_hello(&mut self, found: &mut impl FnMut(Found) -> Vec<Arc<RecordKey>>) {
        let [msg_type, a, b, c, ..] = self.hello[..] else {
            return;
        };
        let len = 4 + (usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c));
        if len > MAX_HELLO {
            self.hello_read = true;
            self.hello = Vec::new();
            return;
        }
        if self.hello.len() < len {
            return;
        }
        let body = &self.hello[4..len];
        match msg_type {
            CLIENT_HELLO => {
                if let Some(hello) = ClientHello::parse(body) {
                    self.keys = found(Found::ClientHello(hello));
                }
            }
            SERVER_HELLO => {
                if let Some(hello) = ServerHello::parse(body) {
                    self.keys = found(Found::ServerHello(hello));
                    // A HelloRetryRequest is followed by the real ServerHello.
                    if hello.retry_request {
                        self.hello.drain(..len);
                        return;
                    }
                }
            }
            _ => {}
        }
        self.hello_read = true;
        self.hello = Vec::new();
    }

    /// Opens an encrypted record with the key in use, or else with a later one from its first
    /// sequence number (the sender moved on to it): the next of the log's, or once the
    /// application traffic keys are in use, those a KeyUpdate gives (RFC 8446 §4.6.3).
    fn open(&mut self, record: &mut [u8], plain: &mut impl FnMut(Plain<'_>)) {
        if self.stopped {
            return;
        }
        let copy = record.to_vec();
        // Bounded: a second pass only after a KeyUpdate's keys were added.
        for pass in 0..2 {
            let tries = std::iter::once((self.current, self.seq))
                .chain((self.current + 1..self.keys.len()).map(|k| (k, 0)));
            for (k, seq) in tries {
                record.copy_from_slice(&copy);
                if let Some((content_type, content)) = self.keys[k].open(seq, record) {
                    self.current = k;
                    self.seq = seq + 1;
                    self.opened += 1;
                    if content_type == APPLICATION_DATA {
                        plain(Plain::Data(content));
                    }
                    return;
                }
            }
            let last = self.keys.len() - 1;
            let updated = (pass == 0 && self.current == last && last > 0)
                .then(|| self.keys[last].update.as_ref())
                .flatten()
                .and_then(|(suite, next)| suite.keys(next));
            match updated {
                Some(updated) => self.keys.push(Arc::new(updated)),
                None => break,
            }
        }
        self.lose(plain);
    }

    /// A record did not open or the bytes stopped making sense: the direction is read no
    /// further, and the readers are told.
    fn lose(&mut self, plain: &mut impl FnMut(Plain<'_>)) {
        self.failed += 1;
        self.stopped = true;
        plain(Plain::Lost);
    }

    /// Opens a TLS 1.2 record with the direction's one key: every record after
    /// ChangeCipherSpec takes the next sequence number.
    fn open_tls12(&mut self, record: &mut [u8], plain: &mut impl FnMut(Plain<'_>)) {
        let seq = self.seq;
        self.seq += 1;
        match self.keys[0].open(seq, record) {
            Some((content_type, content)) => {
                self.opened += 1;
                if content_type == APPLICATION_DATA {
                    plain(Plain::Data(content));
                }
            }
            None => self.lose(plain),
        }
    }

    fn stop(&mut self) {
        self.stopped = true;
        self.buffer = Vec::new();
        self.early = Vec::new();
        self.hello = Vec::new();
    }
}

/// A TLS connection's records opened with the key log's secrets.
#[derive(Debug, Clone)]
pub(in crate::track) struct TlsDecryptor {
    keylog: Arc<KeyLog>,
    client: DirectionReader,
    server: DirectionReader,
    random: Option<ClientRandom>,
    outcome: Decryption,
}

impl TlsDecryptor {
    /// A decryptor for a connection, from its first segment on (its SYN, when captured).
    pub(in crate::track) fn new(keylog: Arc<KeyLog>) -> TlsDecryptor {
        TlsDecryptor {
            keylog,
            client: DirectionReader::default(),
            server: DirectionReader::default(),
            random: None,
            outcome: Decryption::NoHello,
        }
    }

    /// What the key log did for the connection.
    pub(in crate::track) fn outcome(&self) -> Decryption {
        match self.outcome {
            Decryption::Decrypted { .. } => Decryption::Decrypted {
                opened: self.client.records.opened + self.server.records.opened,
                failed: self.client.records.failed + self.server.records.failed,
            },
            other => other,
        }
    }

    /// Adds a segment `side` sent, with its captured payload; hands the application data it
    /// completes to `plain`, in order, with the segment's time.
    pub(in crate::track) fn push(
        &mut self,
        side: Side,
        seg: &Segment,
        payload: &[u8],
        plain: &mut impl FnMut(Ts, Plain<'_>),
    ) {
        let Self {
            keylog,
            client,
            server,
            random,
            outcome,
        } = self;
        let (mine, peer) = side.mine_and_peer(client, server);
        if seg.flags.syn {
            mine.stream.start_at(SeqNumber(seg.seq) + 1u32);
        }
        if mine.records.stopped {
            return;
        }
        let data_seq = SeqNumber(seg.seq) + u32::from(seg.flags.syn);
        let records = &mut mine.records;
        let mut cut = false;
        mine.stream.push(
            data_seq,
            seg.ts,
            payload,
            seg.payload_len,
            &mut |ts, piece| match piece {
                Piece::Bytes { bytes, .. } if !cut => records.bytes(
                    bytes,
                    &mut |found| match found {
                        Found::ClientHello(h) => {
                            *random = Some(h.random);
                            Vec::new()
                        }
                        Found::ServerHello(h) if !h.retry_request => {
                            let (opened, keys) = server_keys(keylog, *random, &h);
                            *outcome = opened;
                            peer.records.keys = keys.client;
                            keys.server
                        }
                        Found::ServerHello(_) => Vec::new(),
                    },
                    &mut |content| plain(ts, content),
                ),
                Piece::Bytes { .. } => {}
                Piece::Missing(_) => cut = true,
            },
        );
        if (cut || mine.stream.has_gap()) && !mine.records.stopped {
            mine.records.lose(&mut |lost| plain(seg.ts, lost));
        }
        if mine.records.stopped {
            mine.stop();
        }
        if !matches!(outcome, Decryption::NoHello | Decryption::Decrypted { .. }) {
            mine.stop();
            peer.stop();
        }
    }
}

/// Both directions' record keys.
#[derive(Debug, Default)]
struct ConnectionKeys {
    client: Vec<Arc<RecordKey>>,
    server: Vec<Arc<RecordKey>>,
}

/// The keys the key log gives a connection whose ClientHello carried `random`, with `hello` its
/// ServerHello, and what that means for its decryption.
fn server_keys(
    keylog: &KeyLog,
    random: Option<ClientRandom>,
    hello: &ServerHello,
) -> (Decryption, ConnectionKeys) {
    let none = ConnectionKeys::default();
    let Some(random) = random else {
        return (Decryption::NoHello, none);
    };
    let secret = |label| keylog.secret(&random, label);
    let suite = hello.cipher_suite;
    let decrypted = Decryption::Decrypted {
        opened: 0,
        failed: 0,
    };
    if hello.version < 0x0304 {
        let Some(master) = secret(SecretLabel::MasterSecret) else {
            return (Decryption::NoSecrets, none);
        };
        let Some((client, server)) = write_keys(master, suite, &random, &hello.random) else {
            return (Decryption::UnknownSuite(suite), none);
        };
        let key = |keys: &WriteKeys| RecordKey::tls12(keys).map(Arc::new).into_iter().collect();
        let keys = ConnectionKeys {
            client: key(&client),
            server: key(&server),
        };
        return (decrypted, keys);
    }
    if secret(SecretLabel::ClientHandshakeTraffic).is_none() {
        return (Decryption::NoSecrets, none);
    }
    let Some(suite) = Suite::of(suite) else {
        return (Decryption::UnknownSuite(suite), none);
    };
    let keys = |labels: &[SecretLabel]| -> Vec<Arc<RecordKey>> {
        labels
            .iter()
            .filter_map(|&label| suite.keys(secret(label)?).map(Arc::new))
            .collect()
    };
    let keys = ConnectionKeys {
        client: keys(&[
            SecretLabel::ClientEarlyTraffic,
            SecretLabel::ClientHandshakeTraffic,
            SecretLabel::ClientTraffic0,
        ]),
        server: keys(&[
            SecretLabel::ServerHandshakeTraffic,
            SecretLabel::ServerTraffic0,
        ]),
    };
    (decrypted, keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS 1.3 record sealed with `key` as record `seq`: `content`, then its inner type and
    /// `padding` zeros (RFC 8446 §5.2).
    fn seal(
        key: &RecordKey,
        seq: u64,
        content_type: u8,
        content: &[u8],
        padding: usize,
    ) -> Vec<u8> {
        let mut body = content.to_vec();
        body.push(content_type);
        body.resize(body.len() + padding, 0);
        let len = (body.len() + 16) as u16;
        let header = [APPLICATION_DATA, 3, 3, (len >> 8) as u8, len as u8];
        let nonce = nonce_for(key.iv, seq);
        key.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut body,
            )
            .unwrap();
        let mut record = header.to_vec();
        record.extend(body);
        record
    }

    /// Feeds `bytes` to `records`, returning what it handed on, "lost" for a loss.
    fn read(records: &mut Records, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        records.bytes(bytes, &mut |_| Vec::new(), &mut |plain| {
            out.push(match plain {
                Plain::Data(d) => String::from_utf8_lossy(d).into_owned(),
                Plain::Lost => "lost".to_owned(),
            })
        });
        out
    }

    #[test]
    fn records_open_under_each_key_in_turn_and_after_a_key_update_without_their_padding() {
        let suite = Suite::of(AES_128_GCM_SHA256).unwrap();
        let handshake = suite.keys(&[1; 32]).unwrap();
        let application = suite.keys(&[2; 32]).unwrap();
        let mut bytes = seal(&handshake, 0, HANDSHAKE, b"finished", 0);
        bytes.extend(seal(&application, 0, APPLICATION_DATA, b"GET", 7));
        bytes.extend(seal(&application, 1, APPLICATION_DATA, b" /", 0));
        // A KeyUpdate: the next records are under the keys of the next traffic secret, from 0.
        let (_, next) = application.update.clone().unwrap();
        let updated = suite.keys(&next).unwrap();
        bytes.extend(seal(&updated, 0, APPLICATION_DATA, b"a", 0));
        bytes.extend(seal(&updated, 1, APPLICATION_DATA, b"b", 3));
        let mut records = Records {
            hello_read: true,
            keys: vec![Arc::new(handshake), Arc::new(application)],
            ..Records::default()
        };
        // Cut anywhere: records are gathered whole.
        let (a, b) = bytes.split_at(30);
        let mut got = read(&mut records, a);
        got.extend(read(&mut records, b));
        assert_eq!(got, ["GET", " /", "a", "b"]);
        assert_eq!((records.opened, records.failed), (5, 0));
    }

    #[test]
    fn early_data_waits_for_the_keys_and_a_record_that_does_not_open_ends_the_reading() {
        let suite = Suite::of(CHACHA20_POLY1305_SHA256).unwrap();
        let early = suite.keys(&[3; 32]).unwrap();
        let other = suite.keys(&[4; 32]).unwrap();
        let mut records = Records {
            hello_read: true,
            ..Records::default()
        };
        assert!(
            read(
                &mut records,
                &seal(&early, 0, APPLICATION_DATA, b"0-RTT", 0)
            )
            .is_empty()
        );
        records.keys = vec![Arc::new(early)];
        let wrong = seal(&other, 1, APPLICATION_DATA, b"x", 0);
        assert_eq!(read(&mut records, &wrong), ["0-RTT", "lost"]);
        assert!(records.stopped);
    }
}
