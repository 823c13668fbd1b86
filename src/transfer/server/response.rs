//! Transfer layer, server: writing a response: a file with its head, or an error. Must not import
//! the server's connection loop, keep-alive poller or lifecycle, the client, capture or report
//! code.

use std::fs::File;
use std::io::{self, Write};
use std::net::TcpStream;

use super::incoming::Incoming;
use super::root::{Root, Served};
use super::samples::ResponseRecorder;
use super::status::{METHOD_NOT_ALLOWED, OK, Status};
use crate::transfer::events::{ConnectionEvents, EventKind};
use crate::transfer::http::{self, Request};
use crate::transfer::tls::TlsStream;
use crate::transfer::wire::Wire;

/// What a response answers: the request target and how the response is framed.
pub(super) struct Answer<'a> {
    pub(super) path: &'a str,
    pub(super) close: bool,
    pub(super) head_only: bool,
}

pub(super) fn respond(
    wire: &mut Wire<Incoming>,
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
pub(super) fn lookup_recent(request: &Request, root: &Root) -> io::Result<Result<Served, Status>> {
    if request.method != "HEAD" && request.method != "GET" {
        return Ok(Err(METHOD_NOT_ALLOWED));
    }
    root.open_recent(&request.path)
}

/// Answers `request` with what [`lookup`] found.
pub(super) fn send_response(
    wire: &mut Wire<Incoming>,
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
/// [`Root::open_recent`](super::root::Root::open_recent)). Returns fewer than `length` bytes
/// only if the file shrank.
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

pub(super) fn send_error(
    wire: &mut Wire<Incoming>,
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
pub(super) fn error_message(
    (code, reason): Status,
    body: &str,
    answer: &Answer<'_>,
) -> (String, u64) {
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
