//! Transfer layer, HTTP/2 server: a connection's streams answered as they come, each response's
//! body sent as the client's windows allow, every stream served by the same task. Must not import
//! the HTTP/1.x server or client, capture or report code.

use std::fs::File;
use std::future::{Future, poll_fn};
use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use h2::SendStream;
use h2::server::{Connection, SendResponse};
use http::{HeaderValue, Response, header};

use super::transport::Transport;
use super::{CONNECTION_WINDOW, STREAM_WINDOW, into_io, runtime};

/// Body bytes read from a file and handed to h2 at a time: four full DATA frames.
const CHUNK: usize = 64 * 1024;

/// What a request is answered with.
pub(crate) enum Found {
    /// A file's first `length` bytes.
    File {
        file: Arc<File>,
        length: u64,
        content_type: &'static str,
    },
    /// A status that refuses the request, with its reason phrase.
    Refused(u16, &'static str),
}

/// The server's side of what is served: the files, and what it records of each response.
pub(crate) trait Site {
    /// What the server notes when a response starts, for [`Site::ended`].
    type Started;
    /// The answer to a `method` request for `target` (as sent, still percent-encoded).
    fn find(&self, method: &str, target: &str) -> io::Result<Found>;
    /// A response's head is about to be sent.
    fn started(&self, target: &str, status: u16) -> Self::Started;
    /// A response's last byte has been handed to h2.
    fn ended(&self, started: Self::Started, target: &str, status: u16, bytes: u64);
}

/// How long a connection may go without progress before it is closed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Patience {
    /// With no stream open: the keep-alive idle time, then a graceful close.
    pub(crate) idle: Duration,
    /// With streams open and none moving (a client that stopped reading): then cut.
    pub(crate) send: Duration,
}

/// Serves one HTTP/2 connection taken over from the blocking code (`tcp`, with `tls` when it
/// speaks TLS, and the plaintext already read from it) until the client closes it, or it stays
/// without progress past `patience`. The server's FIN has been sent when this returns Ok.
pub(crate) fn serve<S: Site>(
    tcp: std::net::TcpStream,
    tls: Option<rustls::Connection>,
    unread: Vec<u8>,
    site: &S,
    patience: Patience,
) -> io::Result<()> {
    runtime()?.block_on(async {
        let transport = Transport::new(tcp, tls, unread)?;
        let handshake = h2::server::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake::<_, Bytes>(transport);
        let connection = tokio::time::timeout(patience.idle, handshake)
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
            .map_err(into_io)?;
        let mut serving = Serving {
            connection,
            responses: Vec::new(),
            accepting: true,
            quiet: Box::pin(tokio::time::sleep(patience.idle)),
            patience,
            closing: false,
        };
        poll_fn(|cx| serving.poll(cx, site)).await
    })
}

/// A response whose body is being sent.
struct Sending<T> {
    stream: SendStream<Bytes>,
    file: Arc<File>,
    length: u64,
    sent: u64,
    target: String,
    started: Option<T>,
}

/// One connection's streams, driven together by one task.
struct Serving<T> {
    connection: Connection<Transport, Bytes>,
    responses: Vec<Sending<T>>,
    /// The client may still open streams.
    accepting: bool,
    /// Fires when the connection has made no progress for its patience.
    quiet: Pin<Box<tokio::time::Sleep>>,
    patience: Patience,
    /// A graceful close (GOAWAY) has begun.
    closing: bool,
}

impl<T> Serving<T> {
    fn poll<S: Site<Started = T>>(
        &mut self,
        cx: &mut Context<'_>,
        site: &S,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut progressed = false;
            if self.accepting {
                match self.connection.poll_accept(cx) {
                    Poll::Ready(Some(Ok((request, respond)))) => {
                        progressed = true;
                        self.answer(&request, respond, site)?;
                    }
                    Poll::Ready(Some(Err(error))) => return Poll::Ready(Err(into_io(error))),
                    Poll::Ready(None) => self.accepting = false,
                    Poll::Pending => {}
                }
            }
            // Polled in the same turn as the accept that found no more streams, so the
            // connection's end (the client's GOAWAY and FIN) wakes this task, not the idle timer.
            if !self.accepting && self.connection.poll_closed(cx).map_err(into_io)?.is_ready() {
                return Poll::Ready(Ok(()));
            }
            let mut index = 0;
            while index < self.responses.len() {
                match send_body(&mut self.responses[index], cx)? {
                    Poll::Ready(done) => {
                        progressed = true;
                        if done {
                            let sending = self.responses.swap_remove(index);
                            if let Some(started) = sending.started {
                                site.ended(started, &sending.target, 200, sending.sent);
                            }
                            continue;
                        }
                    }
                    Poll::Pending => {}
                }
                index += 1;
            }
            if progressed {
                let wait = if self.responses.is_empty() {
                    self.patience.idle
                } else {
                    self.patience.send
                };
                self.quiet
                    .as_mut()
                    .reset(tokio::time::Instant::now() + wait);
                continue;
            }
            if self.quiet.as_mut().poll(cx).is_ready() {
                if !self.responses.is_empty() || self.closing {
                    return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
                }
                // Idle: GOAWAY, then the close once the client has seen it.
                self.connection.graceful_shutdown();
                self.closing = true;
                self.quiet
                    .as_mut()
                    .reset(tokio::time::Instant::now() + self.patience.send);
                continue;
            }
            return Poll::Pending;
        }
    }

    /// Answers a request just accepted: an error or a head-only response at once, a file's
    /// body from then on as the windows allow.
    fn answer<S: Site<Started = T>>(
        &mut self,
        request: &http::Request<h2::RecvStream>,
        mut respond: SendResponse<Bytes>,
        site: &S,
    ) -> io::Result<()> {
        let target = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let method = request.method().as_str();
        let head_only = method == "HEAD";
        match site.find(method, &target)? {
            Found::Refused(code, reason) => {
                let body = format!("{code} {reason}\n");
                let started = site.started(&target, code);
                let head = response_head(code, body.len() as u64, "text/plain; charset=utf-8");
                let sent = if head_only {
                    respond.send_response(head, true).map_err(into_io)?;
                    0
                } else {
                    let mut stream = respond.send_response(head, false).map_err(into_io)?;
                    let sent = body.len() as u64;
                    // A few bytes: h2 holds them until the window allows.
                    stream.send_data(Bytes::from(body), true).map_err(into_io)?;
                    sent
                };
                site.ended(started, &target, code, sent);
            }
            Found::File {
                file,
                length,
                content_type,
            } => {
                let started = site.started(&target, 200);
                let head = response_head(200, length, content_type);
                if head_only || length == 0 {
                    respond.send_response(head, true).map_err(into_io)?;
                    site.ended(started, &target, 200, 0);
                    return Ok(());
                }
                let stream = respond.send_response(head, false).map_err(into_io)?;
                self.responses.push(Sending {
                    stream,
                    file,
                    length,
                    sent: 0,
                    target,
                    started: Some(started),
                });
            }
        }
        Ok(())
    }
}

/// A response's head: its status, the body's length and type, and the date (RFC 9110 §6.6.1).
fn response_head(status: u16, length: u64, content_type: &'static str) -> Response<()> {
    let mut response = Response::new(());
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())) {
        headers.insert(header::DATE, date);
    }
    response
}

/// Hands h2 the next chunk of a body, as far as the windows allow now. Ready(true) once the last
/// byte is handed over (or the client reset the stream: nothing more is sent), Ready(false) after
/// a chunk, Pending when the windows are shut.
fn send_body<T>(sending: &mut Sending<T>, cx: &mut Context<'_>) -> io::Result<Poll<bool>> {
    while sending.sent < sending.length {
        let left = sending.length - sending.sent;
        let want = usize::try_from(left).map_or(CHUNK, |left| left.min(CHUNK));
        sending.stream.reserve_capacity(want);
        let granted = match sending.stream.capacity() {
            0 => match sending.stream.poll_capacity(cx) {
                Poll::Pending => return Ok(Poll::Pending),
                Poll::Ready(Some(Ok(granted))) => granted,
                // Reset by the client, or the connection is gone: nothing more to send.
                Poll::Ready(None | Some(Err(_))) => {
                    sending.started = None;
                    return Ok(Poll::Ready(true));
                }
            },
            granted => granted,
        };
        if granted == 0 {
            continue;
        }
        let mut chunk = vec![0u8; granted.min(want)];
        let n = read_at(&sending.file, &mut chunk, sending.sent)?;
        if n == 0 {
            // The response cannot be completed: the stream is cut.
            sending.stream.send_reset(h2::Reason::INTERNAL_ERROR);
            sending.started = None;
            return Ok(Poll::Ready(true));
        }
        chunk.truncate(n);
        sending.sent += n as u64;
        let last = sending.sent == sending.length;
        if sending.stream.send_data(Bytes::from(chunk), last).is_err() {
            // Reset meanwhile: as above.
            sending.started = None;
            return Ok(Poll::Ready(true));
        }
        // One chunk per turn, so new streams are answered and the others take their turns.
        return Ok(Poll::Ready(last));
    }
    Ok(Poll::Ready(true))
}

/// Reads into `buf` from `offset`, retrying when interrupted: the file is shared and has no
/// position of its own to rely on.
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, offset) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}
