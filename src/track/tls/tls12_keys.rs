//! Track layer: TLS 1.2's record keys for its AEAD cipher suites (RFC 5246 §6.3, RFC 5288 for
//! AES-GCM, RFC 7905 for ChaCha20-Poly1305): the key block the PRF (P_SHA256, or P_SHA384 for
//! the _SHA384 suites) expands from a key log's master secret and the two hellos' randoms.
//!
//! Works on bytes alone; must not import capture, analysis or report code.

use ring::aead::{AES_128_GCM, AES_256_GCM, Algorithm, CHACHA20_POLY1305};
use ring::hmac;

/// The AEAD suites whose records are opened: (id, AEAD, PRF hash is SHA-384).
const SUITES: [(u16, &Algorithm, bool); 13] = [
    (0x009c, &AES_128_GCM, false),       // TLS_RSA_WITH_AES_128_GCM_SHA256
    (0x009d, &AES_256_GCM, true),        // TLS_RSA_WITH_AES_256_GCM_SHA384
    (0x009e, &AES_128_GCM, false),       // TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
    (0x009f, &AES_256_GCM, true),        // TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
    (0xc02b, &AES_128_GCM, false),       // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    (0xc02c, &AES_256_GCM, true),        // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    (0xc02f, &AES_128_GCM, false),       // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    (0xc030, &AES_256_GCM, true),        // TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    (0xcca8, &CHACHA20_POLY1305, false), // TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    (0xcca9, &CHACHA20_POLY1305, false), // TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    (0xccaa, &CHACHA20_POLY1305, false), // TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    (0x00a2, &AES_128_GCM, false),       // TLS_DHE_DSS_WITH_AES_128_GCM_SHA256
    (0x00a3, &AES_256_GCM, true),        // TLS_DHE_DSS_WITH_AES_256_GCM_SHA384
];

/// A master secret's length.
const MASTER_SECRET_LEN: usize = 48;

/// One direction's write key and IV (4 bytes of implicit nonce for AES-GCM, 12 for
/// ChaCha20-Poly1305).
pub(super) struct WriteKeys {
    pub aead: &'static Algorithm,
    pub key: Vec<u8>,
    pub iv: Vec<u8>,
}

/// The client's and the server's write keys of a TLS 1.2 connection with `cipher_suite`;
/// `None` for a suite that is not one of the AEAD ones above or a master secret of the wrong
/// length.
pub(super) fn write_keys(
    master_secret: &[u8],
    cipher_suite: u16,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Option<(WriteKeys, WriteKeys)> {
    let &(_, aead, sha384) = SUITES.iter().find(|(id, ..)| *id == cipher_suite)?;
    if master_secret.len() != MASTER_SECRET_LEN {
        return None;
    }
    let key_len = aead.key_len();
    let iv_len = if aead == &CHACHA20_POLY1305 { 12 } else { 4 };
    let mut seed = server_random.to_vec();
    seed.extend_from_slice(client_random);
    let hash = if sha384 {
        hmac::HMAC_SHA384
    } else {
        hmac::HMAC_SHA256
    };
    let block = prf(
        hash,
        master_secret,
        b"key expansion",
        &seed,
        2 * (key_len + iv_len),
    );
    let (keys, ivs) = block.split_at(2 * key_len);
    let side = |n: usize| WriteKeys {
        aead,
        key: keys[n * key_len..(n + 1) * key_len].to_vec(),
        iv: ivs[n * iv_len..(n + 1) * iv_len].to_vec(),
    };
    Some((side(0), side(1)))
}

/// TLS 1.2's PRF (RFC 5246 §5): P_hash(secret, label + seed) to `len` bytes.
fn prf(hash: hmac::Algorithm, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let key = hmac::Key::new(hash, secret);
    let mut label_seed = label.to_vec();
    label_seed.extend_from_slice(seed);
    let mut a = hmac::sign(&key, &label_seed).as_ref().to_vec();
    let mut out = Vec::with_capacity(len);
    // Bounded: each pass adds one hash output (32 or 48 bytes) towards `len`.
    while out.len() < len {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(&a);
        ctx.update(&label_seed);
        out.extend_from_slice(ctx.sign().as_ref());
        a = hmac::sign(&key, &a).as_ref().to_vec();
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prf_gives_the_published_sha256_test_vector() {
        // The TLS 1.2 PRF test vector for P_SHA256 posted to the IETF TLS list (the first 32 of
        // its 100 bytes).
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let out = prf(
            hmac::HMAC_SHA256,
            &hex("9bbe436ba940f017b17652849a71db35"),
            b"test label",
            &hex("a0ba9f936cda311827a6f796ffd5198c"),
            32,
        );
        assert_eq!(
            out,
            hex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a")
        );
    }
}
