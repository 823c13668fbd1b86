//! Transfer layer: the blocking HTTP/1.1 file server, one thread per connection (threads are
//! reused from one connection to the next); a plain server instead accepts and serves small
//! requests on one poller per core and keeps a thread only for what could block (its
//! `KeepAlive`). Must not import the client, capture or report code.
//!
//! Closing is done so that a capture shows a clean FIN exchange and never a RST: the server only
//! closes a socket after reading the peer's FIN, and when it closes first it shuts down its
//! sending half, then waits for the peer's FIN before dropping the socket. The one exception is a
//! plain server whose client asked for the close and has sent nothing more: it closes at once
//! (see `End::Asked`), which sends the same FIN.
//!
//! A file per concern, each importing only those below it:
//!
//! - `lifecycle`: starting, sampling and stopping a server; it hands each connection to
//!   `connection` (a thread of its own) or to `keep_alive` (a plain server's pollers).
//! - `keep_alive` → `connection` (with `idle`) → `response` → `root`, `samples`, `incoming`;
//!   a connection that speaks HTTP/2 goes from `connection` to `multiplexed`, which serves it on
//!   [`crate::transfer::h2`].
//! - `listen` and `config`: the listening socket and what the server is told.
//! - Beneath them, what knows nothing of HTTP: `workers` (accepting threads), `park` with `door`
//!   and `epoll` (pollers), `pool` (threads for connections that leave a poller), `linger`
//!   (waiting for the peer's FIN), `beneath` (opening a file beneath the root).

mod beneath;
mod config;
mod connection;
mod content_type;
mod door;
mod epoll;
mod idle;
mod incoming;
mod keep_alive;
mod lifecycle;
mod linger;
mod listen;
mod multiplexed;
mod park;
mod pool;
mod response;
mod root;
mod samples;
mod status;
mod workers;

#[cfg(test)]
mod tests;

pub use self::config::{DEFAULT_MAX_CONNECTIONS, ServerConfig, ServerTimeouts};
pub use self::content_type::content_type;
pub use self::lifecycle::{Server, serve_forever};
pub use self::root::{Refusal, resolve};
/// Also reachable here: the response samples, which live in [`crate::transfer::run`].
pub use crate::transfer::run::ResponseSample;
