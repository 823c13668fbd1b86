//! Transfer layer, server: a connection that speaks HTTP/2 (its client's preface in cleartext, or
//! ALPN `h2` under TLS), handed to [`crate::transfer::h2`] with the same root, confinement and
//! content types as HTTP/1.x, and closed as every other. Must not import the server's connection
//! loop, keep-alive poller or lifecycle, the client, capture or report code.

use std::io::{self, BufReader};
use std::net::TcpStream;
use std::time::Duration;

use super::config::{LINGER_TIMEOUT, ServerTimeouts};
use super::incoming::Incoming;
use super::root::{Root, Served};
use super::samples::{ResponseRecorder, Started};
use super::status::METHOD_NOT_ALLOWED;
use crate::transfer::events::{ConnectionEvents, EventKind};
use crate::transfer::h2::{self, server::Found, server::Patience, server::Site};
use crate::transfer::tls::TlsStream;
use crate::transfer::wire::Wire;

/// Whether the connection's next bytes are HTTP/2's: ALPN chose `h2`, or the first bytes read in
/// cleartext are the client's preface.
pub(super) fn speaks_http2(conn: &BufReader<Wire<Incoming>>) -> bool {
    match conn.get_ref() {
        Wire::Tls(tls) => tls.alpn() == Some(h2::ALPN),
        Wire::Plain(_) => h2::is_preface(conn.buffer()),
    }
}

/// Whether a client's first byte is a TLS handshake record, waiting for it at most `wait`; a
/// client that sends nothing by then is taken for a TLS one (its handshake then times out as
/// any other).
pub(super) fn starts_tls(incoming: &mut Incoming, wait: Duration) -> bool {
    const HANDSHAKE: u8 = 22;
    if incoming.stream.set_read_timeout(Some(wait)).is_ok() {
        incoming.timeout = Some(wait);
    }
    let mut first = [0u8; 1];
    !matches!(incoming.stream.peek(&mut first), Ok(1) if first[0] != HANDSHAKE)
}

/// Serves an HTTP/2 connection to its end: the client's GOAWAY and FIN, or its patience run out.
pub(super) fn serve_http2(
    conn: BufReader<Wire<Incoming>>,
    root: &Root,
    timeouts: ServerTimeouts,
    events: &ConnectionEvents<'_>,
    recorder: &ResponseRecorder<'_>,
) {
    let unread = conn.buffer().to_vec();
    let (tcp, tls) = match conn.into_inner() {
        Wire::Plain(incoming) => (incoming.stream, None),
        Wire::Tls(stream) => {
            let (tls, incoming) = TlsStream::into_parts(*stream);
            (incoming.stream, Some(tls))
        }
    };
    // A second handle on the socket: for TCP_INFO while h2 owns it, and for the peer's FIN after.
    let Ok(probe) = tcp.try_clone() else {
        events.now(EventKind::Closed);
        return;
    };
    let site = RootSite {
        root,
        events,
        recorder,
        tcp: &probe,
    };
    let patience = Patience {
        idle: timeouts.idle,
        send: timeouts.send,
    };
    match h2::server::serve(tcp, tls, unread, &site, patience) {
        Ok(()) => {
            events.now(EventKind::FinSent);
            recorder.settle_closed(&probe);
            drain_until_fin(&probe, events);
        }
        Err(error) => {
            if events.records() {
                events.now(EventKind::Broken {
                    reason: format!("HTTP/2: {error}"),
                });
            }
        }
    }
    drop(probe);
    events.now(EventKind::Closed);
}

/// Reads and drops what the peer still sends until its FIN, so closing sends no RST.
fn drain_until_fin(tcp: &TcpStream, events: &ConnectionEvents<'_>) {
    use std::io::Read;
    // tokio left the socket non-blocking, a flag both handles share.
    if tcp.set_nonblocking(false).is_err() || tcp.set_read_timeout(Some(LINGER_TIMEOUT)).is_err() {
        return;
    }
    let mut scratch = [0u8; 4096];
    let mut reader = tcp;
    loop {
        match reader.read(&mut scratch) {
            Ok(0) => {
                events.now(EventKind::FinReceived);
                return;
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            _ => return,
        }
    }
}

/// The root as h2 serves it, with the connection's events and samples.
struct RootSite<'a> {
    root: &'a Root,
    events: &'a ConnectionEvents<'a>,
    recorder: &'a ResponseRecorder<'a>,
    tcp: &'a TcpStream,
}

impl Site for RootSite<'_> {
    type Started = Started;

    fn find(&self, method: &str, target: &str) -> io::Result<Found> {
        if self.events.records() {
            self.events.now(EventKind::Request {
                path: target.to_owned(),
            });
        }
        if method != "GET" && method != "HEAD" {
            return Ok(Found::Refused(METHOD_NOT_ALLOWED.0, METHOD_NOT_ALLOWED.1));
        }
        Ok(match self.root.open(target)? {
            Ok(Served {
                file,
                length,
                content_type,
            }) => Found::File {
                file,
                length,
                content_type,
            },
            Err((code, reason)) => Found::Refused(code, reason),
        })
    }

    fn started(&self, _target: &str, status: u16) -> Started {
        self.events.now(EventKind::ResponseStart { status });
        self.recorder.start(self.tcp)
    }

    fn ended(&self, started: Started, target: &str, status: u16, bytes: u64) {
        self.recorder.end(started, self.tcp, target, status, bytes);
        self.events.now(EventKind::ResponseEnd { bytes });
    }
}
