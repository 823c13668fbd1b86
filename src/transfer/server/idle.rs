//! Transfer layer, server: a connection waiting on a poller between two requests, or just
//! accepted there. Must not import the server's connection loop or keep-alive poller, the client,
//! capture or report code.

use std::io::BufReader;
use std::time::Instant;

use super::incoming::Incoming;
use super::park::Guest;
use super::workers::Slot;
use crate::transfer::wire::Wire;

/// A plain server's connection on a poller: keep-alive between two requests, or just accepted.
pub(super) struct Idle {
    pub(super) conn: BufReader<Wire<Incoming>>,
    /// The connection's slot goes with it, so parked connections count against the bound.
    pub(super) slot: Slot,
    /// When the next request's first byte is due: the keep-alive idle time, or for a connection
    /// just accepted, its first head's deadline.
    pub(super) deadline: Instant,
    /// Whether a response has been sent on the connection.
    pub(super) answered: bool,
}

impl Idle {
    /// A connection that has answered a request, whose read deadline is the keep-alive idle time.
    pub(super) fn new(conn: BufReader<Wire<Incoming>>, slot: Slot) -> Idle {
        let deadline = conn.get_ref().raw().deadline.unwrap_or_else(Instant::now);
        Idle {
            conn,
            slot,
            deadline,
            answered: true,
        }
    }
}

impl Guest for Idle {
    fn fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.conn.get_ref().tcp().as_raw_fd()
    }

    fn deadline(&self) -> Instant {
        self.deadline
    }
}
