//! Transfer layer, client: the HTTP/2 modes: one connection, opened and closed as every other,
//! whose requests all leave at once, each on a stream of its own (see
//! [`crate::transfer::h2`]). Must not import the client's other modes, the server, capture or
//! report code.

use std::io::{self, Read};
use std::net::Shutdown;
use std::path::Path;
use std::time::Instant;

use super::connection::Connection;
use super::deadline::Run;
use super::exchange::{MAX_REASON, reason_line};
use super::part_file::PartFile;
use super::plan::{FetchPlan, Target};
use crate::timeline::Ts;
use crate::transfer::TransferError;
use crate::transfer::events::{ConnectionEvents, EventKind, EventLog};
use crate::transfer::h2::{self, client::Requests, client::Responses};
use crate::transfer::run::{ConnectionTiming, FileResult, Mode, RequestTiming, TlsTiming};
use crate::transfer::wire::{Wire, is_timeout};

/// Fetches every file over one HTTP/2 connection: over TLS with ALPN `h2` (`Mode::H2`), or in
/// cleartext with prior knowledge (`Mode::H2c`).
pub(super) fn fetch_multiplexed(
    mode: Mode,
    plan: &FetchPlan,
    run: &Run,
    targets: &[Target<'_>],
    dir: &Path,
    events: Option<&EventLog>,
) -> Result<(Vec<ConnectionTiming>, Vec<FileResult>), TransferError> {
    let scheme = match (mode, &run.tls) {
        (Mode::H2c, None) => "http",
        (Mode::H2, Some(_)) => "https",
        (Mode::H2c, Some(_)) => {
            return Err(TransferError::InvalidPlan(
                "h2c is HTTP/2 in cleartext: fetch an http:// URL (or use the h2 mode)".into(),
            ));
        }
        _ => {
            return Err(TransferError::InvalidPlan(
                "h2 is HTTP/2 over TLS: fetch an https:// URL (or use the h2c mode)".into(),
            ));
        }
    };
    let run = Run {
        tls: run.tls.as_ref().map(|tls| tls.with_alpn(h2::ALPN)),
        ..run.clone()
    };
    let mut conn = Connection::open(plan, &run, events)?;
    // Early data would need the request before the protocol is agreed: HTTP/2 waits for it.
    if conn.handshake_pending {
        conn.handshake()?;
    }
    let Connection {
        reader,
        addr,
        mut timing,
        events,
        tls_done,
        ..
    } = conn;
    let (tcp, tls) = match reader.into_inner() {
        Wire::Plain(timed) => (timed.stream, None),
        Wire::Tls(stream) => {
            if stream.alpn() != Some(h2::ALPN) {
                return Err(TransferError::NoHttp2 { addr });
            }
            timing.tls = tls_done.map(|done| TlsTiming {
                done,
                session: stream.session(),
            });
            let (tls, timed) = stream.into_parts();
            (timed.stream, Some(tls))
        }
    };
    // A second handle on the socket, to wait for the server's FIN once h2 has closed its own.
    let fin = tcp
        .try_clone()
        .map_err(|source| TransferError::Network { addr, source })?;
    let paths: Vec<&str> = targets.iter().map(|t| t.path).collect();
    let mut received = Received {
        targets,
        dir,
        max_size: plan.limits.max_size,
        any_status: plan.any_status,
        events: &events,
        files: targets.iter().map(|_| Pending::default()).collect(),
    };
    let files = targets.len();
    let after = run
        .per_file
        .saturating_mul(u32::try_from(files).unwrap_or(u32::MAX));
    h2::client::fetch_all(
        tcp,
        tls,
        addr,
        &Requests {
            scheme,
            authority: &plan.host,
            paths: &paths,
        },
        run.run_deadline,
        TransferError::Timeout {
            addr,
            what: "finish its responses",
            after,
        },
        &mut received,
    )?;
    // h2 has sent GOAWAY and (under TLS, after close_notify) the client's FIN: the client closes
    // first, as in the persistent mode.
    events.now(EventKind::FinSent);
    await_fin(fin, addr, run.per_file, &events)?;
    let mut results = Vec::with_capacity(files);
    for (target, pending) in targets.iter().zip(received.files) {
        let (request, mut file) = pending.result.expect("every stream ended");
        file.seconds = request.last_byte.secs_since(timing.connect_start);
        debug_assert_eq!(request.file, target.index);
        timing.requests.push(request);
        results.push(file);
    }
    timing.requests.sort_by_key(|r| r.sent);
    timing.closed = Ts::now();
    events.at(timing.closed, EventKind::Closed);
    Ok((vec![timing], results))
}

/// Reads from the socket until the server's FIN, within `per_file`; then it is closed.
fn await_fin(
    mut tcp: std::net::TcpStream,
    addr: std::net::SocketAddr,
    per_file: std::time::Duration,
    events: &ConnectionEvents<'_>,
) -> Result<(), TransferError> {
    let timed_out = || TransferError::Timeout {
        addr,
        what: "close the connection",
        after: per_file,
    };
    let network = |source| TransferError::Network { addr, source };
    // tokio left the socket non-blocking, a flag the two handles share.
    tcp.set_nonblocking(false).map_err(network)?;
    let deadline = Instant::now() + per_file;
    let mut scratch = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        tcp.set_read_timeout(Some(left)).map_err(network)?;
        match tcp.read(&mut scratch) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) if is_timeout(&error) => return Err(timed_out()),
            // The server may reset once it has closed: every response is in already.
            Err(_) => break,
        }
    }
    events.now(EventKind::FinReceived);
    let _ = tcp.shutdown(Shutdown::Both);
    Ok(())
}

/// One file as it arrives.
#[derive(Default)]
struct Pending {
    sent: Option<Ts>,
    first_byte: Option<Ts>,
    status: u16,
    part: Option<PartFile>,
    bytes: u64,
    /// The start of an error response's body, for its reason.
    said: Vec<u8>,
    result: Option<(RequestTiming, FileResult)>,
}

/// Where the streams' responses go: each body into its part file, each file checked when its
/// stream ends.
struct Received<'a, 'e> {
    targets: &'a [Target<'a>],
    dir: &'a Path,
    max_size: Option<u64>,
    /// Keep a response whatever its status.
    any_status: bool,
    events: &'a ConnectionEvents<'e>,
    files: Vec<Pending>,
}

impl Responses for Received<'_, '_> {
    fn sent(&mut self, index: usize, at: Ts) {
        self.files[index].sent = Some(at);
        self.events.at(
            at,
            EventKind::Request {
                path: self.targets[index].path.to_owned(),
            },
        );
    }

    fn head(&mut self, index: usize, status: u16, at: Ts) -> Result<(), TransferError> {
        let pending = &mut self.files[index];
        pending.first_byte = Some(at);
        pending.status = status;
        self.events.at(at, EventKind::ResponseStart { status });
        if self.any_status || (200..300).contains(&status) {
            let target = &self.targets[index];
            pending.part = Some(PartFile::create(self.dir, &target.name)?);
        }
        Ok(())
    }

    fn data(&mut self, index: usize, data: &[u8], _at: Ts) -> Result<(), TransferError> {
        let pending = &mut self.files[index];
        pending.bytes += data.len() as u64;
        if let Some(limit) = self.max_size.filter(|&max| pending.bytes > max) {
            return Err(TransferError::TooLarge {
                path: self.targets[index].path.to_owned(),
                limit,
            });
        }
        match &mut pending.part {
            Some(part) => part.write(data),
            None => {
                let room = MAX_REASON.saturating_sub(pending.said.len());
                pending
                    .said
                    .extend_from_slice(&data[..data.len().min(room)]);
                Ok(())
            }
        }
    }

    fn end(&mut self, index: usize, last_byte: Ts) -> Result<(), TransferError> {
        let target = &self.targets[index];
        let pending = &mut self.files[index];
        let Some(part) = pending.part.take() else {
            return Err(TransferError::Status {
                code: pending.status,
                path: target.path.to_owned(),
                said: reason_line(&pending.said, pending.status),
            });
        };
        self.events.at(
            last_byte,
            EventKind::ResponseEnd {
                bytes: pending.bytes,
            },
        );
        let file = part.keep(
            &target.name,
            target.expected.as_deref(),
            pending.status,
            pending.bytes,
        )?;
        pending.result = Some((
            RequestTiming {
                file: target.index,
                sent: pending.sent.unwrap_or(last_byte),
                first_byte: pending.first_byte.unwrap_or(last_byte),
                last_byte,
            },
            file,
        ));
        Ok(())
    }
}
