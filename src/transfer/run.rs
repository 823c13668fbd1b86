//! Transfer layer: what a run leaves behind for analysis and the report: the mode it ran, the
//! client's timings, the server's response samples, and the types those records carry. Must not
//! import the server, the client, capture or report code; analysis reads a run through this module
//! alone.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::events::serialize_ts;
use crate::timeline::Ts;

pub use super::kernel::KernelSettings;
pub use super::tcp_info::TcpInfoSample;
pub use super::tls::{ClientTlsOptions, TlsSession, TlsVersion};

/// How files are fetched: connections per file, and how requests share them.
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
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One connection per file, each request with `Connection: close`.
    NonPersistent,
    /// One keep-alive connection carrying every request in turn.
    Persistent,
    /// One keep-alive connection; every request is written before any response is read
    /// (HTTP/1.1 pipelining), then the responses are read in order.
    Pipelined,
    /// One connection per file as in non-persistent, but up to `--parallel` of them
    /// open at once, as a browser does.
    Parallel,
    /// HTTP/2 over TLS (ALPN `h2`): one connection, every request sent at once, each on a
    /// stream of its own.
    H2,
    /// HTTP/2 in cleartext with prior knowledge: as `h2`, without TLS.
    H2c,

    /// HTTP/3: one QUIC connection (TLS 1.3 inside, over UDP), every request on a stream of its
    /// own, all sent at once; with `--tls-resume` or `--early-data` later runs resume the session
    /// and send their requests as 0-RTT data.
    H3,
}

impl Mode {
    /// Every mode, in the order they are run and reported.
    pub const ALL: [Mode; 7] = [
        Mode::NonPersistent,
        Mode::Persistent,
        Mode::Pipelined,
        Mode::Parallel,
        Mode::H2,
        Mode::H2c,
        Mode::H3,
    ];

    /// The two modes `compare` runs and reports today.
    pub const DEFAULT: [Mode; 2] = [Mode::NonPersistent, Mode::Persistent];

    /// The mode's CLI value name, also the name of its output directory.
    pub fn name(self) -> &'static str {
        match self {
            Mode::NonPersistent => "non-persistent",
            Mode::Persistent => "persistent",
            Mode::Pipelined => "pipelined",
            Mode::Parallel => "parallel",
            Mode::H2 => "h2",
            Mode::H2c => "h2c",
            Mode::H3 => "h3",
        }
    }

    /// Whether the mode's requests are streams of one connection, their responses interleaved
    /// and finished in any order (HTTP/2 and HTTP/3), rather than answered one after another.
    pub fn is_multiplexed(self) -> bool {
        matches!(self, Mode::H2 | Mode::H2c | Mode::H3)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Timings of one run of one mode.
#[derive(Debug, Clone)]
pub struct RunTiming {
    /// The mode that was run.
    pub mode: Mode,
    /// Just before the first connect.
    pub start: Ts,
    /// When the last byte of the last file was read: what a user waits for.
    pub last_byte: Ts,
    /// After the last close.
    pub end: Ts,
    /// Every connection opened, in the order they were opened (connections of the parallel
    /// mode overlap).
    pub connections: Vec<ConnectionTiming>,
    /// Every file received, in plan order.
    pub files: Vec<FileResult>,
}

impl RunTiming {
    /// The run's total, measured alike in every mode: the first connect → the last byte of the
    /// last file.
    pub fn total_s(&self) -> f64 {
        self.last_byte.secs_since(self.start)
    }

    /// Closing after the last byte (FIN exchanges nobody waits for): the last byte → the last
    /// close returned.
    pub fn close_s(&self) -> f64 {
        self.end.secs_since(self.last_byte)
    }
}

/// Timings of one connection (TCP, or QUIC in the h3 mode), as seen by the client.
#[derive(Debug, Clone)]
pub struct ConnectionTiming {
    /// The client's address (its ephemeral port, TCP or UDP, identifies the connection in a
    /// capture).
    pub local: SocketAddr,
    /// The server's address.
    pub peer: SocketAddr,
    /// Just before `connect` (h3: before the first Initial leaves).
    pub connect_start: Ts,
    /// When `connect` returned (handshake done; h3: QUIC's handshake, TLS 1.3 with it, done).
    pub connected: Ts,
    /// The requests sent on this connection, in order.
    pub requests: Vec<RequestTiming>,
    /// After the socket was closed (h3: once CONNECTION_CLOSE was queued; QUIC waits for no
    /// answer).
    pub closed: Ts,
    /// The TLS handshake, on an HTTPS connection.
    pub tls: Option<TlsTiming>,
}

/// A connection's TLS handshake as the client saw it.
#[derive(Debug, Clone, Copy)]
pub struct TlsTiming {
    /// When the handshake was complete on the client's side (its Finished sent).
    pub done: Ts,
    /// What the session turned out to be.
    pub session: TlsSession,
}

/// Timings of one request/response exchange.
#[derive(Debug, Clone)]
pub struct RequestTiming {
    /// Index into the plan's paths ([`FetchPlan::paths`](super::client::FetchPlan::paths)).
    pub file: usize,
    /// When the request was fully written.
    pub sent: Ts,
    /// When the first response byte was read. In the pipelined mode a response can arrive while
    /// the previous one is still being read, so this is when the client got to it: never before
    /// the previous response's last byte.
    pub first_byte: Ts,
    /// When the last body byte was read.
    pub last_byte: Ts,
}

/// One received file.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// File name (decoded last segment of the request path).
    pub name: String,
    /// The response's status code.
    pub status: u16,
    /// Body size in bytes.
    pub bytes: u64,
    /// SHA-256 of the body, lowercase hex.
    pub sha256: String,
    /// Whether it matched the expected digest; None when none was given.
    pub sha256_ok: Option<bool>,
    /// Seconds attributable to this file, up to its own last byte: from its connection's connect
    /// (non-persistent, parallel, h2, h2c, h3), or from the previous file's last byte on the
    /// shared connection, the connect for the first file (persistent, pipelined). In the parallel
    /// and multiplexed modes these overlap, so they add up to more than the run.
    pub seconds: f64,
    /// Where it was saved.
    pub path: PathBuf,
}

/// One response, with the TCP state of its connection just before and just after it was sent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ResponseSample {
    /// The client's address.
    pub peer: SocketAddr,
    /// The server's address on this connection.
    pub local: SocketAddr,
    /// The request target as sent (still percent-encoded); empty when the request was
    /// unreadable.
    pub path: String,
    /// Status code sent.
    pub status: u16,
    /// Body bytes sent.
    pub bytes: u64,
    /// Just before the response head was written.
    #[serde(serialize_with = "serialize_ts")]
    #[schemars(with = "f64")]
    pub started: Ts,
    /// Just after the whole body had been handed to the kernel.
    #[serde(serialize_with = "serialize_ts")]
    #[schemars(with = "f64")]
    pub ended: Ts,
    /// The congestion control the connection used (`TCP_CONGESTION`), None where unreadable.
    pub congestion: Option<String>,
    /// `TCP_INFO` just before the head was written: the state the response starts from.
    pub at_start: Option<TcpInfoSample>,
    /// `TCP_INFO` once the response's last byte was acknowledged (with a close, its FIN too):
    /// the window the response grew to. Taken earlier, and then not `all_acked`, when the next
    /// pipelined request was already waiting or no acknowledgement came within 3 s. None when
    /// `TCP_INFO` is unavailable (as for `at_start`).
    pub at_end: Option<TcpInfoSample>,
}
