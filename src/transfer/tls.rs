//! Transfer layer: TLS 1.2 and 1.3 on both sides (rustls): the server's certificate, made at start
//! or read from files; what the client trusts (exactly that certificate, the system's roots, or a
//! private CA); session resumption and 0-RTT early data; and a stream that speaks TLS over any
//! socket. Must not import capture or report code.
//!
//! Nothing here skips certificate verification: `compare` trusts the one certificate its own
//! server made, `fetch` verifies as a browser does.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::ServerSessionMemoryCache;
use rustls::{
    ClientConfig, ClientConnection, Connection, HandshakeKind, RootCertStore, ServerConfig,
    ServerConnection, SupportedProtocolVersion,
};

/// Early data a server accepts per connection: a few request heads.
const EARLY_DATA_LIMIT: u32 = 16 * 1024;

/// Sessions the server remembers for resumption (TLS 1.2 session ids, TLS 1.3 tickets).
const SERVER_SESSIONS: usize = 4096;

/// Sessions a client remembers within one run.
const CLIENT_SESSIONS: usize = 64;

/// The TLS version both sides are pinned to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum, serde::Serialize,
)]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246): two round trips before the first request.
    #[value(name = "1.2")]
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 (RFC 8446): one round trip, none with early data on a resumed session.
    #[value(name = "1.3")]
    #[serde(rename = "1.3")]
    Tls13,
}

impl TlsVersion {
    /// "TLS 1.2" or "TLS 1.3".
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
        }
    }

    /// Round trips of a full handshake before the client may send its request.
    pub fn full_round_trips(self) -> u32 {
        match self {
            TlsVersion::Tls12 => 2,
            TlsVersion::Tls13 => 1,
        }
    }

    /// Round trips of a resumed handshake before the client may send its request (without
    /// early data).
    pub fn resumed_round_trips(self) -> u32 {
        1
    }

    fn protocol(self) -> &'static [&'static SupportedProtocolVersion] {
        static TLS12: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
        static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        match self {
            TlsVersion::Tls12 => &TLS12,
            TlsVersion::Tls13 => &TLS13,
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What made TLS unusable, worded so the person can act on it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or holds no usable item.
    #[error("cannot read the {what} in {}: {reason}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// The certificate could not be made.
    #[error("cannot make a certificate for {names}: {source}")]
    Generate {
        names: String,
        #[source]
        source: rcgen::Error,
    },
    /// rustls refused the configuration (for example a key that does not fit the certificate).
    #[error("cannot set up TLS: {0}")]
    Config(#[from] rustls::Error),
    /// No trusted root certificate at all.
    #[error(
        "no trusted root certificates found on this system; give the server's CA with --cacert FILE"
    )]
    NoRoots,
    /// A host name that cannot be a TLS server name.
    #[error("{0:?} cannot name a TLS server")]
    ServerName(String),
}

/// A server that answered a ClientHello with something other than TLS.
#[derive(Debug, thiserror::Error)]
#[error("the server did not answer in TLS (it may speak plain HTTP)")]
pub struct NotTls;

/// A client whose first bytes were no TLS record: usually plain HTTP (`http://` for an
/// `https://` server). The server has sent nothing yet, so it may answer in plain text.
#[derive(Debug, thiserror::Error)]
#[error("the client did not speak TLS (it may have sent plain HTTP)")]
pub struct PlainClient;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Whether a TLS connection broke off because the peer did not trust this side's certificate
/// (it sent an unknown_ca, bad_certificate or certificate_unknown alert).
pub fn peer_distrusts_certificate(error: &io::Error) -> bool {
    use rustls::AlertDescription::{BadCertificate, CertificateUnknown, UnknownCA};
    let Some(error) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return false;
    };
    matches!(
        error,
        rustls::Error::AlertReceived(UnknownCA | BadCertificate | CertificateUnknown)
    )
}

/// The server's side: its certificate and the settings every connection shares.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    certificate: CertificateDer<'static>,
    generated_pem: Option<String>,
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
        Ok(ServerTls {
            config: Arc::new(config),
            certificate,
            generated_pem: None,
        })
    }

    /// The leaf certificate, for a client that is to trust exactly this server.
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.certificate
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
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(match options.version {
                Some(version) => version.protocol(),
                None => rustls::DEFAULT_VERSIONS,
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        config.enable_early_data = options.early_data;
        // SSLKEYLOGFILE, when set, lets Wireshark decrypt the captures.
        config.key_log = Arc::new(rustls::KeyLogFile::new());
        let server_name = ServerName::try_from(server_host(host).to_owned())
            .map_err(|_| TlsError::ServerName(host.to_owned()))?;
        Ok(ClientTls {
            config: Arc::new(config),
            server_name,
            options,
        })
    }

    /// The options it was made with.
    pub fn options(&self) -> ClientTlsOptions {
        self.options
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

/// The host part of a Host header value (`[::1]:8080` → `::1`, `example.org:443` → `example.org`).
fn server_host(host: &str) -> &str {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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

/// TLS over a socket `S`: the handshake runs when the stream is first read or written (or by
/// [`TlsStream::handshake`]), each write leaves at once, and a server's reads include the early
/// data a client sent with its ClientHello.
pub struct TlsStream<S> {
    conn: Connection,
    raw: S,
    /// The peer's TCP FIN has been read.
    eof: bool,
    /// Early data read (server) or written (client).
    early_bytes: u64,
    /// Early data was read since [`TlsStream::take_early`] last asked.
    early_unclaimed: bool,
    /// A client that may send early data on a resumed session.
    wants_early_data: bool,
}

impl<S> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream").finish_non_exhaustive()
    }
}

impl<S: Read + Write> TlsStream<S> {
    fn new(conn: Connection, raw: S) -> TlsStream<S> {
        TlsStream {
            conn,
            raw,
            eof: false,
            early_bytes: 0,
            early_unclaimed: false,
            wants_early_data: false,
        }
    }

    /// The socket underneath.
    pub fn raw(&self) -> &S {
        &self.raw
    }

    /// The socket underneath, for what follows the end of TLS.
    pub fn into_raw(self) -> S {
        self.raw
    }

    /// The socket underneath, to change its deadlines.
    pub fn raw_mut(&mut self) -> &mut S {
        &mut self.raw
    }

    /// Runs the handshake to its end.
    pub fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            self.flush_tls()?;
            if !self.conn.is_handshaking() {
                break;
            }
            if self.receive()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection during the TLS handshake",
                ));
            }
        }
        self.flush_tls()
    }

    /// A client on a resumed session sends `data` as early (0-RTT) data with its ClientHello;
    /// returns false (nothing sent) when the session allows none or not that much.
    pub fn send_early(&mut self, data: &[u8]) -> io::Result<bool> {
        if !self.wants_early_data {
            return Ok(false);
        }
        let Connection::Client(client) = &mut self.conn else {
            return Ok(false);
        };
        let Some(mut early) = client.early_data() else {
            return Ok(false);
        };
        if early.bytes_left() < data.len() {
            return Ok(false);
        }
        early.write_all(data)?;
        self.early_bytes += data.len() as u64;
        self.flush_tls()?;
        Ok(true)
    }

    /// Whether early data was read since the last call (a server's request that came, at
    /// least in part, before the handshake was complete).
    pub fn take_early(&mut self) -> bool {
        std::mem::take(&mut self.early_unclaimed)
    }

    /// Sends close_notify, so the peer can tell the end of the stream from a cut connection.
    pub fn close_notify(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush_tls()
    }

    /// Writes `data` without sending it yet: it leaves with the next write (a response head with
    /// the first bytes of its body).
    pub fn hold(&mut self, data: &[u8]) -> io::Result<()> {
        self.conn.writer().write_all(data)
    }

    /// The session as far as the handshake got.
    pub fn session(&self) -> TlsSession {
        let version = match self.conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => Some(TlsVersion::Tls12),
            Some(rustls::ProtocolVersion::TLSv1_3) => Some(TlsVersion::Tls13),
            _ => None,
        };
        let kind = self.conn.handshake_kind();
        let early_data_accepted = match &self.conn {
            Connection::Client(client) => self.early_bytes > 0 && client.is_early_data_accepted(),
            Connection::Server(_) => self.early_bytes > 0,
        };
        TlsSession {
            version,
            resumed: kind == Some(HandshakeKind::Resumed),
            hello_retry: kind == Some(HandshakeKind::FullWithHelloRetryRequest),
            early_data_sent: self.early_bytes,
            early_data_accepted,
        }
    }

    /// Sends every TLS record that is ready.
    fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.raw)? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }

    /// Reads what the socket has and processes it; 0 at the peer's FIN.
    fn receive(&mut self) -> io::Result<usize> {
        let n = loop {
            match self.conn.read_tls(&mut self.raw) {
                Ok(n) => break n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        };
        if n == 0 {
            self.eof = true;
        }
        if let Err(error) = self.conn.process_new_packets() {
            if self.no_record_before_hello(&error) {
                if let Connection::Server(_) = self.conn {
                    // No alert: a plain-text client could not read it, and the server answers
                    // in its plain text instead.
                    return Err(io::Error::new(io::ErrorKind::InvalidData, PlainClient));
                }
                let _ = self.flush_tls();
                return Err(io::Error::new(io::ErrorKind::InvalidData, NotTls));
            }
            // The alert tells the peer why; the error here tells the person.
            let _ = self.flush_tls();
            return Err(io::Error::new(io::ErrorKind::InvalidData, error));
        }
        // Handshake replies, key updates, tickets.
        self.flush_tls()?;
        Ok(n)
    }

    /// Whether `error` is the first read finding no TLS record at all: rustls's "corrupt message
    /// of type InvalidContentType" before any version is agreed is a peer speaking its own
    /// protocol, usually plain HTTP (a client's "GET /", a server's "HTTP/1.1 400").
    fn no_record_before_hello(&self, error: &rustls::Error) -> bool {
        self.conn.protocol_version().is_none()
            && matches!(
                error,
                rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
            )
    }

    /// Early data a server has received, if any.
    fn read_early(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Connection::Server(server) = &mut self.conn else {
            return Ok(0);
        };
        let Some(mut early) = server.early_data() else {
            return Ok(0);
        };
        let n = early.read(buf)?;
        if n > 0 {
            self.early_bytes += n as u64;
            self.early_unclaimed = true;
        }
        Ok(n)
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.read_early(buf)?;
            if n > 0 {
                return Ok(n);
            }
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                // A FIN without close_notify: the HTTP framing tells whether anything is missing.
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock && !self.eof => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(error) => return Err(error),
            }
            self.receive()?;
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A server answers a request that came as early data at once; anything else waits for
        // the end of the handshake.
        let answers_early = self.early_bytes > 0 && matches!(self.conn, Connection::Server(_));
        if self.conn.is_handshaking() && !answers_early {
            self.handshake()?;
        }
        let n = self.conn.writer().write(buf)?;
        self.flush_tls()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.writer().flush()?;
        self.flush_tls()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::thread;

    fn options(version: TlsVersion, resume: bool, early_data: bool) -> ClientTlsOptions {
        ClientTlsOptions {
            version: Some(version),
            resume,
            early_data,
        }
    }

    /// An echo-once server: reads one line, answers it, sends close_notify; returns what each
    /// connection's session was on the server's side.
    fn serve(
        tls: ServerTls,
        connections: usize,
    ) -> (
        std::net::SocketAddr,
        thread::JoinHandle<Vec<(TlsSession, bool)>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            (0..connections)
                .map(|_| {
                    let (socket, _) = listener.accept().unwrap();
                    let mut stream = tls.accept(socket).unwrap();
                    let mut line = Vec::new();
                    let mut byte = [0u8; 1];
                    while !line.ends_with(b"\n") {
                        match stream.read(&mut byte) {
                            Ok(1) => line.push(byte[0]),
                            _ => break,
                        }
                    }
                    let early = stream.take_early();
                    stream.write_all(b"got ").unwrap();
                    stream.write_all(&line).unwrap();
                    stream.close_notify().unwrap();
                    // An answer to early data left before the client's Finished: read it (and
                    // everything up to the client's FIN), so closing sends no RST.
                    stream.handshake().unwrap();
                    let mut rest = Vec::new();
                    let _ = stream.raw_mut().read_to_end(&mut rest);
                    (stream.session(), early)
                })
                .collect()
        });
        (addr, handle)
    }

    fn ask(sessions: &ClientSessions, addr: std::net::SocketAddr, early: bool) -> TlsSession {
        let socket = TcpStream::connect(addr).unwrap();
        let mut stream = sessions.connect(socket).unwrap();
        let sent_early = early && stream.send_early(b"hello\n").unwrap();
        stream.handshake().unwrap();
        if !stream.session().early_data_accepted || !sent_early {
            if sent_early {
                panic!("early data was sent but not accepted");
            }
            stream.write_all(b"hello\n").unwrap();
        }
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, "got hello\n");
        stream.session()
    }

    #[test]
    fn each_version_is_spoken_as_pinned_and_resumes_only_when_asked() {
        for version in [TlsVersion::Tls12, TlsVersion::Tls13] {
            for resume in [false, true] {
                let server = ServerTls::self_signed(version, &["127.0.0.1".into()]).unwrap();
                let client = ClientTls::trusting(
                    server.certificate(),
                    "127.0.0.1:1",
                    options(version, resume, false),
                )
                .unwrap();
                let (addr, handle) = serve(server, 3);
                let sessions = client.sessions();
                let seen: Vec<TlsSession> = (0..3).map(|_| ask(&sessions, addr, false)).collect();
                let served = handle.join().unwrap();
                for (i, (client_side, (server_side, _))) in seen.iter().zip(&served).enumerate() {
                    assert_eq!(client_side.version, Some(version));
                    assert_eq!(server_side.version, Some(version));
                    let expect_resumed = resume && i > 0;
                    assert_eq!(
                        client_side.resumed, expect_resumed,
                        "{version} resume={resume} #{i}"
                    );
                    assert_eq!(
                        server_side.resumed, expect_resumed,
                        "{version} resume={resume} #{i}"
                    );
                }
                // A new run starts without the sessions of the last.
                let (addr, handle) = serve(
                    ServerTls::self_signed(version, &["127.0.0.1".into()]).unwrap(),
                    0,
                );
                drop((addr, handle.join()));
            }
        }
    }

    #[test]
    fn early_data_rides_with_the_client_hello_of_a_resumed_tls13_session() {
        let server = ServerTls::self_signed(TlsVersion::Tls13, &["127.0.0.1".into()]).unwrap();
        let client = ClientTls::trusting(
            server.certificate(),
            "127.0.0.1",
            options(TlsVersion::Tls13, true, true),
        )
        .unwrap();
        let (addr, handle) = serve(server, 2);
        let sessions = client.sessions();
        let first = ask(&sessions, addr, true);
        let second = ask(&sessions, addr, true);
        let served = handle.join().unwrap();
        assert_eq!(first.early_data_sent, 0, "no session yet, so no early data");
        assert!(!served[0].1);
        assert!(second.resumed);
        assert_eq!(second.early_data_sent, 6);
        assert!(second.early_data_accepted);
        assert!(served[1].1, "the server read the request as early data");
    }

    #[test]
    fn a_certificate_for_another_server_fails_the_handshake_loudly() {
        let server = ServerTls::self_signed(TlsVersion::Tls13, &["127.0.0.1".into()]).unwrap();
        let other = ServerTls::self_signed(TlsVersion::Tls13, &["127.0.0.1".into()]).unwrap();
        let client = ClientTls::trusting(
            other.certificate(),
            "127.0.0.1",
            options(TlsVersion::Tls13, false, false),
        )
        .unwrap();
        let (addr, handle) = serve(server, 1);
        let socket = TcpStream::connect(addr).unwrap();
        let mut stream = client.sessions().connect(socket).unwrap();
        let error = stream.handshake().unwrap_err();
        assert!(
            error.to_string().contains("invalid peer certificate"),
            "{error}"
        );
        // The server sees the alert and gives up on the connection.
        drop(stream);
        let _ = handle.join();
    }

    #[test]
    fn a_name_the_certificate_does_not_carry_is_refused() {
        let server = ServerTls::self_signed(TlsVersion::Tls12, &["127.0.0.1".into()]).unwrap();
        let client = ClientTls::trusting(
            server.certificate(),
            "localhost:8443",
            options(TlsVersion::Tls12, false, false),
        )
        .unwrap();
        let (addr, handle) = serve(server, 1);
        let mut stream = client
            .sessions()
            .connect(TcpStream::connect(addr).unwrap())
            .unwrap();
        let error = stream.handshake().unwrap_err();
        assert!(error.to_string().contains("not valid for name"), "{error}");
        drop(stream);
        let _ = handle.join();
    }

    #[test]
    fn host_header_values_name_the_server() {
        assert_eq!(server_host("127.0.0.1:8443"), "127.0.0.1");
        assert_eq!(server_host("[::1]:8443"), "::1");
        assert_eq!(server_host("example.org"), "example.org");
        assert_eq!(server_host("example.org:443"), "example.org");
    }

    #[test]
    fn the_pem_of_a_certificate_reads_back_as_the_same_certificate() {
        let server = ServerTls::self_signed(TlsVersion::Tls13, &["localhost".into()]).unwrap();
        let pem = server.generated_pem().unwrap();
        let back = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        assert_eq!(back.as_ref(), server.certificate().as_ref());
    }
}
