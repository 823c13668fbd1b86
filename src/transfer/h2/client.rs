//! Transfer layer, HTTP/2 client: every request sent at once on one connection, each a stream of
//! its own, and the responses received as their frames come, whatever stream they are on. Must
//! not import the HTTP/1.x client, the server, capture or report code.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use h2::RecvStream;
use h2::client::{Connection, ResponseFuture, SendRequest};

use super::transport::Transport;
use super::{CONNECTION_WINDOW, STREAM_WINDOW, into_io, network_error, runtime};
use crate::timeline::Ts;
use crate::transfer::TransferError;

/// What the client does with what arrives, stream by stream (`index` is the request's place in
/// the list it was given). An error ends the exchange.
pub(crate) trait Responses {
    /// The request's HEADERS frame left for the server.
    fn sent(&mut self, index: usize, at: Ts);
    /// The response's head arrived.
    fn head(&mut self, index: usize, status: u16, at: Ts) -> Result<(), TransferError>;
    /// Body bytes arrived.
    fn data(&mut self, index: usize, data: &[u8], at: Ts) -> Result<(), TransferError>;
    /// The stream ended; `last_byte` is when its last body bytes arrived (its head's time when
    /// it had none).
    fn end(&mut self, index: usize, last_byte: Ts) -> Result<(), TransferError>;
}

/// The requests of one connection: a GET for each path, to one origin.
pub(crate) struct Requests<'a> {
    /// `http` (h2c) or `https` (h2).
    pub(crate) scheme: &'static str,
    /// The `:authority` (the Host header's value).
    pub(crate) authority: &'a str,
    pub(crate) paths: &'a [&'a str],
}

/// Where each stream stands.
enum Stream {
    /// Not yet opened (the server's limit on concurrent streams may hold it back).
    Unsent,
    /// Opened; the response's head has not arrived.
    Waiting(ResponseFuture),
    /// The head arrived; body bytes arrive until the stream ends.
    Body {
        body: RecvStream,
        last_byte: Ts,
    },
    Done,
}

/// Sends every request on a connection taken over from the blocking code (`tcp`, with `tls` when
/// it speaks TLS, its handshake done) and hands what arrives to `responses`, until every stream
/// has ended or `deadline` passes (then `timed_out` is the error). The client then closes the
/// connection (GOAWAY, close_notify under TLS, its FIN); the caller waits for the server's FIN.
pub(crate) fn fetch_all(
    tcp: std::net::TcpStream,
    tls: Option<rustls::Connection>,
    addr: SocketAddr,
    requests: &Requests<'_>,
    deadline: Instant,
    timed_out: TransferError,
    responses: &mut impl Responses,
) -> Result<(), TransferError> {
    let network = network_error(addr);
    let runtime = runtime().map_err(network)?;
    runtime.block_on(async {
        let exchange = async {
            let transport = Transport::new(tcp, tls, Vec::new()).map_err(network)?;
            let (sender, connection) = h2::client::Builder::new()
                .initial_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .handshake::<_, Bytes>(transport)
                .await
                .map_err(|e| network(into_io(e)))?;
            let mut exchange = Exchange {
                sender: Some(sender),
                connection,
                streams: requests.paths.iter().map(|_| Stream::Unsent).collect(),
                opened: 0,
                closed: false,
            };
            poll_fn(|cx| exchange.poll(cx, requests, responses))
                .await
                .map_err(|e| match e {
                    Failure::Network(e) => network(into_io(e)),
                    Failure::Said(e) => e,
                })
        };
        tokio::time::timeout_at(deadline.into(), exchange)
            .await
            .unwrap_or(Err(timed_out))
    })
}

/// Why an exchange stopped.
enum Failure {
    Network(h2::Error),
    /// What `Responses` said.
    Said(TransferError),
}

impl From<h2::Error> for Failure {
    fn from(error: h2::Error) -> Failure {
        Failure::Network(error)
    }
}

/// One connection's streams, driven together by one task: nothing here waits for anything else.
struct Exchange {
    /// None once every request is out: with it gone, the connection closes when its last
    /// stream ends.
    sender: Option<SendRequest<Bytes>>,
    connection: Connection<Transport, Bytes>,
    streams: Vec<Stream>,
    /// Streams opened so far, in request order.
    opened: usize,
    /// The connection has closed (GOAWAY and FIN sent).
    closed: bool,
}

impl Exchange {
    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        requests: &Requests<'_>,
        responses: &mut impl Responses,
    ) -> Poll<Result<(), Failure>> {
        loop {
            let opened = self.open_streams(cx, requests)?;
            let mut progressed = !opened.is_empty();
            // Writes the frames of the streams just opened (and window updates) to the socket.
            if let Poll::Ready(result) = Pin::new(&mut self.connection).poll(cx) {
                result?;
                self.closed = true;
            }
            let flushed = Ts::now();
            for index in opened {
                responses.sent(index, flushed);
            }
            for (index, stream) in self.streams.iter_mut().enumerate() {
                progressed |= receive(stream, index, cx, responses)?;
            }
            let all_done = self.streams.iter().all(|s| matches!(s, Stream::Done));
            if all_done && self.closed {
                return Poll::Ready(Ok(()));
            }
            if self.closed && !all_done {
                return Poll::Ready(Err(Failure::Said(TransferError::BadResponse(
                    "the server closed the HTTP/2 connection before every response had ended"
                        .into(),
                ))));
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    }

    /// Opens a stream for every request the server's limit allows now; returns which opened.
    fn open_streams(
        &mut self,
        cx: &mut Context<'_>,
        requests: &Requests<'_>,
    ) -> Result<Range<usize>, Failure> {
        let Some(sender) = &mut self.sender else {
            return Ok(0..0);
        };
        let before = self.opened;
        while self.opened < self.streams.len() {
            if sender.poll_ready(cx)?.is_pending() {
                break;
            }
            let path = requests.paths[self.opened];
            let uri = format!("{}://{}{path}", requests.scheme, requests.authority);
            let request = http::Request::get(uri)
                .body(())
                .map_err(|e| Failure::Said(TransferError::InvalidPlan(e.to_string())))?;
            let (response, _) = sender.send_request(request, true)?;
            self.streams[self.opened] = Stream::Waiting(response);
            self.opened += 1;
        }
        if self.opened == self.streams.len() {
            self.sender = None;
        }
        Ok(before..self.opened)
    }
}

/// Takes what has arrived on one stream; true if anything did.
fn receive(
    stream: &mut Stream,
    index: usize,
    cx: &mut Context<'_>,
    responses: &mut impl Responses,
) -> Result<bool, Failure> {
    let said = Failure::Said;
    let mut progressed = false;
    loop {
        match stream {
            Stream::Unsent | Stream::Done => return Ok(progressed),
            Stream::Waiting(response) => {
                let Poll::Ready(response) = Pin::new(response).poll(cx) else {
                    return Ok(progressed);
                };
                let at = Ts::now();
                let response = response?;
                responses
                    .head(index, response.status().as_u16(), at)
                    .map_err(said)?;
                *stream = Stream::Body {
                    body: response.into_body(),
                    last_byte: at,
                };
            }
            Stream::Body { body, last_byte } => match body.poll_data(cx) {
                Poll::Pending => return Ok(progressed),
                Poll::Ready(Some(data)) => {
                    let data = data?;
                    let at = Ts::now();
                    *last_byte = at;
                    // The window reopens as the bytes are taken, so the server sends on.
                    let _ = body.flow_control().release_capacity(data.len());
                    responses.data(index, &data, at).map_err(said)?;
                }
                Poll::Ready(None) => {
                    let last_byte = *last_byte;
                    *stream = Stream::Done;
                    responses.end(index, last_byte).map_err(said)?;
                }
            },
        }
        progressed = true;
    }
}
