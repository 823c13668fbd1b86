//! Transfer layer, h3: rustls wrapped for QUIC from the same trust and certificate HTTPS uses:
//! TLS 1.3 only, ALPN h3, sessions kept across runs, and 0-RTT on both sides. Must not import the
//! client, the server, capture or report code.

use std::sync::Arc;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};

use super::ALPN;
use crate::transfer::tls::{ClientTls, ServerTls, TlsVersion};

/// Why QUIC cannot use a TLS setting.
#[derive(Debug, thiserror::Error)]
pub(super) enum QuicTlsError {
    /// QUIC carries TLS 1.3 only (RFC 9001 §4.2).
    #[error("HTTP/3 speaks TLS 1.3 only (QUIC, RFC 9001): leave out --tls 1.2")]
    NotTls13,
    /// rustls offers no cipher suite QUIC's Initial packets can use.
    #[error("cannot set up QUIC's TLS: {0}")]
    Quic(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
}

/// One connection's client TLS, and how to tell afterwards whether it resumed a session.
pub(super) struct ClientCrypto<'a> {
    pub(super) config: Arc<QuicClientConfig>,
    tls: &'a ClientTls,
    checks_before: u64,
}

impl ClientCrypto<'_> {
    /// Whether the handshake (once complete) resumed a session: no certificate was checked.
    pub(super) fn resumed(&self) -> bool {
        self.tls.quic_certificate_checks() == self.checks_before
    }
}

/// The client's TLS for one QUIC connection, from the settings `tls` keeps for QUIC.
pub(super) fn client(tls: &ClientTls) -> Result<ClientCrypto<'_>, QuicTlsError> {
    let config = tls.quic_config().ok_or(QuicTlsError::NotTls13)?;
    Ok(ClientCrypto {
        config: Arc::new(QuicClientConfig::try_from(Arc::clone(config))?),
        tls,
        checks_before: tls.quic_certificate_checks(),
    })
}

/// The server's TLS for QUIC: the HTTPS server's certificate and sessions, with ALPN h3 and 0-RTT
/// (QUIC allows no early data limit but none or all, RFC 9001 §4.6.1).
pub(super) fn server(tls: &ServerTls) -> Result<QuicServerConfig, QuicTlsError> {
    if tls.version() != TlsVersion::Tls13 {
        return Err(QuicTlsError::NotTls13);
    }
    let mut config = tls.rustls_config().clone();
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.max_early_data_size = u32::MAX;
    Ok(QuicServerConfig::try_from(config)?)
}
