//! Transfer layer: TCP Fast Open (RFC 7413) on the server's listener and the client's sockets, and
//! the kernel setting that allows it. Must not import capture or report code.

use std::io;
use std::path::Path;

use socket2::Socket;

use super::sockopt::set_tcp_int;

/// The sysctl that enables Fast Open: bit 1 for clients, bit 2 for servers.
const SETTING: &str = "/proc/sys/net/ipv4/tcp_fastopen";

/// Both bits: this host may send data on a SYN and accept data on one.
pub const CLIENT_AND_SERVER: u32 = 3;

/// The bit that lets a client send data on its SYN.
pub const CLIENT: u32 = 1;

/// The bit that lets a server take data on a SYN.
pub const SERVER: u32 = 2;

/// Fast Open requests a listener queues before the handshake completes.
const QUEUE: libc::c_int = 256;

/// `net.ipv4.tcp_fastopen` of the network namespace the calling thread is in.
pub fn setting() -> io::Result<u32> {
    let text = std::fs::read_to_string(Path::new(SETTING))?;
    text.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("{SETTING}: {text:?}")))
}

/// Enables Fast Open for clients and servers in the calling thread's network namespace (root).
pub fn enable_here() -> io::Result<()> {
    std::fs::write(SETTING, CLIENT_AND_SERVER.to_string())
}

/// Lets `listener` accept data on a SYN from clients holding its cookie.
pub fn on_listener(listener: &Socket) -> io::Result<()> {
    set_tcp_int(listener, libc::TCP_FASTOPEN, QUEUE)
}

/// Makes the next `connect` on `socket` send the first write with the SYN when a cookie for the
/// server is cached (and ask for one when not).
pub fn on_client(socket: &Socket) -> io::Result<()> {
    set_tcp_int(socket, libc::TCP_FASTOPEN_CONNECT, 1)
}
