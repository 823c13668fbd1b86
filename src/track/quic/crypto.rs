//! Track layer: the frames of an opened Initial packet (RFC 9000 §19: PADDING, PING, ACK,
//! CRYPTO, CONNECTION_CLOSE are all an Initial may hold) and each direction's CRYPTO bytes put
//! back in order by offset, up to its first TLS handshake message: the ClientHello or the
//! ServerHello.
//!
//! Works on bytes alone; must not import capture, analysis or report code.

use std::collections::BTreeMap;

use super::packet::Cursor;

/// The longest first handshake message kept: a ClientHello with post-quantum key shares is a
/// few kilobytes; one announcing more is not waited for.
const MAX_HELLO: usize = 1 << 16;

/// Why an Initial's frames could not all be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadFrames;

/// Hands `crypto` every CRYPTO frame's (offset, data) in `plain`, an Initial's opened payload.
pub fn crypto_frames(plain: &[u8], mut crypto: impl FnMut(u64, &[u8])) -> Result<(), BadFrames> {
    let mut c = Cursor::new(plain);
    // Bounded: each pass reads at least one byte.
    while c.remaining() > 0 {
        let kind = c.varint().ok_or(BadFrames)?;
        match kind {
            0x00 | 0x01 => {} // PADDING, PING
            0x02 | 0x03 => skip_ack(&mut c, kind)?,
            0x06 => {
                let offset = c.varint().ok_or(BadFrames)?;
                let len = c.length().ok_or(BadFrames)?;
                crypto(offset, c.take(len).ok_or(BadFrames)?);
            }
            0x1c => {
                // CONNECTION_CLOSE: error code, frame type, reason phrase.
                c.varint().ok_or(BadFrames)?;
                c.varint().ok_or(BadFrames)?;
                let reason = c.length().ok_or(BadFrames)?;
                c.take(reason).ok_or(BadFrames)?;
            }
            _ => return Err(BadFrames),
        }
    }
    Ok(())
}

/// Passes over the body of an ACK frame of type `kind` (0x02, or 0x03 with ECN counts): largest,
/// delay, range count, first range, the ranges, ECN counts.
pub(super) fn skip_ack(c: &mut Cursor<'_>, kind: u64) -> Result<(), BadFrames> {
    let _largest = c.varint().ok_or(BadFrames)?;
    let _delay = c.varint().ok_or(BadFrames)?;
    let ranges = c.varint().ok_or(BadFrames)?;
    c.varint().ok_or(BadFrames)?;
    // Each range is at least two bytes: a count past the rest is malformed.
    if ranges > c.remaining() as u64 {
        return Err(BadFrames);
    }
    let fields = 2 * ranges + if kind == 0x03 { 3 } else { 0 };
    for _ in 0..fields {
        c.varint().ok_or(BadFrames)?;
    }
    Ok(())
}

/// One direction's CRYPTO bytes from offset 0, until its first handshake message is whole.
#[derive(Debug, Default, Clone)]
pub struct CryptoStream {
    /// The bytes in order from offset 0.
    bytes: Vec<u8>,
    /// Pieces beyond a hole, by offset.
    pending: BTreeMap<u64, Vec<u8>>,
    /// Their bytes: past `MAX_HELLO`, overlapping pieces that never fill the hole are given up.
    pending_bytes: usize,
    /// The first message was handed out (or will never be): nothing more is kept.
    done: bool,
}

/// A TLS handshake message: its type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeMessage {
    /// The HandshakeType (1 ClientHello, 2 ServerHello).
    pub msg_type: u8,
    /// Its body.
    pub body: Vec<u8>,
}

impl CryptoStream {
    /// Adds the CRYPTO bytes at `offset`; returns the first handshake message once it is whole.
    pub fn push(&mut self, offset: u64, data: &[u8]) -> Option<HandshakeMessage> {
        if self.done {
            return None;
        }
        let end = offset.saturating_add(data.len() as u64);
        let have = self.bytes.len() as u64;
        if offset > have {
            if end <= MAX_HELLO as u64 + 4 && !self.pending.contains_key(&offset) {
                self.pending_bytes += data.len();
                if self.pending_bytes > MAX_HELLO {
                    self.finish();
                    return None;
                }
                self.pending.insert(offset, data.to_vec());
            }
        } else if end > have {
            self.bytes
                .extend_from_slice(&data[(have - offset) as usize..]);
        }
        // Pieces the new bytes reach.
        while let Some(entry) = self.pending.first_entry() {
            let (at, piece) = (*entry.key(), entry.get());
            let have = self.bytes.len() as u64;
            if at > have {
                break;
            }
            let piece_end = at + piece.len() as u64;
            if piece_end > have {
                let from = (have - at) as usize;
                let tail = piece[from..].to_vec();
                self.bytes.extend_from_slice(&tail);
            }
            self.pending_bytes -= entry.remove().len();
        }
        self.first_message()
    }

    fn first_message(&mut self) -> Option<HandshakeMessage> {
        let header = self.bytes.get(..4)?;
        let len =
            usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
        if len > MAX_HELLO {
            self.finish();
            return None;
        }
        let body = self.bytes.get(4..4 + len)?.to_vec();
        let msg_type = header[0];
        self.finish();
        Some(HandshakeMessage { msg_type, body })
    }

    fn finish(&mut self) {
        self.done = true;
        self.bytes = Vec::new();
        self.pending = BTreeMap::new();
        self.pending_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_of_an_initial_give_their_crypto_data() {
        // ACK (largest 5, delay 0, 1 range, first 0, gap 0, len 1), PING, CRYPTO at 7 of 3 bytes,
        // padding.
        let plain = [2, 5, 0, 1, 0, 0, 1, 1, 6, 7, 3, b'a', b'b', b'c', 0, 0, 0];
        let mut seen = Vec::new();
        crypto_frames(&plain, |offset, data| seen.push((offset, data.to_vec()))).unwrap();
        assert_eq!(seen, vec![(7, b"abc".to_vec())]);
        // A STREAM frame has no place in an Initial; a CRYPTO frame longer than the packet.
        assert_eq!(crypto_frames(&[0x08, 0], |_, _| {}), Err(BadFrames));
        assert_eq!(crypto_frames(&[6, 0, 9, 1], |_, _| {}), Err(BadFrames));
        assert_eq!(
            crypto_frames(&[2, 0, 0, 0x3f, 0], |_, _| {}),
            Err(BadFrames)
        );
    }

    #[test]
    fn crypto_bytes_out_of_order_make_the_first_message() {
        let message = [1u8, 0, 0, 5, 10, 11, 12, 13, 14, 2, 0, 0, 0];
        let mut stream = CryptoStream::default();
        assert_eq!(stream.push(6, &message[6..]), None);
        assert_eq!(stream.push(2, &message[2..7]), None);
        let whole = stream.push(0, &message[..3]).unwrap();
        assert_eq!(whole.msg_type, 1);
        assert_eq!(whole.body, vec![10, 11, 12, 13, 14]);
        // Handed out once.
        assert_eq!(stream.push(0, &message), None);
    }

    #[test]
    fn an_overlong_first_message_is_not_waited_for() {
        let mut stream = CryptoStream::default();
        assert_eq!(stream.push(0, &[1, 0xff, 0xff, 0xff, 0]), None);
        assert!(stream.done && stream.bytes.is_empty());
    }
}
