//! Transfer layer: the blocking HTTP/1.1 server and client that produce the traffic and their own
//! timings, HTTP/2 on the connections they hand over, and HTTP/3 over QUIC (`h3`). Knows nothing
//! of capture, decoding or reports, and must not import them.
//!
//! `server/` and `client/` are the two ends; neither imports the other outside tests. What both use
//! lies beside them: `wire` (the plain-or-TLS stream), `http`, `h2`, `tls`, `events`, `files`. `run` holds
//! the records a run leaves, the one module analysis reads.

pub mod client;
pub mod events;
pub mod fastopen;
pub mod files;
pub mod h2;
pub mod h3;
pub mod http;
pub mod kernel;
pub mod run;
pub mod server;
mod sockopt;
pub mod tcp_info;
pub mod tls;
pub mod variant;
mod wire;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use self::http::HttpError;

impl TransferError {
    /// A TLS failure on the connection to `addr`, with what to try when the cause is a usual one.
    pub fn tls(addr: SocketAddr, source: io::Error) -> TransferError {
        if source
            .get_ref()
            .is_some_and(|inner| inner.is::<tls::NotTls>())
        {
            return TransferError::NotTls { addr };
        }
        let rustls_error = source
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        // Only the h2 mode offers ALPN, so a server with no protocol in common refused HTTP/2.
        if let Some(rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)) =
            rustls_error
        {
            return TransferError::NoHttp2 { addr };
        }
        let hint = match rustls_error {
            // webpki's words for a self-signed CA certificate served as the server's own.
            Some(rustls::Error::InvalidCertificate(e))
                if format!("{e:?}").contains("CaUsedAsEndEntity") =>
            {
                " (the server presents a CA certificate as its own, as `openssl req -x509` makes \
                 by default: make it with -addext basicConstraints=critical,CA:FALSE)"
            }
            Some(rustls::Error::InvalidCertificate(_)) => {
                " (the server's certificate is not for this name or not signed by a CA this \
                 client trusts; give a private CA with --cacert FILE)"
            }
            Some(rustls::Error::AlertReceived(_) | rustls::Error::PeerIncompatible(_)) => {
                " (does the server speak the TLS version asked for with --tls?)"
            }
            _ => "",
        };
        TransferError::Tls { addr, source, hint }
    }
}

/// Everything that can stop a transfer, worded so the person running synack can act on it.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The server could not listen on its address.
    #[error("cannot listen on {addr}: {source} (is another server using this port?)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// The kernel has no congestion control of that name (nor a module that loads it).
    #[error(
        "this kernel has no congestion control {name:?}: --congestion takes one of {available} \
         (or load its module: modprobe tcp_{name})"
    )]
    UnknownCongestion { name: String, available: String },
    /// The congestion control asked for cannot be set.
    #[error("cannot use congestion control {name:?}: {source} (this kernel offers: {available})")]
    Congestion {
        name: String,
        available: String,
        #[source]
        source: io::Error,
    },
    /// The listening socket stopped accepting connections.
    #[error("accepting connections on {addr} failed: {source}")]
    Accept {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// The directory to serve is missing or unreadable.
    #[error("cannot serve directory {}: {source}", path.display())]
    Root {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The client could not open a connection.
    #[error("cannot connect to {addr}: {source} (is the server running and reachable?)")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// The server answered the ClientHello with something other than TLS.
    #[error(
        "the server at {addr} did not answer in TLS (it may speak plain HTTP: use an http:// \
         URL, or leave out --tls)"
    )]
    NotTls { addr: SocketAddr },
    /// A plain-HTTP request was answered with a TLS record.
    #[error(
        "the server at {addr} answered in TLS (it speaks HTTPS: fetch an https:// URL; compare \
         --server needs --tls)"
    )]
    SpeaksTls { addr: SocketAddr },
    /// The h2 mode asked for HTTP/2 in ALPN and the server chose otherwise.
    #[error(
        "the server at {addr} did not select ALPN h2 (it does not speak HTTP/2 over TLS: use an \
         HTTP/1.x mode)"
    )]
    NoHttp2 { addr: SocketAddr },
    /// The TLS handshake failed or TLS broke off.
    #[error("TLS with {addr} failed: {source}{hint}")]
    Tls {
        addr: SocketAddr,
        #[source]
        source: io::Error,
        hint: &'static str,
    },
    /// A connection, request or response did not finish by its deadline.
    #[error(
        "{addr} did not {what} within {} s (--timeout; the server or the path stalls, or is \
         slower than that)",
        after.as_secs_f64()
    )]
    Timeout {
        addr: SocketAddr,
        what: &'static str,
        after: std::time::Duration,
    },
    /// Nothing came back to QUIC's Initial packets: UDP is blocked on the way, or the server
    /// speaks no HTTP/3.
    #[error(
        "{addr} did not answer QUIC within {} s (UDP is blocked on the way, or the server speaks \
         no HTTP/3): fall back to a TCP mode, h2 or persistent",
        after.as_secs_f64()
    )]
    NoQuicAnswer {
        addr: SocketAddr,
        after: std::time::Duration,
    },
    /// A body larger than the limit asked for.
    #[error("response for {path} is larger than the {limit} bytes allowed (--max-size)")]
    TooLarge { path: String, limit: u64 },
    /// An established connection failed while sending or receiving.
    #[error("connection to {addr} failed: {source}")]
    Network {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// The server's response could not be parsed as HTTP/1.x.
    #[error("unreadable HTTP response from {addr}: {source}")]
    Http {
        addr: SocketAddr,
        #[source]
        source: HttpError,
    },
    /// The response was valid HTTP but cannot be used (framing, early close).
    #[error("bad response: {0}")]
    BadResponse(String),
    /// The server answered with a non-2xx status.
    #[error("server answered {code} for {path}{}", status_detail(*code, said.as_deref()))]
    Status {
        code: u16,
        path: String,
        /// The last line of a short plain-text error body: the server's own reason.
        said: Option<String>,
    },
    /// The body ended before its announced length.
    #[error("response for {path} ended after {got} of {expected} bytes")]
    Truncated {
        path: String,
        expected: u64,
        got: u64,
    },
    /// A received file does not have the expected SHA-256.
    #[error(
        "SHA-256 of {name} is {actual}, expected {expected}: the server is serving a different file"
    )]
    ShaMismatch {
        name: String,
        expected: String,
        actual: String,
    },
    /// A received file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The fetch plan is inconsistent (no files, names that cannot be saved, hash count).
    #[error("invalid fetch plan: {0}")]
    InvalidPlan(String),
    /// Any other I/O failure (for example a thread that could not be spawned).
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// What follows "server answered CODE for PATH": the server's own words when it gave a short
/// plain-text reason, else what a 404 usually means.
fn status_detail(code: u16, said: Option<&str>) -> String {
    match said {
        // Quoted with escapes: a server's text must not reorder the terminal's line (bidi marks)
        // or pass for synack's own words.
        Some(said) => format!(": {said:?}"),
        None if code == 404 => " (does the file exist under the served directory?)".to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_servers_reason_is_quoted_with_its_invisible_characters_escaped() {
        let error = TransferError::Status {
            code: 400,
            path: "/c.txt".into(),
            said: Some("use \u{202E}txt.exe\u{202C} \"now\"".into()),
        };
        assert_eq!(
            error.to_string(),
            r#"server answered 400 for /c.txt: "use \u{202e}txt.exe\u{202c} \"now\"""#
        );
    }
}
