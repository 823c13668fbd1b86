//! Track layer: segments → connections (Wireshark's TCP streams) with flag counts, RFC 9293 states,
//! handshake and teardown times, and request/response exchanges.
//!
//! Works on `Segment` alone; must not import `pcap`, `etherparse`, transfer, analysis or report code
//! (`reader` alone opens captures, through the capture layer's `Source` and `Decoder`). One concept
//! per file: `seq` (sequence numbers), `state` (the RFC 9293 state machine), `half` (what one side
//! sent), `seq_analysis` (Wireshark's retransmission classes), `counts`, `exchange`, `requests`
//! (HTTP request heads in the client's stream), `rounds` (a response's round trips), `byte_stream`
//! (one direction put back in order), `tls` (TLS handshakes counted on the wire), `http2` (HTTP/2
//! frames counted on the wire), `quic` (QUIC connections over UDP), `connection`, `tuple_map`,
//! `tracker`;
//! `trace` rereads the packets of chosen connections for the pictures.

mod byte_stream;
mod connection;
mod counts;
mod decrypted;
mod exchange;
mod frames;
mod half;
pub mod http2;
pub mod keylog;
pub mod quic;
pub mod reader;
mod requests;
mod rounds;
mod seq;
mod seq_analysis;
mod side;
mod state;
pub mod tls;
pub mod trace;
mod tracker;
mod tuple_map;

pub use connection::{CloseKind, Connection, FinalState, RequestCount};
pub use counts::{FlagCounts, Totals};
pub use exchange::Exchange;
pub use rounds::{ROUND_BOUNDARY_RTT_FRACTION, Round};
pub use seq::SeqNumber;
pub use seq_analysis::SeqVerdict;
pub use side::Side;
pub use state::{EndpointEvent, TcpState, transition};
pub use tracker::{LINGER, Tracker};

#[cfg(test)]
pub(crate) mod tests;
