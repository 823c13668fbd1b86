//! Transfer layer, server: the listening socket and the options its connections inherit from it.
//! Must not import the server's connection code, the client, capture or report code.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

use super::config::{ServerTimeouts, first_read_timeout, listener_sets_options};
use crate::transfer::TransferError;

/// Seconds a plain server's kernel holds a new connection back while waiting for its first bytes
/// (see [`listen`]).
#[cfg(target_os = "linux")]
const DEFER_ACCEPT: libc::c_int = 1;

/// Pending connections the kernel queues while every connection slot is taken.
const LISTEN_BACKLOG: i32 = 1024;

/// The listening socket. With `defer_accept`, the kernel hands a connection over only once its
/// first bytes have arrived (TCP_DEFER_ACCEPT), so the thread that accepts it finds the request
/// waiting instead of going to sleep once more for it. Nothing on the wire changes for a client
/// that sends its request at once; one that stays silent for [`DEFER_ACCEPT`] sees the SYN-ACK
/// once more and is then accepted as before, its head deadline starting then.
pub(super) fn listen(
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
        crate::transfer::fastopen::on_listener(&socket)?;
    }
    #[cfg(target_os = "linux")]
    if defer_accept {
        crate::transfer::sockopt::set_tcp_int(&socket, libc::TCP_DEFER_ACCEPT, DEFER_ACCEPT)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = defer_accept;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Sets the congestion control of `listener`, which the connections it accepts inherit.
pub(super) fn set_congestion(listener: &TcpListener, name: &str) -> Result<(), TransferError> {
    let available = || {
        crate::transfer::kernel::available_congestion_controls().unwrap_or_else(|| "unknown".into())
    };
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
