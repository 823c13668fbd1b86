//! Transfer layer, server: starting a server, handing its connections to threads or pollers,
//! taking its samples, and stopping it. Must not import the client, capture or report code.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, PoisonError};
use std::thread;

use super::config::{LINGER_TIMEOUT, Policy, ServerConfig, listener_sets_options};
use super::connection::{CONNECTION_STACK, serve_connection};
use super::door::Door;
use super::idle::Idle;
use super::keep_alive::KeepAlive;
use super::linger::Lingerer;
use super::listen::{listen, set_congestion};
use super::park::Parking;
use super::root::Root;
use super::samples::Samples;
use super::workers::Workers;
use crate::transfer::TransferError;
use crate::transfer::events::EventLog;
use crate::transfer::run::ResponseSample;

/// A running server; stopped by [`Server::stop`] or when dropped.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    samples: Samples,
    /// What accepts and serves connections; None once stopped.
    pub(super) accepting: Option<Accepting>,
}

/// What accepts a server's connections.
pub(super) enum Accepting {
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
