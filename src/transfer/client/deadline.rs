//! Transfer layer, client: the deadlines a run and each of its files are held to, on the socket
//! and in the errors that say which one passed. Must not import the rest of the client (but its
//! plan), the server, capture or report code.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::plan::FetchLimits;
use crate::transfer::TransferError;
use crate::transfer::tls::ClientSessions;
use crate::transfer::wire::is_timeout;

/// A client socket whose every read and write returns by a deadline, as a timeout error.
pub(super) struct Timed {
    pub(super) stream: TcpStream,
    pub(super) deadline: Instant,
    /// The deadline the run as a whole must keep; no file's may pass it.
    pub(super) run_deadline: Instant,
}

impl Timed {
    /// Sets the socket's timeout to what is left; an error once nothing is.
    fn arm(&self, set: impl Fn(&TcpStream, Option<Duration>) -> io::Result<()>) -> io::Result<()> {
        let left = self
            .deadline
            .min(self.run_deadline)
            .saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        set(&self.stream, Some(left))
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm(TcpStream::set_read_timeout)?;
        self.stream.read(buf)
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm(TcpStream::set_write_timeout)?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// What a run carries from one connection to the next: its deadlines, and its TLS sessions.
#[derive(Debug, Clone)]
pub(super) struct Run {
    pub(super) per_file: Duration,
    /// The run's own deadline: every file's share of it, added up.
    pub(super) run_deadline: Instant,
    /// TLS, with the sessions this run's connections left for the next to resume.
    pub(super) tls: Option<ClientSessions>,
}

impl Run {
    pub(super) fn new(limits: &FetchLimits, files: usize, tls: Option<ClientSessions>) -> Run {
        let total = limits
            .per_file
            .saturating_mul(u32::try_from(files).unwrap_or(u32::MAX));
        Run {
            per_file: limits.per_file,
            run_deadline: Instant::now() + total,
            tls,
        }
    }

    /// The deadline of a file begun at `from`.
    pub(super) fn file_deadline(&self, from: Instant) -> Instant {
        (from + self.per_file).min(self.run_deadline)
    }
}

/// Wraps a failure of an established connection to `addr`; a timeout says which deadline.
pub(super) fn network(
    addr: SocketAddr,
    after: Duration,
) -> impl Fn(io::Error) -> TransferError + Copy {
    move |source| {
        if is_timeout(&source) {
            TransferError::Timeout {
                addr,
                what: "finish its response",
                after,
            }
        } else {
            TransferError::Network { addr, source }
        }
    }
}
