//! Attribute layer: the model of each mode, to print beside the measured mean: handshake and
//! request round trips, then each response sent as the server's TCP sends it — segment by segment,
//! as its congestion window, the receive window the client advertised and the link's rate let it,
//! paced where the congestion control paces — and the window carried across a persistent
//! connection. Pure arithmetic; of the project it imports only where the tracker ends a round, so
//! the model counts rounds as the capture does. `path` ← `sender` ← `predict` ← `gap`.

mod gap;
mod path;
mod predict;
mod sender;
#[cfg(test)]
mod tests;

pub use gap::{Effect, Measured, ModelGap};
pub use path::{
    Opening, PathModel, QUIC_DATAGRAM, QUIC_INITIAL_WINDOW, QUIC_OVERHEAD, Release, TlsOpening,
};
pub use predict::{Pattern, Prediction, predict};
pub use sender::{Delivery, Sender, deliver};
