//! Track layer: requests and their responses on a connection, with the rounds each response took.
//!
//! Works on timestamps alone; must not import `pcap`, `etherparse`, analysis or report code.

use super::rounds::Round;
use crate::timeline::Ts;

/// One request and its response on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// First segment of the request (client data).
    pub request: Ts,
    /// First segment of the response (server data), if any.
    pub first_response: Option<Ts>,
    /// Last segment of the response seen so far.
    pub last_response: Option<Ts>,
    /// The response's rounds as the sender counts them (see `rounds`).
    pub rounds: Vec<Round>,
    /// The client's advertised receive window in bytes (scaled) as of its last segment before the
    /// response's first data: what the first round could fill at most.
    pub client_window: Option<u64>,
}

impl Exchange {
    /// A request first seen at `request`, not yet answered.
    pub(super) fn new(request: Ts) -> Exchange {
        Exchange {
            request,
            first_response: None,
            last_response: None,
            rounds: Vec::new(),
            client_window: None,
        }
    }

    /// Whether any of the response was seen.
    pub(super) fn answered(&self) -> bool {
        self.first_response.is_some()
    }

    /// Adds a segment of `bytes` response data seen at `ts`, opening a new round when
    /// `opens_round`.
    pub(super) fn add_response(&mut self, ts: Ts, bytes: u32, opens_round: bool) {
        self.first_response.get_or_insert(ts);
        self.last_response = Some(self.last_response.map_or(ts, |l| l.max(ts)));
        match self.rounds.last_mut() {
            Some(round) if !opens_round => {
                round.end = round.end.max(ts);
                round.segments += 1;
                round.bytes += u64::from(bytes);
            }
            _ => self.rounds.push(Round {
                start: ts,
                end: ts,
                segments: 1,
                bytes: u64::from(bytes),
            }),
        }
    }
}
