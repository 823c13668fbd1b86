//! Transfer layer, server: the keep-alive poller of a plain server, which serves small requests
//! on its own threads and hands the rest to a thread of their own. Must not import the server's
//! lifecycle, the client, capture or report code.

use std::io::{self, BufRead, BufReader};
use std::sync::Arc;
use std::time::Instant;

use super::config::{ServerTimeouts, first_read_timeout};
use super::connection::{CONNECTION_STACK, End, finish, refuse, serve_requests};
use super::idle::Idle;
use super::incoming::Incoming;
use super::linger::Lingerer;
use super::multiplexed::serve_http2;
use super::park::{Host, Turn};
use super::pool::Pool;
use super::response::{lookup_recent, send_response};
use super::root::{INLINE_BODY, Root, Served};
use super::samples::{ResponseRecorder, UNKNOWN_ADDR};
use super::status::Status;
use super::workers::Accepted;
use crate::transfer::events::{ConnectionEvents, Side};
use crate::transfer::http::{self, Request};
use crate::transfer::wire::Wire;

/// Serves parked keep-alive connections of a plain server (no events, no samples) on the
/// pollers' threads, so that under load one wake-up serves many requests instead of each
/// request waking its own thread; without TLS, the pollers also accept the server's connections
/// and serve their first requests the same way.
///
/// A poller serves a request itself only when nothing it does can block: the whole head is
/// already read, it is a GET or HEAD without a body, nothing sent before is still unacknowledged,
/// and the file is small enough to fit in the send buffer. Anything else (a head still arriving,
/// a body, a large file, a client behind on reading) goes on in a thread of its own, held to the
/// same deadlines as any connection. Responses, closes and deadlines are those of the
/// thread-per-connection path.
pub(super) struct KeepAlive {
    root: Arc<Root>,
    timeouts: ServerTimeouts,
    lingerer: Lingerer,
    /// Threads for the connections that leave the pollers.
    threads: Arc<Pool>,
}

impl KeepAlive {
    pub(super) fn new(root: Arc<Root>, timeouts: ServerTimeouts, lingerer: Lingerer) -> KeepAlive {
        KeepAlive {
            root,
            timeouts,
            lingerer,
            threads: Arc::new(Pool::new("synack-conn", CONNECTION_STACK)),
        }
    }
}

impl Host<Idle> for KeepAlive {
    fn ready(&self, mut idle: Idle) -> Turn<Idle> {
        let events = ConnectionEvents::new(None, Side::Server, UNKNOWN_ADDR, UNKNOWN_ADDR);
        let recorder = ResponseRecorder::none();
        // The poller must not wait: a connection just accepted may have sent nothing yet (it is
        // parked then), and a wake-up may find nothing to read.
        let incoming = idle.conn.get_mut().raw_mut();
        incoming.deadline = None;
        incoming.no_wait = true;
        let filled = match idle.conn.fill_buf() {
            Ok([]) => Some(End::PeerClosed),
            Ok(_) => None,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                idle.conn.get_mut().raw_mut().no_wait = false;
                return Turn::Stay(idle);
            }
            Err(_) => Some(End::Abort),
        };
        // Whatever reads next (here, the request's own head being buffered already, or a
        // thread) may wait as usual.
        idle.conn.get_mut().raw_mut().no_wait = false;
        if let Some(end) = filled {
            return self.leave(idle, end);
        }
        loop {
            if !head_is_whole(idle.conn.buffer())
                || (idle.answered && !all_acknowledged(idle.conn.get_ref()))
            {
                return self.hand_over(idle, None);
            }
            // The whole head is buffered and announces no body, so this reads nothing more.
            let request = match http::read_request(&mut idle.conn) {
                Ok(Some(request)) => request,
                Ok(None) => return self.leave(idle, End::PeerClosed),
                Err(error) => {
                    let end = refuse(idle.conn.get_mut(), error, &events, &recorder);
                    return self.leave(idle, end);
                }
            };
            let close = !request.keep_alive;
            let found = match lookup_recent(&request, &self.root) {
                Ok(found) => found,
                Err(_) => return self.leave(idle, End::Abort),
            };
            if found
                .as_ref()
                .is_ok_and(|served| served.length > INLINE_BODY)
            {
                return self.hand_over(idle, Some((request, found)));
            }
            match send_response(
                idle.conn.get_mut(),
                &request,
                found,
                close,
                &events,
                &recorder,
            ) {
                Ok(()) if close => return self.leave(idle, End::Asked),
                Ok(()) => idle.answered = true,
                Err(_) => return self.leave(idle, End::Abort),
            }
            if idle.conn.buffer().is_empty() {
                idle.deadline = Instant::now() + self.timeouts.idle;
                return Turn::Stay(idle);
            }
        }
    }

    fn expire(&self, idle: Idle) {
        // As a thread whose read timed out at the idle (or first head's) deadline: closed
        // politely.
        self.close(idle, End::Close);
    }

    fn arrive(&self, accepted: Accepted) -> Option<Idle> {
        let Accepted {
            stream,
            instant,
            slot,
            ..
        } = accepted;
        let deadline = instant + self.timeouts.head;
        let incoming = Incoming {
            stream,
            deadline: Some(deadline),
            // Inherited from the listener (see `listener_sets_options`).
            timeout: Some(first_read_timeout(self.timeouts)),
            no_wait: false,
        };
        let idle = Idle {
            conn: BufReader::new(Wire::Plain(incoming)),
            slot,
            deadline,
            answered: false,
        };
        Some(idle)
    }
}

impl KeepAlive {
    /// The connection leaves the poller to be closed as `end` says.
    fn leave(&self, idle: Idle, end: End) -> Turn<Idle> {
        let lingerer = self.lingerer.clone();
        Turn::Leave(Box::new(move || {
            let Idle { conn, slot, .. } = idle;
            let events = ConnectionEvents::new(None, Side::Server, UNKNOWN_ADDR, UNKNOWN_ADDR);
            finish(
                conn,
                end,
                &events,
                &ResponseRecorder::none(),
                Some(&lingerer),
            );
            drop(slot);
        }))
    }

    fn close(&self, idle: Idle, end: End) {
        if let Turn::Leave(departure) = self.leave(idle, end) {
            departure();
        }
    }

    /// The connection leaves the poller for a thread of its own, which first answers `pending`
    /// (a request already read, with what its lookup found) if there is one.
    fn hand_over(
        &self,
        idle: Idle,
        pending: Option<(Request, Result<Served, Status>)>,
    ) -> Turn<Idle> {
        let root = Arc::clone(&self.root);
        let timeouts = self.timeouts;
        let lingerer = self.lingerer.clone();
        let serve = move || {
            let Idle {
                mut conn,
                slot,
                deadline,
                answered,
            } = idle;
            let events = ConnectionEvents::new(None, Side::Server, UNKNOWN_ADDR, UNKNOWN_ADDR);
            let recorder = ResponseRecorder::none();
            let end = match pending {
                None => {
                    // The head's first bytes are here: a later request's head is due a head's
                    // time from now, the first one's by its deadline from the accept.
                    let due = if answered {
                        Instant::now() + timeouts.head
                    } else {
                        deadline
                    };
                    conn.get_mut().raw_mut().deadline = Some(due);
                    serve_requests(&mut conn, &root, timeouts, &events, &recorder, true, None)
                }
                Some((request, found)) => {
                    let close = !request.keep_alive;
                    match send_response(conn.get_mut(), &request, found, close, &events, &recorder)
                    {
                        Ok(()) if close => End::Asked,
                        Ok(()) => {
                            conn.get_mut().raw_mut().deadline =
                                Some(Instant::now() + timeouts.idle);
                            serve_requests(
                                &mut conn, &root, timeouts, &events, &recorder, false, None,
                            )
                        }
                        Err(_) => End::Abort,
                    }
                }
            };
            if let End::Http2 = end {
                serve_http2(conn, &root, timeouts, &events, &recorder);
            } else {
                finish(conn, end, &events, &recorder, Some(&lingerer));
            }
            drop(slot);
        };
        let threads = Arc::clone(&self.threads);
        Turn::Leave(Box::new(move || {
            // Should no thread start, the poller serves it itself rather than drop it unanswered.
            if let Err(serve) = threads.run(Box::new(serve)) {
                serve();
            }
        }))
    }
}

/// Whether `buffered` holds a whole GET or HEAD request head that announces no body, so that
/// reading it needs no more bytes.
fn head_is_whole(buffered: &[u8]) -> bool {
    if !(buffered.starts_with(b"GET ") || buffered.starts_with(b"HEAD ")) {
        return false;
    }
    let Some(end) = buffered.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = &buffered[..end];
    let announces = |name: &[u8]| {
        head.windows(name.len())
            .any(|w| w.eq_ignore_ascii_case(name))
    };
    !announces(b"content-length") && !announces(b"transfer-encoding")
}

/// Whether everything sent on the connection has been acknowledged, so that a small response
/// fits in the send buffer: a client that does not read shows here first.
fn all_acknowledged(wire: &Wire<Incoming>) -> bool {
    #[cfg(target_os = "linux")]
    {
        crate::transfer::sockopt::unacknowledged_bytes(wire.tcp()).is_ok_and(|bytes| bytes == 0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = wire;
        false
    }
}
