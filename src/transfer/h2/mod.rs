//! Transfer layer: HTTP/2 (RFC 9113) for both ends, the h2 and h2c modes, on the `h2` crate. The
//! async runtime it needs stays in here: each connection is handed over once the blocking code
//! has opened it (TCP, and TLS with ALPN `h2`), runs on a current-thread tokio runtime of its own,
//! and comes back closed. Must not import the HTTP/1.x client or server, capture or report code.
//!
//! `client` sends every request at once, each on a stream of its own; `server` answers streams as
//! they come; `transport` carries their bytes, plain or under the connection's rustls session.

pub(crate) mod client;
pub(crate) mod server;
mod transport;

use std::io;
use std::net::SocketAddr;

use crate::transfer::TransferError;

/// The ALPN protocol id of HTTP/2 over TLS (RFC 9113 §3.2).
pub const ALPN: &[u8] = b"h2";

/// What a client sends first on a cleartext connection with prior knowledge (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The receive window of each stream: as a browser's (Chrome opens 6 MiB), so HTTP/2's flow
/// control does not hold back a path whose TCP window is larger.
const STREAM_WINDOW: u32 = 6 * 1024 * 1024;

/// The receive window of the whole connection (Chrome opens 15 MiB).
const CONNECTION_WINDOW: u32 = 15 * 1024 * 1024;

/// Whether the first bytes read on a cleartext connection are an HTTP/2 client's preface (at
/// least its first four bytes, which no HTTP/1.x method starts with).
pub fn is_preface(first: &[u8]) -> bool {
    first.len() >= 4 && (first.starts_with(PREFACE) || PREFACE.starts_with(first))
}

/// One connection's runtime: a single thread, the one that called.
fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
}

/// Wraps a failure of the connection to `addr`.
fn network_error(addr: SocketAddr) -> impl Fn(io::Error) -> TransferError + Copy {
    move |source| TransferError::Network { addr, source }
}

/// An h2 error as an I/O error, its own I/O error when it is one.
fn into_io(error: h2::Error) -> io::Error {
    if error.is_io() {
        return error
            .into_io()
            .unwrap_or_else(|| io::Error::other("I/O error"));
    }
    io::Error::other(error)
}

#[cfg(test)]
mod tests;
