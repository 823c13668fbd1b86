//! Track layer: QUIC Initial packets opened without any key from the endpoints (RFC 9001 §5.2,
//! RFC 9369 §3.3.1): the keys derive from the client's first Destination Connection ID and a
//! salt the version fixes, so anyone on the path can read the ClientHello and ServerHello.
//!
//! Works on bytes alone; must not import capture, analysis or report code.

use ring::aead::quic::{AES_128, AES_256, CHACHA20, HeaderProtectionKey};
use ring::aead::{
    AES_128_GCM, AES_256_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey,
};
use ring::hkdf::{HKDF_SHA256, HKDF_SHA384, KeyType, Prk, Salt};

use super::packet::{ConnectionId, VERSION_2};
use crate::track::side::Side;

/// RFC 9001 §5.2's initial salt for version 1.
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 §3.3.1's initial salt for version 2.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// Bytes of the AEAD tag that ends every protected packet.
const TAG_LEN: usize = 16;
/// Bytes sampled for header protection, 4 bytes past the packet number's start.
const SAMPLE_LEN: usize = 16;

/// An output length for ring's HKDF.
struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// The nonce of record or packet number `n`: the write IV with `n` XORed into its last eight
/// bytes (RFC 8446 §5.3, RFC 9001 §5.3).
pub(in crate::track) fn nonce_for(iv: [u8; 12], n: u64) -> [u8; 12] {
    let mut nonce = iv;
    for (b, x) in nonce[4..].iter_mut().zip(n.to_be_bytes()) {
        *b ^= x;
    }
    nonce
}

/// TLS 1.3's HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
pub(in crate::track) fn expand_label<const N: usize>(secret: &Prk, label: &[u8]) -> [u8; N] {
    let prefix = b"tls13 ";
    let length = (N as u16).to_be_bytes();
    let label_len = [(prefix.len() + label.len()) as u8];
    let info: [&[u8]; 5] = [&length, &label_len, prefix, label, &[0]];
    let mut out = [0u8; N];
    // Lengths of 16 and 32 bytes are far below HKDF-SHA256's limit of 255 × 32.
    if let Ok(okm) = secret.expand(&info, Len(N)) {
        let _ = okm.fill(&mut out);
    }
    out
}

/// One direction's packet protection keys: an Initial's, or 1-RTT's from a key log's traffic
/// secret.
pub(super) struct DirectionKeys {
    packet: PacketKey,
    header: HeaderProtectionKey,
}

/// A packet payload's key and IV: one key phase's (RFC 9001 §6), while the header protection
/// key stays the same.
pub(super) struct PacketKey {
    aead: LessSafeKey,
    iv: [u8; 12],
}

impl std::fmt::Debug for PacketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PacketKey")
    }
}

/// A TLS 1.3 cipher suite's HKDF hash, AEAD and header protection.
fn suite(
    cipher_suite: u16,
) -> Option<(
    ring::hkdf::Algorithm,
    &'static ring::aead::Algorithm,
    &'static ring::aead::quic::Algorithm,
)> {
    Some(match cipher_suite {
        0x1301 => (HKDF_SHA256, &AES_128_GCM, &AES_128),
        0x1302 => (HKDF_SHA384, &AES_256_GCM, &AES_256),
        0x1303 => (HKDF_SHA256, &CHACHA20_POLY1305, &CHACHA20),
        _ => return None,
    })
}

/// HKDF-Expand-Label of `secret` to `len` bytes (16, 32 or 48).
fn expand_to(secret: &Prk, label: &[u8], len: usize) -> Vec<u8> {
    match len {
        16 => expand_label::<16>(secret, label).to_vec(),
        32 => expand_label::<32>(secret, label).to_vec(),
        _ => expand_label::<48>(secret, label).to_vec(),
    }
}

impl PacketKey {
    /// The key and IV of a traffic secret under `cipher_suite`.
    pub(super) fn from_secret(secret: &[u8], cipher_suite: u16, version: u32) -> Option<PacketKey> {
        let (hash, aead, _) = suite(cipher_suite)?;
        if secret.len() != hash.hmac_algorithm().digest_algorithm().output_len() {
            return None;
        }
        let secret = Prk::new_less_safe(hash, secret);
        let [key_label, iv_label, _] = labels(version);
        let key = expand_to(&secret, key_label, aead.key_len());
        Some(PacketKey {
            aead: LessSafeKey::new(UnboundKey::new(aead, &key).ok()?),
            iv: expand_label(&secret, iv_label),
        })
    }
}

/// The secret of the next key phase (RFC 9001 §6.1: "quic ku").
pub(super) fn next_secret(secret: &[u8], cipher_suite: u16, version: u32) -> Option<Vec<u8>> {
    let (hash, _, _) = suite(cipher_suite)?;
    let label: &[u8] = if version == VERSION_2 {
        b"quicv2 ku"
    } else {
        b"quic ku"
    };
    Some(expand_to(
        &Prk::new_less_safe(hash, secret),
        label,
        secret.len(),
    ))
}

impl std::fmt::Debug for DirectionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirectionKeys")
    }
}

/// The packet protection labels of `version` (RFC 9001 §5.1, RFC 9369 §3.3.2).
fn labels(version: u32) -> [&'static [u8]; 3] {
    if version == VERSION_2 {
        [b"quicv2 key", b"quicv2 iv", b"quicv2 hp"]
    } else {
        [b"quic key", b"quic iv", b"quic hp"]
    }
}

impl DirectionKeys {
    fn derive(secret: &Prk, version: u32) -> Option<DirectionKeys> {
        let [key_label, iv_label, hp_label] = labels(version);
        let key: [u8; 16] = expand_label(secret, key_label);
        let hp: [u8; 16] = expand_label(secret, hp_label);
        Some(DirectionKeys {
            packet: PacketKey {
                aead: LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &key).ok()?),
                iv: expand_label(secret, iv_label),
            },
            header: HeaderProtectionKey::new(&AES_128, &hp).ok()?,
        })
    }

    /// The keys a TLS 1.3 traffic secret gives under `cipher_suite` (TLS_AES_128_GCM_SHA256,
    /// TLS_AES_256_GCM_SHA384 or TLS_CHACHA20_POLY1305_SHA256); `None` for another suite or a
    /// secret of the wrong length.
    pub(super) fn from_secret(
        secret: &[u8],
        cipher_suite: u16,
        version: u32,
    ) -> Option<DirectionKeys> {
        let (hash, _, hp) = suite(cipher_suite)?;
        let packet = PacketKey::from_secret(secret, cipher_suite, version)?;
        let [_, _, hp_label] = labels(version);
        let hp_key = expand_to(&Prk::new_less_safe(hash, secret), hp_label, hp.key_len());
        Some(DirectionKeys {
            packet,
            header: HeaderProtectionKey::new(hp, &hp_key).ok()?,
        })
    }

    /// Opens a packet whose packet number starts at `pn_offset` (a long header's or a short
    /// one's); `largest` is the largest packet number its sender's packets in the same space
    /// had so far. Returns the plaintext frames and the full packet number.
    pub(super) fn open(
        &self,
        packet: &[u8],
        pn_offset: usize,
        largest: Option<u64>,
    ) -> Result<(Vec<u8>, u64), OpenError> {
        self.open_with(&self.packet, packet, pn_offset, largest)
    }

    /// Opens a packet as [`DirectionKeys::open`] does, its payload with `key` (another key
    /// phase's).
    pub(super) fn open_with(
        &self,
        key: &PacketKey,
        packet: &[u8],
        pn_offset: usize,
        largest: Option<u64>,
    ) -> Result<(Vec<u8>, u64), OpenError> {
        let sample_at = pn_offset + 4;
        if packet.len() < sample_at + SAMPLE_LEN || packet.len() < pn_offset + 4 + TAG_LEN {
            return Err(OpenError::TooShort);
        }
        let mask = self
            .header
            .new_mask(&packet[sample_at..sample_at + SAMPLE_LEN])
            .map_err(|_| OpenError::TooShort)?;
        let mut header = packet[..pn_offset + 4].to_vec();
        // A long header protects four bits of its first byte, a short one five (RFC 9001 §5.4.1).
        header[0] ^= mask[0] & if header[0] & 0x80 != 0 { 0x0f } else { 0x1f };
        let pn_len = usize::from(header[0] & 0x03) + 1;
        let mut truncated = 0u64;
        for i in 0..pn_len {
            header[pn_offset + i] ^= mask[1 + i];
            truncated = truncated << 8 | u64::from(header[pn_offset + i]);
        }
        header.truncate(pn_offset + pn_len);
        let pn = decode_packet_number(largest, truncated, pn_len * 8);
        let nonce = nonce_for(key.iv, pn);
        let mut payload = packet[pn_offset + pn_len..].to_vec();
        let plain_len = key
            .aead
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&header),
                &mut payload,
            )
            .map_err(|_| OpenError::Tag)?
            .len();
        payload.truncate(plain_len);
        Ok((payload, pn))
    }
}

/// Why an Initial packet could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Too short for a packet number, a sample and a tag.
    TooShort,
    /// The AEAD tag did not verify: other keys (a Retry the capture missed) or damaged bytes.
    Tag,
}

/// Both directions' Initial keys of one connection.
pub struct InitialKeys {
    client: DirectionKeys,
    server: DirectionKeys,
}

impl std::fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitialKeys")
    }
}

impl InitialKeys {
    /// The keys RFC 9001 §5.2 derives from the client's Destination Connection ID in `version`
    /// (RFC 9369's salt and labels for version 2, version 1's otherwise).
    pub fn derive(client_dcid: &ConnectionId, version: u32) -> Option<InitialKeys> {
        let salt = if version == VERSION_2 {
            SALT_V2
        } else {
            SALT_V1
        };
        let initial = Salt::new(HKDF_SHA256, &salt).extract(client_dcid.as_bytes());
        let secret = |label: &[u8]| {
            let bytes: [u8; 32] = expand_label(&initial, label);
            Prk::new_less_safe(HKDF_SHA256, &bytes)
        };
        Some(InitialKeys {
            client: DirectionKeys::derive(&secret(b"client in"), version)?,
            server: DirectionKeys::derive(&secret(b"server in"), version)?,
        })
    }

    /// Opens an Initial packet `side` sent, whose packet number starts at `pn_offset`; `largest`
    /// is the largest packet number that side's Initials had so far. Returns the plaintext
    /// frames and the full packet number.
    pub fn open(
        &self,
        side: Side,
        packet: &[u8],
        pn_offset: usize,
        largest: Option<u64>,
    ) -> Result<(Vec<u8>, u64), OpenError> {
        let keys = match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        };
        keys.open(packet, pn_offset, largest)
    }
}

#[cfg(test)]
impl InitialKeys {
    /// Protects an Initial `side` sends: `header` ends with its packet number `pn`, whose length
    /// the first byte's low bits give; `plain` is its frames.
    pub fn seal(&self, side: Side, header: &[u8], pn: u64, plain: &[u8]) -> Vec<u8> {
        let keys = match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        };
        let pn_len = usize::from(header[0] & 0x03) + 1;
        let pn_offset = header.len() - pn_len;
        let nonce = nonce_for(keys.packet.iv, pn);
        let mut sealed = plain.to_vec();
        keys.packet
            .aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(header),
                &mut sealed,
            )
            .unwrap();
        let mut packet = header.to_vec();
        packet.extend(sealed);
        let sample = pn_offset + 4;
        let mask = keys
            .header
            .new_mask(&packet[sample..sample + SAMPLE_LEN])
            .unwrap();
        packet[0] ^= mask[0] & 0x0f;
        for i in 0..pn_len {
            packet[pn_offset + i] ^= mask[1 + i];
        }
        packet
    }
}

/// RFC 9000 §A.3: the full packet number closest to the one after `largest`.
fn decode_packet_number(largest: Option<u64>, truncated: u64, bits: usize) -> u64 {
    let expected = largest.map_or(0, |l| l + 1);
    let window = 1u64 << bits;
    let half = window / 2;
    let mask = window - 1;
    let candidate = (expected & !mask) | truncated;
    if candidate + half <= expected && candidate < (1 << 62) - window {
        candidate + window
    } else if candidate > expected + half && candidate >= window {
        candidate - window
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn packet_numbers_decode_as_rfc_9000_a3_shows() {
        assert_eq!(
            decode_packet_number(Some(0xa82f30ea), 0x9b32, 16),
            0xa82f9b32
        );
        assert_eq!(decode_packet_number(None, 0, 8), 0);
        assert_eq!(decode_packet_number(Some(0xff), 0x01, 8), 0x101);
    }

    /// RFC 9001 §A.3: the server's Initial, protected with the keys of DCID 8394c8f03e515708,
    /// opens to its ACK and the CRYPTO frame carrying the ServerHello.
    #[test]
    fn the_rfc_9001_server_initial_opens() {
        let packet = hex(
            "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
             5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
             dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
             022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
             2158407dd074ee",
        );
        let dcid = ConnectionId::of(&hex("8394c8f03e515708")).unwrap();
        let keys = InitialKeys::derive(&dcid, 1).unwrap();
        // The header: 1 + 4 + 1 + 0 + 1 + 8 + 1 (token) + 2 (length) bytes.
        let (plain, pn) = keys.open(Side::Server, &packet, 18, None).unwrap();
        assert_eq!(pn, 1);
        assert_eq!(&plain[..6], &hex("020000000006")[..]);
        // CRYPTO at offset 0 holding a ServerHello (type 2).
        let crypto = plain.iter().position(|&b| b == 0x06).unwrap();
        assert_eq!(plain[crypto + 4], 0x02);
        // Other keys do not open it.
        let other = InitialKeys::derive(&ConnectionId::of(&[1; 8]).unwrap(), 1).unwrap();
        assert_eq!(
            other.open(Side::Server, &packet, 18, None),
            Err(OpenError::Tag)
        );
    }
}
