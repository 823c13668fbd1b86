//! TLS over any socket: the handshake as the stream is first read or written, each write sent
//! at once, early data on both sides.

use std::fmt;
use std::io::{self, Read, Write};

use rustls::{Connection, HandshakeKind};

use super::*;

/// TLS over a socket `S`: the handshake runs when the stream is first read or written (or by
/// [`TlsStream::handshake`]), each write leaves at once, and a server's reads include the early
/// data a client sent with its ClientHello.
pub struct TlsStream<S> {
    conn: Connection,
    raw: S,
    /// The peer's TCP FIN has been read.
    eof: bool,
    /// Early data read (server) or written (client).
    early_bytes: u64,
    /// Early data was read since [`TlsStream::take_early`] last asked.
    early_unclaimed: bool,
    /// A client that may send early data on a resumed session.
    pub(super) wants_early_data: bool,
}

impl<S> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream").finish_non_exhaustive()
    }
}

impl<S: Read + Write> TlsStream<S> {
    pub(super) fn new(conn: Connection, raw: S) -> TlsStream<S> {
        TlsStream {
            conn,
            raw,
            eof: false,
            early_bytes: 0,
            early_unclaimed: false,
            wants_early_data: false,
        }
    }

    /// The socket underneath.
    pub fn raw(&self) -> &S {
        &self.raw
    }

    /// The socket underneath, for what follows the end of TLS.
    pub fn into_raw(self) -> S {
        self.raw
    }

    /// The socket underneath, to change its deadlines.
    pub fn raw_mut(&mut self) -> &mut S {
        &mut self.raw
    }

    /// The rustls connection and the socket, for a protocol that drives them on its own (HTTP/2).
    pub fn into_parts(self) -> (Connection, S) {
        (self.conn, self.raw)
    }

    /// The application protocol the handshake agreed on (ALPN), if any.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// Runs the handshake to its end.
    pub fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            self.flush_tls()?;
            if !self.conn.is_handshaking() {
                break;
            }
            if self.receive()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection during the TLS handshake",
                ));
            }
        }
        self.flush_tls()
    }

    /// A client on a resumed session sends `data` as early (0-RTT) data with its ClientHello;
    /// returns false (nothing sent) when the session allows none or not that much.
    pub fn send_early(&mut self, data: &[u8]) -> io::Result<bool> {
        if !self.wants_early_data {
            return Ok(false);
        }
        let Connection::Client(client) = &mut self.conn else {
            return Ok(false);
        };
        let Some(mut early) = client.early_data() else {
            return Ok(false);
        };
        if early.bytes_left() < data.len() {
            return Ok(false);
        }
        early.write_all(data)?;
        self.early_bytes += data.len() as u64;
        self.flush_tls()?;
        Ok(true)
    }

    /// Whether early data was read since the last call (a server's request that came, at
    /// least in part, before the handshake was complete).
    pub fn take_early(&mut self) -> bool {
        std::mem::take(&mut self.early_unclaimed)
    }

    /// Sends close_notify, so the peer can tell the end of the stream from a cut connection.
    pub fn close_notify(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush_tls()
    }

    /// Writes `data` without sending it yet: it leaves with the next write (a response head with
    /// the first bytes of its body).
    pub fn hold(&mut self, data: &[u8]) -> io::Result<()> {
        self.conn.writer().write_all(data)
    }

    /// The session as far as the handshake got.
    pub fn session(&self) -> TlsSession {
        let version = match self.conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => Some(TlsVersion::Tls12),
            Some(rustls::ProtocolVersion::TLSv1_3) => Some(TlsVersion::Tls13),
            _ => None,
        };
        let kind = self.conn.handshake_kind();
        let early_data_accepted = match &self.conn {
            Connection::Client(client) => self.early_bytes > 0 && client.is_early_data_accepted(),
            Connection::Server(_) => self.early_bytes > 0,
        };
        TlsSession {
            version,
            resumed: kind == Some(HandshakeKind::Resumed),
            hello_retry: kind == Some(HandshakeKind::FullWithHelloRetryRequest),
            early_data_sent: self.early_bytes,
            early_data_accepted,
        }
    }

    /// Sends every TLS record that is ready.
    fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.raw)? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }

    /// Reads what the socket has and processes it; 0 at the peer's FIN.
    fn receive(&mut self) -> io::Result<usize> {
        let n = loop {
            match self.conn.read_tls(&mut self.raw) {
                Ok(n) => break n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        };
        if n == 0 {
            self.eof = true;
        }
        if let Err(error) = self.conn.process_new_packets() {
            if self.no_record_before_hello(&error) {
                if let Connection::Server(_) = self.conn {
                    // No alert: a plain-text client could not read it, and the server answers
                    // in its plain text instead.
                    return Err(io::Error::new(io::ErrorKind::InvalidData, PlainClient));
                }
                let _ = self.flush_tls();
                return Err(io::Error::new(io::ErrorKind::InvalidData, NotTls));
            }
            // The alert tells the peer why; the error here tells the person.
            let _ = self.flush_tls();
            return Err(io::Error::new(io::ErrorKind::InvalidData, error));
        }
        // Handshake replies, key updates, tickets.
        self.flush_tls()?;
        Ok(n)
    }

    /// Whether `error` is the first read finding no TLS record at all: rustls's "corrupt message
    /// of type InvalidContentType" before any version is agreed is a peer speaking its own
    /// protocol, usually plain HTTP (a client's "GET /", a server's "HTTP/1.1 400").
    fn no_record_before_hello(&self, error: &rustls::Error) -> bool {
        self.conn.protocol_version().is_none()
            && matches!(
                error,
                rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
            )
    }

    /// Early data a server has received, if any.
    fn read_early(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Connection::Server(server) = &mut self.conn else {
            return Ok(0);
        };
        let Some(mut early) = server.early_data() else {
            return Ok(0);
        };
        let n = early.read(buf)?;
        if n > 0 {
            self.early_bytes += n as u64;
            self.early_unclaimed = true;
        }
        Ok(n)
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.read_early(buf)?;
            if n > 0 {
                return Ok(n);
            }
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                // A FIN without close_notify: the HTTP framing tells whether anything is missing.
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock && !self.eof => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(error) => return Err(error),
            }
            self.receive()?;
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A server answers a request that came as early data at once; anything else waits for
        // the end of the handshake.
        let answers_early = self.early_bytes > 0 && matches!(self.conn, Connection::Server(_));
        if self.conn.is_handshaking() && !answers_early {
            self.handshake()?;
        }
        let n = self.conn.writer().write(buf)?;
        self.flush_tls()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.writer().flush()?;
        self.flush_tls()
    }
}
