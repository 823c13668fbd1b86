//! Transfer layer, server: the server's side of a connection's socket, whose reads end by the
//! deadline of the request being read. Must not import the rest of the server, the client, capture
//! or report code.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::transfer::wire::{Wire, is_timeout};

/// How far a read may run past a deadline before the socket's timeout is set again.
const DEADLINE_SLACK: Duration = Duration::from_millis(50);

/// The server's side of a connection; reads end by the deadline of the head being read.
pub(super) struct Incoming {
    pub(super) stream: TcpStream,
    pub(super) deadline: Option<Instant>,
    /// What the socket's read timeout is set to, so it is set only when it must change.
    pub(super) timeout: Option<Duration>,
    /// The next read returns at once (`WouldBlock` when nothing is there): a poller's.
    pub(super) no_wait: bool,
}

impl Incoming {
    fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.stream.set_read_timeout(Some(timeout))?;
        self.timeout = Some(timeout);
        Ok(())
    }
}

impl Write for Incoming {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Read for Incoming {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.no_wait {
            return read_without_waiting(&self.stream, buf);
        }
        let Some(deadline) = self.deadline else {
            return self.stream.read(buf);
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            // A shorter timeout left from an earlier deadline only costs a retry below.
            if self.timeout.is_none_or(|t| t > left + DEADLINE_SLACK) {
                self.set_timeout(left)?;
            }
            match self.stream.read(buf) {
                Err(error) if is_timeout(&error) && Instant::now() < deadline => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    self.set_timeout(left.max(Duration::from_millis(1)))?;
                }
                other => return other,
            }
        }
    }
}

impl Wire<Incoming> {
    /// The TCP socket underneath.
    pub(super) fn tcp(&self) -> &TcpStream {
        &self.raw().stream
    }

    /// The TCP socket, once nothing more is read or written through TLS.
    pub(super) fn into_tcp(self) -> TcpStream {
        self.into_raw().stream
    }
}

/// Reads what `stream` has received, without waiting for more (`WouldBlock` when there is
/// nothing).
fn read_without_waiting(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: `buf` is borrowed mutably for the call and the kernel writes at most its length
        // into it; the descriptor is open.
        #[allow(unsafe_code)]
        let read = unsafe {
            libc::recv(
                stream.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        match usize::try_from(read) {
            Ok(n) => return Ok(n),
            Err(_) => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
}

/// Whether the peer has sent bytes not read yet (without waiting or consuming them).
pub(super) fn has_unread_bytes(stream: &TcpStream) -> bool {
    let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    socket2::SockRef::from(stream)
        .recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT)
        .is_ok_and(|n| n > 0)
}
