//! Transfer layer: HTTP/3 over QUIC (quinn, h3), the `h3` mode's client and the server that
//! listens for it on UDP beside the TCP one. Must not import capture, analysis or report code.
//!
//! quinn and h3 are asynchronous: each end starts a tokio runtime of its own on the thread that
//! runs it, so nothing outside this module sees the runtime and HTTP/1.x stays blocking. The
//! client leaves the records every mode leaves (`run`); the server serves the same root with the
//! same confinement and content types as the HTTP/1.x one (`server::resolve`).
//!
//! A file per concern: `client` (one connection, every request at once) → `stream` (one
//! request's response, saved); `server` (listening, connections) → `respond` (one request);
//! `tls` (rustls for QUIC: ALPN h3, TLS 1.3, resumption and 0-RTT).

mod client;
mod respond;
mod server;
mod stream;
mod tls;

use std::sync::Arc;
use std::time::Duration;

pub(crate) use self::client::fetch;
pub use self::server::H3Server;

/// The ALPN protocol id of HTTP/3 (RFC 9114 §3.1).
const ALPN: &[u8] = b"h3";

/// How long a QUIC connection may go without a packet from its peer before it is given up: it
/// bounds a handshake that gets no answer (UDP blocked, no HTTP/3 server) as much as a stall.
const IDLE_LIMIT: Duration = Duration::from_secs(5);

/// Streams a client may open at once: every request of a page goes out together.
const STREAMS_AT_ONCE: u32 = 1024;

/// A runtime on the calling thread, for one end's work.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// The congestion control an h3 sender runs: quinn's controller of the kind the TCP modes' kernel
/// runs, so that h3 and TCP meet a lossy path with the same kind of controller (a loss-based one
/// shrinks its window at every loss, BBR does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuicCongestion {
    /// CUBIC, quinn's default.
    Cubic,
    /// NewReno.
    NewReno,
    /// quinn's BBR (its own port of BBRv1, not the kernel's).
    Bbr,
}

impl QuicCongestion {
    /// quinn's controller like the kernel's TCP one named `name` (`cubic`, `reno`, `bbr`);
    /// CUBIC, quinn's default, for any other or none.
    pub fn like_tcp(name: Option<&str>) -> QuicCongestion {
        match name {
            Some("bbr") => QuicCongestion::Bbr,
            Some("reno") => QuicCongestion::NewReno,
            _ => QuicCongestion::Cubic,
        }
    }

    /// Its name as the kernel names TCP's controllers.
    pub fn name(self) -> &'static str {
        match self {
            QuicCongestion::Cubic => "cubic",
            QuicCongestion::NewReno => "reno",
            QuicCongestion::Bbr => "bbr",
        }
    }

    fn factory(self) -> Arc<dyn quinn::congestion::ControllerFactory + Send + Sync> {
        match self {
            QuicCongestion::Cubic => Arc::new(quinn::congestion::CubicConfig::default()),
            QuicCongestion::NewReno => Arc::new(quinn::congestion::NewRenoConfig::default()),
            // quinn's BBR starts from 200 datagrams; TCP's and quinn's CUBIC start from ten
            // (RFC 9002 §7.2), and so does this, or h3's first flight would be twenty times
            // TCP's.
            QuicCongestion::Bbr => {
                let mut bbr = quinn::congestion::BbrConfig::default();
                bbr.initial_window(INITIAL_WINDOW);
                Arc::new(bbr)
            }
        }
    }
}

/// The first flight of every controller: ten of QUIC's smallest datagrams (1200 bytes), as
/// quinn's CUBIC and NewReno start, TCP's ten segments in QUIC's terms.
const INITIAL_WINDOW: u64 = 10 * 1200;

/// QUIC's transport settings shared by both ends, with the sender's congestion control.
fn transport(idle: Duration, congestion: QuicCongestion) -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    transport.congestion_controller_factory(congestion.factory());
    transport.max_concurrent_bidi_streams(quinn::VarInt::from_u32(STREAMS_AT_ONCE));
    // A duration this short always fits QUIC's idle timeout (62 bits of milliseconds).
    transport.max_idle_timeout(quinn::IdleTimeout::try_from(idle).ok());
    transport
}

#[cfg(test)]
mod tests;
