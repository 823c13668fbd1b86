//! Transfer layer, server: TCP_INFO sampled around every response, for compare's slow-start
//! table. Must not import the server's connection code, the client, capture or report code.

use std::cell::RefCell;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::incoming::has_unread_bytes;
use crate::timeline::Ts;
use crate::transfer::run::{ResponseSample, TcpInfoSample};
use crate::transfer::tcp_info;

/// How long a response's last byte may wait for its acknowledgement before its closing sample is
/// taken anyway (marked not acknowledged): covers delayed ACKs and a retransmission timeout.
const ACK_WAIT: Duration = Duration::from_secs(3);

/// How often the socket is asked whether the last byte has been acknowledged.
const ACK_POLL: Duration = Duration::from_micros(200);

/// Response samples kept until [`Server::take_samples`](super::Server::take_samples); later ones
/// are dropped, so a long-running `synack serve` that nobody drains stays bounded.
const MAX_SAMPLES: usize = 100_000;

/// The address of a side nobody records.
pub(super) const UNKNOWN_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    0,
));

/// The responses recorded so far, shared by the server and its connection threads.
pub(super) type Samples = Arc<Mutex<Vec<ResponseSample>>>;

/// Samples the responses of one connection into the server's list.
pub(super) struct ResponseRecorder<'a> {
    /// Where samples go; None when the server does not sample.
    samples: Option<&'a Mutex<Vec<ResponseSample>>>,
    local: SocketAddr,
    peer: SocketAddr,
    /// The last response written, until its closing sample is taken.
    unsettled: RefCell<Option<ResponseSample>>,
}

/// The start of a response being recorded.
pub(super) struct Started {
    ts: Ts,
    info: Option<TcpInfoSample>,
}

impl<'a> ResponseRecorder<'a> {
    /// A recorder of the responses on the connection from `peer` to `local` into `samples`, or
    /// of nothing when the server does not sample.
    pub(super) fn new(
        samples: Option<&'a Mutex<Vec<ResponseSample>>>,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> ResponseRecorder<'a> {
        ResponseRecorder {
            samples,
            local,
            peer,
            unsettled: RefCell::new(None),
        }
    }
}

impl ResponseRecorder<'_> {
    /// A recorder that records nothing, for a server that does not sample.
    pub(super) fn none() -> ResponseRecorder<'static> {
        ResponseRecorder::new(None, UNKNOWN_ADDR, UNKNOWN_ADDR)
    }

    /// Call just before the head is written.
    pub(super) fn start(&self, stream: &TcpStream) -> Started {
        let info = self.samples.and_then(|_| tcp_info::sample(stream).ok());
        Started {
            ts: Ts::now(),
            info,
        }
    }

    /// Call just after the body has been handed to the kernel; the closing sample follows with
    /// `settle`, once the connection knows whether more is to be sent.
    pub(super) fn end(
        &self,
        started: Started,
        stream: &TcpStream,
        path: &str,
        status: u16,
        bytes: u64,
    ) {
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
    pub(super) fn settle(&self, stream: &TcpStream, more_waiting: bool) {
        self.sample_when_acked(stream, more_waiting, true);
    }

    /// [`Self::settle`] for a connection the server has closed: no request can follow, so what
    /// the peer sends meanwhile (with TLS, the end of its handshake after early data, or its
    /// close_notify) does not cut the wait short.
    pub(super) fn settle_closed(&self, stream: &TcpStream) {
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
