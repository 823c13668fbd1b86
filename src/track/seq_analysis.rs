//! Track layer: Wireshark's TCP sequence analysis (`tcp_analyze_sequence_number` in
//! epan/dissectors/packet-tcp.c), so that retransmissions, out-of-order segments, lost segments
//! and duplicate ACKs are counted as tshark's `tcp.analysis.*` fields count them.
//!
//! Works on `Segment` alone; must not import `pcap`, `etherparse`, analysis or report code.

use super::seq::SeqNumber;
use super::side::Side;
use crate::capture::segment::Segment;
use crate::timeline::Ts;

/// Wireshark's out-of-order threshold when the handshake's round trip is unknown.
const DEFAULT_OUT_OF_ORDER_NS: i64 = 3_000_000;

/// How soon after the duplicate ACKs a resend must come to be a fast retransmission.
const FAST_RETRANSMISSION_NS: i64 = 20_000_000;

/// Wireshark's sequence analysis of one connection: what it remembers of each direction, and its
/// initial round trip (the out-of-order threshold).
#[derive(Debug, Clone, Copy, Default)]
pub struct SeqAnalysis {
    client: SeqAnalysisHalf,
    server: SeqAnalysisHalf,
    /// The latest SYN without ACK from either side (`ts_mru_syn`).
    latest_syn: Option<Ts>,
    /// The latest SYN → the first segment with ACK and without SYN (`ts_first_rtt`).
    initial_rtt: Option<i64>,
}

impl SeqAnalysis {
    /// What Wireshark marks on `seg`, sent by `from`, the connection's next segment.
    pub fn analyze(&mut self, from: Side, seg: &Segment) -> SeqVerdict {
        let (fwd, rev) = match from {
            Side::Client => (&mut self.client, &mut self.server),
            Side::Server => (&mut self.server, &mut self.client),
        };
        let verdict = analyze(fwd, rev, seg, self.initial_rtt);
        let f = seg.flags;
        if f.syn && !f.ack {
            self.latest_syn = Some(seg.ts);
        } else if f.ack && !f.syn && self.initial_rtt.is_none() {
            self.initial_rtt = self.latest_syn.map(|syn| seg.ts.0.saturating_sub(syn.0));
        }
        verdict
    }
}

/// What Wireshark remembers of one direction: the fields of its `tcp_analyze_seq_info` and the
/// flow's window, with its conventions (an unset ACK or window is 0).
#[derive(Debug, Clone, Copy, Default)]
struct SeqAnalysisHalf {
    /// One past the highest sequence number seen (`nextseq`).
    next_seq: Option<SeqNumber>,
    /// When `next_seq` last moved (`nextseqtime`): the highest sequence number's time.
    next_seq_ts: Ts,
    /// The highest sequence number seen without a hole below it (`maxseqtobeacked`).
    max_seq_to_be_acked: Option<SeqNumber>,
    /// The ACK field of this direction's last segment, ACK flag or not (`lastack`).
    last_ack: SeqNumber,
    /// When that segment was seen (`lastacktime`).
    last_ack_ts: Ts,
    /// The window field of this direction's last segment.
    window: u16,
    /// Duplicate ACKs in a row (`dupacknum`); -1 after an ACK of a segment the capture missed.
    dup_acks: i32,
    /// The last segment was a keep-alive or a zero window probe (`lastsegmentflags`), whose ACKs
    /// are not duplicates.
    last_was_probe: Probe,
}

/// A segment that probes rather than sends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Probe {
    #[default]
    None,
    KeepAlive,
    ZeroWindow,
}

/// What Wireshark marks on one segment (the `tcp.analysis.*` fields synack counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqVerdict {
    /// `tcp.analysis.retransmission`: set for fast and spurious retransmissions too.
    pub retransmission: bool,
    /// `tcp.analysis.fast_retransmission`.
    pub fast_retransmission: bool,
    /// `tcp.analysis.spurious_retransmission`.
    pub spurious_retransmission: bool,
    /// `tcp.analysis.out_of_order`.
    pub out_of_order: bool,
    /// `tcp.analysis.lost_segment`: the segment starts beyond the highest seen ("previous
    /// segment not captured").
    pub lost_segment: bool,
    /// `tcp.analysis.duplicate_ack`.
    pub duplicate_ack: bool,
    /// `tcp.analysis.keep_alive`: at most a byte, one before the next sequence number.
    pub keep_alive: bool,
    /// `tcp.analysis.zero_window_probe`: one new byte sent into the peer's zero window.
    pub zero_window_probe: bool,
    /// `tcp.analysis.zero_window`: the sender advertises a window of 0 (no SYN, FIN or RST).
    pub zero_window: bool,
}

/// Analyses `seg`, sent in the direction `fwd` describes; `rev` is the other direction.
/// `handshake_rtt_ns` is Wireshark's initial RTT (latest SYN → first ACK without SYN), the
/// out-of-order threshold. Follows Wireshark's order of checks, including where it skips ahead.
fn analyze(
    fwd: &mut SeqAnalysisHalf,
    rev: &mut SeqAnalysisHalf,
    seg: &Segment,
    handshake_rtt_ns: Option<i64>,
) -> SeqVerdict {
    let mut verdict = SeqVerdict::default();
    let f = seg.flags;
    let seq = SeqNumber(seg.seq);
    let ack = SeqNumber(seg.ack);
    let len = seg.payload_len;
    let at_next = fwd.next_seq == Some(seq);
    let control = f.syn || f.fin || f.rst;

    let zero_window_probe = len == 1 && at_next && rev.window == 0;
    let mut probe = Probe::None;
    if zero_window_probe {
        probe = Probe::ZeroWindow;
    } else {
        verdict.lost_segment = !f.rst && fwd.next_seq.is_some_and(|next| seq > next);
        if len <= 1 && !control && fwd.next_seq.is_some_and(|next| seq == next - 1) {
            probe = Probe::KeepAlive;
        }
        let repeats =
            len == 0 && !control && seg.window == fwd.window && at_next && ack == fwd.last_ack;
        let answers_probe = match rev.last_was_probe {
            Probe::KeepAlive => seg.window != 0,
            Probe::ZeroWindow => seg.window == 0,
            Probe::None => false,
        };
        if repeats && !answers_probe && seg.window != 0 {
            fwd.dup_acks = if fwd.dup_acks == -1 {
                1
            } else {
                fwd.dup_acks + 1
            };
            verdict.duplicate_ack = true;
        }
    }
    verdict.keep_alive = probe == Probe::KeepAlive;
    verdict.zero_window_probe = probe == Probe::ZeroWindow;
    // Wireshark goes past its zero-window check for a zero window probe.
    verdict.zero_window = seg.window == 0 && !control && probe != Probe::ZeroWindow;
    if ack != fwd.last_ack {
        fwd.dup_acks = 0;
    }
    note_acked_unseen(rev, ack, f.ack);
    if len > 0 || f.syn || f.fin {
        classify_resend(&mut verdict, fwd, rev, seg, probe, handshake_rtt_ns);
    }
    remember(fwd, seg, probe);
    verdict
}

/// An ACK beyond what the capture saw of the other direction: Wireshark resets that direction's
/// duplicate-ACK count so the same missing segment is reported once.
fn note_acked_unseen(rev: &mut SeqAnalysisHalf, ack: SeqNumber, ack_flag: bool) {
    let Some(max) = rev.max_seq_to_be_acked else {
        return;
    };
    if !ack_flag || ack <= max {
        return;
    }
    match rev.next_seq {
        // Wireshark compares these two as plain integers.
        Some(next) if max.0 > next.0 => rev.max_seq_to_be_acked = Some(next),
        _ => rev.dup_acks = -1,
    }
}

/// Retransmission (spurious, fast or plain) or out-of-order, for a segment that occupies sequence
/// space.
fn classify_resend(
    verdict: &mut SeqVerdict,
    fwd: &SeqAnalysisHalf,
    rev: &SeqAnalysisHalf,
    seg: &Segment,
    probe: Probe,
    handshake_rtt_ns: Option<i64>,
) {
    if probe == Probe::KeepAlive {
        return;
    }
    let f = seg.flags;
    let seq = SeqNumber(seg.seq);
    let len = seg.payload_len;
    // A segment starting one byte early that carries more than a byte follows a zero window probe:
    // it advances.
    let not_advanced = fwd.next_seq.is_some_and(|next| seq < next)
        && !(len > 1 && fwd.next_seq.is_some_and(|next| next - 1 == seq));
    if len > 0 && rev.last_ack.0 != 0 && seq + len <= rev.last_ack {
        verdict.spurious_retransmission = true;
        verdict.retransmission = true;
        return;
    }
    let since_rev_ack = seg.ts.0.saturating_sub(rev.last_ack_ts.0);
    if not_advanced
        && rev.dup_acks >= 2
        && rev.last_ack == seq
        && since_rev_ack < FAST_RETRANSMISSION_NS
    {
        verdict.fast_retransmission = true;
        verdict.retransmission = true;
        return;
    }
    let since_highest = seg.ts.0.saturating_sub(fwd.next_seq_ts.0);
    let threshold = handshake_rtt_ns
        .filter(|&rtt| rtt != 0)
        .unwrap_or(DEFAULT_OUT_OF_ORDER_NS);
    let end = seq + len + u32::from(f.syn || f.fin);
    if not_advanced && since_highest < threshold && fwd.next_seq != Some(end) {
        verdict.out_of_order = true;
        return;
    }
    verdict.retransmission = not_advanced;
}

/// Moves the direction's highest sequence number and remembers its ACK and window.
fn remember(fwd: &mut SeqAnalysisHalf, seg: &Segment, probe: Probe) {
    let f = seg.flags;
    let seq = SeqNumber(seg.seq);
    let end = seq + seg.payload_len + u32::from(f.syn || f.fin);
    let zero_window_probe = probe == Probe::ZeroWindow;
    if !zero_window_probe && fwd.next_seq.is_none_or(|next| end > next) {
        fwd.next_seq = Some(end);
        fwd.next_seq_ts = seg.ts;
    }
    if !zero_window_probe && fwd.max_seq_to_be_acked.is_none_or(|max| max == seq) {
        fwd.max_seq_to_be_acked = fwd.next_seq;
    }
    fwd.window = seg.window;
    fwd.last_ack = SeqNumber(seg.ack);
    fwd.last_ack_ts = seg.ts;
    fwd.last_was_probe = probe;
}
