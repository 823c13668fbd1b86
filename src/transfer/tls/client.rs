//! The client's TLS: what it trusts, the name it expects, and how it resumes and sends early
//! data.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, Connection, DigitallySignedStruct, RootCertStore,
    SignatureScheme,
};

use super::*;

/// How a client speaks TLS: the version, and whether it resumes and sends early data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTlsOptions {
    /// The version the client is pinned to; None offers both (1.3 preferred).
    pub version: Option<TlsVersion>,
    /// Keep the session from each connection and resume it on the next.
    pub resume: bool,
    /// Send the first request as TLS 1.3 early (0-RTT) data on a resumed session.
    pub early_data: bool,
}

/// The client's side: what it trusts, the name it expects, and how it resumes.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    options: ClientTlsOptions,
    /// The settings HTTP/3 over QUIC starts from (TLS 1.3 only, ALPN h3): made once, as rustls
    /// resumes a session only with the verifier that checked it; its sessions last from one run
    /// to the next, as QUIC has one connection per run. None when pinned to TLS 1.2.
    quic: Option<Arc<ClientConfig>>,
    /// Server certificates checked so far on QUIC connections: rustls checks one on a full
    /// handshake only, so a connection that leaves the count as it was resumed a session.
    quic_certificate_checks: Arc<AtomicU64>,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Trusts exactly `certificate` (the built-in server's), presented for `host`.
    pub fn trusting(
        certificate: &CertificateDer<'static>,
        host: &str,
        options: ClientTlsOptions,
    ) -> Result<ClientTls, TlsError> {
        let mut roots = RootCertStore::empty();
        roots.add(certificate.clone())?;
        ClientTls::new(roots, host, options)
    }

    /// Trusts the system's root certificates, and the CAs in `cacert` (PEM) when given.
    pub fn verifying(
        cacert: Option<&Path>,
        host: &str,
        options: ClientTlsOptions,
    ) -> Result<ClientTls, TlsError> {
        let mut roots = RootCertStore::empty();
        match cacert {
            Some(path) => {
                let unreadable = |error: rustls::pki_types::pem::Error| TlsError::File {
                    what: "CA certificates",
                    path: path.to_path_buf(),
                    reason: error.to_string(),
                };
                for cert in CertificateDer::pem_file_iter(path).map_err(unreadable)? {
                    roots.add(cert.map_err(unreadable)?)?;
                }
                if roots.is_empty() {
                    return Err(TlsError::File {
                        what: "CA certificates",
                        path: path.to_path_buf(),
                        reason: "no CERTIFICATE section".into(),
                    });
                }
            }
            None => {
                // Unreadable entries are skipped: one bad file must not distrust every server.
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(TlsError::NoRoots);
                }
            }
        }
        ClientTls::new(roots, host, options)
    }

    fn new(
        roots: RootCertStore,
        host: &str,
        options: ClientTlsOptions,
    ) -> Result<ClientTls, TlsError> {
        let roots = Arc::new(roots);
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(match options.version {
                Some(version) => version.protocol(),
                None => rustls::DEFAULT_VERSIONS,
            })?
            .with_root_certificates(Arc::clone(&roots))
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        config.enable_early_data = options.early_data;
        // SSLKEYLOGFILE, when set, lets Wireshark decrypt the captures.
        config.key_log = Arc::new(rustls::KeyLogFile::new());
        let server_name = ServerName::try_from(server_host(host).to_owned())
            .map_err(|_| TlsError::ServerName(host.to_owned()))?;
        let quic_certificate_checks = Arc::new(AtomicU64::new(0));
        let quic = (options.version != Some(TlsVersion::Tls12))
            .then(|| quic_config(&roots, options, Arc::clone(&quic_certificate_checks)))
            .transpose()?
            .map(Arc::new);
        Ok(ClientTls {
            config: Arc::new(config),
            server_name,
            options,
            quic,
            quic_certificate_checks,
        })
    }

    /// The options it was made with.
    pub fn options(&self) -> ClientTlsOptions {
        self.options
    }

    /// The settings for HTTP/3 over QUIC; None when pinned to TLS 1.2, which QUIC cannot carry.
    pub(crate) fn quic_config(&self) -> Option<&Arc<ClientConfig>> {
        self.quic.as_ref()
    }

    /// Server certificates checked so far on QUIC connections (see `quic_certificate_checks`).
    pub(crate) fn quic_certificate_checks(&self) -> u64 {
        self.quic_certificate_checks.load(Ordering::SeqCst)
    }

    /// The name the server's certificate must carry.
    pub(crate) fn server_name(&self) -> &ServerName<'static> {
        &self.server_name
    }

    /// A run's sessions: empty at the start of each run, so its first connection makes a full
    /// handshake and (with resumption) the later ones resume the session it left.
    pub fn sessions(&self) -> ClientSessions {
        let mut config = (*self.config).clone();
        if self.options.resume || self.options.early_data {
            config.resumption = Resumption::in_memory_sessions(CLIENT_SESSIONS);
        }
        ClientSessions {
            config: Arc::new(config),
            server_name: self.server_name.clone(),
            early_data: self.options.early_data,
        }
    }
}

/// The client's settings for HTTP/3 over QUIC: the same trust, TLS 1.3 only, ALPN h3, sessions
/// kept from run to run when resumption or early data is asked for.
fn quic_config(
    roots: &Arc<RootCertStore>,
    options: ClientTlsOptions,
    checks: Arc<AtomicU64>,
) -> Result<ClientConfig, TlsError> {
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::clone(roots), provider())
        .build()
        .map_err(|error| rustls::Error::General(error.to_string()))?;
    let verifier = Arc::new(CountingVerifier {
        inner: webpki,
        checks,
    });
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(TlsVersion::Tls13.protocol())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h3".to_vec()];
    config.resumption = if options.resume || options.early_data {
        Resumption::in_memory_sessions(CLIENT_SESSIONS)
    } else {
        Resumption::disabled()
    };
    config.enable_early_data = options.early_data;
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    Ok(config)
}

/// A verifier that counts the certificates it checks, and leaves the checking to webpki.
#[derive(Debug)]
struct CountingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    checks: Arc<AtomicU64>,
}

impl ServerCertVerifier for CountingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.checks.fetch_add(1, Ordering::SeqCst);
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

/// The host part of a Host header value (`[::1]:8080` → `::1`, `example.org:443` → `example.org`).
pub(super) fn server_host(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.parse::<u16>().is_ok() => name,
        _ => host,
    }
}

/// One run's client configuration and the sessions it has kept.
#[derive(Clone)]
pub struct ClientSessions {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    early_data: bool,
}

impl fmt::Debug for ClientSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSessions").finish_non_exhaustive()
    }
}

impl ClientSessions {
    /// The same sessions, offering `protocol` in ALPN: a session kept by one is resumed by the
    /// other.
    pub fn with_alpn(&self, protocol: &[u8]) -> ClientSessions {
        let mut config = (*self.config).clone();
        config.alpn_protocols = vec![protocol.to_vec()];
        ClientSessions {
            config: Arc::new(config),
            ..self.clone()
        }
    }

    /// Whether a connection may send its first request as early data (when a session allows).
    pub fn may_send_early(&self) -> bool {
        self.early_data
    }

    /// A TLS stream over a connected socket; nothing is sent until it is driven.
    pub fn connect<S: Read + Write>(&self, raw: S) -> io::Result<TlsStream<S>> {
        let conn = ClientConnection::new(Arc::clone(&self.config), self.server_name.clone())
            .map_err(io::Error::other)?;
        let mut stream = TlsStream::new(Connection::Client(conn), raw);
        stream.wants_early_data = self.early_data;
        Ok(stream)
    }
}

/// What a connection's TLS session turned out to be, as its own endpoint knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TlsSession {
    /// The version negotiated.
    pub version: Option<TlsVersion>,
    /// The session was resumed (no certificate exchanged).
    pub resumed: bool,
    /// The server asked for another ClientHello (HelloRetryRequest).
    pub hello_retry: bool,
    /// Bytes of the request sent as early (0-RTT) data.
    pub early_data_sent: u64,
    /// The server accepted that early data (if it did not, the request was sent again).
    pub early_data_accepted: bool,
}
