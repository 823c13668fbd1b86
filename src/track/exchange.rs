//! Track layer: requests and their responses on a connection, and the flights each response took.
//!
//! Works on timestamps alone; must not import `pcap`, `etherparse`, analysis or report code.

use crate::timeline::Ts;

/// One request and its response on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    /// First segment of the request (client data).
    pub request: Ts,
    /// First segment of the response (server data), if any.
    pub first_response: Option<Ts>,
    /// Last segment of the response seen so far.
    pub last_response: Option<Ts>,
    /// Flights the response took: bursts of server data separated by more than half the
    /// handshake round trip (one when the RTT is unknown).
    pub flights: u32,
}

impl Exchange {
    /// A request first seen at `request`, not yet answered.
    pub(super) fn new(request: Ts) -> Exchange {
        Exchange {
            request,
            first_response: None,
            last_response: None,
            flights: 0,
        }
    }

    /// Whether any of the response was seen.
    pub(super) fn answered(&self) -> bool {
        self.first_response.is_some()
    }

    /// Adds a segment of response data seen at `ts`; `half_rtt` is half the handshake's round trip.
    pub(super) fn add_response(&mut self, ts: Ts, half_rtt: Option<i64>) {
        let new_flight = match (self.last_response, half_rtt) {
            (None, _) => true,
            (Some(last), Some(half)) => ts.0.saturating_sub(last.0) > half,
            (Some(_), None) => false,
        };
        self.flights += u32::from(new_flight);
        self.first_response.get_or_insert(ts);
        self.last_response = Some(self.last_response.map_or(ts, |l| l.max(ts)));
    }
}
