//! Transfer layer, h3, server: listening for QUIC on UDP, each connection's HTTP/3 session, and
//! stopping. Must not import the client, capture or report code.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use bytes::Bytes;

use super::respond::respond;
use super::{IDLE_LIMIT, QuicCongestion, runtime, tls, transport};
use crate::transfer::TransferError;
use crate::transfer::events::{ConnectionEvents, EventKind, EventLog, Side};
use crate::transfer::tls::ServerTls;

/// An HTTP/3 server running on a thread of its own until stopped.
#[derive(Debug)]
pub struct H3Server {
    addr: SocketAddr,
    endpoint: quinn::Endpoint,
    thread: Option<JoinHandle<()>>,
}

impl H3Server {
    /// Listens for QUIC on UDP `bind` (ALPN h3, TLS 1.3 with `tls`'s certificate, 0-RTT taken)
    /// and serves the regular files beneath `root`, sending under `congestion`.
    pub fn start(
        bind: SocketAddr,
        root: PathBuf,
        tls: &ServerTls,
        events: Option<EventLog>,
        congestion: QuicCongestion,
    ) -> Result<H3Server, TransferError> {
        let crypto = tls::server(tls).map_err(io::Error::other)?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(Arc::new(transport(IDLE_LIMIT, congestion)));
        let socket =
            UdpSocket::bind(bind).map_err(|source| TransferError::Bind { addr: bind, source })?;
        let addr = socket.local_addr()?;
        let runtime = runtime()?;
        let endpoint = {
            // The endpoint registers its socket with the runtime it is made in.
            let _inside = runtime.enter();
            quinn::Endpoint::new(
                quinn::EndpointConfig::default(),
                Some(config),
                socket,
                Arc::new(quinn::TokioRuntime),
            )?
        };
        let listening = endpoint.clone();
        let root = Arc::new(root);
        let thread = thread::Builder::new()
            .name("synack-h3".into())
            .spawn(move || runtime.block_on(accept_all(listening, root, events)))?;
        Ok(H3Server {
            addr,
            endpoint,
            thread: Some(thread),
        })
    }

    /// The UDP address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every connection and stops listening.
    pub fn stop(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        self.endpoint
            .close(quinn::VarInt::from_u32(H3_NO_ERROR), b"server stopped");
        if let Some(thread) = self.thread.take() {
            // A panic on the server's thread has already been printed; stopping is all that is
            // left to do.
            let _ = thread.join();
        }
    }
}

impl Drop for H3Server {
    fn drop(&mut self) {
        self.shut();
    }
}

/// The application error code of a connection closed with nothing wrong (RFC 9114 §8.1).
const H3_NO_ERROR: u32 = 0x100;

/// Serves every connection that comes in, each in a task of its own, until the endpoint closes.
async fn accept_all(endpoint: quinn::Endpoint, root: Arc<PathBuf>, log: Option<EventLog>) {
    let port = endpoint.local_addr().map_or(0, |addr| addr.port());
    while let Some(incoming) = endpoint.accept().await {
        let (root, log) = (Arc::clone(&root), log.clone());
        tokio::spawn(async move {
            // A client that goes away mid-handshake or mid-request is no failure of the server.
            let _ = serve_connection(incoming, port, root, log).await;
        });
    }
}

async fn serve_connection(
    incoming: quinn::Incoming,
    port: u16,
    root: Arc<PathBuf>,
    log: Option<EventLog>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let connecting = incoming.accept()?;
    let peer = connecting.remote_address();
    let local_ip = connecting.local_ip();
    // Requests that came as 0-RTT data are answered at once (0.5-RTT data), before the client's
    // Finished: otherwise 0-RTT would save the client nothing. They are GETs, safe to replay.
    let connection = match connecting.into_0rtt() {
        Ok((connection, _)) => connection,
        Err(connecting) => connecting.await?,
    };
    let local = SocketAddr::new(local_ip.unwrap_or_else(|| peer.ip()), port);
    let events = ConnectionEvents::new(log.as_ref(), Side::Server, local, peer);
    events.now(EventKind::QuicAccept);
    let quic = h3_quinn::Connection::new(connection);
    let mut session: h3::server::Connection<h3_quinn::Connection, Bytes> =
        h3::server::Connection::new(quic).await?;
    // The session ends with the client's CONNECTION_CLOSE, which h3 reports as an error.
    while let Ok(Some(resolver)) = session.accept().await {
        let (root, log) = (Arc::clone(&root), log.clone());
        tokio::spawn(async move {
            let events = ConnectionEvents::new(log.as_ref(), Side::Server, local, peer);
            if let Err(error) = respond(resolver, &root, &events).await {
                events.now(EventKind::Broken {
                    reason: error.to_string(),
                });
            }
        });
    }
    events.now(EventKind::QuicClosed);
    Ok(())
}
