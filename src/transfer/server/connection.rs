//! Transfer layer, server: one connection's life on a thread of its own: its requests in order,
//! and its close, done so that a capture shows a clean FIN exchange and never a RST. Must not
//! import the server's lifecycle or keep-alive poller, the client, capture or report code.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::sync::Mutex;
use std::time::Instant;

use super::config::{
    LINGER_TIMEOUT, Policy, ServerTimeouts, first_read_timeout, listener_sets_options,
};
use super::idle::Idle;
use super::incoming::{Incoming, has_unread_bytes};
use super::linger::Lingerer;
use super::multiplexed::{serve_http2, speaks_http2, starts_tls};
use super::park::Parking;
use super::response::{Answer, error_message, respond, send_error};
use super::root::Root;
use super::samples::{ResponseRecorder, UNKNOWN_ADDR};
use super::status::{
    BAD_REQUEST, HEADERS_TOO_LARGE, REQUEST_TIMEOUT, TOO_EARLY, URI_TOO_LONG, VERSION_NOT_SUPPORTED,
};
use super::workers::Accepted;
use crate::transfer::events::{ConnectionEvents, EventKind, EventLog, Side};
use crate::transfer::http::{self, HttpError};
use crate::transfer::run::ResponseSample;
use crate::transfer::tls::{self, PlainClient};
use crate::transfer::wire::{Wire, is_timeout};

/// Stack of a connection thread: a request is parsed in a few KiB, so a thousand threads cost
/// little memory.
pub(super) const CONNECTION_STACK: usize = 256 * 1024;

/// How a connection's request loop ended, which decides how it is closed.
pub(super) enum End {
    /// The peer sent FIN first and every byte was read: answer with our FIN and close.
    PeerClosed,
    /// The server closes first: send FIN, wait for the peer's, then close.
    Close,
    /// The client asked for the close (`Connection: close`, or HTTP/1.0 without keep-alive), so
    /// it sends no further request: as [`End::Close`], except that a plain server whose client
    /// has sent nothing more closes at once (its FIN leaves with the close; with nothing unread,
    /// the kernel sends no RST), as nginx does.
    Asked,
    /// The connection is broken: just close it.
    Abort,
    /// Keep-alive with nothing more to read yet: the connection waits parked (see
    /// [`KeepAlive`](super::keep_alive::KeepAlive)).
    Park,
    /// A TLS server has answered a plain-text client in plain text: as [`End::Close`], without
    /// the TLS close_notify the client could not read.
    PlainClose,
    /// The client speaks HTTP/2: the connection goes to [`serve_http2`] as it is.
    Http2,
}

/// Serves one accepted connection on the calling thread, from its first request to its close
/// (or until it is parked on a poller).
pub(super) fn serve_connection(
    accepted: Accepted,
    root: &Root,
    policy: &Policy,
    samples: Option<&Mutex<Vec<ResponseSample>>>,
    log: Option<&EventLog>,
    lingerer: Option<&Lingerer>,
    parking: Option<&Parking<Idle>>,
) {
    let timeouts = policy.timeouts;
    let Accepted {
        stream,
        peer,
        at: accepted_at,
        instant,
        slot,
    } = accepted;
    // Only events and samples name the server's address; a plain server skips the system call.
    let local = if log.is_some() || samples.is_some() {
        stream.local_addr().unwrap_or(UNKNOWN_ADDR)
    } else {
        UNKNOWN_ADDR
    };
    let events = ConnectionEvents::new(log, Side::Server, local, peer);
    let recorder = ResponseRecorder::new(samples, local, peer);
    events.at(accepted_at, EventKind::Accept);
    let inherited = listener_sets_options(timeouts);
    let send_timeout = if inherited {
        Ok(())
    } else {
        // Small responses must not wait for an ACK of the previous segment (Nagle); a failure
        // here means the socket is already broken and the first read will say so.
        let _ = stream.set_nodelay(true);
        // The write timeout frees the thread when a client stops reading in the middle of a
        // body.
        stream.set_write_timeout(Some(timeouts.send))
    };
    let mut incoming = Incoming {
        stream,
        // The first request's head (after the TLS handshake, if any) is due a head's time after
        // the accept.
        deadline: Some(instant + timeouts.head),
        timeout: inherited.then_some(first_read_timeout(timeouts)),
        no_wait: false,
    };
    let wire = match &policy.tls {
        Some(tls) if !tls.serves_plain_too() || starts_tls(&mut incoming, timeouts.head) => {
            tls.accept(incoming).map(|tls| Wire::Tls(Box::new(tls)))
        }
        _ => Ok(Wire::Plain(incoming)),
    };
    let Ok(wire) = wire else {
        events.now(EventKind::Closed);
        return;
    };
    let parks = parking.filter(|_| matches!(wire, Wire::Plain(_)));
    let _held = parks.map(Parking::hold);
    let mut conn = BufReader::new(wire);
    let mut end = match send_timeout {
        Ok(()) => serve_requests(&mut conn, root, timeouts, &events, &recorder, true, parks),
        Err(_) => End::Abort,
    };
    if let (End::Park, Some(parking)) = (&end, parking) {
        let idle = Idle::new(conn, slot);
        let Err(idle) = parking.park(idle) else {
            return;
        };
        // It cannot be watched: this thread goes on serving it.
        conn = idle.conn;
        end = serve_requests(&mut conn, root, timeouts, &events, &recorder, false, None);
    }
    if let End::Http2 = end {
        return serve_http2(conn, root, timeouts, &events, &recorder);
    }
    finish(conn, end, &events, &recorder, lingerer);
}

/// Answers requests in the order they arrive until the connection must end.
///
/// Pipelined requests are served like any others: a burst of them (even in one segment) stays
/// in the BufReader, and each is read only after the previous response has been written.
///
/// `first`: the next request's head deadline is already set (the first request's, from the
/// accept). `parks`: once a response is written and nothing more is buffered, the connection
/// is to be parked there ([`End::Park`]) rather than waited on here, when that pays.
pub(super) fn serve_requests(
    conn: &mut BufReader<Wire<Incoming>>,
    root: &Root,
    timeouts: ServerTimeouts,
    events: &ConnectionEvents<'_>,
    recorder: &ResponseRecorder<'_>,
    first: bool,
    parks: Option<&Parking<Idle>>,
) -> End {
    for first in std::iter::once(first).chain(std::iter::repeat(false)) {
        // Waiting for the first byte: the deadline set at the accept, or keep-alive's idle time.
        match conn.fill_buf() {
            Ok([]) => {
                events.now(EventKind::FinReceived);
                return End::PeerClosed;
            }
            Ok(_) => {}
            // An idle connection (or a silent one): close it politely, without an answer.
            Err(error) if is_timeout(&error) => return End::Close,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) if is_plain_client(&error) => {
                return answer_plain_client(conn.get_mut(), events);
            }
            Err(error) => return broken(events, &error),
        }
        if speaks_http2(conn) {
            return End::Http2;
        }
        if !first {
            // A later request's head is due a head's time after its first byte.
            conn.get_mut().raw_mut().deadline = Some(Instant::now() + timeouts.head);
        }
        let request = match http::read_request(conn) {
            Ok(Some(request)) => request,
            Ok(None) => {
                events.now(EventKind::FinReceived);
                return End::PeerClosed;
            }
            Err(error) => return refuse(conn.get_mut(), error, events, recorder),
        };
        if events.records() {
            events.now(EventKind::Request {
                path: request.path.clone(),
            });
        }
        let close = !request.keep_alive;
        conn.get_mut().raw_mut().deadline = None;
        if conn.get_mut().took_early_data() && request.method != "GET" && request.method != "HEAD" {
            // Early data can be replayed by anyone who saw it: only a GET may ride on it.
            let answer = Answer {
                path: &request.path,
                close: true,
                head_only: false,
            };
            return match send_error(conn.get_mut(), TOO_EARLY, &answer, events, recorder) {
                Ok(()) => End::Close,
                Err(_) => End::Abort,
            };
        }
        match respond(conn.get_mut(), &request, root, close, events, recorder) {
            Ok(()) if close => return End::Asked,
            Ok(()) => recorder.settle(conn.get_ref().tcp(), !conn.buffer().is_empty()),
            Err(error) => return broken(events, &error),
        }
        // The next request's first byte is due within the keep-alive idle time.
        conn.get_mut().raw_mut().deadline = Some(Instant::now() + timeouts.idle);
        if conn.buffer().is_empty() && parks.is_some_and(Parking::pays) {
            return End::Park;
        }
    }
    unreachable!("the requests of a connection are an endless sequence")
}

/// A connection that broke off: the log says why (a reset, a TLS alert, a client that stopped
/// reading), and it is closed without more.
fn broken(events: &ConnectionEvents<'_>, error: &io::Error) -> End {
    if events.records() {
        let reason = if is_timeout(error) {
            "the client stopped reading before the response was sent".to_string()
        } else if tls::peer_distrusts_certificate(error) {
            format!(
                "{error} (the client does not trust this server's certificate: give it the \
                 saved PEM, e.g. curl --cacert)"
            )
        } else {
            error.to_string()
        };
        events.now(EventKind::Broken { reason });
    }
    End::Abort
}

/// Answers a request that could not be read, and says how the connection ends: a head that is
/// not whole by its deadline (408), a request line or head past its bound (414, 431), a request
/// in another major version of HTTP (505), or whatever follows a malformed one (which cannot be
/// framed, 400), is answered and the connection closed; a broken connection is just closed.
pub(super) fn refuse(
    wire: &mut Wire<Incoming>,
    error: HttpError,
    events: &ConnectionEvents<'_>,
    recorder: &ResponseRecorder<'_>,
) -> End {
    let status = match &error {
        HttpError::Io(error) | HttpError::BodyIo(error) if !is_timeout(error) => {
            return broken(events, error);
        }
        HttpError::Io(_) | HttpError::BodyIo(_) => REQUEST_TIMEOUT,
        HttpError::HeadTooLarge {
            first_line: true, ..
        } => URI_TOO_LONG,
        HttpError::HeadTooLarge { .. } | HttpError::TooManyHeaders { .. } => HEADERS_TOO_LARGE,
        HttpError::VersionNotSupported(_) => VERSION_NOT_SUPPORTED,
        _ => BAD_REQUEST,
    };
    if events.records() {
        let reason = match &error {
            HttpError::Io(_) => "the request's head was not whole by its deadline".to_string(),
            HttpError::BodyIo(_) => "the request's body was not whole by its deadline".to_string(),
            other => other.to_string(),
        };
        events.now(EventKind::Refused { reason });
    }
    let answer = Answer {
        path: "",
        close: true,
        head_only: false,
    };
    match send_error(wire, status, &answer, events, recorder) {
        Ok(()) => End::Close,
        Err(_) => End::Abort,
    }
}

/// Answers a client that sent plain text to a TLS server with a 400 in plain text, as nginx does,
/// so that `curl http://` to an `https://` server says what went wrong instead of "Received
/// HTTP/0.9". Nothing was sent in TLS before it, so the client reads it as HTTP.
fn answer_plain_client(wire: &mut Wire<Incoming>, events: &ConnectionEvents<'_>) -> End {
    if events.records() {
        events.now(EventKind::Refused {
            reason: "plain HTTP on a TLS server".to_string(),
        });
    }
    let body = "400 Bad Request\nThis server speaks HTTPS (TLS): use an https:// URL, or TLS in \
                your client.\n";
    let answer = Answer {
        path: "",
        close: true,
        head_only: false,
    };
    let (message, sent) = error_message(BAD_REQUEST, body, &answer);
    if wire.raw_mut().write_all(message.as_bytes()).is_err() {
        return End::Abort;
    }
    events.now(EventKind::ResponseStart { status: 400 });
    events.now(EventKind::ResponseEnd { bytes: sent });
    End::PlainClose
}

/// Closes the connection as `end` says; with a `lingerer` (a server that records no events),
/// the wait for the peer's FIN is left to it.
pub(super) fn finish(
    mut conn: BufReader<Wire<Incoming>>,
    end: End,
    events: &ConnectionEvents<'_>,
    recorder: &ResponseRecorder<'_>,
    lingerer: Option<&Lingerer>,
) {
    match end {
        End::PeerClosed => {
            conn.get_mut().end_stream();
            events.now(EventKind::FinSent);
            // The close below sends the FIN anyway if this fails.
            let _ = conn.get_ref().tcp().shutdown(Shutdown::Write);
        }
        End::Asked
            if lingerer.is_some()
                && matches!(conn.get_ref(), Wire::Plain(_))
                && conn.buffer().is_empty()
                && !has_unread_bytes(conn.get_ref().tcp()) =>
        {
            events.now(EventKind::FinSent);
        }
        End::Close | End::Asked => {
            conn.get_mut().end_stream();
            events.now(EventKind::FinSent);
            if conn.get_ref().tcp().shutdown(Shutdown::Write).is_ok() {
                // After the FIN is out, so waiting for the ACK never holds the FIN back.
                recorder.settle_closed(conn.get_ref().tcp());
                if let Some(lingerer) = lingerer {
                    return lingerer.adopt(conn.into_inner().into_tcp());
                }
                drain_until_fin(conn.get_mut().raw_mut(), events);
            }
        }
        End::PlainClose => {
            events.now(EventKind::FinSent);
            if conn.get_ref().tcp().shutdown(Shutdown::Write).is_ok() {
                drain_until_fin(conn.get_mut().raw_mut(), events);
            }
        }
        End::Abort | End::Park | End::Http2 => {}
    }
    drop(conn);
    events.now(EventKind::Closed);
}

/// Reads and drops whatever the peer still sends until its FIN, so the socket is never closed
/// with unread data (which makes the kernel send RST instead of FIN). Reads the socket itself:
/// what is dropped needs no decrypting, and a TLS peer's close_notify is not yet its FIN.
fn drain_until_fin(conn: &mut Incoming, events: &ConnectionEvents<'_>) {
    let deadline = Instant::now() + LINGER_TIMEOUT;
    conn.deadline = Some(deadline);
    let mut scratch = [0u8; 4096];
    loop {
        match conn.read(&mut scratch) {
            Ok(0) => {
                events.now(EventKind::FinReceived);
                return;
            }
            Ok(_) if Instant::now() < deadline => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            // A peer that keeps sending past the deadline, a timeout, or a reset.
            _ => return,
        }
    }
}

/// Whether a TLS server's first read found plain text instead of a TLS record.
fn is_plain_client(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<PlainClient>())
}
