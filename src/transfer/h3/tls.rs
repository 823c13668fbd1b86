//! Transfer layer, h3: rustls set up for QUIC from the same trust and certificate HTTPS uses:
//! TLS 1.3 only, ALPN h3, sessions kept across runs, and 0-RTT on both sides. Must not import the
//! client, the server, capture or report code.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::Resumption;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::ALPN;
use crate::transfer::tls::{ClientTls, ServerTls, TlsError, TlsVersion};

/// Why QUIC cannot use a TLS setting.
#[derive(Debug, thiserror::Error)]
pub(super) enum QuicTlsError {
    /// QUIC carries TLS 1.3 only (RFC 9001 §4.2).
    #[error("HTTP/3 speaks TLS 1.3 only (QUIC, RFC 9001): leave out --tls 1.2")]
    NotTls13,
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// rustls offers no cipher suite QUIC's Initial packets can use.
    #[error("cannot set up QUIC's TLS: {0}")]
    Quic(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
}

impl From<rustls::Error> for QuicTlsError {
    fn from(error: rustls::Error) -> QuicTlsError {
        QuicTlsError::Tls(TlsError::Config(error))
    }
}

/// One connection's client TLS, and whether the server's certificate was checked on it: rustls
/// checks it on a full handshake only, so a connection that never did resumed a session.
pub(super) struct ClientCrypto {
    pub(super) config: Arc<QuicClientConfig>,
    pub(super) verified: Arc<AtomicBool>,
}

impl ClientCrypto {
    /// Whether the handshake (once complete) resumed a session.
    pub(super) fn resumed(&self) -> bool {
        !self.verified.load(Ordering::SeqCst)
    }
}

/// The client's TLS for one QUIC connection: what `tls` trusts, for the name it expects; keeping
/// sessions across runs with resumption or early data asked for.
pub(super) fn client(tls: &ClientTls) -> Result<ClientCrypto, QuicTlsError> {
    let options = tls.options();
    if options.version == Some(TlsVersion::Tls12) {
        return Err(QuicTlsError::NotTls13);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki =
        WebPkiServerVerifier::builder_with_provider(Arc::clone(tls.roots()), Arc::clone(&provider))
            .build()
            .map_err(|error| rustls::Error::General(error.to_string()))?;
    let verified = Arc::new(AtomicBool::new(false));
    let verifier = Arc::new(Noting {
        inner: webpki,
        verified: Arc::clone(&verified),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.resumption = if options.resume || options.early_data {
        Resumption::store(tls.lasting_sessions())
    } else {
        Resumption::disabled()
    };
    config.enable_early_data = options.early_data;
    // SSLKEYLOGFILE, when set, lets Wireshark decrypt the QUIC packets too.
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(ClientCrypto {
        config: Arc::new(QuicClientConfig::try_from(config)?),
        verified,
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

/// A verifier that notes when it checked a certificate, and leaves the checking to webpki.
#[derive(Debug)]
struct Noting {
    inner: Arc<WebPkiServerVerifier>,
    verified: Arc<AtomicBool>,
}

impl ServerCertVerifier for Noting {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verified.store(true, Ordering::SeqCst);
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
