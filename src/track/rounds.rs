//! Track layer: a response's rounds as the sender counts them — a round ends when the ACK covering
//! its first segment arrives (Linux's delivery-rate sampler and BBR count rounds so) — inferred
//! from wherever the capture was taken.
//!
//! Works on timestamps and sequence numbers alone; must not import `pcap`, `etherparse`, analysis
//! or report code.

use super::seq::SeqNumber;
use crate::timeline::Ts;

/// One round of a response: the server data segments sent between two round trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// The round's first segment.
    pub start: Ts,
    /// Its last segment.
    pub end: Ts,
    /// Server data segments in it (resent ones included).
    pub segments: u32,
    /// Their payload bytes.
    pub bytes: u64,
}

/// Where the next round may start, as a fraction of the vantage point's round trip to the server
/// after the ACK that ends the current round.
///
/// A segment the server sends after that ACK reaches it reaches the capture point no earlier than
/// one such round trip after the capture saw the ACK; the segments of the current round were sent
/// before and arrive earlier. At the client the round trip is the whole path's, at the server it
/// is nearly nothing. The boundary is placed a tenth of a round trip early: the handshake's round
/// trip overstates the path's by the server's SYN processing and any jitter, and a boundary placed
/// at a full round trip put the next round's first segment into the current one (seen on Cubic
/// bursts over the emulated link). Much earlier is wrong the other way: a paced sender (BBR)
/// sends without gaps, so a boundary at 3/4 of the round trip cut its 40 ms rounds every 32 ms and
/// counted a round more than the sender did.
pub const ROUND_BOUNDARY_RTT_FRACTION: f64 = 0.9;

/// Follows the current response's rounds: which segment opened the current round and when the
/// capture saw the ACK covering it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RoundClock {
    /// One past the first new segment of the current round.
    first_end: Option<SeqNumber>,
    /// When the capture saw the first client ACK covering it.
    acked_at: Option<Ts>,
}

impl RoundClock {
    /// Whether server data at `ts` opens a new round of a response that has `rounds` so far;
    /// `new_data` when it is not a resend, `end` one past it, `vantage_rtt_ns` the capture point's
    /// round trip to the server (the handshake's SYN → SYN-ACK as captured).
    pub(super) fn opens_round(
        &mut self,
        ts: Ts,
        rounds: usize,
        new_data: bool,
        end: SeqNumber,
        vantage_rtt_ns: i64,
    ) -> bool {
        let opens = if rounds == 0 {
            true
        } else {
            let margin = (vantage_rtt_ns as f64 * ROUND_BOUNDARY_RTT_FRACTION) as i64;
            new_data && self.acked_at.is_some_and(|acked| ts.0 >= acked.0 + margin)
        };
        if opens {
            self.first_end = Some(end);
            self.acked_at = None;
        }
        opens
    }

    /// Notes a client ACK seen at `ts`.
    pub(super) fn client_ack(&mut self, ack: SeqNumber, ts: Ts) {
        if self.acked_at.is_none() && self.first_end.is_some_and(|end| end <= ack) {
            self.acked_at = Some(ts);
        }
    }

    /// Forgets the current response: the next response starts its own rounds.
    pub(super) fn reset(&mut self) {
        *self = RoundClock::default();
    }
}
