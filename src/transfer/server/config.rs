//! Transfer layer, server: what the server is told (address, root, bounds, timeouts, TLS) and the
//! socket options that follow from it. Must not import the rest of the server, the client, capture
//! or report code.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::transfer::tls::ServerTls;

/// Connections served at once unless told otherwise: threads are cheap, and a bound far above
/// what clients open keeps idle or slow ones from keeping others out.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long the server waits for the peer's FIN after sending its own.
pub(super) const LINGER_TIMEOUT: Duration = Duration::from_secs(3);

/// Where to listen, what to serve, and how many connections to serve at once.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listening address; port 0 picks a free port (see
    /// [`Server::local_addr`](super::Server::local_addr)).
    pub bind: SocketAddr,
    /// Directory whose regular files are served.
    pub root: PathBuf,
    /// Connections served concurrently; further ones wait in the kernel's accept queue until a
    /// slot frees up (0 is treated as 1).
    pub max_connections: usize,
    /// Congestion control for every connection (`TCP_CONGESTION` on the listening socket, which
    /// accepted sockets inherit); None keeps the kernel's default.
    pub congestion: Option<String>,
    /// Accept requests carried on the SYN (TCP Fast Open) from clients holding a cookie.
    pub fastopen: bool,
    /// Speak TLS on every connection (HTTPS) with this certificate; None for plain HTTP.
    pub tls: Option<ServerTls>,
    /// Record TCP_INFO around every response for `Server::take_samples` (compare's slow-start
    /// table). It waits for each response's last ACK, so a plain server leaves it off.
    pub sample_responses: bool,
    /// How long clients may take.
    pub timeouts: ServerTimeouts,
}

/// How long a client may take before the server gives up on it, so that idle or slow clients
/// never hold a connection thread for long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerTimeouts {
    /// A request head, whole: from the connection's accept (its first request) or the first
    /// byte of the head (later ones) to its blank line; answered 408 when it expires.
    pub head: Duration,
    /// Keep-alive: from a response's end to the next request's first byte; then closed quietly.
    pub idle: Duration,
    /// Each send to a client that does not read: the response ends and the connection closes.
    pub send: Duration,
}

impl Default for ServerTimeouts {
    fn default() -> ServerTimeouts {
        ServerTimeouts {
            head: Duration::from_secs(10),
            idle: Duration::from_secs(15),
            send: Duration::from_secs(10),
        }
    }
}

/// What every connection is held to.
#[derive(Debug, Clone)]
pub(super) struct Policy {
    pub(super) timeouts: ServerTimeouts,
    pub(super) tls: Option<ServerTls>,
}

/// Whether accepted sockets get their connection options from the listening socket: Linux copies
/// a listener's TCP_NODELAY, SO_SNDTIMEO and SO_RCVTIMEO into every socket it accepts, which
/// saves three system calls per connection. A zero timeout cannot be set, so it is left to the
/// connection (which then fails as it always did).
pub(super) fn listener_sets_options(timeouts: ServerTimeouts) -> bool {
    cfg!(target_os = "linux") && !timeouts.send.is_zero() && !timeouts.head.is_zero()
}

/// The read timeout a connection starts with when it comes from the listener: no longer than
/// the first head's deadline nor than the wait for a closing peer's FIN, so neither the first
/// read nor that wait has to set a timeout of its own (a longer wait, for keep-alive's idle time,
/// only wakes the thread once more when this expires).
pub(super) fn first_read_timeout(timeouts: ServerTimeouts) -> Duration {
    timeouts.head.min(LINGER_TIMEOUT)
}
