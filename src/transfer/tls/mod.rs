//! Transfer layer: TLS 1.2 and 1.3 on both sides (rustls): the server's certificate, made at start
//! or read from files; what the client trusts (exactly that certificate, the system's roots, or a
//! private CA); session resumption and 0-RTT early data; and a stream that speaks TLS over any
//! socket. Must not import capture or report code.
//!
//! Nothing here skips certificate verification: `compare` trusts the one certificate its own
//! server made, `fetch` verifies as a browser does.

mod client;
mod server;
mod stream;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::SupportedProtocolVersion;
use rustls::crypto::CryptoProvider;

pub use client::{ClientSessions, ClientTls, ClientTlsOptions, TlsSession};
pub use server::ServerTls;
pub use stream::TlsStream;

/// Early data a server accepts per connection: a few request heads.
const EARLY_DATA_LIMIT: u32 = 16 * 1024;

/// Sessions the server remembers for resumption (TLS 1.2 session ids, TLS 1.3 tickets).
const SERVER_SESSIONS: usize = 4096;

/// Sessions a client remembers within one run.
const CLIENT_SESSIONS: usize = 64;

/// The TLS version both sides are pinned to.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    clap::ValueEnum,
    serde::Serialize,
    schemars::JsonSchema,
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

#[cfg(test)]
mod tests;
