//! Transfer layer, HTTP/2: a connection's bytes for h2 on tokio: the socket, plain or under the
//! rustls connection whose handshake the blocking code already made, with the plaintext it had
//! already read. Must not import the client, the server, capture or report code.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A connection handed to h2: the socket, TLS over it when the connection speaks TLS, and the
/// plaintext read before the hand-over (a server's first bytes: the client's preface).
pub(crate) struct Transport {
    tcp: TcpStream,
    tls: Option<rustls::Connection>,
    unread: Vec<u8>,
    /// How much of `unread` has been read.
    taken: usize,
    /// The peer's FIN has been read under TLS.
    eof: bool,
    /// close_notify has been queued.
    closing: bool,
}

impl Transport {
    /// Takes over a connected socket (made non-blocking here) and its TLS, if any. Must be called
    /// inside a tokio runtime.
    pub(crate) fn new(
        tcp: std::net::TcpStream,
        tls: Option<rustls::Connection>,
        unread: Vec<u8>,
    ) -> io::Result<Transport> {
        tcp.set_nonblocking(true)?;
        Ok(Transport {
            tcp: TcpStream::from_std(tcp)?,
            tls,
            unread,
            taken: 0,
            eof: false,
            closing: false,
        })
    }
}

/// The socket as a blocking-looking reader or writer for rustls: `WouldBlock` where tokio says
/// Pending (the waker is then registered).
struct Sync<'a, 'b> {
    tcp: &'a mut TcpStream,
    cx: &'a mut Context<'b>,
}

impl Read for Sync<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(buf);
        match Pin::new(&mut *self.tcp).poll_read(self.cx, &mut buf) {
            Poll::Ready(Ok(())) => Ok(buf.filled().len()),
            Poll::Ready(Err(error)) => Err(error),
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Sync<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.tcp).poll_write(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Sends every TLS record that is ready; Pending while the socket cannot take them.
fn send_records(
    tls: &mut rustls::Connection,
    tcp: &mut TcpStream,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while tls.wants_write() {
        match tls.write_tls(&mut Sync { tcp, cx }) {
            Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
            Err(error) => return Poll::Ready(Err(error)),
        }
    }
    Poll::Ready(Ok(()))
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.taken < this.unread.len() {
            let rest = &this.unread[this.taken..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.taken += n;
            return Poll::Ready(Ok(()));
        }
        let Some(tls) = &mut this.tls else {
            return Pin::new(&mut this.tcp).poll_read(cx, buf);
        };
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            match tls.reader().read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // A FIN without close_notify: HTTP/2's own framing tells whether anything is
                // missing.
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock && this.eof => {
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => return Poll::Ready(Err(error)),
            }
            let read = tls.read_tls(&mut Sync {
                tcp: &mut this.tcp,
                cx,
            });
            match read {
                Ok(0) => this.eof = true,
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(error) => return Poll::Ready(Err(error)),
            }
            if let Err(error) = tls.process_new_packets() {
                // The alert tells the peer why, if the socket takes it now.
                let _ = send_records(tls, &mut this.tcp, cx);
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, error)));
            }
            // Key updates and tickets leave with the next write, or now if the socket takes them.
            if let Poll::Ready(Err(error)) = send_records(tls, &mut this.tcp, cx) {
                return Poll::Ready(Err(error));
            }
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(tls) = &mut this.tls else {
            return Pin::new(&mut this.tcp).poll_write(cx, data);
        };
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            let blocked = send_records(tls, &mut this.tcp, cx)?.is_pending();
            let n = tls.writer().write(data)?;
            if n > 0 {
                // Sent now if the socket takes it; otherwise by the next write or flush.
                let _ = send_records(tls, &mut this.tcp, cx)?;
                return Poll::Ready(Ok(n));
            }
            if blocked {
                return Poll::Pending;
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(tls) = &mut this.tls {
            tls.writer().flush()?;
            ready!(send_records(tls, &mut this.tcp, cx))?;
        }
        Pin::new(&mut this.tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(tls) = &mut this.tls {
            // TLS says the stream ends here (close_notify) before the FIN, as HTTP/1.1 does.
            if !this.closing {
                tls.send_close_notify();
                this.closing = true;
            }
            ready!(send_records(tls, &mut this.tcp, cx))?;
        }
        Pin::new(&mut this.tcp).poll_shutdown(cx)
    }
}
