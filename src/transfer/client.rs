//! Transfer layer: the blocking HTTP/1.1 client that fetches the files in one of the modes and
//! times each step itself. Must not import capture or report code.
//!
//! The client enforces the mode on its own side (one connection per file, or one for all), so a
//! server that ignores `Connection: close` or keep-alive cannot change what is measured.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

use super::TransferError;
use super::events::{ConnectionEvents, EventKind, EventLog, Side};
use super::files::hex;
use super::http::{self, ChunkedReader, HttpError, ResponseHead};
use super::run::{ConnectionTiming, FileResult, Mode, RequestTiming, RunTiming, TlsTiming};
use super::tls::{ClientSessions, ClientTls, TlsStream};
use crate::timeline::Ts;

/// Read size for response bodies: large reads keep syscall overhead out of the timings.
const BODY_BUFFER: usize = 256 * 1024;

/// Buffer for response heads; bodies bypass it (BufReader reads straight into larger buffers).
const HEAD_BUFFER: usize = 16 * 1024;

/// The longest error body whose last line is quoted as the server's reason.
const MAX_REASON: usize = 512;

/// Each file's deadline unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections the parallel mode opens at once unless told otherwise: browsers' per-host limit.
pub const DEFAULT_PARALLEL: usize = 6;

/// What to fetch, from where, and where to put it.
#[derive(Debug, Clone)]
pub struct FetchPlan {
    /// Server address.
    pub addr: SocketAddr,
    /// Value of the Host header.
    pub host: String,
    /// Request paths in fetch order, e.g. `/a.jpg` (see [`http::path_for_name`]).
    pub paths: Vec<String>,
    /// Files go to `out_dir/<mode name>/<decoded last path segment>`.
    pub out_dir: PathBuf,
    /// Expected SHA-256 (hex) per path; when given, a mismatch fails the fetch.
    pub expected_sha256: Option<Vec<String>>,
    /// Connections open at once in the parallel mode (at least 1; see [`DEFAULT_PARALLEL`]).
    /// The other modes ignore it.
    pub parallel: usize,
    /// The client's receive buffer (`SO_RCVBUF`, set before connecting, which also fixes the
    /// window it advertises); None leaves the kernel's autotuning in charge.
    pub rcvbuf: Option<usize>,
    /// Send each request with the SYN (TCP Fast Open) once the server has given a cookie.
    pub fastopen: bool,
    /// Speak TLS (HTTPS) with these settings; None for plain HTTP.
    pub tls: Option<ClientTls>,
    /// Deadlines and size bound.
    pub limits: FetchLimits,
}

/// How long a fetch may take and how much it may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Each file's deadline: from its connect (a connection of its own) or the previous file's
    /// last byte (a shared connection) to its own last byte. A run ends by the sum over its files.
    pub per_file: Duration,
    /// Largest body accepted; None for no bound.
    pub max_size: Option<u64>,
}

impl Default for FetchLimits {
    fn default() -> FetchLimits {
        FetchLimits {
            per_file: DEFAULT_TIMEOUT,
            max_size: None,
        }
    }
}

/// A client socket whose every read and write returns by a deadline, as a timeout error.
struct Timed {
    stream: TcpStream,
    deadline: Instant,
    /// The deadline the run as a whole must keep; no file's may pass it.
    run_deadline: Instant,
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

/// A client connection's bytes: plain TCP, or TLS over it.
enum Wire {
    Plain(Timed),
    Tls(Box<TlsStream<Timed>>),
}

impl Wire {
    fn timed(&self) -> &Timed {
        match self {
            Wire::Plain(timed) => timed,
            Wire::Tls(tls) => tls.raw(),
        }
    }

    fn timed_mut(&mut self) -> &mut Timed {
        match self {
            Wire::Plain(timed) => timed,
            Wire::Tls(tls) => tls.raw_mut(),
        }
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(timed) => timed.read(buf),
            Wire::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(timed) => timed.write(buf),
            Wire::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Wire::Plain(timed) => timed.flush(),
            Wire::Tls(tls) => tls.flush(),
        }
    }
}

/// What a run carries from one connection to the next: its deadlines, and its TLS sessions.
#[derive(Debug, Clone)]
struct Run {
    per_file: Duration,
    /// The run's own deadline: every file's share of it, added up.
    run_deadline: Instant,
    /// TLS, with the sessions this run's connections left for the next to resume.
    tls: Option<ClientSessions>,
}

impl Run {
    fn new(limits: &FetchLimits, files: usize, tls: Option<ClientSessions>) -> Run {
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
    fn file_deadline(&self, from: Instant) -> Instant {
        (from + self.per_file).min(self.run_deadline)
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Wraps a failure of an established connection to `addr`; a timeout says which deadline.
fn network(addr: SocketAddr, after: Duration) -> impl Fn(io::Error) -> TransferError + Copy {
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

/// One file to fetch, checked and named before any connection is opened.
struct Target<'a> {
    index: usize,
    path: &'a str,
    name: String,
    expected: Option<String>,
}

/// Fetches every path of the plan in `mode` and returns the client-side timings.
pub fn fetch(
    mode: Mode,
    plan: &FetchPlan,
    events: Option<&EventLog>,
) -> Result<RunTiming, TransferError> {
    let targets = targets(plan)?;
    let run = Run::new(
        &plan.limits,
        targets.len(),
        plan.tls.as_ref().map(ClientTls::sessions),
    );
    let dir = plan.out_dir.join(mode.name());
    crate::created::create_dir_all(&dir).map_err(|source| TransferError::Output {
        path: dir.clone(),
        source,
    })?;
    let (connections, files) = match mode {
        Mode::NonPersistent => {
            let mut body = vec![0u8; BODY_BUFFER];
            let mut connections = Vec::new();
            let mut files = Vec::new();
            for target in &targets {
                let (conn, file) = fetch_alone(plan, &run, target, &dir, &mut body, events)?;
                connections.push(conn);
                files.push(file);
            }
            (connections, files)
        }
        Mode::Persistent => fetch_on_one(plan, &run, &targets, false, &dir, events)?,
        Mode::Pipelined => fetch_on_one(plan, &run, &targets, true, &dir, events)?,
        Mode::Parallel => fetch_in_parallel(plan, &run, &targets, &dir, events)?,
    };
    let start = connections
        .iter()
        .map(|c: &ConnectionTiming| c.connect_start)
        .min()
        .expect("a plan has at least one file, so one connection");
    let end = connections
        .iter()
        .map(|c| c.closed)
        .max()
        .expect("a plan has at least one file, so one connection");
    let last_byte = connections
        .iter()
        .flat_map(|c| &c.requests)
        .map(|r| r.last_byte)
        .max()
        .unwrap_or(end);
    Ok(RunTiming {
        mode,
        start,
        last_byte,
        end,
        connections,
        files,
    })
}

/// Fetches one file over a connection of its own, closed once the response has been read.
fn fetch_alone(
    plan: &FetchPlan,
    run: &Run,
    target: &Target<'_>,
    dir: &Path,
    body: &mut [u8],
    events: Option<&EventLog>,
) -> Result<(ConnectionTiming, FileResult), TransferError> {
    let mut conn = Connection::open(plan, run, events)?;
    let (request, mut file) = conn.exchange(&plan.host, target, true, dir, body)?;
    file.seconds = request.last_byte.secs_since(conn.timing.connect_start);
    conn.timing.requests.push(request);
    // The server closes first; reading up to its FIN before closing makes our close the second
    // FIN of a clean exchange, never a RST for unread data.
    conn.set_deadline(Instant::now() + run.per_file);
    conn.await_fin()?;
    conn.send_fin();
    Ok((conn.close(), file))
}

/// Fetches every file over one keep-alive connection: request after response (persistent),
/// or every request first and then every response (pipelined).
fn fetch_on_one(
    plan: &FetchPlan,
    run: &Run,
    targets: &[Target<'_>],
    pipelined: bool,
    dir: &Path,
    events: Option<&EventLog>,
) -> Result<(Vec<ConnectionTiming>, Vec<FileResult>), TransferError> {
    let mut body = vec![0u8; BODY_BUFFER];
    let mut conn = Connection::open(plan, run, events)?;
    let mut sent = Vec::new();
    if pipelined {
        // Nothing is read until every request is out, so the server may stop reading while its
        // first response fills the buffers; the write timeout bounds that for huge plans.
        for target in targets {
            sent.push(conn.send_request(&plan.host, target, false)?);
        }
    }
    let mut files = Vec::new();
    let mut previous = conn.timing.connect_start;
    for (position, target) in targets.iter().enumerate() {
        let sent = match sent.get(position) {
            Some(&sent) => sent,
            None => conn.send_request(&plan.host, target, false)?,
        };
        let (request, mut file) = conn.receive_response(target, sent, false, dir, &mut body)?;
        let more = position + 1 < targets.len();
        if conn.server_closes && more {
            return Err(TransferError::BadResponse(format!(
                "{} announced Connection: close after {}, so it cannot serve the {} mode",
                plan.addr,
                target.path,
                if pipelined {
                    Mode::Pipelined
                } else {
                    Mode::Persistent
                }
            )));
        }
        file.seconds = request.last_byte.secs_since(previous);
        previous = request.last_byte;
        conn.timing.requests.push(request);
        files.push(file);
        conn.set_deadline(run.file_deadline(Instant::now()));
    }
    // The client closes first, as a browser does when it is done with a connection.
    conn.set_deadline(Instant::now() + run.per_file);
    conn.send_fin();
    conn.await_fin()?;
    Ok((vec![conn.close()], files))
}

/// Fetches each file over a connection of its own with up to `plan.parallel` connections open
/// at once: every slot takes the next file in plan order as soon as its previous one is done.
fn fetch_in_parallel(
    plan: &FetchPlan,
    run: &Run,
    targets: &[Target<'_>],
    dir: &Path,
    events: Option<&EventLog>,
) -> Result<(Vec<ConnectionTiming>, Vec<FileResult>), TransferError> {
    let slots = plan.parallel.clamp(1, targets.len());
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let done: Mutex<Vec<Option<(ConnectionTiming, FileResult)>>> =
        Mutex::new(targets.iter().map(|_| None).collect());
    let errors: Mutex<Vec<(usize, TransferError)>> = Mutex::new(Vec::new());
    let slot = || {
        let mut body = vec![0u8; BODY_BUFFER];
        // Each pass takes a distinct index, so a slot makes at most one pass per file.
        while !failed.load(Ordering::SeqCst) {
            let index = next.fetch_add(1, Ordering::SeqCst);
            let Some(target) = targets.get(index) else {
                return;
            };
            match fetch_alone(plan, run, target, dir, &mut body, events) {
                Ok(result) => {
                    done.lock().unwrap_or_else(PoisonError::into_inner)[index] = Some(result)
                }
                Err(error) => {
                    // Slots finish the file they hold, but take no new one.
                    failed.store(true, Ordering::SeqCst);
                    errors
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((index, error));
                }
            }
        }
    };
    thread::scope(|scope| {
        for number in 0..slots {
            let spawned = thread::Builder::new()
                .name(format!("synack-fetch-{number}"))
                .spawn_scoped(scope, slot);
            if let Err(error) = spawned {
                // Fewer slots than asked would measure something else, so fail the run.
                failed.store(true, Ordering::SeqCst);
                errors
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((usize::MAX, error.into()));
                break;
            }
        }
    });
    let mut errors = errors.into_inner().unwrap_or_else(PoisonError::into_inner);
    errors.sort_by_key(|(index, _)| *index);
    if let Some((_, error)) = errors.into_iter().next() {
        return Err(error);
    }
    let mut connections = Vec::with_capacity(targets.len());
    let mut files = Vec::with_capacity(targets.len());
    for result in done.into_inner().unwrap_or_else(PoisonError::into_inner) {
        let (conn, file) = result.expect("without a failure every file was fetched");
        connections.push(conn);
        files.push(file);
    }
    connections.sort_by_key(|c| c.connect_start);
    Ok((connections, files))
}

fn invalid(message: String) -> TransferError {
    TransferError::InvalidPlan(message)
}

/// The file name a request path is saved under: its decoded last segment.
fn file_name(path: &str) -> Option<String> {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let last = path[..end].rsplit('/').next()?;
    let name = percent_decode_str(last).decode_utf8().ok()?;
    let unusable =
        name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']);
    (!unusable).then(|| name.into_owned())
}

fn targets(plan: &FetchPlan) -> Result<Vec<Target<'_>>, TransferError> {
    if plan.paths.is_empty() {
        return Err(invalid("no files to fetch".into()));
    }
    if plan.parallel == 0 {
        return Err(invalid("parallel connections must be at least 1".into()));
    }
    if let Some(expected) = &plan.expected_sha256
        && expected.len() != plan.paths.len()
    {
        return Err(invalid(format!(
            "{} expected SHA-256 values for {} paths",
            expected.len(),
            plan.paths.len()
        )));
    }
    let mut seen = HashSet::new();
    plan.paths
        .iter()
        .enumerate()
        .map(|(index, path)| {
            if !path.starts_with('/') {
                return Err(invalid(format!("path {path:?} does not start with '/'")));
            }
            let name = file_name(path)
                .ok_or_else(|| invalid(format!("path {path:?} does not end in a file name")))?;
            if !seen.insert(name.clone()) {
                return Err(invalid(format!(
                    "two paths would both be saved as {name:?}"
                )));
            }
            Ok(Target {
                index,
                path,
                name,
                expected: plan
                    .expected_sha256
                    .as_ref()
                    .map(|all| all[index].trim().to_ascii_lowercase()),
            })
        })
        .collect()
}

/// An open client connection and the timings gathered on it so far.
struct Connection<'a> {
    reader: BufReader<Wire>,
    addr: SocketAddr,
    /// Each file's deadline, for the timeout error.
    per_file: Duration,
    /// Largest body accepted.
    max_size: Option<u64>,
    timing: ConnectionTiming,
    events: ConnectionEvents<'a>,
    /// The last response announced that the server closes after it.
    server_closes: bool,
    /// A TLS handshake left to the first request, which may go as early data.
    handshake_pending: bool,
    /// When the TLS handshake was complete.
    tls_done: Option<Ts>,
    /// The socket asked for TCP Fast Open.
    fastopen: bool,
}

impl<'a> Connection<'a> {
    fn open(
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
            super::fastopen::on_client(&socket).map_err(connect_failed)?;
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
    fn handshake(&mut self) -> Result<(), TransferError> {
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
    fn set_deadline(&mut self, deadline: Instant) {
        let timed = self.reader.get_mut().timed_mut();
        timed.deadline = deadline;
        // Closing may take beyond the run's deadline: it is not part of any file.
        timed.run_deadline = timed.run_deadline.max(deadline);
    }

    /// Sends one GET and saves its body; returns the timings and the file (seconds still 0).
    fn exchange(
        &mut self,
        host: &str,
        target: &Target<'_>,
        close: bool,
        dir: &Path,
        body: &mut [u8],
    ) -> Result<(RequestTiming, FileResult), TransferError> {
        let sent = self.send_request(host, target, close)?;
        self.receive_response(target, sent, close, dir, body)
    }

    /// Writes one GET; returns when it had been fully written.
    fn send_request(
        &mut self,
        host: &str,
        target: &Target<'_>,
        close: bool,
    ) -> Result<Ts, TransferError> {
        let network = network(self.addr, self.per_file);
        if self.handshake_pending {
            // A resumed TLS 1.3 session may carry the request with its ClientHello; the server
            // says only at the end of the handshake whether it took it.
            let mut request = Vec::new();
            http::write_request(&mut request, host, target.path, close).map_err(network)?;
            let early = match self.reader.get_mut() {
                Wire::Tls(tls) => tls.send_early(&request).map_err(network)?,
                Wire::Plain(_) => false,
            };
            let sent = Ts::now();
            self.handshake()?;
            let accepted = match self.reader.get_ref() {
                Wire::Tls(tls) => tls.session().early_data_accepted,
                Wire::Plain(_) => false,
            };
            let accepted = early && accepted;
            if !accepted {
                self.reader.get_mut().write_all(&request).map_err(network)?;
            }
            let sent = if accepted { sent } else { Ts::now() };
            self.events.at(
                sent,
                EventKind::Request {
                    path: target.path.to_owned(),
                },
            );
            return Ok(sent);
        }
        let before = Ts::now();
        http::write_request(self.reader.get_mut(), host, target.path, close).map_err(network)?;
        // A Fast Open socket's first write carries the SYN and returns only once the SYN-ACK is
        // in: the request left when the write began.
        let sent = if self.fastopen && self.timing.requests.is_empty() && self.tls_done.is_none() {
            before
        } else {
            Ts::now()
        };
        self.events.at(
            sent,
            EventKind::Request {
                path: target.path.to_owned(),
            },
        );
        Ok(sent)
    }

    /// Reads the response to the request for `target` (written at `sent`) and saves its body;
    /// returns the timings and the file (seconds still 0).
    fn receive_response(
        &mut self,
        target: &Target<'_>,
        sent: Ts,
        close: bool,
        dir: &Path,
        body: &mut [u8],
    ) -> Result<(RequestTiming, FileResult), TransferError> {
        let network = network(self.addr, self.per_file);
        // Wait for the first byte separately so its arrival is timed apart from parsing.
        let first = self.reader.fill_buf().map_err(network)?;
        let available = first.len();
        // A TLS record (content type 20 to 24, version 3.x) where a status line belongs: an
        // HTTPS server answering plain HTTP with an alert.
        let tls_record = matches!(first, [20..=24, 3, ..]);
        let first_byte = Ts::now();
        if available == 0 {
            return Err(TransferError::BadResponse(format!(
                "{} closed the connection without answering {}",
                self.addr, target.path
            )));
        }
        if tls_record && matches!(self.reader.get_ref(), Wire::Plain(_)) {
            return Err(TransferError::SpeaksTls { addr: self.addr });
        }
        let head = http::read_response_head(&mut self.reader).map_err(|source| match source {
            HttpError::Io(error) => network(error),
            source => TransferError::Http {
                addr: self.addr,
                source,
            },
        })?;
        self.events.now(EventKind::ResponseStart {
            status: head.status,
        });
        if !(200..300).contains(&head.status) {
            return Err(TransferError::Status {
                code: head.status,
                path: target.path.to_owned(),
                said: self.short_reason(&head),
            });
        }
        self.server_closes = head.close;
        let mut part = PartFile::create(dir, &target.name)?;
        let (bytes, last_byte) = self.receive_body(&head, close, target, &mut part, body)?;
        self.events.at(last_byte, EventKind::ResponseEnd { bytes });
        let sha256 = part.sha256();
        let sha256_ok = target.expected.as_ref().map(|expected| *expected == sha256);
        if let (Some(false), Some(expected)) = (sha256_ok, &target.expected) {
            return Err(TransferError::ShaMismatch {
                name: target.name.clone(),
                expected: expected.clone(),
                actual: sha256,
            });
        }
        let path = part.commit()?;
        Ok((
            RequestTiming {
                file: target.index,
                sent,
                first_byte,
                last_byte,
            },
            FileResult {
                name: target.name.clone(),
                bytes,
                sha256,
                sha256_ok,
                seconds: 0.0,
                path,
            },
        ))
    }

    /// The last line of an error response's body, when the body is short plain text that has
    /// already arrived whole (an HTML page or a body still on its way is not waited for) and
    /// says more than the status line ("404 Not Found").
    fn short_reason(&mut self, head: &ResponseHead) -> Option<String> {
        let length = usize::try_from(head.content_length?).ok()?;
        let buffered = self.reader.buffer();
        if head.chunked || length > MAX_REASON || buffered.len() < length {
            return None;
        }
        let text = std::str::from_utf8(&buffered[..length]).ok()?;
        let line = text
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())?
            .trim();
        let plain = !line.starts_with('<') && line.chars().all(|c| !c.is_control());
        (plain && !line.starts_with(&head.status.to_string())).then(|| line.to_owned())
    }

    /// Reads the body with the framing the head announced; returns its size and the time the
    /// last byte was read.
    fn receive_body(
        &mut self,
        head: &ResponseHead,
        close: bool,
        target: &Target<'_>,
        part: &mut PartFile,
        body: &mut [u8],
    ) -> Result<(u64, Ts), TransferError> {
        let addr = self.addr;
        let sink = Sink {
            network: network(addr, self.per_file),
            max_size: self.max_size,
            path: target.path,
        };
        if head.chunked {
            return sink.copy(&mut ChunkedReader::new(&mut self.reader), part, body);
        }
        match head.content_length {
            Some(length) if self.max_size.is_some_and(|max| length > max) => {
                Err(TransferError::TooLarge {
                    path: target.path.to_owned(),
                    limit: self.max_size.unwrap_or_default(),
                })
            }
            Some(length) => {
                let (got, last_byte) =
                    sink.copy(&mut (&mut self.reader).take(length), part, body)?;
                if got < length {
                    return Err(TransferError::Truncated {
                        path: target.path.to_owned(),
                        expected: length,
                        got,
                    });
                }
                Ok((got, last_byte))
            }
            // Without a length the body ends at the server's FIN, which would also end the
            // connection the persistent mode still needs.
            None if !close && !head.close => Err(TransferError::BadResponse(format!(
                "{addr} sent {} without Content-Length on a persistent connection",
                target.path
            ))),
            None => {
                self.server_closes = true;
                sink.copy(&mut self.reader, part, body)
            }
        }
    }

    /// Reads until the server's FIN; anything still arriving is dropped.
    fn await_fin(&mut self) -> Result<(), TransferError> {
        let mut scratch = [0u8; 4096];
        // TLS ends its stream (close_notify) just before the FIN, so past it, the socket is read.
        let mut stream_ended = false;
        loop {
            let read = if stream_ended {
                self.reader.get_mut().timed_mut().read(&mut scratch)
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

    fn send_fin(&mut self) {
        if let Wire::Tls(tls) = self.reader.get_mut() {
            // The FIN that follows ends the connection all the same.
            let _ = tls.close_notify();
        }
        self.events.now(EventKind::FinSent);
        // If this fails the socket is already gone and closing it below is all that is left.
        let _ = self
            .reader
            .get_ref()
            .timed()
            .stream
            .shutdown(Shutdown::Write);
    }

    fn close(self) -> ConnectionTiming {
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

/// Where a body goes, and what may stop it.
struct Sink<'a, F> {
    network: F,
    max_size: Option<u64>,
    path: &'a str,
}

impl<F: Fn(io::Error) -> TransferError> Sink<'_, F> {
    /// Copies a body into `part`, timing the last byte as the end of the last read that returned
    /// data (not the read that found the end).
    fn copy(
        &self,
        source: &mut impl Read,
        part: &mut PartFile,
        buf: &mut [u8],
    ) -> Result<(u64, Ts), TransferError> {
        let mut total = 0u64;
        let mut last_byte = Ts::now();
        loop {
            let n = match source.read(buf) {
                Ok(0) => return Ok((total, last_byte)),
                Ok(n) => n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err((self.network)(error)),
            };
            last_byte = Ts::now();
            total += n as u64;
            if let Some(limit) = self.max_size.filter(|&max| total > max) {
                return Err(TransferError::TooLarge {
                    path: self.path.to_owned(),
                    limit,
                });
            }
            part.write(&buf[..n])?;
        }
    }
}

/// A file being received: hashed as it is written to `.<name>.part`, renamed to `<name>` by
/// `commit`, and removed if dropped before that.
struct PartFile {
    part: PathBuf,
    dest: PathBuf,
    file: Option<File>,
    hasher: Sha256,
}

impl PartFile {
    fn create(dir: &Path, name: &str) -> Result<PartFile, TransferError> {
        let part = dir.join(format!(".{name}.part"));
        let file =
            crate::created::create_partial(&part).map_err(|source| TransferError::Output {
                path: part.clone(),
                source,
            })?;
        Ok(PartFile {
            dest: dir.join(name),
            part,
            file: Some(file),
            hasher: Sha256::new(),
        })
    }

    fn write(&mut self, data: &[u8]) -> Result<(), TransferError> {
        self.hasher.update(data);
        let file = self
            .file
            .as_mut()
            .expect("the file stays open until commit");
        file.write_all(data)
            .map_err(|source| TransferError::Output {
                path: self.part.clone(),
                source,
            })
    }

    fn sha256(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }

    fn commit(mut self) -> Result<PathBuf, TransferError> {
        drop(self.file.take());
        crate::created::complete(&self.part, &self.dest).map_err(|source| {
            TransferError::Output {
                path: self.dest.clone(),
                source,
            }
        })?;
        Ok(self.dest.clone())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        // After a successful commit the part file is gone and this does nothing.
        crate::created::discard(&self.part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::files::{SAMPLES, generate_samples, sha256_file};
    use crate::transfer::server::{Server, ServerConfig};
    use std::fs;

    struct Setup {
        _dir: tempfile::TempDir,
        server: Server,
        plan: FetchPlan,
        sources: Vec<PathBuf>,
    }

    fn setup(log: Option<EventLog>) -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("www");
        let sources = generate_samples(&root).expect("samples");
        let server = Server::start(
            ServerConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                root,
                max_connections: 8,
                congestion: None,
                fastopen: false,
                tls: None,
                sample_responses: true,
                timeouts: Default::default(),
            },
            log,
        )
        .expect("server starts");
        let plan = FetchPlan {
            addr: server.local_addr(),
            host: server.local_addr().to_string(),
            paths: SAMPLES
                .iter()
                .map(|s| http::path_for_name(s.name))
                .collect(),
            out_dir: dir.path().join("out"),
            expected_sha256: None,
            parallel: DEFAULT_PARALLEL,
            rcvbuf: None,
            fastopen: false,
            tls: None,
            limits: FetchLimits::default(),
        };
        Setup {
            _dir: dir,
            server,
            plan,
            sources,
        }
    }

    fn assert_ordered(conn: &ConnectionTiming) {
        assert!(conn.connect_start <= conn.connected);
        let mut previous = conn.connected;
        for request in &conn.requests {
            assert!(previous <= request.sent);
            assert!(request.sent <= request.first_byte);
            assert!(request.first_byte <= request.last_byte);
            previous = request.last_byte;
        }
        assert!(previous <= conn.closed);
    }

    fn assert_received_intact(setup: &Setup, run: &RunTiming) {
        assert_eq!(run.files.len(), setup.sources.len());
        for (file, source) in run.files.iter().zip(&setup.sources) {
            let source_sha = sha256_file(source).expect("hash source");
            assert_eq!(file.sha256, source_sha, "{}", file.name);
            assert_eq!(sha256_file(&file.path).expect("hash copy"), source_sha);
            assert_eq!(file.bytes, fs::metadata(source).expect("source").len());
            assert!(file.seconds >= 0.0);
        }
        assert!(run.start <= run.end);
    }

    #[test]
    fn non_persistent_uses_one_connection_per_file() {
        let setup = setup(None);
        let run = fetch(Mode::NonPersistent, &setup.plan, None).expect("fetch");
        assert_received_intact(&setup, &run);
        assert_eq!(run.connections.len(), 3);
        let ports: HashSet<u16> = run.connections.iter().map(|c| c.local.port()).collect();
        assert_eq!(ports.len(), 3, "each connection has its own port");
        for (index, conn) in run.connections.iter().enumerate() {
            assert_eq!(conn.requests.len(), 1);
            assert_eq!(conn.requests[0].file, index);
            assert_ordered(conn);
        }
        // The next connection opens only after the previous one closed.
        for pair in run.connections.windows(2) {
            assert!(pair[0].closed <= pair[1].connect_start);
        }
        assert!(
            run.files[0].path.ends_with("non-persistent/a.jpg"),
            "{:?}",
            run.files[0].path
        );
        setup.server.stop();
    }

    #[test]
    fn persistent_uses_one_connection_for_all_files() {
        let log = EventLog::new();
        let setup = setup(Some(log.clone()));
        let run = fetch(Mode::Persistent, &setup.plan, Some(&log)).expect("fetch");
        assert_received_intact(&setup, &run);
        assert_eq!(run.connections.len(), 1);
        let conn = &run.connections[0];
        let files: Vec<usize> = conn.requests.iter().map(|r| r.file).collect();
        assert_eq!(files, [0, 1, 2]);
        assert_ordered(conn);
        assert_eq!(run.start, conn.connect_start);
        assert_eq!(run.end, conn.closed);
        assert!(run.files[2].path.ends_with("persistent/c.txt"));

        let client: Vec<EventKind> = log
            .take()
            .into_iter()
            .filter(|e| e.side == Side::Client && e.local == conn.local)
            .map(|e| e.kind)
            .collect();
        assert_eq!(client.first(), Some(&EventKind::Connect));
        let tail = &client[client.len() - 3..];
        assert_eq!(
            tail,
            [
                EventKind::FinSent,
                EventKind::FinReceived,
                EventKind::Closed
            ]
        );
        let requests = client
            .iter()
            .filter(|k| matches!(k, EventKind::Request { .. }))
            .count();
        assert_eq!(requests, 3);
        setup.server.stop();
    }

    #[test]
    fn expected_digests_are_checked() {
        let mut setup = setup(None);
        let good: Vec<String> = setup
            .sources
            .iter()
            .map(|p| sha256_file(p).expect("hash"))
            .collect();
        setup.plan.expected_sha256 = Some(good.iter().map(|s| s.to_uppercase()).collect());
        let run = fetch(Mode::Persistent, &setup.plan, None).expect("fetch");
        assert!(run.files.iter().all(|f| f.sha256_ok == Some(true)));

        let mut wrong = good.clone();
        wrong[1] = "00".repeat(32);
        setup.plan.expected_sha256 = Some(wrong);
        let error = fetch(Mode::NonPersistent, &setup.plan, None).expect_err("mismatch");
        assert!(
            matches!(&error, TransferError::ShaMismatch { name, .. } if name == "b.mp3"),
            "{error}"
        );
        let dir = setup.plan.out_dir.join(Mode::NonPersistent.name());
        assert!(!dir.join("b.mp3").exists(), "no final file");
        assert!(!dir.join(".b.mp3.part").exists(), "no part file");
        setup.server.stop();
    }

    #[test]
    fn a_missing_file_is_a_status_error_without_leftovers() {
        let mut setup = setup(None);
        setup.plan.paths = vec!["/missing.bin".into()];
        let error = fetch(Mode::NonPersistent, &setup.plan, None).expect_err("404");
        assert!(
            matches!(&error, TransferError::Status { code: 404, path, said: None } if path == "/missing.bin"),
            "{error}"
        );
        let dir = setup.plan.out_dir.join(Mode::NonPersistent.name());
        assert_eq!(fs::read_dir(dir).expect("mode dir").count(), 0);
        setup.server.stop();
    }

    #[test]
    fn plans_that_cannot_be_saved_are_refused_before_connecting() {
        let plan = FetchPlan {
            // Nothing listens here; an attempt to connect would fail differently.
            addr: SocketAddr::from(([127, 0, 0, 1], 9)),
            host: "x".into(),
            paths: vec!["/a/".into()],
            out_dir: PathBuf::from("/nonexistent-synack-test"),
            expected_sha256: None,
            parallel: 1,
            rcvbuf: None,
            fastopen: false,
            tls: None,
            limits: FetchLimits::default(),
        };
        for paths in [
            vec![],
            vec!["/a/".into()],
            vec!["/x/a.jpg".into(), "/a.jpg".into()],
        ] {
            let plan = FetchPlan {
                paths,
                ..plan.clone()
            };
            assert!(matches!(
                fetch(Mode::Persistent, &plan, None),
                Err(TransferError::InvalidPlan(_))
            ));
        }
        let no_slots = FetchPlan {
            paths: vec!["/a.jpg".into()],
            parallel: 0,
            ..plan
        };
        assert!(matches!(
            fetch(Mode::Parallel, &no_slots, None),
            Err(TransferError::InvalidPlan(_))
        ));
    }

    #[test]
    fn file_names_are_decoded_last_segments() {
        assert_eq!(file_name("/dir/a%20b.jpg?v=2").as_deref(), Some("a b.jpg"));
        assert_eq!(file_name("/%2e%2e"), None);
        assert_eq!(file_name("/a%2Fb"), None);
    }

    #[test]
    fn mode_names_match_the_cli_values() {
        use clap::ValueEnum;
        assert_eq!(Mode::ALL.len(), Mode::value_variants().len());
        for mode in Mode::ALL {
            let value = mode.to_possible_value().expect("visible");
            assert_eq!(value.get_name(), mode.name());
            let json = serde_json::to_string(&mode).expect("serialises");
            assert_eq!(json, format!("\"{}\"", mode.name()));
        }
        assert!(Mode::DEFAULT.iter().all(|mode| Mode::ALL.contains(mode)));
    }

    #[test]
    fn pipelined_writes_every_request_before_reading_any_response() {
        let log = EventLog::new();
        let setup = setup(Some(log.clone()));
        let run = fetch(Mode::Pipelined, &setup.plan, Some(&log)).expect("fetch");
        assert_received_intact(&setup, &run);
        assert_eq!(run.connections.len(), 1);
        let conn = &run.connections[0];
        let files: Vec<usize> = conn.requests.iter().map(|r| r.file).collect();
        assert_eq!(files, [0, 1, 2]);
        let last_sent = conn.requests.iter().map(|r| r.sent).max().expect("three");
        assert!(last_sent <= conn.requests[0].first_byte);
        for pair in conn.requests.windows(2) {
            assert!(pair[0].sent <= pair[1].sent);
            assert!(pair[0].last_byte <= pair[1].first_byte);
        }
        assert!(conn.connected <= conn.requests[0].sent);
        assert!(conn.requests[2].last_byte <= conn.closed);
        assert_eq!((run.start, run.end), (conn.connect_start, conn.closed));
        assert!(run.files[1].path.ends_with("pipelined/b.mp3"));

        // The server answered all three on the one connection, and the client closed first.
        let client: Vec<EventKind> = log
            .take()
            .into_iter()
            .filter(|e| e.side == Side::Client)
            .map(|e| e.kind)
            .collect();
        let requests: Vec<usize> = client
            .iter()
            .enumerate()
            .filter(|(_, k)| matches!(k, EventKind::Request { .. }))
            .map(|(at, _)| at)
            .collect();
        let first_response = client
            .iter()
            .position(|k| matches!(k, EventKind::ResponseStart { .. }))
            .expect("a response");
        assert_eq!(requests.len(), 3);
        assert!(requests.iter().all(|&at| at < first_response), "{client:?}");
        assert_eq!(
            &client[client.len() - 3..],
            [
                EventKind::FinSent,
                EventKind::FinReceived,
                EventKind::Closed
            ]
        );
        setup.server.stop();
    }

    /// The largest number of connections open at one instant.
    fn most_open_at_once(connections: &[ConnectionTiming]) -> usize {
        connections
            .iter()
            .map(|c| {
                connections
                    .iter()
                    .filter(|o| o.connect_start <= c.connect_start && c.connect_start < o.closed)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn parallel_keeps_at_most_k_connections_open() {
        let mut setup = setup(None);
        setup.plan.parallel = 2;
        let run = fetch(Mode::Parallel, &setup.plan, None).expect("fetch");
        assert_received_intact(&setup, &run);
        assert_eq!(run.connections.len(), 3);
        let ports: HashSet<u16> = run.connections.iter().map(|c| c.local.port()).collect();
        assert_eq!(ports.len(), 3, "each connection has its own port");
        assert!(most_open_at_once(&run.connections) <= 2);
        let mut files: Vec<usize> = Vec::new();
        for conn in &run.connections {
            assert_eq!(conn.requests.len(), 1);
            assert_ordered(conn);
            files.push(conn.requests[0].file);
            let file = &run.files[conn.requests[0].file];
            let seconds = conn.requests[0].last_byte.secs_since(conn.connect_start);
            assert!((file.seconds - seconds).abs() < 1e-9);
        }
        files.sort_unstable();
        assert_eq!(files, [0, 1, 2]);
        for pair in run.connections.windows(2) {
            assert!(pair[0].connect_start <= pair[1].connect_start);
        }
        assert_eq!(run.start, run.connections[0].connect_start);
        assert_eq!(
            Some(run.end),
            run.connections.iter().map(|c| c.closed).max()
        );
        assert!(run.files[0].path.ends_with("parallel/a.jpg"));
        setup.server.stop();
    }

    /// Answers one request on `stream` with its path as the body, then closes cleanly.
    fn answer_with_path(stream: TcpStream) -> io::Result<()> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut reader = BufReader::new(&stream);
        let request = http::read_request(&mut reader)
            .map_err(io::Error::other)?
            .ok_or_else(|| io::Error::other("no request"))?;
        let body = request.path;
        let mut writer = &stream;
        http::write_response_head(
            &mut writer,
            200,
            "OK",
            body.len() as u64,
            true,
            "text/plain",
        )?;
        writer.write_all(body.as_bytes())?;
        stream.shutdown(Shutdown::Write)?;
        io::copy(&mut reader, &mut io::sink())?;
        Ok(())
    }

    #[test]
    fn parallel_opens_k_connections_before_any_is_answered() {
        // This server answers nothing until two connections are open, so a client that opened
        // them one at a time would stall until the server gives up.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || -> io::Result<()> {
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            let (mut waiting, mut served) = (Vec::new(), 0);
            while served < 3 {
                if std::time::Instant::now() > deadline {
                    return Err(io::Error::other(format!(
                        "{} connection(s) open at once, 2 expected",
                        waiting.len()
                    )));
                }
                match listener.accept() {
                    Ok((stream, _)) => waiting.push(stream),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(e) => return Err(e),
                }
                if waiting.len() == 2 || (served == 2 && waiting.len() == 1) {
                    for stream in waiting.drain(..) {
                        answer_with_path(stream)?;
                        served += 1;
                    }
                }
            }
            Ok(())
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let plan = FetchPlan {
            addr,
            host: addr.to_string(),
            paths: vec!["/1.txt".into(), "/2.txt".into(), "/3.txt".into()],
            out_dir: dir.path().to_path_buf(),
            expected_sha256: None,
            parallel: 2,
            rcvbuf: None,
            fastopen: false,
            tls: None,
            limits: FetchLimits::default(),
        };
        let run = fetch(Mode::Parallel, &plan, None);
        server
            .join()
            .expect("no panic")
            .expect("two connections at once");
        let run = run.expect("fetch");
        assert_eq!(run.connections.len(), 3);
        assert_eq!(most_open_at_once(&run.connections), 2);
        for (file, path) in run.files.iter().zip(&plan.paths) {
            assert_eq!(fs::read_to_string(&file.path).expect("saved"), *path);
        }
    }

    #[test]
    fn parallel_with_one_slot_is_non_persistent() {
        let mut setup = setup(None);
        setup.plan.parallel = 1;
        let run = fetch(Mode::Parallel, &setup.plan, None).expect("fetch");
        assert_received_intact(&setup, &run);
        assert_eq!(run.connections.len(), 3);
        for (index, conn) in run.connections.iter().enumerate() {
            assert_eq!(conn.requests.len(), 1);
            assert_eq!(conn.requests[0].file, index);
        }
        for pair in run.connections.windows(2) {
            assert!(pair[0].closed <= pair[1].connect_start);
        }
        setup.server.stop();
    }

    #[test]
    fn a_failure_in_one_parallel_slot_fails_the_run() {
        let mut setup = setup(None);
        setup.plan.parallel = 2;
        setup.plan.paths[1] = "/missing.bin".into();
        let error = fetch(Mode::Parallel, &setup.plan, None).expect_err("404");
        assert!(
            matches!(&error, TransferError::Status { code: 404, path, said: None } if path == "/missing.bin"),
            "{error}"
        );
        setup.server.stop();
    }
}
