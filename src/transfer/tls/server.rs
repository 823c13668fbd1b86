//! The server's TLS: its certificate, made at start or read from files, and what every
//! connection shares.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ServerSessionMemoryCache;
use rustls::{Connection, ServerConfig, ServerConnection};

use super::*;

/// The server's side: its certificate and the settings every connection shares.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    version: TlsVersion,
    certificate: CertificateDer<'static>,
    generated_pem: Option<String>,
    plain_too: bool,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

impl ServerTls {
    /// A certificate made now for `names` (IP addresses or host names), signed by its own key.
    pub fn self_signed(version: TlsVersion, names: &[String]) -> Result<ServerTls, TlsError> {
        let made = rcgen::generate_simple_self_signed(names.to_vec()).map_err(|source| {
            TlsError::Generate {
                names: names.join(", "),
                source,
            }
        })?;
        let key = PrivateKeyDer::try_from(made.signing_key.serialize_der()).map_err(|reason| {
            TlsError::File {
                what: "generated key",
                path: PathBuf::new(),
                reason: reason.to_owned(),
            }
        })?;
        let mut tls = ServerTls::new(version, vec![made.cert.der().clone()], key)?;
        tls.generated_pem = Some(made.cert.pem());
        Ok(tls)
    }

    /// The certificate chain (leaf first) and private key in two PEM files.
    pub fn from_files(version: TlsVersion, cert: &Path, key: &Path) -> Result<ServerTls, TlsError> {
        fn unreadable<'a>(
            what: &'static str,
            path: &'a Path,
        ) -> impl Fn(rustls::pki_types::pem::Error) -> TlsError + 'a {
            move |error| TlsError::File {
                what,
                path: path.to_path_buf(),
                reason: error.to_string(),
            }
        }
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(unreadable("certificate", cert))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(unreadable("certificate", cert))?;
        if chain.is_empty() {
            return Err(TlsError::File {
                what: "certificate",
                path: cert.to_path_buf(),
                reason: "no CERTIFICATE section".into(),
            });
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(unreadable("private key", key))?;
        ServerTls::new(version, chain, key)
    }

    fn new(
        version: TlsVersion,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ServerTls, TlsError> {
        let certificate = chain[0].clone();
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(version.protocol())?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.session_storage = ServerSessionMemoryCache::new(SERVER_SESSIONS);
        // Early data needs sessions kept on the server (single-use), not stateless tickets:
        // the default ticketer issues none, so the session storage above serves both.
        config.max_early_data_size = EARLY_DATA_LIMIT;
        // A request that came as early data is answered at once, before the client's Finished
        // (0.5-RTT data): otherwise early data would save the client nothing.
        config.send_half_rtt_data = true;
        config.key_log = Arc::new(rustls::KeyLogFile::new());
        // HTTP/2 where the client offers it (browsers, curl), HTTP/1.1 otherwise.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
            version,
            certificate,
            generated_pem: None,
            plain_too: false,
        })
    }

    /// The same, also serving plain HTTP on the same port to a client whose first bytes are no
    /// TLS record (compare's server, when only its h2 mode speaks TLS).
    pub fn alongside_plain(self) -> ServerTls {
        ServerTls {
            plain_too: true,
            ..self
        }
    }

    /// Whether plain HTTP is served too (see [`ServerTls::alongside_plain`]).
    pub fn serves_plain_too(&self) -> bool {
        self.plain_too
    }

    /// The leaf certificate, for a client that is to trust exactly this server.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.certificate
    }

    /// The version it is pinned to.
    pub fn version(&self) -> TlsVersion {
        self.version
    }

    /// The rustls settings every connection shares, for a server that speaks them over another
    /// transport (QUIC) with its own ALPN.
    pub(crate) fn rustls_config(&self) -> &ServerConfig {
        &self.config
    }

    /// The certificate as PEM when it was made here (for `curl --cacert`).
    pub fn generated_pem(&self) -> Option<&str> {
        self.generated_pem.as_deref()
    }

    /// A TLS stream for a connection just accepted; the handshake runs as it is read.
    pub fn accept<S: Read + Write>(&self, raw: S) -> io::Result<TlsStream<S>> {
        let conn = ServerConnection::new(Arc::clone(&self.config)).map_err(io::Error::other)?;
        Ok(TlsStream::new(Connection::Server(conn), raw))
    }
}
