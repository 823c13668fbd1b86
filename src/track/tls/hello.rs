//! Track layer: what synack reads in a ClientHello and a ServerHello (RFC 8446 §4.1.2–4.1.4,
//! RFC 5246 §7.4.1): session ids, versions and the extensions that say TLS 1.3, resumption,
//! early data and the application protocol (ALPN, RFC 7301).
//!
//! Works on bytes alone; must not import capture, analysis or report code.

/// Extension: application_layer_protocol_negotiation (RFC 7301): the client's offer, and in a
/// TLS 1.2 ServerHello the server's choice (TLS 1.3 moves it into the encrypted
/// EncryptedExtensions).
const ALPN: u16 = 16;
/// ALPN's name for HTTP/2 over TLS (RFC 9113 §3.2).
const ALPN_H2: &[u8] = b"h2";

/// Extension: pre_shared_key (in a ClientHello: a session offered for resumption; in a
/// ServerHello: the server resumes).
const PRE_SHARED_KEY: u16 = 41;
/// Extension: early_data (in a ClientHello: the client offers 0-RTT data).
const EARLY_DATA: u16 = 42;
/// RFC 5077's SessionTicket extension: empty to ask for a ticket, the ticket to resume with one.
const SESSION_TICKET: u16 = 35;
/// Extension: supported_versions (in a ServerHello: the version chosen).
const SUPPORTED_VERSIONS: u16 = 43;

/// A HelloRetryRequest is a ServerHello with this random: SHA-256 of "HelloRetryRequest"
/// (RFC 8446 §4.1.3).
const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A session id (at most 32 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(in crate::track) struct SessionId {
    len: u8,
    bytes: [u8; 32],
}

impl SessionId {
    fn of(bytes: &[u8]) -> Option<SessionId> {
        let mut id = SessionId {
            len: u8::try_from(bytes.len()).ok().filter(|&l| l <= 32)?,
            bytes: [0; 32],
        };
        id.bytes[..bytes.len()].copy_from_slice(bytes);
        Some(id)
    }

    /// True for the empty session id.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What a ClientHello says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::track) struct ClientHello {
    /// The client's random: the key of the connection's secrets in a key log.
    pub random: [u8; 32],
    /// The legacy session id (TLS 1.2 resumption by id, or a ticket's id).
    pub session_id: SessionId,
    /// Carries the early_data extension.
    pub offers_early_data: bool,
    /// Carries pre_shared_key: a TLS 1.3 session offered for resumption.
    pub offers_pre_shared_key: bool,
    /// Carries a session ticket (a non-empty SessionTicket extension) to resume with.
    pub offers_ticket: bool,
    /// Its ALPN extension lists `h2`.
    pub offers_h2: bool,
}

/// What a ServerHello says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::track) struct ServerHello {
    /// The version chosen: supported_versions if present, else the legacy version field.
    pub version: u16,
    /// A HelloRetryRequest (the fixed random).
    pub retry_request: bool,
    /// The server's random.
    pub random: [u8; 32],
    /// The cipher suite chosen.
    pub cipher_suite: u16,
    /// The echoed or new session id.
    pub session_id: SessionId,
    /// Carries pre_shared_key: a TLS 1.3 server resumes.
    pub pre_shared_key: bool,
    /// The protocol its ALPN extension selects, when it carries one; `Some(true)` for `h2`.
    pub selects_h2: Option<bool>,
}

/// A cursor over a hello's body.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a one-byte length.
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A vector with a two-byte length.
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// The types of the extensions in the extensions block (TLS 1.2 hellos may end without
    /// one), calling `each` with every (type, data); `None` when the block is malformed.
    fn extensions(&mut self, mut each: impl FnMut(u16, &'a [u8])) -> Option<()> {
        if self.0.is_empty() {
            return Some(());
        }
        let mut block = Bytes(self.vec16()?);
        // Bounded: each pass consumes at least four bytes.
        while !block.0.is_empty() {
            let kind = block.u16()?;
            each(kind, block.vec16()?);
        }
        Some(())
    }
}

/// The protocol names of an ALPN extension's body (a two-byte length, then names each with a
/// one-byte length); `None` when it is malformed.
fn alpn_names(data: &[u8]) -> Option<Vec<&[u8]>> {
    let mut list = Bytes(Bytes(data).vec16()?);
    let mut names = Vec::new();
    // Bounded: each pass consumes at least one byte.
    while !list.0.is_empty() {
        names.push(list.vec8()?);
    }
    Some(names)
}

impl ClientHello {
    /// Reads a ClientHello body; `None` when it is malformed.
    pub(in crate::track) fn parse(body: &[u8]) -> Option<ClientHello> {
        let mut b = Bytes(body);
        b.take(2)?;
        let random = <[u8; 32]>::try_from(b.take(32)?).ok()?;
        let session_id = SessionId::of(b.vec8()?)?;
        b.vec16()?; // cipher suites
        b.vec8()?; // compression methods
        let (mut offers_early_data, mut offers_ticket, mut offers_h2, mut offers_pre_shared_key) =
            (false, false, false, false);
        b.extensions(|kind, data| {
            offers_early_data |= kind == EARLY_DATA;
            offers_ticket |= kind == SESSION_TICKET && !data.is_empty();
            offers_pre_shared_key |= kind == PRE_SHARED_KEY;
            if kind == ALPN {
                offers_h2 |= alpn_names(data).is_some_and(|names| names.contains(&ALPN_H2));
            }
        })?;
        Some(ClientHello {
            random,
            session_id,
            offers_early_data,
            offers_ticket,
            offers_h2,
            offers_pre_shared_key,
        })
    }
}

impl ServerHello {
    /// Reads a ServerHello body; `None` when it is malformed.
    pub(in crate::track) fn parse(body: &[u8]) -> Option<ServerHello> {
        let mut b = Bytes(body);
        let legacy_version = b.u16()?;
        let random = <[u8; 32]>::try_from(b.take(32)?).ok()?;
        let session_id = SessionId::of(b.vec8()?)?;
        let cipher_suite = b.u16()?;
        b.u8()?; // compression method
        let (mut chosen, mut pre_shared_key, mut selects_h2) = (None, false, None);
        b.extensions(|kind, data| match (kind, data) {
            (SUPPORTED_VERSIONS, &[major, minor]) => {
                chosen = Some(u16::from_be_bytes([major, minor]))
            }
            (PRE_SHARED_KEY, _) => pre_shared_key = true,
            // RFC 7301 §3.1: the server's list holds exactly one name.
            (ALPN, _) => selects_h2 = alpn_names(data).map(|names| names == [ALPN_H2]),
            _ => {}
        })?;
        Some(ServerHello {
            version: chosen.unwrap_or(legacy_version),
            retry_request: random == HELLO_RETRY_REQUEST_RANDOM,
            random,
            cipher_suite,
            session_id,
            pre_shared_key,
            selects_h2,
        })
    }
}

#[cfg(test)]
pub(in crate::track) mod fixtures {
    //! Hello bodies built field by field.

    fn extensions(list: &[(u16, &[u8])]) -> Vec<u8> {
        let mut block = Vec::new();
        for (kind, data) in list {
            block.extend_from_slice(&kind.to_be_bytes());
            block.extend_from_slice(&(data.len() as u16).to_be_bytes());
            block.extend_from_slice(data);
        }
        let mut out = (block.len() as u16).to_be_bytes().to_vec();
        out.extend(block);
        out
    }

    /// A ClientHello body with `session_id` and extensions of these types (empty data).
    pub fn client_hello(session_id: &[u8], extension_types: &[u16]) -> Vec<u8> {
        let list: Vec<(u16, &[u8])> = extension_types.iter().map(|&t| (t, &[][..])).collect();
        client_hello_with(session_id, &list)
    }

    /// A ClientHello body with `session_id` and these extensions (type, data).
    pub fn client_hello_with(session_id: &[u8], list: &[(u16, &[u8])]) -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend([7; 32]);
        b.push(session_id.len() as u8);
        b.extend_from_slice(session_id);
        b.extend([0, 2, 0x13, 0x01]); // one cipher suite
        b.extend([1, 0]); // null compression
        b.extend(extensions(list));
        b
    }

    /// An ALPN extension's body listing `names`.
    pub fn alpn(names: &[&[u8]]) -> Vec<u8> {
        let list: Vec<u8> = names
            .iter()
            .flat_map(|n| std::iter::once(n.len() as u8).chain(n.iter().copied()))
            .collect();
        let mut out = (list.len() as u16).to_be_bytes().to_vec();
        out.extend(list);
        out
    }

    /// A TLS 1.2 ServerHello body whose ALPN extension selects `name`.
    pub fn server_hello_alpn(name: &[u8]) -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend([9; 32]);
        b.push(0);
        b.extend([0xc0, 0x2f, 0]);
        b.extend(extensions(&[(super::ALPN, &alpn(&[name]))]));
        b
    }

    /// A ServerHello body; `tls13` adds supported_versions = TLS 1.3, `psk` pre_shared_key,
    /// `retry` the HelloRetryRequest random.
    pub fn server_hello(session_id: &[u8], tls13: bool, psk: bool, retry: bool) -> Vec<u8> {
        let mut b = vec![3, 3];
        if retry {
            b.extend(super::HELLO_RETRY_REQUEST_RANDOM);
        } else {
            b.extend([9; 32]);
        }
        b.push(session_id.len() as u8);
        b.extend_from_slice(session_id);
        b.extend([0x13, 0x01, 0]);
        let mut list: Vec<(u16, &[u8])> = Vec::new();
        if tls13 {
            list.push((super::SUPPORTED_VERSIONS, &[3, 4]));
        }
        if psk {
            list.push((super::PRE_SHARED_KEY, &[0, 0]));
        }
        if !list.is_empty() {
            b.extend(extensions(&list));
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{client_hello, server_hello};
    use super::*;

    #[test]
    fn client_hello_session_id_and_early_data() {
        let hello = ClientHello::parse(&client_hello(&[5; 32], &[43, 42, 41])).unwrap();
        assert!(hello.offers_early_data && hello.offers_pre_shared_key);
        assert_eq!(hello.session_id, SessionId::of(&[5; 32]).unwrap());
        let hello = ClientHello::parse(&client_hello(&[], &[43])).unwrap();
        assert!(!hello.offers_early_data && hello.session_id.is_empty());
        assert!(!hello.offers_pre_shared_key);
    }

    #[test]
    fn server_hello_version_resumption_and_retry() {
        let hello = ServerHello::parse(&server_hello(&[1; 32], true, true, false)).unwrap();
        assert_eq!(hello.version, 0x0304);
        assert!(hello.pre_shared_key && !hello.retry_request);
        let hello = ServerHello::parse(&server_hello(&[], false, false, false)).unwrap();
        assert_eq!(hello.version, 0x0303);
        let hello = ServerHello::parse(&server_hello(&[1; 32], true, false, true)).unwrap();
        assert!(hello.retry_request);
    }

    #[test]
    fn alpn_offer_and_choice() {
        use super::fixtures::{alpn, client_hello_with, server_hello_alpn};
        let offer = alpn(&[b"h2", b"http/1.1"]);
        let hello = ClientHello::parse(&client_hello_with(&[], &[(ALPN, &offer)])).unwrap();
        assert!(hello.offers_h2);
        let offer = alpn(&[b"http/1.1", b"h2c"]);
        let hello = ClientHello::parse(&client_hello_with(&[], &[(ALPN, &offer)])).unwrap();
        assert!(!hello.offers_h2);
        let hello = ServerHello::parse(&server_hello_alpn(b"h2")).unwrap();
        assert_eq!(hello.selects_h2, Some(true));
        let hello = ServerHello::parse(&server_hello_alpn(b"http/1.1")).unwrap();
        assert_eq!(hello.selects_h2, Some(false));
        let hello = ServerHello::parse(&server_hello(&[], true, false, false)).unwrap();
        assert_eq!(hello.selects_h2, None);
        // A malformed list is no choice.
        assert_eq!(alpn_names(&[0, 3, 2, b'h']), None);
    }

    #[test]
    fn truncated_hellos_are_rejected() {
        let body = server_hello(&[1; 32], true, false, false);
        for n in [0, 10, 40, body.len() - 1] {
            assert_eq!(ServerHello::parse(&body[..n]), None, "{n} bytes");
        }
    }
}
