//! Transfer layer: the blocking HTTP/1.1 file server, one thread per connection (threads are
//! reused from one connection to the next); a plain server instead accepts and serves small
//! requests on one poller per core and keeps a thread only for what could block (its
//! `KeepAlive`). Must not import capture or report code.
//!
//! Closing is done so that a capture shows a clean FIN exchange and never a RST: the server only
//! closes a socket after reading the peer's FIN, and when it closes first it shuts down its
//! sending half, then waits for the peer's FIN before dropping the socket. The one exception is a
//! plain server whose client asked for the close and has sent nothing more: it closes at once
//! (see `End::Asked`), which sends the same FIN.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use percent_encoding::percent_decode_str;
use socket2::{Domain, Protocol, Socket, Type};

use super::TransferError;
use super::beneath::{Directory, Identity};
use super::door::Door;
use super::events::{ConnectionEvents, EventKind, EventLog, Side, serialize_ts};
use super::http::{self, HttpError, Request};
use super::linger::Lingerer;
use super::park::{Guest, Host, Parking, Turn};
use super::pool::Pool;
use super::tcp_info::{self, TcpInfoSample};
use super::tls::{self, PlainClient, ServerTls, TlsStream};
use super::workers::{Accepted, Slot, Workers};
use crate::timeline::Ts;

/// Connections served at once unless told otherwise: threads are cheap, and a bound far above
/// what clients open keeps idle or slow ones from keeping others out.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Stack of a connection thread: a request is parsed in a few KiB, so a thousand threads cost
/// little memory.
const CONNECTION_STACK: usize = 256 * 1024;

/// How far a read may run past a deadline before the socket's timeout is set again.
const DEADLINE_SLACK: Duration = Duration::from_millis(50);

/// How long the server waits for the peer's FIN after sending its own.
const LINGER_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a response's last byte may wait for its acknowledgement before its closing sample is
/// taken anyway (marked not acknowledged): covers delayed ACKs and a retransmission timeout.
const ACK_WAIT: Duration = Duration::from_secs(3);

/// How often the socket is asked whether the last byte has been acknowledged.
const ACK_POLL: Duration = Duration::from_micros(200);

/// Seconds a plain server's kernel holds a new connection back while waiting for its first bytes
/// (see [`listen`]).
#[cfg(target_os = "linux")]
const DEFER_ACCEPT: libc::c_int = 1;

/// The largest file a poller sends itself (see [`KeepAlive`]): with nothing unacknowledged, the
/// head and this much body fit in a socket's smallest default send buffer (16 KiB), so sending
/// them never waits for the client.
const INLINE_BODY: u64 = 12 * 1024;

/// The address of a side nobody records.
const UNKNOWN_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    0,
));

/// Pending connections the kernel queues while every connection slot is taken.
const LISTEN_BACKLOG: i32 = 1024;

/// Response samples kept until [`Server::take_samples`]; later ones are dropped, so a long-running
/// `synack serve` that nobody drains stays bounded.
const MAX_SAMPLES: usize = 100_000;

/// Where to listen, what to serve, and how many connections to serve at once.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listening address; port 0 picks a free port (see [`Server::local_addr`]).
    pub bind: SocketAddr,
    /// Directory whose regular files are served.
    pub root: PathBuf,
    /// Connections served concurrently; further ones wait in the kernel's accept queue until a
    /// slot frees up (0 is treated as 1).
    pub max_connections: usize,
    /// Congestion control for every connection (`TCP_CONGESTION` on the listening socket, which
    /// accepted sockets inherit); None keeps the kernel's default.
    pub congestion: Option<String>,
    /// Accept requests carried on the SYN (TCP Fast Open) from clients holding a cookie.
    pub fastopen: bool,
    /// Speak TLS on every connection (HTTPS) with this certificate; None for plain HTTP.
    pub tls: Option<ServerTls>,
    /// Record TCP_INFO around every response for `Server::take_samples` (compare's slow-start
    /// table). It waits for each response's last ACK, so a plain server leaves it off.
    pub sample_responses: bool,
    /// How long clients may take.
    pub timeouts: ServerTimeouts,
}

/// How long a client may take before the server gives up on it, so that idle or slow clients
/// never hold a connection thread for long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerTimeouts {
    /// A request head, whole: from the connection's accept (its first request) or the first
    /// byte of the head (later ones) to its blank line; answered 408 when it expires.
    pub head: Duration,
    /// Keep-alive: from a response's end to the next request's first byte; then closed quietly.
    pub idle: Duration,
    /// Each send to a client that does not read: the response ends and the connection closes.
    pub send: Duration,
}

impl Default for ServerTimeouts {
    fn default() -> ServerTimeouts {
        ServerTimeouts {
            head: Duration::from_secs(10),
            idle: Duration::from_secs(15),
            send: Duration::from_secs(10),
        }
    }
}

/// The server's side of a connection; reads end by the deadline of the head being read.
struct Incoming {
    stream: TcpStream,
    deadline: Option<Instant>,
    /// What the socket's read timeout is set to, so it is set only when it must change.
    timeout: Option<Duration>,
    /// The next read returns at once (`WouldBlock` when nothing is there): a poller's.
    no_wait: bool,
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

/// A connection's bytes: plain TCP, or TLS over it.
enum Wire {
    Plain(Incoming),
    Tls(Box<TlsStream<Incoming>>),
}

impl Wire {
    fn incoming(&self) -> &Incoming {
        match self {
            Wire::Plain(incoming) => incoming,
            Wire::Tls(tls) => tls.raw(),
        }
    }

    fn incoming_mut(&mut self) -> &mut Incoming {
        match self {
            Wire::Plain(incoming) => incoming,
            Wire::Tls(tls) => tls.raw_mut(),
        }
    }

    /// The TCP socket underneath.
    fn tcp(&self) -> &TcpStream {
        &self.incoming().stream
    }

    /// The TCP socket, once nothing more is read or written through TLS.
    fn into_tcp(self) -> TcpStream {
        match self {
            Wire::Plain(incoming) => incoming.stream,
            Wire::Tls(tls) => tls.into_raw().stream,
        }
    }

    /// Whether the request just read came, at least in part, as TLS early (0-RTT) data.
    fn took_early_data(&mut self) -> bool {
        match self {
            Wire::Plain(_) => false,
            Wire::Tls(tls) => tls.take_early(),
        }
    }

    /// Before the FIN: TLS says the stream ends here (close_notify).
    fn end_stream(&mut self) {
        if let Wire::Tls(tls) = self {
            // The FIN that follows ends the connection all the same.
            let _ = tls.close_notify();
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Wire::Plain(incoming) => incoming.stream.write_all(bytes),
            Wire::Tls(tls) => tls.write_all(bytes),
        }
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain(incoming) => incoming.read(buf),
            Wire::Tls(tls) => tls.read(buf),
        }
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

/// Why a request path is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No regular file at that path (missing, a directory, or a special file).
    NotFound,
    /// The path tries to leave the root (`..`, backslash, `//`, a symlink pointing outside).
    Forbidden,
    /// The path is not a usable origin-form target (no leading `/`, NUL, invalid UTF-8).
    BadRequest,
}

/// A status code with its reason phrase.
type Status = (u16, &'static str);

const OK: Status = (200, "OK");
const BAD_REQUEST: Status = (400, "Bad Request");
const REQUEST_TIMEOUT: Status = (408, "Request Timeout");
const FORBIDDEN: Status = (403, "Forbidden");
const NOT_FOUND: Status = (404, "Not Found");
const METHOD_NOT_ALLOWED: Status = (405, "Method Not Allowed");
const URI_TOO_LONG: Status = (414, "URI Too Long");
const TOO_EARLY: Status = (425, "Too Early");
const HEADERS_TOO_LARGE: Status = (431, "Request Header Fields Too Large");
const VERSION_NOT_SUPPORTED: Status = (505, "HTTP Version Not Supported");

impl Refusal {
    /// The status code and reason phrase that answer this refusal.
    pub fn status(self) -> (u16, &'static str) {
        match self {
            Refusal::NotFound => NOT_FOUND,
            Refusal::Forbidden => FORBIDDEN,
            Refusal::BadRequest => BAD_REQUEST,
        }
    }
}

/// Maps a request target to a regular file under `root`, or says why it must not be served.
///
/// The path is percent-decoded before it is checked, so encoded traversal (`%2e%2e`, `..%2f`)
/// is caught like the plain form; the final canonical path must still lie under the canonical
/// root, which catches symlinks that lead out.
pub fn resolve(root: &Path, request_path: &str) -> Result<PathBuf, Refusal> {
    let relative = relative_path(request_path)?;
    let root = root.canonicalize().map_err(not_served)?;
    resolve_relative(&root, &relative)
}

/// The file path a request target names, relative to the root; refused when it is not a plain
/// path downwards (`..`, `.`, `//`, backslash, NUL, invalid UTF-8).
fn relative_path(request_path: &str) -> Result<PathBuf, Refusal> {
    let request_path = origin_form(request_path);
    let end = request_path.find(['?', '#']).unwrap_or(request_path.len());
    let rest = request_path[..end]
        .strip_prefix('/')
        .ok_or(Refusal::BadRequest)?;
    let decoded = percent_decode_str(rest)
        .decode_utf8()
        .map_err(|_| Refusal::BadRequest)?;
    if decoded.contains('\0') {
        return Err(Refusal::BadRequest);
    }
    if decoded.contains('\\') {
        return Err(Refusal::Forbidden);
    }
    let segments: Vec<&str> = decoded.split('/').collect();
    let mut relative = PathBuf::new();
    for (index, segment) in segments.iter().enumerate() {
        match *segment {
            // A trailing slash names a directory, which resolves to NotFound below.
            "" if index + 1 == segments.len() => {}
            // An empty segment elsewhere would turn the rest into an absolute path on join.
            "" | "." | ".." => return Err(Refusal::Forbidden),
            name => relative.push(name),
        }
    }
    if !relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)))
    {
        return Err(Refusal::Forbidden);
    }
    Ok(relative)
}

/// Why a path that could not be looked up is not served.
fn not_served(error: io::Error) -> Refusal {
    match error.kind() {
        io::ErrorKind::PermissionDenied => Refusal::Forbidden,
        _ => Refusal::NotFound,
    }
}

/// The regular file at `relative` under the canonical `root`, with symlinks followed; refused
/// when it is missing, not a regular file, or really lies outside the root.
fn resolve_relative(root: &Path, relative: &Path) -> Result<PathBuf, Refusal> {
    let real = root.join(relative).canonicalize().map_err(not_served)?;
    if !real.starts_with(root) {
        return Err(Refusal::Forbidden);
    }
    if !fs::metadata(&real).map_err(not_served)?.is_file() {
        return Err(Refusal::NotFound);
    }
    Ok(real)
}

/// The directory served: its canonical path, and the directory held open where files can be
/// opened beneath it in one step.
#[derive(Debug)]
struct Root {
    path: PathBuf,
    dir: Option<Directory>,
}

/// A file about to be served.
struct Served {
    /// Shared with later responses when a poller keeps it (see [`Recent`]).
    file: Arc<File>,
    /// The length of the opened file, not of the path: a later rename cannot change it.
    length: u64,
    content_type: &'static str,
}

/// How many files each poller keeps open for repeated requests.
const RECENT_FILES: usize = 64;

/// A small file a poller served lately, kept open with its identity when it was opened, so that
/// the next request for the same target costs one stat instead of an open, a stat and a close.
/// It is served again only while the path names the very same file with the same length, owner,
/// permissions and change times: a file replaced, rewritten, moved away or made a symlink is
/// opened afresh. Only files opened beneath the root with no symlink on the way are kept.
struct Recent {
    relative: PathBuf,
    file: Arc<File>,
    identity: Identity,
    content_type: &'static str,
}

thread_local! {
    /// The files the calling poller keeps, by request target.
    static RECENT: RefCell<HashMap<String, Recent>> = RefCell::new(HashMap::new());
}

impl Root {
    /// `path` must be canonical.
    fn new(path: PathBuf) -> Root {
        let dir = Directory::open(&path);
        Root { path, dir }
    }

    /// Opens the file a request target names, or says which status refuses it. The outer error
    /// is an opened file whose length cannot be read.
    fn open(&self, request_path: &str) -> io::Result<Result<Served, Status>> {
        Ok(self
            .open_identified(request_path)?
            .map(|(served, _)| served))
    }

    /// As [`Root::open`], on a poller: a small file served lately is served again from the file
    /// kept open while its path still names it unchanged (see [`Recent`]).
    fn open_recent(&self, request_path: &str) -> io::Result<Result<Served, Status>> {
        let Some(dir) = &self.dir else {
            return self.open(request_path);
        };
        let kept = RECENT.with_borrow(|recent| {
            let kept = recent.get(request_path)?;
            let now = dir.identify(&kept.relative).ok()?;
            (now == kept.identity).then(|| Served {
                file: Arc::clone(&kept.file),
                length: now.length(),
                content_type: kept.content_type,
            })
        });
        if let Some(served) = kept {
            return Ok(Ok(served));
        }
        let opened = self.open_identified(request_path)?;
        RECENT.with_borrow_mut(|recent| {
            recent.remove(request_path);
            if let Ok((served, Some((relative, identity)))) = &opened
                && served.length <= INLINE_BODY
            {
                if recent.len() >= RECENT_FILES {
                    recent.clear();
                }
                recent.insert(
                    request_path.to_owned(),
                    Recent {
                        relative: relative.clone(),
                        file: Arc::clone(&served.file),
                        identity: *identity,
                        content_type: served.content_type,
                    },
                );
            }
        });
        Ok(opened.map(|(served, _)| served))
    }

    /// As [`Root::open`], with the relative path and identity of a file opened beneath the root
    /// with no symlink on the way.
    #[allow(clippy::type_complexity)]
    fn open_identified(
        &self,
        request_path: &str,
    ) -> io::Result<Result<(Served, Option<(PathBuf, Identity)>), Status>> {
        let relative = match relative_path(request_path) {
            Ok(relative) => relative,
            Err(refusal) => return Ok(Err(refusal.status())),
        };
        // The kernel opens only a path with no symlink and no way out of the root, which is
        // then its own canonical form, so the file is served as is. Anything else (a symlink, a
        // missing file, a directory, an old kernel) takes the canonical-path route, which
        // decides every refusal.
        if let Some(dir) = &self.dir
            && let Ok(file) = dir.open_beneath(&relative)
            && let Ok(metadata) = file.metadata()
            && metadata.is_file()
        {
            let served = Served {
                file: Arc::new(file),
                length: metadata.len(),
                content_type: content_type(&relative),
            };
            return Ok(Ok((served, Some((relative, Identity::of(&metadata))))));
        }
        let path = match resolve_relative(&self.path, &relative) {
            Ok(path) => path,
            Err(refusal) => return Ok(Err(refusal.status())),
        };
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) => {
                return Ok(Err(match error.kind() {
                    io::ErrorKind::PermissionDenied => FORBIDDEN,
                    _ => NOT_FOUND,
                }));
            }
        };
        let length = file.metadata()?.len();
        let served = Served {
            file: Arc::new(file),
            length,
            content_type: content_type(&path),
        };
        Ok(Ok((served, None)))
    }
}

/// The path of an absolute-form target (`http://host/a.jpg`, which servers must accept, RFC 9112
/// §3.2.2); any other target as it is.
fn origin_form(target: &str) -> &str {
    let Some(scheme_end) = target.find("://") else {
        return target;
    };
    let scheme = &target[..scheme_end];
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return target;
    }
    let rest = &target[scheme_end + 3..];
    match rest.find(['/', '?', '#']) {
        Some(at) if rest[at..].starts_with('/') => &rest[at..],
        // No path: the root, which is not a file.
        _ => "/",
    }
}

/// The Content-Type for a file, from its extension.
pub fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("mp3") => "audio/mpeg",
        Some("txt") => "text/plain; charset=utf-8",
        Some("html" | "htm") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// One response, with the TCP state of its connection just before and just after it was sent.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResponseSample {
    /// The client's address.
    pub peer: SocketAddr,
    /// The server's address on this connection.
    pub local: SocketAddr,
    /// The request target as sent (still percent-encoded); empty when the request was
    /// unreadable.
    pub path: String,
    /// Status code sent.
    pub status: u16,
    /// Body bytes sent.
    pub bytes: u64,
    /// Just before the response head was written.
    #[serde(serialize_with = "serialize_ts")]
    pub started: Ts,
    /// Just after the whole body had been handed to the kernel.
    #[serde(serialize_with = "serialize_ts")]
    pub ended: Ts,
    /// The congestion control the connection used (`TCP_CONGESTION`), None where unreadable.
    pub congestion: Option<String>,
    /// `TCP_INFO` just before the head was written: the state the response starts from.
    pub at_start: Option<TcpInfoSample>,
    /// `TCP_INFO` once the response's last byte was acknowledged (with a close, its FIN too):
    /// the window the response grew to. Taken earlier, and then not `all_acked`, when the next
    /// pipelined request was already waiting or no acknowledgement came within 3 s. None when
    /// `TCP_INFO` is unavailable (as for `at_start`).
    pub at_end: Option<TcpInfoSample>,
}

/// The responses recorded so far, shared by the server and its connection threads.
type Samples = Arc<Mutex<Vec<ResponseSample>>>;

/// Samples the responses of one connection into the server's list.
struct ResponseRecorder<'a> {
    /// Where samples go; None when the server does not sample.
    samples: Option<&'a Mutex<Vec<ResponseSample>>>,
    local: SocketAddr,
    peer: SocketAddr,
    /// The last response written, until its closing sample is taken.
    unsettled: RefCell<Option<ResponseSample>>,
}

/// The start of a response being recorded.
struct Started {
    ts: Ts,
    info: Option<TcpInfoSample>,
}

impl ResponseRecorder<'_> {
    /// A recorder that records nothing, for a server that does not sample.
    fn none() -> ResponseRecorder<'static> {
        ResponseRecorder {
            samples: None,
            local: UNKNOWN_ADDR,
            peer: UNKNOWN_ADDR,
            unsettled: RefCell::new(None),
        }
    }

    /// Call just before the head is written.
    fn start(&self, stream: &TcpStream) -> Started {
        let info = self.samples.and_then(|_| tcp_info::sample(stream).ok());
        Started {
            ts: Ts::now(),
            info,
        }
    }

    /// Call just after the body has been handed to the kernel; the closing sample follows with
    /// `settle`, once the connection knows whether more is to be sent.
    fn end(&self, started: Started, stream: &TcpStream, path: &str, status: u16, bytes: u64) {
        if self.samples.is_none() {
            return;
        }
        let ended = Ts::now();
        let previous = self.unsettled.replace(Some(ResponseSample {
            peer: self.peer,
            local: self.local,
            path: path.to_owned(),
            status,
            bytes,
            started: started.ts,
            ended,
            congestion: congestion_of(stream),
            at_start: started.info,
            at_end: None,
        }));
        if let Some(previous) = previous {
            self.keep(previous);
        }
    }

    /// Takes the last response's closing sample once everything sent has been acknowledged;
    /// at once when the peer has already sent more (a pipelined request must not wait).
    fn settle(&self, stream: &TcpStream, more_waiting: bool) {
        self.sample_when_acked(stream, more_waiting, true);
    }

    /// [`Self::settle`] for a connection the server has closed: no request can follow, so what
    /// the peer sends meanwhile (with TLS, the end of its handshake after early data, or its
    /// close_notify) does not cut the wait short.
    fn settle_closed(&self, stream: &TcpStream) {
        self.sample_when_acked(stream, false, false);
    }

    /// The wait of [`Self::settle`]; `requests_may_follow` makes bytes arriving meanwhile end
    /// it, as a request waiting behind the sample would.
    fn sample_when_acked(&self, stream: &TcpStream, more_waiting: bool, requests_may_follow: bool) {
        let Some(mut sample) = self.unsettled.take() else {
            return;
        };
        let deadline = Instant::now() + ACK_WAIT;
        let mut info = tcp_info::sample(stream).ok();
        while let Some(now) = info
            && !now.all_acked()
            && !more_waiting
            && !(requests_may_follow && has_unread_bytes(stream))
            && Instant::now() < deadline
        {
            thread::sleep(ACK_POLL);
            info = tcp_info::sample(stream).ok();
        }
        sample.at_end = info;
        self.keep(sample);
    }

    fn keep(&self, sample: ResponseSample) {
        let Some(samples) = self.samples else {
            return;
        };
        let mut samples = samples.lock().unwrap_or_else(PoisonError::into_inner);
        if samples.len() < MAX_SAMPLES {
            samples.push(sample);
        }
    }
}

impl Drop for ResponseRecorder<'_> {
    /// A response whose connection broke is kept without its closing sample.
    fn drop(&mut self) {
        if let Some(sample) = self.unsettled.take() {
            self.keep(sample);
        }
    }
}

/// The congestion control `stream` uses.
fn congestion_of(stream: &TcpStream) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        let name = socket2::SockRef::from(stream).tcp_congestion().ok()?;
        Some(
            String::from_utf8_lossy(&name)
                .trim_end_matches('\0')
                .to_owned(),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        None
    }
}

/// Whether the peer has sent bytes not read yet (without waiting or consuming them).
fn has_unread_bytes(stream: &TcpStream) -> bool {
    let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    socket2::SockRef::from(stream)
        .recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT)
        .is_ok_and(|n| n > 0)
}

/// A running server; stopped by [`Server::stop`] or when dropped.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    samples: Samples,
    /// What accepts and serves connections; None once stopped.
    accepting: Option<Accepting>,
}

/// What accepts a server's connections.
enum Accepting {
    /// Threads that block in accept() and serve what they accept, one connection each.
    Threads(Workers),
    /// A plain server's pollers, which accept from the door themselves (see [`KeepAlive`]).
    Pollers {
        door: Arc<Door>,
        /// Held so the pollers run while the server does.
        _parking: Parking<Idle>,
    },
}

impl std::fmt::Debug for Accepting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Accepting::Threads(workers) => f.debug_tuple("Threads").field(workers).finish(),
            Accepting::Pollers { door, .. } => f.debug_tuple("Pollers").field(door).finish(),
        }
    }
}

impl Accepting {
    /// Stops accepting; connections in progress finish on their own.
    fn stop(&self) {
        match self {
            Accepting::Threads(workers) => workers.stop(),
            Accepting::Pollers { door, .. } => door.shut(),
        }
    }

    /// Waits until accepting has stopped; the error is why it failed.
    fn join(&self) -> io::Result<()> {
        match self {
            Accepting::Threads(workers) => workers.join(),
            Accepting::Pollers { door, .. } => door.join(),
        }
    }
}

impl Server {
    /// Binds, starts the accept thread and returns at once.
    pub fn start(config: ServerConfig, events: Option<EventLog>) -> Result<Server, TransferError> {
        let root = config
            .root
            .canonicalize()
            .and_then(|root| {
                if root.is_dir() {
                    Ok(root)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::NotADirectory,
                        "not a directory",
                    ))
                }
            })
            .map_err(|source| TransferError::Root {
                path: config.root.clone(),
                source,
            })?;
        // Only events and samples record when a connection was accepted.
        let defer_accept = events.is_none() && !config.sample_responses;
        let listener = listen(config.bind, config.fastopen, config.timeouts, defer_accept)
            .map_err(|source| TransferError::Bind {
                addr: config.bind,
                source,
            })?;
        if let Some(name) = &config.congestion {
            set_congestion(&listener, name)?;
        }
        let local_addr = listener
            .local_addr()
            .map_err(|source| TransferError::Bind {
                addr: config.bind,
                source,
            })?;
        let samples = Samples::default();
        let accepting = start_accepting(
            listener,
            root,
            config.max_connections,
            Policy {
                timeouts: config.timeouts,
                tls: config.tls,
            },
            config.sample_responses.then(|| Arc::clone(&samples)),
            events,
        )?;
        Ok(Server {
            local_addr,
            samples,
            accepting: Some(accepting),
        })
    }

    /// Removes and returns the responses completed so far, in the order they started.
    ///
    /// At most 100 000 are kept between calls; later ones are dropped.
    pub fn take_samples(&self) -> Vec<ResponseSample> {
        let mut samples =
            std::mem::take(&mut *self.samples.lock().unwrap_or_else(PoisonError::into_inner));
        // Connection threads push when a response ends, so concurrent ones may be out of order.
        samples.sort_by_key(|sample| sample.started);
        samples
    }

    /// The address actually bound (with the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and waits until no thread accepts any more; connections in progress
    /// finish on their own.
    pub fn stop(self) {
        // Drop does the work, so a server that is merely dropped stops too.
    }

    /// Waits until the server stops: for ever, unless accepting fails.
    fn join(&mut self) -> Result<(), TransferError> {
        let Some(accepting) = self.accepting.take() else {
            return Ok(());
        };
        accepting.join().map_err(|source| TransferError::Accept {
            addr: self.local_addr,
            source,
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(accepting) = &self.accepting {
            accepting.stop();
            // An accept failure cannot be reported from drop; serve_forever reports it.
            let _ = self.join();
        }
    }
}

/// Runs a server on the calling thread until accepting fails; `ready` is called with the bound
/// address once it listens (so nothing is announced for a port that is taken).
pub fn serve_forever(
    config: ServerConfig,
    events: Option<EventLog>,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), TransferError> {
    let mut server = Server::start(config, events)?;
    ready(server.local_addr());
    server.join()
}

/// Whether accepted sockets get their connection options from the listening socket: Linux copies
/// a listener's TCP_NODELAY, SO_SNDTIMEO and SO_RCVTIMEO into every socket it accepts, which
/// saves three system calls per connection. A zero timeout cannot be set, so it is left to the
/// connection (which then fails as it always did).
fn listener_sets_options(timeouts: ServerTimeouts) -> bool {
    cfg!(target_os = "linux") && !timeouts.send.is_zero() && !timeouts.head.is_zero()
}

/// The read timeout a connection starts with when it comes from the listener: no longer than
/// the first head's deadline nor than the wait for a closing peer's FIN, so neither the first
/// read nor that wait has to set a timeout of its own (a longer wait, for keep-alive's idle time,
/// only wakes the thread once more when this expires).
fn first_read_timeout(timeouts: ServerTimeouts) -> Duration {
    timeouts.head.min(LINGER_TIMEOUT)
}

/// The listening socket. With `defer_accept`, the kernel hands a connection over only once its
/// first bytes have arrived (TCP_DEFER_ACCEPT), so the thread that accepts it finds the request
/// waiting instead of going to sleep once more for it. Nothing on the wire changes for a client
/// that sends its request at once; one that stays silent for [`DEFER_ACCEPT`] sees the SYN-ACK
/// once more and is then accepted as before, its head deadline starting then.
fn listen(
    addr: SocketAddr,
    fastopen: bool,
    timeouts: ServerTimeouts,
    defer_accept: bool,
) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Lets a restarted server bind while the previous run's connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if listener_sets_options(timeouts) {
        // What serve_connection would otherwise set on each connection (see there for why).
        socket.set_tcp_nodelay(true)?;
        socket.set_write_timeout(Some(timeouts.send))?;
        socket.set_read_timeout(Some(first_read_timeout(timeouts)))?;
    }
    if fastopen {
        super::fastopen::on_listener(&socket)?;
    }
    #[cfg(target_os = "linux")]
    if defer_accept {
        super::sockopt::set_tcp_int(&socket, libc::TCP_DEFER_ACCEPT, DEFER_ACCEPT)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = defer_accept;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Sets the congestion control of `listener`, which the connections it accepts inherit.
fn set_congestion(listener: &TcpListener, name: &str) -> Result<(), TransferError> {
    let available =
        || super::kernel::available_congestion_controls().unwrap_or_else(|| "unknown".into());
    let failed = |source: io::Error| {
        if source.raw_os_error() == Some(libc::ENOENT) {
            TransferError::UnknownCongestion {
                name: name.to_owned(),
                available: available(),
            }
        } else {
            TransferError::Congestion {
                name: name.to_owned(),
                available: available(),
                source,
            }
        }
    };
    #[cfg(target_os = "linux")]
    {
        socket2::SockRef::from(listener)
            .set_tcp_congestion(name.as_bytes())
            .map_err(failed)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = listener;
        Err(failed(io::Error::new(
            io::ErrorKind::Unsupported,
            "TCP_CONGESTION is set on Linux only",
        )))
    }
}

/// Starts accepting connections on `listener` and serving files from `root`.
///
/// A plain server (no events, no samples, no TLS) is served by its pollers, which accept, answer
/// small requests themselves and leave the rest to threads (see [`KeepAlive`]). Otherwise each
/// connection has a thread of its own from accept to close.
fn start_accepting(
    listener: TcpListener,
    root: PathBuf,
    max_connections: usize,
    policy: Policy,
    samples: Option<Samples>,
    events: Option<EventLog>,
) -> io::Result<Accepting> {
    let root = Root::new(root);
    let timeouts = policy.timeouts;
    // A plain server leaves the wait for the peer's FIN to one thread. With events (which record
    // when that FIN came) or samples (compare's server), each connection's thread waits for it, as
    // it also does when the lingering thread cannot be started.
    let lingerer = (samples.is_none() && events.is_none())
        .then(|| Lingerer::start(LINGER_TIMEOUT).ok())
        .flatten();
    let root = Arc::new(root);
    let threads = thread::available_parallelism().map_or(1, usize::from);
    // The pollers accept only where a connection needs nothing from its own thread before its
    // first request: no TLS handshake, and the options it inherits from the listener.
    if let Some(lingerer) = &lingerer
        && policy.tls.is_none()
        && listener_sets_options(timeouts)
    {
        let door = Arc::new(Door::open(listener, max_connections)?);
        let host = KeepAlive::new(Arc::clone(&root), timeouts, lingerer.clone());
        let parking = Parking::start(threads, Arc::new(host), Some(Arc::clone(&door)))?;
        return Ok(Accepting::Pollers {
            door,
            _parking: parking,
        });
    }
    // A plain server also parks its keep-alive connections between requests (see [`KeepAlive`]).
    let parking = lingerer.clone().and_then(|lingerer| {
        let host = KeepAlive::new(Arc::clone(&root), timeouts, lingerer);
        Parking::start(threads, Arc::new(host), None).ok()
    });
    Workers::start(
        listener,
        max_connections,
        "synack-conn",
        CONNECTION_STACK,
        move |accepted| {
            serve_connection(
                accepted,
                &root,
                &policy,
                samples.as_deref(),
                events.as_ref(),
                lingerer.as_ref(),
                parking.as_ref(),
            );
        },
    )
    .map(Accepting::Threads)
}

/// What every connection is held to.
#[derive(Debug, Clone)]
struct Policy {
    timeouts: ServerTimeouts,
    tls: Option<ServerTls>,
}

/// How a connection's request loop ended, which decides how it is closed.
enum End {
    /// The peer sent FIN first and every byte was read: answer with our FIN and close.
    PeerClosed,
    /// The server closes first: send FIN, wait for the peer's, then close.
    Close,
    /// The client asked for the close (`Connection: close`, or HTTP/1.0 without keep-alive), so
    /// it sends no further request: as [`End::Close`], except that a plain server whose client
    /// has sent nothing more closes at once (its FIN leaves with the close; with nothing unread,
    /// the kernel sends no RST), as nginx does.
    Asked,
    /// The connection is broken: just close it.
    Abort,
    /// Keep-alive with nothing more to read yet: the connection waits parked (see
    /// [`KeepAlive`]).
    Park,
    /// A TLS server has answered a plain-text client in plain text: as [`End::Close`], without
    /// the TLS close_notify the client could not read.
    PlainClose,
}

fn serve_connection(
    accepted: Accepted,
    root: &Root,
    policy: &Policy,
    samples: Option<&Mutex<Vec<ResponseSample>>>,
    log: Option<&EventLog>,
    lingerer: Option<&Lingerer>,
    parking: Option<&Parking<Idle>>,
) {
    let timeouts = policy.timeouts;
    let Accepted {
        stream,
        peer,
        at: accepted_at,
        instant,
        slot,
    } = accepted;
    // Only events and samples name the server's address; a plain server skips the system call.
    let local = if log.is_some() || samples.is_some() {
        stream.local_addr().unwrap_or(UNKNOWN_ADDR)
    } else {
        UNKNOWN_ADDR
    };
    let events = ConnectionEvents::new(log, Side::Server, local, peer);
    let recorder = ResponseRecorder {
        samples,
        local,
        peer,
        unsettled: RefCell::new(None),
    };
    events.at(accepted_at, EventKind::Accept);
    let inherited = listener_sets_options(timeouts);
    let send_timeout = if inherited {
        Ok(())
    } else {
        // Small responses must not wait for an ACK of the previous segment (Nagle); a failure
        // here means the socket is already broken and the first read will say so.
        let _ = stream.set_nodelay(true);
        // The write timeout frees the thread when a client stops reading in the middle of a
        // body.
        stream.set_write_timeout(Some(timeouts.send))
    };
    let incoming = Incoming {
        stream,
        // The first request's head (after the TLS handshake, if any) is due a head's time after
        // the accept.
        deadline: Some(instant + timeouts.head),
        timeout: inherited.then_some(first_read_timeout(timeouts)),
        no_wait: false,
    };
    let wire = match &policy.tls {
        None => Ok(Wire::Plain(incoming)),
        Some(tls) => tls.accept(incoming).map(|tls| Wire::Tls(Box::new(tls))),
    };
    let Ok(wire) = wire else {
        events.now(EventKind::Closed);
        return;
    };
    let parks = parking.filter(|_| matches!(wire, Wire::Plain(_)));
    let _held = parks.map(Parking::hold);
    let mut conn = BufReader::new(wire);
    let mut end = match send_timeout {
        Ok(()) => serve_requests(&mut conn, root, timeouts, &events, &recorder, true, parks),
        Err(_) => End::Abort,
    };
    if let (End::Park, Some(parking)) = (&end, parking) {
        let idle = Idle::new(conn, slot);
        let Err(idle) = parking.park(idle) else {
            return;
        };
        // It cannot be watched: this thread goes on serving it.
        conn = idle.conn;
        end = serve_requests(&mut conn, root, timeouts, &events, &recorder, false, None);
    }
    finish(conn, end, &events, &recorder, lingerer);
}

/// A plain server's connection on a poller: keep-alive between two requests, or just accepted.
struct Idle {
    conn: BufReader<Wire>,
    /// The connection's slot goes with it, so parked connections count against the bound.
    slot: Slot,
    /// When the next request's first byte is due: the keep-alive idle time, or for a connection
    /// just accepted, its first head's deadline.
    deadline: Instant,
    /// Whether a response has been sent on the connection.
    answered: bool,
}

impl Idle {
    /// A connection that has answered a request, whose read deadline is the keep-alive idle time.
    fn new(conn: BufReader<Wire>, slot: Slot) -> Idle {
        let deadline = conn
            .get_ref()
            .incoming()
            .deadline
            .unwrap_or_else(Instant::now);
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
struct KeepAlive {
    root: Arc<Root>,
    timeouts: ServerTimeouts,
    lingerer: Lingerer,
    /// Threads for the connections that leave the pollers.
    threads: Arc<Pool>,
}

impl KeepAlive {
    fn new(root: Arc<Root>, timeouts: ServerTimeouts, lingerer: Lingerer) -> KeepAlive {
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
        let incoming = idle.conn.get_mut().incoming_mut();
        incoming.deadline = None;
        incoming.no_wait = true;
        let filled = match idle.conn.fill_buf() {
            Ok([]) => Some(End::PeerClosed),
            Ok(_) => None,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                idle.conn.get_mut().incoming_mut().no_wait = false;
                return Turn::Stay(idle);
            }
            Err(_) => Some(End::Abort),
        };
        // Whatever reads next (here, the request's own head being buffered already, or a
        // thread) may wait as usual.
        idle.conn.get_mut().incoming_mut().no_wait = false;
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
                    conn.get_mut().incoming_mut().deadline = Some(due);
                    serve_requests(&mut conn, &root, timeouts, &events, &recorder, true, None)
                }
                Some((request, found)) => {
                    let close = !request.keep_alive;
                    match send_response(conn.get_mut(), &request, found, close, &events, &recorder)
                    {
                        Ok(()) if close => End::Asked,
                        Ok(()) => {
                            conn.get_mut().incoming_mut().deadline =
                                Some(Instant::now() + timeouts.idle);
                            serve_requests(
                                &mut conn, &root, timeouts, &events, &recorder, false, None,
                            )
                        }
                        Err(_) => End::Abort,
                    }
                }
            };
            finish(conn, end, &events, &recorder, Some(&lingerer));
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
fn all_acknowledged(wire: &Wire) -> bool {
    #[cfg(target_os = "linux")]
    {
        super::sockopt::unacknowledged_bytes(wire.tcp()).is_ok_and(|bytes| bytes == 0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = wire;
        false
    }
}

/// Closes the connection as `end` says; with a `lingerer` (a server that records no events),
/// the wait for the peer's FIN is left to it.
fn finish(
    mut conn: BufReader<Wire>,
    end: End,
    events: &ConnectionEvents<'_>,
    recorder: &ResponseRecorder<'_>,
    lingerer: Option<&Lingerer>,
) {
    match end {
        End::PeerClosed => {
            conn.get_mut().end_stream();
            events.now(EventKind::FinSent);
            // The close below sends the FIN anyway if this fails.
            let _ = conn.get_ref().tcp().shutdown(Shutdown::Write);
        }
        End::Asked
            if lingerer.is_some()
                && matches!(conn.get_ref(), Wire::Plain(_))
                && conn.buffer().is_empty()
                && !has_unread_bytes(conn.get_ref().tcp()) =>
        {
            events.now(EventKind::FinSent);
        }
        End::Close | End::Asked => {
            conn.get_mut().end_stream();
            events.now(EventKind::FinSent);
            if conn.get_ref().tcp().shutdown(Shutdown::Write).is_ok() {
                // After the FIN is out, so waiting for the ACK never holds the FIN back.
                recorder.settle_closed(conn.get_ref().tcp());
                if let Some(lingerer) = lingerer {
                    return lingerer.adopt(conn.into_inner().into_tcp());
                }
                drain_until_fin(conn.get_mut().incoming_mut(), events);
            }
        }
        End::PlainClose => {
            events.now(EventKind::FinSent);
            if conn.get_ref().tcp().shutdown(Shutdown::Write).is_ok() {
                drain_until_fin(conn.get_mut().incoming_mut(), events);
            }
        }
        End::Abort | End::Park => {}
    }
    drop(conn);
    events.now(EventKind::Closed);
}

/// Reads and drops whatever the peer still sends until its FIN, so the socket is never closed
/// with unread data (which makes the kernel send RST instead of FIN). Reads the socket itself:
/// what is dropped needs no decrypting, and a TLS peer's close_notify is not yet its FIN.
fn drain_until_fin(conn: &mut Incoming, events: &ConnectionEvents<'_>) {
    let deadline = Instant::now() + LINGER_TIMEOUT;
    conn.deadline = Some(deadline);
    let mut scratch = [0u8; 4096];
    loop {
        match conn.read(&mut scratch) {
            Ok(0) => {
                events.now(EventKind::FinReceived);
                return;
            }
            Ok(_) if Instant::now() < deadline => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            // A peer that keeps sending past the deadline, a timeout, or a reset.
            _ => return,
        }
    }
}

/// Whether a TLS server's first read found plain text instead of a TLS record.
fn is_plain_client(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<PlainClient>())
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Answers requests in the order they arrive until the connection must end.
///
/// Pipelined requests are served like any others: a burst of them (even in one segment) stays
/// in the BufReader, and each is read only after the previous response has been written.
///
/// `first`: the next request's head deadline is already set (the first request's, from the
/// accept). `parks`: once a response is written and nothing more is buffered, the connection
/// is to be parked there ([`End::Park`]) rather than waited on here, when that pays.
fn serve_requests(
    conn: &mut BufReader<Wire>,
    root: &Root,
    timeouts: ServerTimeouts,
    events: &ConnectionEvents<'_>,
    recorder: &ResponseRecorder<'_>,
    first: bool,
    parks: Option<&Parking<Idle>>,
) -> End {
    for first in std::iter::once(first).chain(std::iter::repeat(false)) {
        // Waiting for the first byte: the deadline set at the accept, or keep-alive's idle time.
        match conn.fill_buf() {
            Ok([]) => {
                events.now(EventKind::FinReceived);
                return End::PeerClosed;
            }
            Ok(_) => {}
            // An idle connection (or a silent one): close it politely, without an answer.
            Err(error) if is_timeout(&error) => return End::Close,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) if is_plain_client(&error) => {
                return answer_plain_client(conn.get_mut(), events);
            }
            Err(error) => return broken(events, &error),
        }
        if !first {
            // A later request's head is due a head's time after its first byte.
            conn.get_mut().incoming_mut().deadline = Some(Instant::now() + timeouts.head);
        }
        let request = match http::read_request(conn) {
            Ok(Some(request)) => request,
            Ok(None) => {
                events.now(EventKind::FinReceived);
                return End::PeerClosed;
            }
            Err(error) => return refuse(conn.get_mut(), error, events, recorder),
        };
        if events.records() {
            events.now(EventKind::Request {
                path: request.path.clone(),
            });
        }
        let close = !request.keep_alive;
        conn.get_mut().incoming_mut().deadline = None;
        if conn.get_mut().took_early_data() && request.method != "GET" && request.method != "HEAD" {
            // Early data can be replayed by anyone who saw it: only a GET may ride on it.
            let answer = Answer {
                path: &request.path,
                close: true,
                head_only: false,
            };
            return match send_error(conn.get_mut(), TOO_EARLY, &answer, events, recorder) {
                Ok(()) => End::Close,
                Err(_) => End::Abort,
            };
        }
        match respond(conn.get_mut(), &request, root, close, events, recorder) {
            Ok(()) if close => return End::Asked,
            Ok(()) => recorder.settle(conn.get_ref().tcp(), !conn.buffer().is_empty()),
            Err(error) => return broken(events, &error),
        }
        // The next request's first byte is due within the keep-alive idle time.
        conn.get_mut().incoming_mut().deadline = Some(Instant::now() + timeouts.idle);
        if conn.buffer().is_empty() && parks.is_some_and(Parking::pays) {
            return End::Park;
        }
    }
    unreachable!("the requests of a connection are an endless sequence")
}

/// A connection that broke off: the log says why (a reset, a TLS alert, a client that stopped
/// reading), and it is closed without more.
fn broken(events: &ConnectionEvents<'_>, error: &io::Error) -> End {
    if events.records() {
        let reason = if is_timeout(error) {
            "the client stopped reading before the response was sent".to_string()
        } else if tls::peer_distrusts_certificate(error) {
            format!(
                "{error} (the client does not trust this server's certificate: give it the \
                 saved PEM, e.g. curl --cacert)"
            )
        } else {
            error.to_string()
        };
        events.now(EventKind::Broken { reason });
    }
    End::Abort
}

/// Answers a request that could not be read, and says how the connection ends: a head that is
/// not whole by its deadline (408), a request line or head past its bound (414, 431), a request
/// in another major version of HTTP (505), or whatever follows a malformed one (which cannot be
/// framed, 400), is answered and the connection closed; a broken connection is just closed.
fn refuse(
    wire: &mut Wire,
    error: HttpError,
    events: &ConnectionEvents<'_>,
    recorder: &ResponseRecorder<'_>,
) -> End {
    let status = match &error {
        HttpError::Io(error) | HttpError::BodyIo(error) if !is_timeout(error) => {
            return broken(events, error);
        }
        HttpError::Io(_) | HttpError::BodyIo(_) => REQUEST_TIMEOUT,
        HttpError::HeadTooLarge {
            first_line: true, ..
        } => URI_TOO_LONG,
        HttpError::HeadTooLarge { .. } | HttpError::TooManyHeaders { .. } => HEADERS_TOO_LARGE,
        HttpError::VersionNotSupported(_) => VERSION_NOT_SUPPORTED,
        _ => BAD_REQUEST,
    };
    if events.records() {
        let reason = match &error {
            HttpError::Io(_) => "the request's head was not whole by its deadline".to_string(),
            HttpError::BodyIo(_) => "the request's body was not whole by its deadline".to_string(),
            other => other.to_string(),
        };
        events.now(EventKind::Refused { reason });
    }
    let answer = Answer {
        path: "",
        close: true,
        head_only: false,
    };
    match send_error(wire, status, &answer, events, recorder) {
        Ok(()) => End::Close,
        Err(_) => End::Abort,
    }
}

/// What a response answers: the request target and how the response is framed.
struct Answer<'a> {
    path: &'a str,
    close: bool,
    head_only: bool,
}

fn respond(
    wire: &mut Wire,
    request: &Request,
    root: &Root,
    close: bool,
    events: &ConnectionEvents<'_>,
    recorder: &ResponseRecorder<'_>,
) -> io::Result<()> {
    let found = lookup(request, root)?;
    send_response(wire, request, found, close, events, recorder)
}

/// The file a request asks for, or the status that refuses it. The outer error is an opened
/// file whose length cannot be read.
fn lookup(request: &Request, root: &Root) -> io::Result<Result<Served, Status>> {
    if request.method != "HEAD" && request.method != "GET" {
        return Ok(Err(METHOD_NOT_ALLOWED));
    }
    root.open(&request.path)
}

/// As [`lookup`], on a poller (see [`Root::open_recent`]).
fn lookup_recent(request: &Request, root: &Root) -> io::Result<Result<Served, Status>> {
    if request.method != "HEAD" && request.method != "GET" {
        return Ok(Err(METHOD_NOT_ALLOWED));
    }
    root.open_recent(&request.path)
}

/// Answers `request` with what [`lookup`] found.
fn send_response(
    wire: &mut Wire,
    request: &Request,
    found: Result<Served, Status>,
    close: bool,
    events: &ConnectionEvents<'_>,
    recorder: &ResponseRecorder<'_>,
) -> io::Result<()> {
    let head_only = request.method == "HEAD";
    let answer = Answer {
        path: &request.path,
        close,
        head_only,
    };
    let Served {
        file,
        length,
        content_type,
    } = match found {
        Ok(served) => served,
        Err(status) => return send_error(wire, status, &answer, events, recorder),
    };
    let head = http::response_head(OK.0, OK.1, length, close, content_type);
    let started = recorder.start(wire.tcp());
    let body_follows = !head_only && length > 0;
    match wire {
        Wire::Plain(incoming) => send_head(&mut incoming.stream, head.as_bytes(), body_follows)?,
        Wire::Tls(tls) if body_follows => tls.hold(head.as_bytes())?,
        Wire::Tls(tls) => tls.write_all(head.as_bytes())?,
    }
    events.now(EventKind::ResponseStart { status: OK.0 });
    let mut sent = 0;
    if !head_only {
        sent = match wire {
            Wire::Plain(incoming) => send_file(&file, &mut incoming.stream, length)?,
            Wire::Tls(tls) => send_encrypted(&file, tls, length)?,
        };
        if sent < length {
            // The response cannot be completed, so the connection must end.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was being sent",
            ));
        }
    }
    recorder.end(started, wire.tcp(), &request.path, OK.0, sent);
    events.now(EventKind::ResponseEnd { bytes: sent });
    Ok(())
}

/// Sends the first `length` bytes of `file` through TLS: read, encrypted and written in chunks
/// of a few records each. Returns fewer than `length` bytes only if the file shrank.
fn send_encrypted(file: &File, tls: &mut TlsStream<Incoming>, length: u64) -> io::Result<u64> {
    // Four full TLS records per write.
    copy_at(file, tls, length, 64 * 1024)
}

/// Copies the first `length` bytes of `file` to `out` in chunks of `chunk` bytes, reading at
/// explicit offsets: a file shared by several responses has no position of its own to rely on.
/// Returns fewer than `length` bytes only if the file shrank.
fn copy_at(file: &File, out: &mut impl Write, length: u64, chunk: usize) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut buffer = vec![0u8; chunk];
    let mut sent = 0;
    while sent < length {
        let want = usize::try_from(length - sent).map_or(chunk, |left| left.min(chunk));
        let n = match file.read_at(&mut buffer[..want], sent) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        out.write_all(&buffer[..n])?;
        sent += n as u64;
    }
    Ok(sent)
}

/// Sends the first `length` bytes of `file` on `stream` with sendfile(2), so the body goes from
/// the page cache to the socket without passing through user space.
///
/// std's `io::copy` deliberately avoids sendfile from a file to a socket (a later write to the
/// file could change bytes already "sent"), falling back to 8 KiB read/write pairs, so the
/// syscall is made here. The file's own offset is left alone (the file may be shared, see
/// [`Recent`]). Returns fewer than `length` bytes only if the file shrank.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_file(file: &File, stream: &mut TcpStream, length: u64) -> io::Result<u64> {
    use std::os::fd::AsRawFd;

    // Linux moves at most this much per sendfile call.
    const MAX_CHUNK: u64 = 0x7fff_f000;
    let mut offset: libc::off_t = 0;
    let mut sent = 0u64;
    while sent < length {
        let count = usize::try_from((length - sent).min(MAX_CHUNK)).unwrap_or(usize::MAX);
        // SAFETY: both descriptors belong to objects borrowed for the whole call, and `offset`
        // points to a live local that the kernel only reads and updates.
        #[allow(unsafe_code)]
        let result =
            unsafe { libc::sendfile(stream.as_raw_fd(), file.as_raw_fd(), &mut offset, count) };
        match u64::try_from(result) {
            Ok(0) => break,
            Ok(n) => sent += n,
            Err(_) => {
                let error = io::Error::last_os_error();
                match error.raw_os_error() {
                    Some(libc::EINTR) => {}
                    // A file system without sendfile support: copy through user space.
                    Some(libc::EINVAL | libc::ENOSYS) if sent == 0 => {
                        return copy_at(file, stream, length, 64 * 1024);
                    }
                    _ => return Err(error),
                }
            }
        }
    }
    Ok(sent)
}

/// Sends the first `length` bytes of `file` on `stream`; a file that grows meanwhile does not
/// overrun its Content-Length.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_file(file: &File, stream: &mut TcpStream, length: u64) -> io::Result<u64> {
    copy_at(file, stream, length, 64 * 1024)
}

/// Writes a response head; when a body follows, the head is held back (MSG_MORE) so it leaves
/// in the same segment as the first body bytes, as nginx does with TCP_CORK.
fn send_head(stream: &mut TcpStream, head: &[u8], body_follows: bool) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if body_follows {
        let socket = socket2::SockRef::from(&*stream);
        let mut rest = head;
        while !rest.is_empty() {
            match socket.send_with_flags(rest, libc::MSG_MORE) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        return Ok(());
    }
    #[cfg(not(target_os = "linux"))]
    let _ = body_follows;
    stream.write_all(head)
}

fn send_error(
    wire: &mut Wire,
    (code, reason): Status,
    answer: &Answer<'_>,
    events: &ConnectionEvents<'_>,
    recorder: &ResponseRecorder<'_>,
) -> io::Result<()> {
    let body = format!("{code} {reason}\n");
    let (message, sent) = error_message((code, reason), &body, answer);
    let started = recorder.start(wire.tcp());
    // Head and body in one write: one segment.
    wire.write_all(message.as_bytes())?;
    recorder.end(started, wire.tcp(), answer.path, code, sent);
    events.now(EventKind::ResponseStart { status: code });
    events.now(EventKind::ResponseEnd { bytes: sent });
    Ok(())
}

/// An error response in text, and the body bytes it carries.
fn error_message((code, reason): Status, body: &str, answer: &Answer<'_>) -> (String, u64) {
    let mut message = http::response_head(
        code,
        reason,
        body.len() as u64,
        answer.close,
        "text/plain; charset=utf-8",
    );
    if answer.head_only {
        return (message, 0);
    }
    message.push_str(body);
    (message, body.len() as u64)
}

/// Answers a client that sent plain text to a TLS server with a 400 in plain text, as nginx does,
/// so that `curl http://` to an `https://` server says what went wrong instead of "Received
/// HTTP/0.9". Nothing was sent in TLS before it, so the client reads it as HTTP.
fn answer_plain_client(wire: &mut Wire, events: &ConnectionEvents<'_>) -> End {
    if events.records() {
        events.now(EventKind::Refused {
            reason: "plain HTTP on a TLS server".to_string(),
        });
    }
    let body = "400 Bad Request\nThis server speaks HTTPS (TLS): use an https:// URL, or TLS in \
                your client.\n";
    let answer = Answer {
        path: "",
        close: true,
        head_only: false,
    };
    let (message, sent) = error_message(BAD_REQUEST, body, &answer);
    if wire.incoming_mut().write_all(message.as_bytes()).is_err() {
        return End::Abort;
    }
    events.now(EventKind::ResponseStart { status: 400 });
    events.now(EventKind::ResponseEnd { bytes: sent });
    End::PlainClose
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A served root inside a tempdir, with a secret file next to it (outside the root).
    struct Site {
        _dir: tempfile::TempDir,
        root: PathBuf,
        secret: PathBuf,
    }

    const SECRET: &str = "TOP-SECRET-OUTSIDE-ROOT";

    fn site() -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("a")).expect("mkdir");
        fs::write(root.join("hello.txt"), "hello\n").expect("write");
        fs::write(root.join("a").join("in sub.jpg"), [0xFF, 0xD8]).expect("write");
        let secret = dir.path().join("secret.txt");
        fs::write(&secret, SECRET).expect("write");
        std::os::unix::fs::symlink(&secret, root.join("out")).expect("symlink");
        std::os::unix::fs::symlink(root.join("hello.txt"), root.join("in")).expect("symlink");
        Site {
            _dir: dir,
            root,
            secret,
        }
    }

    // resolve()

    #[test]
    fn resolve_serves_files_under_the_root() {
        let site = site();
        let root = site.root.canonicalize().expect("canonical");
        assert_eq!(
            resolve(&site.root, "/hello.txt?x=1"),
            Ok(root.join("hello.txt"))
        );
        assert_eq!(
            resolve(&site.root, "/a/in%20sub.jpg"),
            Ok(root.join("a").join("in sub.jpg"))
        );
        // A symlink that stays inside the root is served as its target.
        assert_eq!(resolve(&site.root, "/in"), Ok(root.join("hello.txt")));
        // Absolute-form, as a proxy sends it.
        assert_eq!(
            resolve(&site.root, "http://example.com/hello.txt"),
            Ok(root.join("hello.txt"))
        );
        assert_eq!(resolve(&site.root, "HTTP://h:80"), Err(Refusal::NotFound));
    }

    #[test]
    fn resolve_refuses_traversal_in_every_spelling() {
        let site = site();
        for path in [
            "/../etc/passwd",
            "/%2e%2e/x",
            "/..%2fx",
            "/a/%2E%2E/%2E%2E/x",
            "/../secret.txt",
            "//etc/passwd",
            "/a/..\\..\\secret.txt",
            "/a%5c..%5csecret.txt",
            "/./hello.txt",
        ] {
            assert_eq!(resolve(&site.root, path), Err(Refusal::Forbidden), "{path}");
        }
    }

    #[test]
    fn resolve_refuses_a_symlink_leading_out_of_the_root() {
        let site = site();
        assert!(site.secret.exists());
        assert_eq!(resolve(&site.root, "/out"), Err(Refusal::Forbidden));
    }

    #[test]
    fn the_open_root_serves_what_resolve_serves_and_refuses_what_it_refuses() {
        let site = site();
        std::os::unix::fs::symlink("../secret.txt", site.root.join("up")).expect("symlink");
        std::os::unix::fs::symlink("hello.txt", site.root.join("near")).expect("symlink");
        let root = Root::new(site.root.canonicalize().expect("canonical"));
        let status = |target: &str| match root.open(target).expect("metadata") {
            Ok(served) => (OK.0, served.length, served.content_type),
            Err(status) => (status.0, 0, ""),
        };
        let text = "text/plain; charset=utf-8";
        assert_eq!(status("/hello.txt"), (200, 6, text));
        assert_eq!(status("/in"), (200, 6, text));
        assert_eq!(status("/near"), (200, 6, text));
        assert_eq!(status("/a/in%20sub.jpg"), (200, 2, "image/jpeg"));
        for target in [
            "/out",
            "/up",
            "/../secret.txt",
            "/a/%2e%2e/%2e%2e/secret.txt",
        ] {
            assert_eq!(status(target).0, 403, "{target}");
        }
        for target in ["/", "/a", "/a/", "/missing"] {
            assert_eq!(status(target).0, 404, "{target}");
        }
    }

    #[test]
    fn resolve_rejects_unusable_targets() {
        let site = site();
        for path in ["/%00", "/hello.txt%00.jpg", "hello.txt", "*", "/%ff"] {
            assert_eq!(
                resolve(&site.root, path),
                Err(Refusal::BadRequest),
                "{path}"
            );
        }
    }

    #[test]
    fn resolve_reports_missing_files_and_directories_as_not_found() {
        let site = site();
        for path in ["/missing.txt", "/a", "/a/", "/"] {
            assert_eq!(resolve(&site.root, path), Err(Refusal::NotFound), "{path}");
        }
    }

    // Over real sockets.

    /// A server of `root` on a free loopback port that samples its responses, as compare's does,
    /// with default timeouts.
    fn config(root: &Path, max_connections: usize) -> ServerConfig {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            root: root.to_owned(),
            max_connections,
            congestion: None,
            fastopen: false,
            tls: None,
            sample_responses: true,
            timeouts: Default::default(),
        }
    }

    fn start(site: &Site, max_connections: usize, events: Option<EventLog>) -> Server {
        Server::start(config(&site.root, max_connections), events).expect("server starts")
    }

    /// Sends raw bytes, half-closes, and returns everything the server sent until its FIN.
    fn exchange(server: &Server, raw: &[u8]) -> String {
        let mut stream = TcpStream::connect(server.local_addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        stream.write_all(raw).expect("send");
        stream.shutdown(Shutdown::Write).expect("half-close");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("server closes");
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[test]
    fn malformed_request_gets_400_and_the_server_keeps_serving() {
        let site = site();
        let server = start(&site, 4, None);
        let bad = exchange(&server, b"NOT HTTP AT ALL\x01\r\n\r\n");
        assert!(bad.starts_with("HTTP/1.1 400 "), "{bad}");
        assert!(bad.contains("Connection: close\r\n"));
        let good = exchange(
            &server,
            b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert!(good.starts_with("HTTP/1.1 200 OK\r\n"), "{good}");
        assert!(good.contains("Content-Type: text/plain; charset=utf-8\r\n"));
        assert!(good.ends_with("\r\n\r\nhello\n"));
        server.stop();
    }

    #[test]
    fn traversal_over_the_wire_never_returns_outside_bytes() {
        let site = site();
        let server = start(&site, 4, None);
        for (path, status) in [
            ("/../secret.txt", "403"),
            ("/%2e%2e/secret.txt", "403"),
            ("/..%2fsecret.txt", "403"),
            ("/out", "403"),
            ("/nope", "404"),
        ] {
            let raw = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            let answer = exchange(&server, raw.as_bytes());
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status} ")),
                "{path}: {answer}"
            );
            assert!(!answer.contains(SECRET), "{path} leaked the secret");
        }
        server.stop();
    }

    #[test]
    fn every_answer_is_dated_by_the_clock() {
        let site = site();
        let server = start(&site, 4, None);
        for request in [
            &b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"[..],
            b"GET /missing HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        ] {
            let answer = exchange(&server, request);
            let date = answer
                .lines()
                .find_map(|line| line.strip_prefix("Date: "))
                .unwrap_or_else(|| panic!("no Date: {answer}"));
            let at = httpdate::parse_http_date(date).expect("an HTTP-date");
            let now = std::time::SystemTime::now();
            let off = now.duration_since(at).unwrap_or_else(|e| e.duration());
            assert!(
                off < Duration::from_secs(5),
                "{date} is {off:?} off the clock"
            );
        }
        server.stop();
    }

    #[test]
    fn head_sends_the_length_but_no_body() {
        let site = site();
        let server = start(&site, 4, None);
        let answer = exchange(&server, b"HEAD /hello.txt HTTP/1.0\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("Content-Length: 6\r\n"));
        assert!(
            answer.ends_with("\r\n\r\n"),
            "no body after the head: {answer:?}"
        );
        server.stop();
    }

    #[test]
    fn keep_alive_serves_pipelined_requests_and_refuses_other_methods() {
        let site = site();
        let log = EventLog::new();
        let server = start(&site, 4, Some(log.clone()));
        let answer = exchange(
            &server,
            b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n\
              POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi\
              GET /a/in%20sub.jpg HTTP/1.1\r\nHost: t\r\n\r\n",
        );
        let statuses: Vec<&str> = answer
            .match_indices("HTTP/1.1 ")
            .map(|(at, _)| &answer[at + 9..at + 12])
            .collect();
        assert_eq!(statuses, ["200", "405", "200"], "{answer}");
        assert!(answer.contains("Allow: GET, HEAD\r\n"));
        assert!(answer.contains("Content-Type: image/jpeg\r\n"));
        assert!(!answer.contains("Connection: close"));
        // The client closed first, so the server saw its FIN before sending its own.
        let kinds = wait_for_closed(&log);
        let fin_received = kinds.iter().position(|k| *k == EventKind::FinReceived);
        let fin_sent = kinds.iter().position(|k| *k == EventKind::FinSent);
        assert!(
            fin_received < fin_sent && fin_received.is_some(),
            "{kinds:?}"
        );
        assert_eq!(kinds.first(), Some(&EventKind::Accept));
        server.stop();
    }

    #[test]
    fn connection_close_makes_the_server_send_the_first_fin() {
        let site = site();
        let log = EventLog::new();
        let server = start(&site, 4, Some(log.clone()));
        exchange(
            &server,
            b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        let kinds = wait_for_closed(&log);
        assert_eq!(
            kinds,
            [
                EventKind::Accept,
                EventKind::Request {
                    path: "/hello.txt".into()
                },
                EventKind::ResponseStart { status: 200 },
                EventKind::ResponseEnd { bytes: 6 },
                EventKind::FinSent,
                EventKind::FinReceived,
                EventKind::Closed,
            ]
        );
        server.stop();
    }

    #[test]
    fn a_head_past_its_bounds_gets_414_or_431_as_rfc_9110_names_them() {
        let site = site();
        let server = start(&site, 4, None);
        let long_target = format!(
            "GET /{} HTTP/1.1\r\nHost: t\r\n\r\n",
            "a".repeat(http::MAX_HEAD_BYTES)
        );
        let answer = exchange(&server, long_target.as_bytes());
        assert!(
            answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"),
            "{answer}"
        );
        let long_head = format!(
            "GET /hello.txt HTTP/1.1\r\nHost: t\r\nCookie: {}\r\n\r\n",
            "c".repeat(http::MAX_HEAD_BYTES)
        );
        let answer = exchange(&server, long_head.as_bytes());
        assert!(
            answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{answer}"
        );
        let many_fields = format!(
            "GET /hello.txt HTTP/1.1\r\nHost: t\r\n{}\r\n",
            "X-A: b\r\n".repeat(100)
        );
        let answer = exchange(&server, many_fields.as_bytes());
        assert!(
            answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{answer}"
        );
        server.stop();
    }

    #[test]
    fn a_later_http_1_minor_version_is_served_as_http_1_1_and_another_major_gets_505() {
        let site = site();
        let server = start(&site, 4, None);
        let answer = exchange(
            &server,
            b"GET /hello.txt HTTP/1.2\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nhello\n"), "{answer}");
        let answer = exchange(&server, b"GET /hello.txt HTTP/2.0\r\nHost: t\r\n\r\n");
        assert!(
            answer.starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n"),
            "{answer}"
        );
        server.stop();
    }

    #[test]
    fn a_refused_request_is_logged_with_its_reason() {
        let site = site();
        let log = EventLog::new();
        let server = start(&site, 4, Some(log.clone()));
        let answer = exchange(&server, b"GET /hello.txt HTTP/1.1\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
        let kinds = wait_for_closed(&log);
        let refused = kinds.iter().find_map(|k| match k {
            EventKind::Refused { reason } => Some(reason.as_str()),
            _ => None,
        });
        assert_eq!(
            refused,
            Some("HTTP/1.1 request without a Host header"),
            "{kinds:?}"
        );
        server.stop();
    }

    #[test]
    fn a_tls_server_answers_plain_http_in_plain_text_and_logs_why_handshakes_fail() {
        use crate::transfer::tls::{ClientTls, ClientTlsOptions, TlsVersion};
        let site = site();
        let log = EventLog::new();
        let tls = ServerTls::self_signed(TlsVersion::Tls13, &["localhost".into()]).expect("tls");
        let mut config = config(&site.root, 4);
        config.tls = Some(tls);
        let server = Server::start(config, Some(log.clone())).expect("server starts");
        let refusal = |log: &EventLog| {
            wait_for_closed(log)
                .into_iter()
                .find_map(|kind| match kind {
                    EventKind::Refused { reason } | EventKind::Broken { reason } => Some(reason),
                    _ => None,
                })
        };

        // curl's http:// to this server: a 400 it can read, in plain text, closed with a FIN.
        let answer = exchange(&server, b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{answer}"
        );
        assert!(answer.ends_with("or TLS in your client.\n"), "{answer}");
        assert_eq!(refusal(&log).as_deref(), Some("plain HTTP on a TLS server"));

        // A client that trusts only another CA breaks the handshake off with an alert, as curl
        // does without --cacert.
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "a CA this server does not use");
        let key = rcgen::KeyPair::generate().expect("key");
        let other = params.self_signed(&key).expect("certificate");
        let options = ClientTlsOptions {
            version: Some(TlsVersion::Tls13),
            resume: false,
            early_data: false,
        };
        let client = ClientTls::trusting(other.der(), "localhost", options).expect("client");
        let stream = TcpStream::connect(server.local_addr()).expect("connect");
        let mut stream = client.sessions().connect(stream).expect("client stream");
        assert!(
            stream.handshake().is_err(),
            "a certificate nobody trusts was accepted"
        );
        drop(stream);
        let reason = refusal(&log).expect("the broken handshake is logged");
        assert!(reason.contains("UnknownCA"), "{reason}");
        assert!(
            reason.contains("does not trust this server's certificate"),
            "{reason}"
        );
        server.stop();
    }

    /// The server records Closed after the client is done, so poll for it.
    fn wait_for_closed(log: &EventLog) -> Vec<EventKind> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut kinds = Vec::new();
        while Instant::now() < deadline {
            kinds.extend(log.take().into_iter().map(|e| e.kind));
            if kinds.contains(&EventKind::Closed) {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        kinds
    }

    #[test]
    fn connections_over_the_bound_wait_for_a_free_slot() {
        let site = site();
        let server = start(&site, 1, None);
        let mut first = TcpStream::connect(server.local_addr()).expect("connect");
        first.write_all(GET_HELLO).expect("send");
        let mut head = [0u8; 12];
        first.read_exact(&mut head).expect("first is served");
        assert_eq!(&head, b"HTTP/1.1 200");
        served_once_it_closes(&server, first);
        server.stop();
    }

    /// With every slot taken by `first`, a second connection waits in the kernel's queue unserved,
    /// and is served once `first` closes.
    fn served_once_it_closes<T>(server: &Server, first: T) {
        let mut second = TcpStream::connect(server.local_addr()).expect("queued by the kernel");
        second
            .set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        second.write_all(GET_HELLO).expect("send");
        let mut head = [0u8; 12];
        let waiting = second.read(&mut head).expect_err("no slot yet");
        assert!(is_timeout(&waiting), "{waiting}");
        drop(first);
        second
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        second
            .read_exact(&mut head)
            .expect("served once the slot frees");
        assert_eq!(&head, b"HTTP/1.1 200");
    }

    #[test]
    fn start_reports_a_missing_root_and_a_busy_port() {
        let site = site();
        let missing = Server::start(config(&site.root.join("missing"), 1), None);
        assert!(matches!(missing, Err(TransferError::Root { .. })));

        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let busy = Server::start(
            ServerConfig {
                bind: taken.local_addr().expect("addr"),
                ..config(&site.root, 1)
            },
            None,
        );
        assert!(matches!(busy, Err(TransferError::Bind { .. })));
    }

    #[test]
    fn a_burst_of_pipelined_requests_in_one_segment_is_answered_in_order() {
        let site = site();
        let server = start(&site, 4, None);
        let paths = ["/hello.txt", "/a/in%20sub.jpg"];
        let burst: String = (0..20)
            .map(|i| format!("GET {} HTTP/1.1\r\nHost: t\r\n\r\n", paths[i % 2]))
            .collect();
        let stream = TcpStream::connect(server.local_addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        // One write of under 1 KiB: one segment on loopback.
        (&stream).write_all(burst.as_bytes()).expect("send");
        let mut reader = BufReader::new(&stream);
        for i in 0..20 {
            let head = http::read_response_head(&mut reader).expect("a response");
            assert_eq!((head.status, head.close), (200, false), "response {i}");
            let mut body = vec![0u8; head.content_length.expect("length") as usize];
            reader.read_exact(&mut body).expect("body");
            let expected: &[u8] = if i % 2 == 0 {
                b"hello\n"
            } else {
                &[0xFF, 0xD8]
            };
            assert_eq!(body, expected, "response {i}");
        }
        drop(reader);
        drop(stream);
        let served: Vec<String> = wait_for_samples(&server, 20)
            .into_iter()
            .map(|sample| sample.path)
            .collect();
        let asked: Vec<&str> = (0..20).map(|i| paths[i % 2]).collect();
        assert_eq!(served, asked);
        server.stop();
    }

    /// Samples are pushed when a response has been written, which may be just after the client
    /// read it, so poll for them.
    fn wait_for_samples(server: &Server, count: usize) -> Vec<ResponseSample> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut samples = Vec::new();
        while samples.len() < count && Instant::now() < deadline {
            samples.extend(server.take_samples());
            thread::sleep(Duration::from_millis(2));
        }
        samples
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn tcp_info_is_sampled_around_every_response_and_carries_over_on_keep_alive() {
        use crate::transfer::client::{FetchPlan, Mode, fetch};
        use crate::transfer::files::{SAMPLES, generate_samples};
        use crate::transfer::kernel::read_kernel_settings;

        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("www");
        generate_samples(&root).expect("samples");
        let server = Server::start(config(&root, 4), None).expect("server starts");
        let plan = FetchPlan {
            addr: server.local_addr(),
            host: server.local_addr().to_string(),
            paths: SAMPLES
                .iter()
                .map(|s| http::path_for_name(s.name))
                .collect(),
            out_dir: dir.path().join("out"),
            expected_sha256: None,
            parallel: 1,
            rcvbuf: None,
            fastopen: false,
            tls: None,
            limits: Default::default(),
        };
        let info = |sample: &ResponseSample| {
            let start = sample.at_start.expect("TCP_INFO at the start");
            let end = sample.at_end.expect("TCP_INFO at the end");
            assert!(start.cwnd > 0 && end.cwnd > 0, "{sample:?}");
            assert!(start.mss > 0 && end.mss > 0, "{sample:?}");
            assert!(start.bytes_acked <= end.bytes_acked, "{sample:?}");
            // Not strictly more: pacing may hold the first segments back past the sample.
            assert!(start.segs_out <= end.segs_out, "{sample:?}");
            assert!(sample.started <= sample.ended);
            (start, end)
        };

        fetch(Mode::NonPersistent, &plan, None).expect("fetch");
        let fresh = wait_for_samples(&server, SAMPLES.len());
        assert_eq!(fresh.len(), SAMPLES.len());
        let initial = read_kernel_settings().initial_cwnd;
        for (sample, file) in fresh.iter().zip(&SAMPLES) {
            assert_eq!(sample.path, http::path_for_name(file.name));
            assert_eq!((sample.status, sample.bytes), (200, file.bytes));
            let (start, end) = info(sample);
            // A new connection: nothing sent yet, so the window is the initial one.
            assert_eq!(start.bytes_acked, 0, "{sample:?}");
            assert_eq!(Some(start.cwnd), initial, "{sample:?}");
            // The closing sample waits for the acknowledgement of the body and the FIN.
            assert!(end.all_acked(), "{sample:?}");
            assert!(
                end.bytes_acked > file.bytes,
                "head and body acknowledged: {sample:?}"
            );
            assert_eq!(
                sample.congestion,
                read_kernel_settings().tcp_congestion_control,
                "the kernel's default"
            );
        }

        fetch(Mode::Persistent, &plan, None).expect("fetch");
        let kept = wait_for_samples(&server, SAMPLES.len());
        assert_eq!(kept.len(), SAMPLES.len());
        assert!(
            kept.iter().all(|s| s.peer == kept[0].peer),
            "one connection"
        );
        let bbr = read_kernel_settings().tcp_congestion_control.as_deref() == Some("bbr");
        for (pair, file) in kept.windows(2).zip(&SAMPLES) {
            let (_, end) = info(&pair[0]);
            let (next, _) = info(&pair[1]);
            // The next request left after the client had read the whole previous response, so
            // it acknowledged every byte of it: the connection's state carries over.
            assert!(next.bytes_acked >= end.bytes_acked, "{pair:?}");
            assert!(next.bytes_acked >= file.bytes, "{pair:?}");
            assert!(next.segs_out >= end.segs_out, "{pair:?}");
            // Without loss, ACKs arriving in between only grow a loss-based window; BBR may
            // lower it toward its own target, so the check is skipped there.
            if !bbr && next.total_retrans == end.total_retrans {
                assert!(next.cwnd >= end.cwnd, "{pair:?}");
            }
        }
        for sample in &kept {
            assert!(info(sample).1.all_acked(), "{sample:?}");
        }
        server.stop();
    }

    #[test]
    fn congestion_control_is_set_on_every_connection_or_refused_with_the_choices() {
        let site = site();
        let with_congestion = |name: &str| ServerConfig {
            congestion: Some(name.into()),
            ..config(&site.root, 2)
        };
        let server =
            Server::start(with_congestion("reno"), None).expect("reno is built into Linux");
        let answer = exchange(&server, b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let samples = wait_for_samples(&server, 1);
        assert_eq!(samples[0].congestion.as_deref(), Some("reno"));
        server.stop();

        let error = Server::start(with_congestion("no-such-cc"), None).expect_err("unknown name");
        let text = error.to_string();
        assert!(text.contains("\"no-such-cc\""), "{text}");
        assert!(
            text.contains("--congestion takes one of") && text.contains("reno"),
            "{text}"
        );
    }

    #[test]
    fn content_type_follows_the_extension() {
        assert_eq!(content_type(Path::new("a.JPG")), "image/jpeg");
        assert_eq!(content_type(Path::new("b.mp3")), "audio/mpeg");
        assert_eq!(
            content_type(Path::new("index.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("blob")), "application/octet-stream");
    }

    /// A plain server (no samples, no events), whose keep-alive connections are parked between
    /// requests, idle ones closed after `idle`.
    fn start_plain(site: &Site, idle: Duration) -> Server {
        start_plain_bounded(site, idle, 16)
    }

    /// A plain server serving at most `max_connections` at once.
    fn start_plain_bounded(site: &Site, idle: Duration, max_connections: usize) -> Server {
        Server::start(
            ServerConfig {
                sample_responses: false,
                timeouts: ServerTimeouts {
                    idle,
                    ..ServerTimeouts::default()
                },
                ..config(&site.root, max_connections)
            },
            None,
        )
        .expect("server starts")
    }

    /// Reads one response from `stream`: its head and its Content-Length's worth of body.
    fn read_response(stream: &mut BufReader<TcpStream>) -> (String, Vec<u8>) {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).expect("a head line");
            assert!(!line.is_empty(), "closed inside a head: {head}");
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .expect("a length")
            .parse()
            .expect("a number");
        let mut body = vec![0; length];
        stream.read_exact(&mut body).expect("the body");
        (head, body)
    }

    /// A keep-alive connection with one response answered.
    fn answered_connection(server: &Server) -> BufReader<TcpStream> {
        let stream = TcpStream::connect(server.local_addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut stream = BufReader::new(stream);
        stream.get_mut().write_all(GET_HELLO).expect("send");
        assert_eq!(read_response(&mut stream).1, b"hello\n");
        stream
    }

    /// A keep-alive connection that is parked: threads hold one connection for each poller
    /// already (the others, returned first, which must stay open), so parking pays.
    fn parked_connection(server: &Server) -> (Vec<BufReader<TcpStream>>, BufReader<TcpStream>) {
        let pollers = thread::available_parallelism().map_or(1, usize::from);
        let held = (0..pollers).map(|_| answered_connection(server)).collect();
        let parked = answered_connection(server);
        thread::sleep(Duration::from_millis(50));
        (held, parked)
    }

    const GET_HELLO: &[u8] = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";

    #[test]
    fn a_parked_connection_answers_pipelined_requests_and_a_large_file_in_order() {
        let site = site();
        let large: Vec<u8> = (0..200_000u32).map(|n| n as u8).collect();
        fs::write(site.root.join("large.bin"), &large).expect("write");
        let server = start_plain(&site, Duration::from_secs(15));
        let (_held, mut stream) = parked_connection(&server);
        let pipelined = [
            GET_HELLO,
            b"GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n",
            b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n",
            GET_HELLO,
        ]
        .concat();
        stream.get_mut().write_all(&pipelined).expect("send");
        assert_eq!(read_response(&mut stream).1, b"hello\n");
        assert_eq!(read_response(&mut stream).1, large);
        assert!(read_response(&mut stream).0.starts_with("HTTP/1.1 404 "));
        assert_eq!(read_response(&mut stream).1, b"hello\n");
    }

    #[test]
    fn a_parked_connection_waits_for_a_head_that_comes_in_pieces() {
        let site = site();
        let server = start_plain(&site, Duration::from_secs(15));
        let (_held, mut stream) = parked_connection(&server);
        let (start, rest) = GET_HELLO.split_at(20);
        stream.get_mut().write_all(start).expect("send");
        thread::sleep(Duration::from_millis(50));
        stream.get_mut().write_all(rest).expect("send");
        assert_eq!(read_response(&mut stream).1, b"hello\n");
        stream
            .get_mut()
            .write_all(b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
            .expect("send");
        assert!(read_response(&mut stream).0.starts_with("HTTP/1.1 405 "));
    }

    #[test]
    fn a_parked_connection_is_closed_with_a_fin_at_the_idle_time() {
        let site = site();
        let idle = Duration::from_millis(300);
        let server = start_plain(&site, idle);
        let (_held, mut stream) = parked_connection(&server);
        let started = Instant::now();
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).expect("a FIN, not a reset");
        assert!(rest.is_empty());
        let waited = started.elapsed();
        assert!(waited >= idle - Duration::from_millis(100), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "{waited:?}");
    }

    #[test]
    fn a_plain_server_accepts_on_its_pollers_and_serves_every_kind_of_first_request() {
        let site = site();
        let large: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
        fs::write(site.root.join("large.bin"), &large).expect("write");
        let server = start_plain(&site, Duration::from_secs(15));
        assert!(matches!(server.accepting, Some(Accepting::Pollers { .. })));
        let connect = || {
            let stream = TcpStream::connect(server.local_addr()).expect("connect");
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            BufReader::new(stream)
        };
        // A small file, answered by the poller that accepted it.
        let mut small = connect();
        small.get_mut().write_all(GET_HELLO).expect("send");
        assert_eq!(read_response(&mut small).1, b"hello\n");
        // A large file and the requests pipelined behind it, handed to a thread.
        let mut burst = connect();
        let pipelined = [
            b"GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n".as_slice(),
            GET_HELLO,
            b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n",
        ]
        .concat();
        burst.get_mut().write_all(&pipelined).expect("send");
        assert_eq!(read_response(&mut burst).1, large);
        assert_eq!(read_response(&mut burst).1, b"hello\n");
        assert!(read_response(&mut burst).0.starts_with("HTTP/1.1 404 "));
        // A head in two pieces, the second after the connection was accepted.
        let mut pieces = connect();
        let (start, rest) = GET_HELLO.split_at(20);
        pieces.get_mut().write_all(start).expect("send");
        thread::sleep(Duration::from_millis(50));
        pieces.get_mut().write_all(rest).expect("send");
        assert_eq!(read_response(&mut pieces).1, b"hello\n");
        // Connection: close ends with the server's FIN after the response, never a reset.
        let mut closing = connect();
        closing
            .get_mut()
            .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .expect("send");
        assert_eq!(read_response(&mut closing).1, b"hello\n");
        let mut rest = Vec::new();
        closing.read_to_end(&mut rest).expect("a FIN, not a reset");
        assert!(rest.is_empty());
        // So does one whose client sent more after asking for the close: what it sent is read
        // until its FIN before the socket closes, so its unread bytes cause no reset.
        let mut chatty = connect();
        chatty
            .get_mut()
            .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nmore")
            .expect("send");
        assert_eq!(read_response(&mut chatty).1, b"hello\n");
        thread::sleep(Duration::from_millis(50));
        chatty.get_mut().write_all(b"and more").expect("send");
        chatty.get_mut().shutdown(Shutdown::Write).expect("FIN");
        let mut rest = Vec::new();
        chatty.read_to_end(&mut rest).expect("a FIN, not a reset");
        assert!(rest.is_empty());
    }

    #[test]
    fn a_plain_server_at_its_bound_accepts_the_next_connection_once_a_slot_frees() {
        let site = site();
        let server = start_plain_bounded(&site, Duration::from_secs(15), 1);
        let first = answered_connection(&server);
        served_once_it_closes(&server, first);
    }

    #[test]
    fn a_stopped_plain_server_closes_its_port_at_once() {
        let site = site();
        let server = start_plain(&site, Duration::from_secs(15));
        let addr = server.local_addr();
        // A connection that stays open does not hold the stop up.
        let _open = answered_connection(&server);
        let started = Instant::now();
        server.stop();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let refused = TcpStream::connect(addr).expect_err("nothing listens");
        assert_eq!(
            refused.kind(),
            io::ErrorKind::ConnectionRefused,
            "{refused}"
        );
        // The port is free again for a new server.
        let again = TcpListener::bind(addr);
        assert!(again.is_ok(), "{again:?}");
    }

    #[test]
    fn a_file_served_again_by_a_poller_is_the_file_the_path_names_now() {
        let site = site();
        let page = site.root.join("page.txt");
        fs::write(&page, "first\n").expect("write");
        let server = start_plain(&site, Duration::from_secs(15));
        // One keep-alive connection stays on one poller, which keeps the file between requests.
        let stream = TcpStream::connect(server.local_addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut stream = BufReader::new(stream);
        let mut get = || {
            let request = b"GET /page.txt HTTP/1.1\r\nHost: t\r\n\r\n";
            stream.get_mut().write_all(request).expect("send");
            read_response(&mut stream)
        };
        assert_eq!(get().1, b"first\n");
        assert_eq!(get().1, b"first\n");
        // Replaced by a rename, as editors and deployments do.
        let next = site.root.join("next.txt");
        fs::write(&next, "second\n").expect("write");
        fs::rename(&next, &page).expect("rename");
        assert_eq!(get().1, b"second\n");
        // Rewritten in place, longer and then shorter.
        fs::write(&page, "a longer third\n").expect("rewrite");
        assert_eq!(get().1, b"a longer third\n");
        fs::write(&page, "4\n").expect("rewrite");
        assert_eq!(get().1, b"4\n");
        // Removed, then a symlink out of the root in its place.
        fs::remove_file(&page).expect("remove");
        assert!(get().0.starts_with("HTTP/1.1 404 "));
        std::os::unix::fs::symlink(&site.secret, &page).expect("symlink");
        let (head, body) = get();
        assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
        assert!(!body.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    }
}
