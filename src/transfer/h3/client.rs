//! Transfer layer, h3, client: one QUIC connection per run, every request on a stream of its own
//! and all of them sent before any response is read; with a session from an earlier run, sent as
//! 0-RTT data. Must not import the server, capture or report code.

use std::cell::Cell;
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinSet;

use super::stream::{Receiving, Wanted};
use super::tls::{self, ClientCrypto};
use super::{IDLE_LIMIT, QuicCongestion, runtime, transport};
use crate::timeline::Ts;
use crate::transfer::TransferError;
use crate::transfer::client::FetchPlan;
use crate::transfer::client::plan::Target;
use crate::transfer::events::{ConnectionEvents, EventKind, EventLog, Side};
use crate::transfer::run::{
    ConnectionTiming, FileResult, Mode, RequestTiming, RunTiming, TlsTiming,
};
use crate::transfer::tls::{ClientTls, TlsSession, TlsVersion};

/// The application error code of a connection closed with nothing wrong (RFC 9114 §8.1).
const H3_NO_ERROR: u32 = 0x100;

/// Fetches every target over one HTTP/3 connection to the plan's server, saving into `dir`.
pub(crate) fn fetch(
    plan: &FetchPlan,
    targets: &[Target<'_>],
    dir: &Path,
    events: Option<&EventLog>,
) -> Result<RunTiming, TransferError> {
    let tls = plan.h3_tls.as_ref().or(plan.tls.as_ref()).ok_or_else(|| {
        TransferError::InvalidPlan(
            "h3 always speaks TLS (QUIC encrypts every packet): fetch https:// URLs".into(),
        )
    })?;
    let crypto = tls::client(tls).map_err(|error| TransferError::InvalidPlan(error.to_string()))?;
    let wanted: Vec<Wanted> = targets
        .iter()
        .map(|target| Wanted {
            index: target.index,
            path: target.path.to_owned(),
            name: target.name.clone(),
            expected: target.expected.clone(),
            dir: dir.to_path_buf(),
            max_size: plan.limits.max_size,
        })
        .collect();
    let files = u32::try_from(targets.len()).unwrap_or(u32::MAX);
    let run_limit = plan.limits.per_file.saturating_mul(files);
    let client = Client {
        addr: plan.addr,
        host: &plan.host,
        tls,
        idle: IDLE_LIMIT.min(plan.limits.per_file),
        log: events.cloned(),
        handshaken: Cell::new(false),
    };
    let runtime = runtime()?;
    let finished = runtime
        .block_on(async { tokio::time::timeout(run_limit, client.run(crypto, wanted)).await });
    finished.unwrap_or_else(|_| {
        Err(if client.handshaken.get() {
            TransferError::Timeout {
                addr: plan.addr,
                what: "finish its responses",
                after: run_limit,
            }
        } else {
            TransferError::NoQuicAnswer {
                addr: plan.addr,
                after: run_limit.min(client.idle),
            }
        })
    })
}

/// What one run's connection is opened with.
struct Client<'a> {
    addr: SocketAddr,
    host: &'a str,
    tls: &'a ClientTls,
    /// The longest silence from the server, the handshake's included.
    idle: Duration,
    log: Option<EventLog>,
    /// The handshake is complete: a timeout from now on is no missing answer.
    handshaken: Cell<bool>,
}

/// The address-validation tokens servers gave this process's QUIC connections (NEW_TOKEN, RFC
/// 9000 §8.1.3), kept from run to run as the TLS sessions are, as a browser keeps both. A later
/// connection to the same server presents one, so the server takes the client's address as
/// validated at once and may answer its 0-RTT requests beyond three times the bytes it has
/// received (§8.1): without it, a resumed connection's responses wait a round trip for the
/// client's Handshake packet.
fn address_tokens() -> Arc<dyn quinn::TokenStore> {
    static TOKENS: std::sync::OnceLock<Arc<quinn::TokenMemoryCache>> = std::sync::OnceLock::new();
    TOKENS.get_or_init(Default::default).clone()
}

/// A connection's requests as the h3 client holds them.
type SendRequest = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

impl Client<'_> {
    async fn run(
        &self,
        crypto: ClientCrypto<'_>,
        wanted: Vec<Wanted>,
    ) -> Result<RunTiming, TransferError> {
        let addr = self.addr;
        let connect_failed = |source: io::Error| TransferError::Connect { addr, source };
        let endpoint = quinn::Endpoint::client(SocketAddr::new(source_ip(addr)?, 0))
            .map_err(connect_failed)?;
        // Bound to the address packets leave from, so it names the connection in a capture.
        let local = endpoint.local_addr().map_err(connect_failed)?;
        let events = ConnectionEvents::new(self.log.as_ref(), Side::Client, local, addr);
        let mut config = quinn::ClientConfig::new(crypto.config.clone());
        let options = self.tls.options();
        if options.resume || options.early_data {
            config.token_store(address_tokens());
        }
        // The client sends requests only: quinn's default controller.
        config.transport_config(Arc::new(transport(self.idle, QuicCongestion::Cubic)));
        let connect_start = Ts::now();
        events.at(connect_start, EventKind::QuicConnect);
        let connecting = endpoint
            .connect_with(config, addr, &self.tls.server_name().to_str())
            .map_err(|error| connect_failed(io::Error::other(error)))?;
        let (connection, zero_rtt) = match connecting.into_0rtt() {
            Ok((connection, accepted)) => (connection, Some(accepted)),
            Err(connecting) => {
                let connection = connecting
                    .await
                    .map_err(|error| self.handshake_failed(error))?;
                (connection, None)
            }
        };
        let early = zero_rtt.is_some();
        let mut connected = (!early).then(Ts::now);
        self.handshaken.set(!early);
        let mut exchanges = self.send_all(&connection, &wanted, &events, local).await?;
        let mut early_data_accepted = false;
        if let Some(accepted) = zero_rtt {
            // Resolves when the handshake is complete, and tells whether the server took the
            // requests it carried.
            early_data_accepted = accepted.await;
            if connection.close_reason().is_some() {
                exchanges.abort();
                return Err(self.failed(&connection, false, "the connection closed".into()));
            }
            connected = Some(Ts::now());
            self.handshaken.set(true);
            if !early_data_accepted {
                // The server dropped every stream of the 0-RTT data: the requests go again, on
                // a fresh HTTP/3 session over the same connection.
                exchanges.abort();
                exchanges = self.send_all(&connection, &wanted, &events, local).await?;
            }
        }
        let connected = connected.expect("the handshake is complete by now");
        events.at(
            connected,
            EventKind::QuicConnected {
                zero_rtt: early.then_some(early_data_accepted),
            },
        );
        events.at(
            connected,
            EventKind::TlsDone {
                version: TlsVersion::Tls13.name(),
                resumed: crypto.resumed(),
            },
        );
        let mut received = Vec::with_capacity(wanted.len());
        while let Some(joined) = exchanges.streams.join_next().await {
            match joined {
                Ok(Ok(exchange)) => received.push(exchange),
                Ok(Err(error)) => return Err(self.failed_with(&connection, error)),
                Err(error) => return Err(TransferError::Io(io::Error::other(error))),
            }
        }
        received.sort_by_key(|(request, _): &(RequestTiming, FileResult)| request.file);
        connection.close(quinn::VarInt::from_u32(H3_NO_ERROR), b"");
        let closed = Ts::now();
        events.at(closed, EventKind::QuicClosed);
        // The CONNECTION_CLOSE leaves while the endpoint drains; nobody waits for an answer.
        let _ = tokio::time::timeout(self.idle, endpoint.wait_idle()).await;
        let (requests, files): (Vec<RequestTiming>, Vec<FileResult>) = received
            .into_iter()
            .map(|(request, mut file)| {
                file.seconds = request.last_byte.secs_since(connect_start);
                (request, file)
            })
            .unzip();
        let last_byte = requests.iter().map(|r| r.last_byte).max().unwrap_or(closed);
        Ok(RunTiming {
            mode: Mode::H3,
            start: connect_start,
            last_byte,
            end: closed,
            connections: vec![ConnectionTiming {
                local,
                peer: addr,
                connect_start,
                connected,
                requests,
                closed,
                tls: Some(TlsTiming {
                    done: connected,
                    session: TlsSession {
                        version: Some(TlsVersion::Tls13),
                        resumed: crypto.resumed(),
                        // Both ends offer ring's key exchange groups in the same order, and
                        // quinn does not say whether it had to retry.
                        hello_retry: false,
                        // h3 encodes the requests inside quinn's packets: their 0-RTT bytes are
                        // not counted here, only whether the server took them.
                        early_data_sent: 0,
                        early_data_accepted: early && early_data_accepted,
                    },
                }),
            }],
            files,
        })
    }

    /// Starts an HTTP/3 session on `connection` and sends every request on a stream of its own,
    /// each one's response read by a task of its own.
    async fn send_all(
        &self,
        connection: &quinn::Connection,
        wanted: &[Wanted],
        events: &ConnectionEvents<'_>,
        local: SocketAddr,
    ) -> Result<Exchanges, TransferError> {
        let quic = h3_quinn::Connection::new(connection.clone());
        let (mut driver, mut requests): (_, SendRequest) = h3::client::new(quic)
            .await
            .map_err(|error| self.failed(connection, true, error.to_string()))?;
        let mut tasks = JoinSet::new();
        // Keeps the session's control streams going until the connection closes.
        let driver = tokio::spawn(async move { poll_fn(|cx| driver.poll_close(cx)).await });
        for want in wanted {
            let request = http::Request::get(format!("https://{}{}", self.host, want.path))
                .body(())
                .map_err(|error| TransferError::InvalidPlan(error.to_string()))?;
            let mut stream = requests
                .send_request(request)
                .await
                .map_err(|error| self.failed(connection, true, error.to_string()))?;
            stream
                .finish()
                .await
                .map_err(|error| self.failed(connection, true, error.to_string()))?;
            let sent = Ts::now();
            events.at(
                sent,
                EventKind::Request {
                    path: want.path.clone(),
                },
            );
            let receiving = Receiving {
                stream,
                want: want.clone(),
                sent,
                log: self.log.clone(),
                local,
                peer: self.addr,
            };
            tasks.spawn(receiving.run());
        }
        Ok(Exchanges {
            streams: tasks,
            _requests: requests,
            driver,
        })
    }

    /// A handshake that did not finish: no answer at all says UDP or HTTP/3 is missing.
    fn handshake_failed(&self, error: quinn::ConnectionError) -> TransferError {
        let addr = self.addr;
        match error {
            quinn::ConnectionError::TimedOut => TransferError::NoQuicAnswer {
                addr,
                after: self.idle,
            },
            quinn::ConnectionError::TransportError(_)
            | quinn::ConnectionError::ConnectionClosed(_) => {
                TransferError::tls(addr, io::Error::other(error))
            }
            error => TransferError::Network {
                addr,
                source: io::Error::other(error),
            },
        }
    }

    /// A failure on the connection: its own reason when it closed, else `what`.
    fn failed(
        &self,
        connection: &quinn::Connection,
        handshaken: bool,
        what: String,
    ) -> TransferError {
        match connection.close_reason() {
            Some(quinn::ConnectionError::TimedOut) if !handshaken => TransferError::NoQuicAnswer {
                addr: self.addr,
                after: self.idle,
            },
            Some(quinn::ConnectionError::TimedOut) => TransferError::Timeout {
                addr: self.addr,
                what: "keep sending (QUIC's idle timeout passed)",
                after: self.idle,
            },
            Some(reason) if !handshaken => self.handshake_failed(reason),
            Some(reason) => TransferError::Network {
                addr: self.addr,
                source: io::Error::other(reason),
            },
            None => TransferError::Network {
                addr: self.addr,
                source: io::Error::other(what),
            },
        }
    }

    /// A request's failure, unless the connection's closing says more.
    fn failed_with(&self, connection: &quinn::Connection, error: TransferError) -> TransferError {
        match (&error, connection.close_reason()) {
            (TransferError::Network { .. }, Some(_)) => {
                self.failed(connection, true, error.to_string())
            }
            _ => error,
        }
    }
}

/// The requests of one HTTP/3 session in flight, each stream read by a task.
struct Exchanges {
    streams: JoinSet<Result<(RequestTiming, FileResult), TransferError>>,
    /// Held until the responses are in: the last sender dropped ends the session.
    _requests: SendRequest,
    driver: tokio::task::JoinHandle<h3::error::ConnectionError>,
}

impl Exchanges {
    /// Stops reading every response (their part files are removed) and the session's driver.
    fn abort(&mut self) {
        self.streams.abort_all();
        self.driver.abort();
    }
}

/// The address this host sends from to reach `addr` (a UDP connect sends nothing).
fn source_ip(addr: SocketAddr) -> Result<IpAddr, TransferError> {
    let any: IpAddr = match addr {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let probe = UdpSocket::bind((any, 0))
        .and_then(|probe| probe.connect(addr).map(|()| probe))
        .and_then(|probe| probe.local_addr())
        .map_err(|source| TransferError::Connect { addr, source })?;
    Ok(probe.ip())
}
