//! Track layer: QUIC read on the wire without keys. Each UDP datagram is cut into its coalesced
//! packets (`packet`), grouped into connections as Wireshark's `quic.connection.number` groups
//! them (`tracker`), and summed up per connection and direction (`connection`); Initial packets
//! are opened with the keys anyone can derive from the client's first Destination Connection ID
//! (`keys`), and their CRYPTO frames put back in order (`crypto`) up to the ClientHello and
//! ServerHello, which `tls::hello` reads.
//!
//! Works on `Datagram` and its captured payload alone; must not import `pcap`, `etherparse`,
//! analysis or report code.

mod connection;
mod crypto;
mod keys;
mod one_rtt;
mod packet;
mod tracker;

pub use connection::{EarlyData, PacketCounts, QuicConnection, QuicFlow, QuicTls};
pub use one_rtt::{OneRttDecryption, QuicStreams};
pub use packet::{ConnectionId, PacketType, VERSION_1, VERSION_2};
pub use tracker::{QuicCapture, QuicTracker};

pub(in crate::track) use keys::{expand_label, nonce_for};
pub(in crate::track) use packet::Coalesced;

#[cfg(test)]
mod tests;
