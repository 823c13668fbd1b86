//! Track layer: which end of a connection a packet or a state belongs to. Imports nothing of
//! the tracker, so every part of it may name a side.

/// One end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The side that sent the first SYN (or the guessed one, mid-stream).
    Client,
    /// The other side.
    Server,
}

impl Side {
    /// The name used in every output.
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }

    /// Of the client's and the server's `T`, this side's and its peer's.
    pub fn mine_and_peer<T>(self, client: T, server: T) -> (T, T) {
        match self {
            Side::Client => (client, server),
            Side::Server => (server, client),
        }
    }

    /// The other end.
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}
