//! Transfer layer, client: one connection: opening it (TCP, Fast Open, TLS), its deadlines, and
//! closing it with a clean FIN exchange. Must not import the client's modes or exchanges, the
//! server, capture or report code.

use std::io::{self, BufReader, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::deadline::{Run, Timed, network};
use super::plan::FetchPlan;
use crate::timeline::Ts;
use crate::transfer::TransferError;
use crate::transfer::events::{ConnectionEvents, EventKind, EventLog, Side};
use crate::transfer::run::{ConnectionTiming, TlsTiming};
use crate::transfer::tls::ClientSessions;
use crate::transfer::wire::{Wire, is_timeout};

/// Buffer for response heads; bodies bypass it (BufReader reads straight into larger buffers).
const HEAD_BUFFER: usize = 16 * 1024;

/// An open client connection and the timings gathered on it so far; its requests and responses
/// are in `exchange`.
pub(super) struct Connection<'a> {
    pub(super) reader: BufReader<Wire<Timed>>,
    pub(super) addr: SocketAddr,
    /// Each file's deadline, for the timeout error.
    pub(super) per_file: Duration,
    /// Largest body accepted.
    pub(super) max_size: Option<u64>,
    /// Keep responses of any status.
    pub(super) any_status: bool,
    pub(super) timing: ConnectionTiming,
    pub(super) events: ConnectionEvents<'a>,
    /// The last response announced that the server closes after it.
    pub(super) server_closes: bool,
    /// A TLS handshake left to the first request, which may go as early data.
    pub(super) handshake_pending: bool,
    /// When the TLS handshake was complete.
    pub(super) tls_done: Option<Ts>,
    /// The socket asked for TCP Fast Open.
    pub(super) fastopen: bool,
}

impl<'a> Connection<'a> {
    pub(super) fn open(
        plan: &FetchPlan,
        run: &Run,
        log: Option<&'a EventLog>,
    ) -> Result<Connection<'a>, TransferError> {
        let addr = plan.addr;
        let network = network(addr, run.per_file);
        let connect_failed = |source: io::Error| {
            if is_timeout(&source) {
                TransferError::Timeout {
                    addr,
                    what: "accept the connection (no SYN-ACK)",
                    after: run.per_file,
                }
            } else {
                TransferError::Connect { addr, source }
            }
        };
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .map_err(connect_failed)?;
        if let Some(bytes) = plan.rcvbuf {
            socket.set_recv_buffer_size(bytes).map_err(connect_failed)?;
        }
        if plan.fastopen {
            crate::transfer::fastopen::on_client(&socket).map_err(connect_failed)?;
        }
        let connect_start = Ts::now();
        let deadline = run.file_deadline(Instant::now());
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(connect_failed(io::ErrorKind::TimedOut.into()));
        }
        socket
            .connect_timeout(&addr.into(), left)
            .map_err(connect_failed)?;
        let stream = TcpStream::from(socket);
        let connected = Ts::now();
        // Requests are small and must leave at once, not wait for the ACK of earlier data.
        stream.set_nodelay(true).map_err(network)?;
        let local = stream.local_addr().map_err(network)?;
        // A Fast Open socket is not connected until its first write sends the SYN with it.
        let peer = stream.peer_addr().unwrap_or(addr);
        let events = ConnectionEvents::new(log, Side::Client, local, peer);
        // Recorded only now because the local address exists only after connect.
        events.at(connect_start, EventKind::Connect);
        events.at(connected, EventKind::Connected);
        let timed = Timed {
            stream,
            deadline,
            run_deadline: run.run_deadline,
        };
        let wire = match &run.tls {
            None => Wire::Plain(timed),
            Some(sessions) => Wire::Tls(Box::new(sessions.connect(timed).map_err(network)?)),
        };
        let mut conn = Connection {
            reader: BufReader::with_capacity(HEAD_BUFFER, wire),
            addr,
            per_file: run.per_file,
            max_size: plan.limits.max_size,
            any_status: plan.any_status,
            timing: ConnectionTiming {
                local,
                peer,
                connect_start,
                connected,
                requests: Vec::new(),
                closed: connected,
                tls: None,
            },
            events,
            server_closes: false,
            handshake_pending: run.tls.as_ref().is_some_and(ClientSessions::may_send_early),
            tls_done: None,
            fastopen: plan.fastopen,
        };
        if run.tls.is_some() && !conn.handshake_pending {
            conn.handshake()?;
        }
        Ok(conn)
    }

    /// Runs the TLS handshake to its end (the client's Finished sent).
    pub(super) fn handshake(&mut self) -> Result<(), TransferError> {
        self.handshake_pending = false;
        let Wire::Tls(tls) = self.reader.get_mut() else {
            return Ok(());
        };
        let addr = self.addr;
        let per_file = self.per_file;
        tls.handshake().map_err(|source| {
            if is_timeout(&source) {
                TransferError::Timeout {
                    addr,
                    what: "complete the TLS handshake",
                    after: per_file,
                }
            } else {
                TransferError::tls(addr, source)
            }
        })?;
        let done = Ts::now();
        let session = tls.session();
        self.tls_done = Some(done);
        self.events.at(
            done,
            EventKind::TlsDone {
                version: session.version.map_or("TLS", |v| v.name()),
                resumed: session.resumed,
            },
        );
        Ok(())
    }

    /// Sets the deadline of what follows (the next file, or the close).
    pub(super) fn set_deadline(&mut self, deadline: Instant) {
        let timed = self.reader.get_mut().raw_mut();
        timed.deadline = deadline;
        // Closing may take beyond the run's deadline: it is not part of any file.
        timed.run_deadline = timed.run_deadline.max(deadline);
    }

    /// Reads until the server's FIN; anything still arriving is dropped.
    pub(super) fn await_fin(&mut self) -> Result<(), TransferError> {
        let mut scratch = [0u8; 4096];
        // TLS ends its stream (close_notify) just before the FIN, so past it, the socket is read.
        let mut stream_ended = false;
        loop {
            let read = if stream_ended {
                self.reader.get_mut().raw_mut().read(&mut scratch)
            } else {
                self.reader.read(&mut scratch)
            };
            match read {
                Ok(0) if !stream_ended && matches!(self.reader.get_ref(), Wire::Tls(_)) => {
                    stream_ended = true;
                }
                Ok(0) => break,
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if is_timeout(&error) => {
                    return Err(TransferError::Timeout {
                        addr: self.addr,
                        what: "close the connection",
                        after: self.per_file,
                    });
                }
                Err(error) => return Err(network(self.addr, self.per_file)(error)),
            }
        }
        self.events.now(EventKind::FinReceived);
        Ok(())
    }

    pub(super) fn send_fin(&mut self) {
        self.reader.get_mut().end_stream();
        self.events.now(EventKind::FinSent);
        // If this fails the socket is already gone and closing it below is all that is left.
        let _ = self.reader.get_ref().raw().stream.shutdown(Shutdown::Write);
    }

    pub(super) fn close(self) -> ConnectionTiming {
        let Connection {
            reader,
            mut timing,
            events,
            tls_done,
            ..
        } = self;
        if let (Wire::Tls(tls), Some(done)) = (reader.get_ref(), tls_done) {
            timing.tls = Some(TlsTiming {
                done,
                session: tls.session(),
            });
        }
        drop(reader);
        timing.closed = Ts::now();
        events.at(timing.closed, EventKind::Closed);
        timing
    }
}
