//! Track layer: TLS records (RFC 8446 §5.1, RFC 5246 §6.2) and the handshake messages inside
//! plaintext handshake records (RFC 8446 §4), read from one direction's in-order bytes as they
//! come, keeping only the hellos' bodies.
//!
//! Works on bytes alone; must not import capture, analysis or report code.

/// ChangeCipherSpec.
pub const CHANGE_CIPHER_SPEC: u8 = 20;
/// Alert.
pub const ALERT: u8 = 21;
/// Handshake.
pub const HANDSHAKE: u8 = 22;
/// Application data (and, from TLS 1.3 on, every encrypted record).
pub const APPLICATION_DATA: u8 = 23;
/// Heartbeat (RFC 6520).
const HEARTBEAT: u8 = 24;

/// ClientHello.
pub const CLIENT_HELLO: u8 = 1;
/// ServerHello (and HelloRetryRequest, which is a ServerHello with a fixed random).
pub const SERVER_HELLO: u8 = 2;
/// Certificate.
pub const CERTIFICATE: u8 = 11;

/// The largest record body: 2¹⁴ plus TLS 1.2's allowance for compression and encryption.
const MAX_RECORD_BODY: usize = (1 << 14) + 2048;

/// The largest hello body kept for reading; longer ones are counted but not read.
const MAX_HELLO_BODY: usize = 1 << 16;

/// What the reader found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event<'a> {
    /// A record header.
    Record {
        /// Content type (20 to 24).
        content_type: u8,
        /// The record's legacy version field.
        version: u16,
        /// The length of its body (encrypted: plaintext, padding, content type and tag).
        length: usize,
    },
    /// The header of a handshake message in a plaintext handshake record (its body may follow in
    /// later pieces, or be cut off).
    HandshakeStart {
        /// Message type.
        msg_type: u8,
    },
    /// A whole handshake message from a plaintext handshake record.
    Handshake {
        /// Message type.
        msg_type: u8,
        /// The body of a ClientHello or ServerHello (`None` for other types or an oversized
        /// hello).
        body: Option<&'a [u8]>,
    },
}

/// Whether the body of the record just announced holds readable handshake messages; the caller
/// knows (a handshake record after ChangeCipherSpec is encrypted before TLS 1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Body {
    /// Read the handshake messages inside.
    Messages,
    /// Skip it.
    Skip,
}

/// Reads records out of a byte stream fed in pieces of any size.
#[derive(Debug, Clone, Default)]
pub(super) struct RecordReader {
    header: [u8; 5],
    header_len: usize,
    /// Body bytes left in the current record.
    body_left: usize,
    /// The current record's body goes to `messages`.
    read_messages: bool,
    messages: MessageReader,
    /// The bytes stopped looking like TLS records.
    malformed: bool,
    /// Record boundaries were lost and found again at a segment's start: a handshake record's
    /// first byte may now be in the middle of a message, so messages are no longer read.
    resynced: bool,
}

impl RecordReader {
    /// True once the bytes stopped looking like TLS records: nothing more is read.
    pub(super) fn is_malformed(&self) -> bool {
        self.malformed
    }

    /// Reads `bytes`, the next of the stream, telling `on` what it finds; `on` answers each
    /// `Event::Record` with what to do with that record's body.
    pub(super) fn feed(&mut self, mut bytes: &[u8], on: &mut impl FnMut(Event<'_>) -> Body) {
        // Bounded: each pass consumes at least one byte or returns.
        while !bytes.is_empty() && !self.malformed {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                if self.read_messages {
                    self.messages.feed(&bytes[..n], on);
                }
                self.body_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (5 - self.header_len).min(bytes.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
            self.header_len += n;
            bytes = &bytes[n..];
            if self.header_len < 5 {
                return;
            }
            self.header_len = 0;
            let [content_type, major, minor, hi, lo] = self.header;
            let length = usize::from(u16::from_be_bytes([hi, lo]));
            if !(CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&content_type)
                || major != 3
                || length > MAX_RECORD_BODY
            {
                self.malformed = true;
                return;
            }
            let body = on(Event::Record {
                content_type,
                version: u16::from_be_bytes([major, minor]),
                length,
            });
            self.read_messages =
                content_type == HANDSHAKE && body == Body::Messages && !self.resynced;
            self.body_left = length;
        }
    }

    /// Passes over `n` bytes the capture cut off; false when they held something that must be
    /// read (a record header, or part of a hello or of a message header).
    pub(super) fn missing(&mut self, mut n: usize, on: &mut impl FnMut(Event<'_>) -> Body) -> bool {
        // Bounded: each pass consumes bytes or returns.
        while n > 0 {
            if self.body_left == 0 || self.header_len > 0 {
                return false;
            }
            let k = self.body_left.min(n);
            if self.read_messages && !self.messages.skip(k, on) {
                return false;
            }
            self.body_left -= k;
            n -= k;
        }
        true
    }

    /// Starts again at `bytes`, the first of a segment after bytes were lost, if they begin with
    /// what looks like a record header (a record type, version 3.1 to 3.4, a possible length); then
    /// only records are read, not handshake messages.
    pub(super) fn resync(&mut self, bytes: &[u8]) -> bool {
        let header_like = match bytes {
            &[content_type, 3, minor, hi, lo, ..] => {
                (CHANGE_CIPHER_SPEC..=APPLICATION_DATA).contains(&content_type)
                    && (1..=4).contains(&minor)
                    && usize::from(u16::from_be_bytes([hi, lo])) <= MAX_RECORD_BODY
            }
            _ => false,
        };
        if header_like {
            *self = RecordReader {
                resynced: true,
                ..RecordReader::default()
            };
        }
        header_like
    }
}

/// Reads handshake messages (type, 3-byte length, body) out of handshake records' bodies; one
/// message may span records, and one record may hold several.
#[derive(Debug, Clone, Default)]
struct MessageReader {
    header: [u8; 4],
    header_len: usize,
    msg_type: u8,
    body_left: usize,
    /// The body of the current hello, while it is read.
    body: Vec<u8>,
    keep: bool,
}

impl MessageReader {
    /// Passes over `n` missing bytes of a message body that is counted but not kept; false when
    /// they cover a header or a hello's body.
    fn skip(&mut self, n: usize, on: &mut impl FnMut(Event<'_>) -> Body) -> bool {
        if self.header_len < 4 || self.keep || n > self.body_left {
            return false;
        }
        self.body_left -= n;
        if self.body_left == 0 {
            self.header_len = 0;
            on(Event::Handshake {
                msg_type: self.msg_type,
                body: None,
            });
        }
        true
    }

    fn feed(&mut self, mut bytes: &[u8], on: &mut impl FnMut(Event<'_>) -> Body) {
        // Bounded: each pass consumes at least one byte or returns.
        while !bytes.is_empty() {
            if self.header_len < 4 {
                let n = (4 - self.header_len).min(bytes.len());
                self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
                self.header_len += n;
                bytes = &bytes[n..];
                if self.header_len < 4 {
                    return;
                }
                let [msg_type, a, b, c] = self.header;
                self.msg_type = msg_type;
                self.body_left = u32::from_be_bytes([0, a, b, c]) as usize;
                self.keep = matches!(msg_type, CLIENT_HELLO | SERVER_HELLO)
                    && self.body_left <= MAX_HELLO_BODY;
                self.body.clear();
                on(Event::HandshakeStart { msg_type });
            }
            let n = self.body_left.min(bytes.len());
            // A hello whole in this piece is read where it lies; one split across pieces is copied.
            let in_place = self.keep && self.body.is_empty() && n == self.body_left;
            if self.keep && !in_place {
                self.body.extend_from_slice(&bytes[..n]);
            }
            let piece = &bytes[..n];
            self.body_left -= n;
            bytes = &bytes[n..];
            if self.body_left == 0 {
                self.header_len = 0;
                let body = match (self.keep, in_place) {
                    (false, _) => None,
                    (true, true) => Some(piece),
                    (true, false) => Some(self.body.as_slice()),
                };
                on(Event::Handshake {
                    msg_type: self.msg_type,
                    body,
                });
                if self.keep && !in_place {
                    // The hello's bytes are not needed again: give the memory back.
                    self.body = Vec::new();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events as owned values: (content type or 0, handshake type or 0, body length).
    fn read(pieces: &[&[u8]], skip_after_ccs: bool) -> Vec<(u8, u8, Option<usize>)> {
        let mut reader = RecordReader::default();
        let mut out = Vec::new();
        let mut ccs = false;
        for piece in pieces {
            reader.feed(piece, &mut |e| match e {
                Event::Record { content_type, .. } => {
                    out.push((content_type, 0, None));
                    ccs |= content_type == CHANGE_CIPHER_SPEC;
                    if ccs && skip_after_ccs {
                        Body::Skip
                    } else {
                        Body::Messages
                    }
                }
                Event::Handshake { msg_type, body } => {
                    out.push((0, msg_type, body.map(<[u8]>::len)));
                    Body::Messages
                }
                Event::HandshakeStart { .. } => Body::Messages,
            });
        }
        out
    }

    fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3];
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn message(msg_type: u8, body_len: usize) -> Vec<u8> {
        let mut m = vec![msg_type];
        m.extend_from_slice(&(body_len as u32).to_be_bytes()[1..]);
        m.extend(std::iter::repeat_n(0xab, body_len));
        m
    }

    #[test]
    fn several_messages_in_one_record() {
        let mut body = message(SERVER_HELLO, 70);
        body.extend(message(CERTIFICATE, 900));
        body.extend(message(14, 0));
        let bytes = record(HANDSHAKE, &body);
        assert_eq!(
            read(&[&bytes], false),
            vec![
                (HANDSHAKE, 0, None),
                (0, SERVER_HELLO, Some(70)),
                (0, CERTIFICATE, None),
                (0, 14, None)
            ]
        );
    }

    #[test]
    fn a_message_spans_records_and_records_span_segments() {
        let hello = message(CLIENT_HELLO, 300);
        let mut bytes = record(HANDSHAKE, &hello[..100]);
        bytes.extend(record(HANDSHAKE, &hello[100..]));
        bytes.extend(record(APPLICATION_DATA, &[1; 40]));
        // Cut everywhere, down to single bytes: the same events.
        for cut in [1, 3, 5, 7, 104, 200] {
            let pieces: Vec<&[u8]> = bytes.chunks(cut).collect();
            assert_eq!(
                read(&pieces, false),
                vec![
                    (HANDSHAKE, 0, None),
                    (HANDSHAKE, 0, None),
                    (0, CLIENT_HELLO, Some(300)),
                    (APPLICATION_DATA, 0, None)
                ],
                "pieces of {cut}"
            );
        }
    }

    #[test]
    fn an_encrypted_handshake_record_is_not_read() {
        let mut bytes = record(CHANGE_CIPHER_SPEC, &[1]);
        bytes.extend(record(HANDSHAKE, &[0x14, 0, 0, 0x0c, 9, 9]));
        assert_eq!(
            read(&[&bytes], true),
            vec![(CHANGE_CIPHER_SPEC, 0, None), (HANDSHAKE, 0, None)]
        );
    }

    #[test]
    fn bytes_that_are_not_records_stop_the_reader() {
        let mut reader = RecordReader::default();
        let mut events = 0;
        reader.feed(b"GET / HTTP/1.1\r\n", &mut |_| {
            events += 1;
            Body::Skip
        });
        assert!(reader.is_malformed());
        assert_eq!(events, 0);
    }
}
