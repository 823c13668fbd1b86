//! Track layer: a TLS connection's application data, decrypted with a key log (`tls::decrypt`),
//! read by the same readers as cleartext: HTTP/2 frames when the client opens with the preface,
//! HTTP/1.x request heads otherwise.
//!
//! Works on `Segment` and its captured payload alone; must not import `pcap`, `etherparse`,
//! analysis or report code.

use std::sync::Arc;

use super::http2::{Http2Frames, Http2Reader};
use super::keylog::KeyLog;
use super::requests::RequestCounter;
use super::seq::SeqNumber;
use super::side::Side;
use super::tls::{Decryption, Plain, TlsDecryptor};
use crate::capture::segment::Segment;

/// A TLS connection's application data, decrypted and read.
#[derive(Debug, Clone)]
pub(super) struct DecryptedTls {
    decryptor: TlsDecryptor,
    http2: Http2Reader,
    /// HTTP/1.x request heads in the client's plaintext, numbered from 0.
    requests: RequestCounter,
    client_plain: u32,
}

impl DecryptedTls {
    /// For a connection, from its first segment on.
    pub(super) fn new(keylog: Arc<KeyLog>) -> DecryptedTls {
        DecryptedTls {
            decryptor: TlsDecryptor::new(keylog),
            http2: Http2Reader::new(None, None),
            requests: RequestCounter::default(),
            client_plain: 0,
        }
    }

    /// Adds a segment `side` sent, with its captured payload.
    pub(super) fn push(&mut self, side: Side, seg: &Segment, payload: &[u8]) {
        let Self {
            decryptor,
            http2,
            requests,
            client_plain,
        } = self;
        decryptor.push(side, seg, payload, &mut |ts, plain| match plain {
            Plain::Data(plain) => {
                http2.push_plain(side, ts, plain);
                if side == Side::Client {
                    let len = plain.len() as u32;
                    requests.feed(SeqNumber(*client_plain), len, plain);
                    *client_plain = client_plain.wrapping_add(len);
                }
            }
            // What was read stands, as where cleartext bytes go missing.
            Plain::Lost => http2.lost(side),
        });
    }

    /// What the key log did for the connection.
    pub(super) fn outcome(&self) -> Decryption {
        self.decryptor.outcome()
    }

    /// The HTTP/2 frames, when the decrypted client opened with the preface.
    pub(super) fn http2(&self) -> Option<&Http2Frames> {
        self.http2.confirmed().then(|| self.http2.frames())
    }

    /// HTTP/1.x request heads in the decrypted client's bytes.
    pub(super) fn http1_requests(&self) -> u64 {
        self.requests.count
    }
}
