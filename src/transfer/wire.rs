//! Transfer layer: a connection's bytes, plain or TLS over the same socket, written once for the
//! server and the client, and which I/O errors are timeouts. Must not import the server, the
//! client, capture or report code.

use std::io::{self, Read, Write};

use super::tls::TlsStream;

/// A connection's bytes over the socket `S`: plain TCP, or TLS over it.
pub enum Wire<S> {
    Plain(S),
    Tls(Box<TlsStream<S>>),
}

impl<S: Read + Write> Wire<S> {
    /// The socket underneath, with TLS or without.
    pub fn raw(&self) -> &S {
        match self {
            Wire::Plain(raw) => raw,
            Wire::Tls(tls) => tls.raw(),
        }
    }

    /// The socket underneath, to read or write past TLS or to change its deadlines.
    pub fn raw_mut(&mut self) -> &mut S {
        match self {
            Wire::Plain(raw) => raw,
            Wire::Tls(tls) => tls.raw_mut(),
        }
    }

    /// The socket, once nothing more is read or written through TLS.
    pub fn into_raw(self) -> S {
        match self {
            Wire::Plain(raw) => raw,
            Wire::Tls(tls) => tls.into_raw(),
        }
    }

    /// Whether what was just read came, at least in part, as TLS early (0-RTT) data.
    pub fn took_early_data(&mut self) -> bool {
        match self {
            Wire::Plain(_) => false,
            Wire::Tls(tls) => tls.take_early(),
        }
    }

    /// Before the FIN: TLS says the stream ends here (close_notify).
    pub fn end_stream(&mut self) {
        if let Wire::Tls(tls) = self {
            // The FIN that follows ends the connection all the same.
            let _ = tls.close_notify();
        }
    }
}

impl<S: Read + Write> Read for Wire<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(raw) => raw.read(buf),
            Wire::Tls(tls) => tls.read(buf),
        }
    }
}

impl<S: Read + Write> Write for Wire<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(raw) => raw.write(buf),
            Wire::Tls(tls) => tls.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Wire::Plain(raw) => raw.write_all(buf),
            Wire::Tls(tls) => tls.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Wire::Plain(raw) => raw.flush(),
            Wire::Tls(tls) => tls.flush(),
        }
    }
}

/// Whether an I/O error is a socket timeout (a deadline passed), as opposed to a failure.
pub fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
