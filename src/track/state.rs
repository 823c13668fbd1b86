//! Track layer: the RFC 9293 connection states of one endpoint, as an observer on the path infers
//! them, and the pure transition function between them.
//!
//! Imports only the segment's flags; must not import the rest of the tracker, `pcap` or
//! `etherparse`.

use crate::capture::segment::TcpFlags;

/// Connection states of RFC 9293 §3.3.2, as an observer on the path infers them for one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// No connection.
    Closed,
    /// Waiting for a SYN.
    Listen,
    /// SYN sent, waiting for SYN-ACK.
    SynSent,
    /// SYN received, SYN-ACK sent, waiting for the ACK.
    SynReceived,
    /// Data may flow both ways.
    Established,
    /// Own FIN sent, not yet acknowledged.
    FinWait1,
    /// Own FIN acknowledged, waiting for the peer's.
    FinWait2,
    /// Peer's FIN received, own not yet sent.
    CloseWait,
    /// Both FINs sent, own not yet acknowledged.
    Closing,
    /// Own FIN sent after the peer's, waiting for its acknowledgement.
    LastAck,
    /// Both FINs acknowledged; the active closer waits 2·MSL.
    TimeWait,
}

/// What an endpoint did or saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointEvent {
    /// It sent a segment with these flags.
    Sent(TcpFlags),
    /// It received a segment with these flags; `acks_own_fin` when it acknowledges the endpoint's FIN.
    Received {
        /// The segment's flags.
        flags: TcpFlags,
        /// The segment acknowledges the FIN this endpoint sent.
        acks_own_fin: bool,
    },
}

/// One RFC 9293 transition for one endpoint. Pure: the tracker calls it for both ends of each segment.
pub fn transition(state: TcpState, event: EndpointEvent) -> TcpState {
    use EndpointEvent::{Received, Sent};
    use TcpState::*;
    match (state, event) {
        (_, Sent(f)) if f.rst => Closed,
        (_, Received { flags, .. }) if flags.rst => Closed,
        (Closed, Sent(f)) if f.syn && !f.ack => SynSent,
        (Listen, Received { flags, .. }) if flags.syn && !flags.ack => SynReceived,
        (SynSent, Received { flags, .. }) if flags.syn && flags.ack => Established,
        (SynSent, Received { flags, .. }) if flags.syn => SynReceived,
        (SynReceived, Received { flags, .. }) if flags.ack && !flags.syn => Established,
        (SynReceived, Sent(f)) if f.fin => FinWait1,
        (Established, Sent(f)) if f.fin => FinWait1,
        (Established, Received { flags, .. }) if flags.fin => CloseWait,
        (
            FinWait1,
            Received {
                flags,
                acks_own_fin,
            },
        ) if flags.fin && acks_own_fin => TimeWait,
        (FinWait1, Received { flags, .. }) if flags.fin => Closing,
        (FinWait1, Received { acks_own_fin, .. }) if acks_own_fin => FinWait2,
        (FinWait2, Received { flags, .. }) if flags.fin => TimeWait,
        (Closing, Received { acks_own_fin, .. }) if acks_own_fin => TimeWait,
        (CloseWait, Sent(f)) if f.fin => LastAck,
        (LastAck, Received { acks_own_fin, .. }) if acks_own_fin => Closed,
        (state, _) => state,
    }
}

/// The state of an endpoint that sends a FIN while its own ACK field shows it had not yet seen the
/// peer's: a simultaneous close, FIN-WAIT-1 → CLOSING rather than CLOSE-WAIT → LAST-ACK.
pub fn simultaneous_close(sent: TcpFlags) -> TcpState {
    let peer_fin = EndpointEvent::Received {
        flags: TcpFlags {
            fin: true,
            ..TcpFlags::default()
        },
        acks_own_fin: false,
    };
    transition(
        transition(TcpState::Established, EndpointEvent::Sent(sent)),
        peer_fin,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use EndpointEvent::{Received, Sent};
    use TcpState::*;

    fn flags(s: &str) -> TcpFlags {
        TcpFlags {
            syn: s.contains('S'),
            ack: s.contains('A'),
            fin: s.contains('F'),
            rst: s.contains('R'),
            psh: s.contains('P'),
        }
    }

    fn received(s: &str, acks_own_fin: bool) -> EndpointEvent {
        Received {
            flags: flags(s),
            acks_own_fin,
        }
    }

    #[test]
    fn handshake_moves_both_ends_to_established() {
        assert_eq!(transition(Closed, Sent(flags("S"))), SynSent);
        assert_eq!(transition(Listen, received("S", false)), SynReceived);
        assert_eq!(transition(SynSent, received("SA", false)), Established);
        assert_eq!(transition(SynReceived, received("A", false)), Established);
    }

    #[test]
    fn active_close_passes_fin_wait_to_time_wait() {
        let s = transition(Established, Sent(flags("FA")));
        assert_eq!(s, FinWait1);
        let s = transition(s, received("A", true));
        assert_eq!(s, FinWait2);
        assert_eq!(transition(s, received("FA", false)), TimeWait);
    }

    #[test]
    fn passive_close_passes_close_wait_and_last_ack() {
        let s = transition(Established, received("FA", false));
        assert_eq!(s, CloseWait);
        let s = transition(s, Sent(flags("FA")));
        assert_eq!(s, LastAck);
        assert_eq!(transition(s, received("A", true)), Closed);
    }

    #[test]
    fn crossing_fins_pass_closing() {
        assert_eq!(simultaneous_close(flags("FA")), Closing);
        assert_eq!(transition(Closing, received("A", true)), TimeWait);
    }

    #[test]
    fn reset_closes_from_any_state() {
        for state in [SynSent, Established, FinWait2, CloseWait, TimeWait] {
            assert_eq!(transition(state, Sent(flags("RA"))), Closed);
            assert_eq!(transition(state, received("R", false)), Closed);
        }
    }
}
