//! Report layer, sentences: the verdict — the opening lines of a comparison and one sentence per
//! mode on its gap against persistent, with the causes that hold most of it. Reads `units` and
//! `labels`; must not import tables or the terminal report.

use std::fmt::Write as _;

use crate::analysis::attribution::{Attribution, Row};
use crate::analysis::comparison::Comparison;
use crate::analysis::head_of_line::ModeHold;
use crate::analysis::phases::PhaseSource;
use crate::report::labels;
use crate::report::units::{TimeUnit, count, duration};
use crate::transfer::run::Mode;

/// Below this measured round trip the network is not what the comparison shows.
const LOOPBACK_RTT_S: f64 = 0.001;

/// A cause is named in the sentence when it holds at least this share of the gap.
const NAMED_SHARE: f64 = 0.1;

/// The opening lines: on loopback, that round trips are microseconds; then one sentence per mode
/// compared with persistent.
pub fn opening(cmp: &Comparison) -> Vec<String> {
    let mut lines = Vec::new();
    let rtt = cmp.measured_rtt_s();
    // Not over an emulated link (its loss or rate is the network after all); where segments
    // were resent, their waits are named beside the copying.
    if cmp.link.is_none() && rtt < LOOPBACK_RTT_S {
        let resent = cmp.resent();
        let why = if resent == 0 {
            "so the modes differ by system calls and copying, not by the network".to_string()
        } else {
            format!(
                "so the modes differ by system calls and copying, and by the waits of {} sent \
                 again (retransmissions and out-of-order, as Wireshark marks them)",
                crate::words::counted(resent, "segment", "segments")
            )
        };
        lines.push(format!(
            "Round trips here take microseconds (median handshake {}), {why}: add --rtt 40ms to \
             emulate a real path.",
            duration(rtt)
        ));
    }
    for (mode, a) in cmp.attributions() {
        let slower_mean = cmp.mode(mode).map_or(0.0, |m| m.total_summary().mean);
        lines.push(verdict(mode, &a, slower_mean, rtt, cmp.rounds));
    }
    if let Some((tcp, quic)) = cmp.congestion_differs() {
        // quinn has these three of the kernel's controllers.
        let both = if matches!(tcp, "cubic" | "reno" | "bbr") {
            tcp
        } else {
            "cubic, reno or bbr"
        };
        lines.push(format!(
            "h3's QUIC connections ran quinn's {quic} and the TCP connections {tcp}: their \
             transfers were not under the same congestion control (--congestion {both} sets \
             both)."
        ));
    }
    for m in &cmp.modes {
        if let Some(line) =
            ModeHold::of(m).and_then(|h| super::head_of_line::hold_verdict(m.mode.name(), &h))
        {
            lines.push(line);
        }
    }
    lines
}

/// One plain sentence on the gap between `mode` and persistent: how large, how sure, and the
/// causes that hold most of it, each with the count that backs it.
pub fn verdict(mode: Mode, a: &Attribution, slower_mean: f64, rtt_s: f64, rounds: usize) -> String {
    let Some(interval) = a.interval else {
        let unit = TimeUnit::of(a.gap_s);
        return format!(
            "{} against persistent: {} per run over one round, which cannot tell a difference \
             from noise (use --rounds 2 or more).",
            mode.name(),
            unit.format_signed(a.gap_s)
        );
    };
    let unit = TimeUnit::of(
        a.gap_s
            .abs()
            .max(interval.low.abs())
            .max(interval.high.abs()),
    );
    let ci = format!(
        "{:.0} % CI {} … {}",
        100.0 * interval.level,
        unit.format_signed(interval.low),
        unit.format_signed(interval.high)
    );
    if !interval.excludes_zero() {
        return format!(
            "{} against persistent: no difference distinguishable from noise at {rounds} rounds \
             ({ci}).",
            mode.name()
        );
    }
    let (faster, slower, share_of) = if a.gap_s > 0.0 {
        (Mode::Persistent, mode, slower_mean)
    } else {
        (mode, Mode::Persistent, slower_mean - a.gap_s)
    };
    // The interval of the difference the sentence states (slower − faster), so it reads with
    // the same sign whichever mode was faster.
    let ci = if a.gap_s > 0.0 {
        ci
    } else {
        format!(
            "{:.0} % CI {} … {}",
            100.0 * interval.level,
            unit.format_signed(-interval.high),
            unit.format_signed(-interval.low)
        )
    };
    let percent = if share_of > 0.0 {
        format!(" ({:.0} %)", 100.0 * a.gap_s.abs() / share_of)
    } else {
        String::new()
    };
    let mut sentence = format!(
        "{} was {}{percent} faster per run than {} ({ci})",
        faster.name(),
        unit.format(a.gap_s.abs()),
        slower.name()
    );
    let is_cause =
        |s: f64| s.signum() == a.gap_s.signum() && s.abs() >= NAMED_SHARE * a.gap_s.abs();
    // The transfer's two rows split one phase: either is named only when the transfer as a
    // whole differs in the gap's direction (extra rounds offset by a shorter rest did not make
    // the slower mode slower).
    let transfer_is_cause = is_cause(a.transfer_s);
    let mut causes: Vec<(Row, f64)> = a
        .rows()
        .into_iter()
        .filter(|&(row, s)| {
            let transfer_row = matches!(row, Row::SlowStartRounds | Row::TransferRest);
            row != Row::Remainder && is_cause(s) && (!transfer_row || transfer_is_cause)
        })
        .collect();
    causes.sort_by(|x, y| y.1.abs().total_cmp(&x.1.abs()));
    let named: Vec<String> = causes
        .iter()
        .map(|&(row, s)| cause(mode, row, s, a, rtt_s, rounds))
        .collect();
    if !named.is_empty() {
        let _ = write!(sentence, ": {}", named.join(", "));
    }
    sentence.push('.');
    sentence
}

/// "2 extra handshakes", "1 fewer connection": a difference in count, worded.
fn how_many(difference: f64, thing: &str) -> String {
    let n = difference.abs();
    format!(
        "{} {} {thing}{}",
        count(n),
        if difference >= 0.0 { "extra" } else { "fewer" },
        if n == 1.0 { "" } else { "s" }
    )
}

fn cause(mode: Mode, row: Row, seconds: f64, a: &Attribution, rtt_s: f64, rounds: usize) -> String {
    let time = duration(seconds.abs());
    match row {
        Row::Handshakes => {
            // Each handshake's mean share beside the median round trip: the two differ where
            // handshakes waited for a resent SYN or SYN-ACK, or jitter stretched them. Parallel
            // handshakes overlap, so the phase holds no one handshake's time.
            let each = if a.extra_connections.abs() >= 0.5 && mode != Mode::Parallel {
                format!(
                    "{} each; median RTT {}",
                    duration(seconds.abs() / a.extra_connections.abs()),
                    duration(rtt_s)
                )
            } else {
                format!("median RTT {}", duration(rtt_s))
            };
            // The resends counted are the compared mode's: told when it is the slower one.
            let resent = match a.handshake_resends {
                Some(n) if n > 0 && a.gap_s > 0.0 => format!(
                    "; {} resent in {}",
                    crate::words::counted(n, "SYN or SYN-ACK", "SYNs or SYN-ACKs"),
                    crate::words::counted(rounds, "run", "runs")
                ),
                _ => String::new(),
            };
            format!(
                "{time} in {} ({each}{resent})",
                how_many(a.extra_connections, "handshake")
            )
        }
        // Rounds counted by packet timing are slow start's, and where segments were resent,
        // also recovery's: the sentence says which the run shows.
        Row::SlowStartRounds => match a.resent {
            Some(n) if n > 0 && a.gap_s > 0.0 => format!(
                "{time} in {} (slow start, and recovery from {} resent in {})",
                how_many(a.extra_rounds.unwrap_or(0.0), "round"),
                crate::words::counted(n, "segment", "segments"),
                crate::words::counted(rounds, "run", "runs")
            ),
            _ => format!(
                "{time} in {}",
                how_many(a.extra_rounds.unwrap_or(0.0), "slow-start round")
            ),
        },
        // As many connections on each side, one speaking TLS where the other does not (h2
        // against persistent over TCP): the handshakes, not the connections, differ.
        Row::TlsHandshakes if a.extra_connections.abs() < 0.5 => {
            let (with, without) = (a.openings, a.baseline_openings);
            format!(
                "{time} in {} per run ({} against {})",
                how_many(with.tls - without.tls, "TLS handshake"),
                labels::round_trips(with.tls_round_trips),
                labels::round_trips(without.tls_round_trips)
            )
        }
        Row::TlsHandshakes => format!(
            "{time} in the TLS handshakes of {}",
            how_many(a.extra_connections, "connection")
        ),
        Row::QuicHandshakes => {
            let (tcp, quic) = labels::tcp_and_quic(a);
            let plural = |n: f64| if count(n) == "1" { "" } else { "s" };
            let tcp_side = if tcp.tls > 0.0 {
                format!(
                    "{} TCP and {} TLS handshake{}",
                    count(tcp.tcp),
                    count(tcp.tls),
                    plural(tcp.tls)
                )
            } else {
                format!("{} TCP handshake{}", count(tcp.tcp), plural(tcp.tcp))
            };
            let zero_rtt = if quic.zero_rtt > 0.0 {
                format!(", {} of them 0-RTT", count(quic.zero_rtt))
            } else {
                String::new()
            };
            format!(
                "{time} in {} ({tcp_side} → {} QUIC handshake{}{zero_rtt}; median RTT {})",
                labels::attribution_row_label(row, a, PhaseSource::Client),
                count(quic.quic),
                plural(quic.quic),
                duration(rtt_s)
            )
        }
        Row::ClosingAndReconnecting => format!("{time} closing and reconnecting between files"),
        Row::TransferRest => format!("{time} of transfer beyond its round trips"),
        Row::RequestWait => format!("{time} waiting for first bytes"),
        Row::ClientWork => format!("{time} in the client's own work"),
        Row::Remainder => format!("{time} outside the captured timeline"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::analysis::attribution::Openings;
    use crate::analysis::stats::Interval;

    fn attribution(gap_s: f64, low: f64, high: f64) -> Attribution {
        Attribution {
            gap_s,
            interval: Some(Interval {
                estimate: gap_s,
                low,
                high,
                level: 0.95,
            }),
            handshake_s: 0.080,
            extra_connections: 2.0,
            tls_s: None,
            between_s: 0.001,
            transfer_s: 0.080,
            slow_start_s: Some(0.080),
            extra_rounds: Some(2.0),
            transfer_rest_s: 0.0,
            wait_s: 0.002,
            client_s: 0.0,
            remainder_s: gap_s - 0.163,
            handshake_resends: Some(0),
            resent: Some(0),
            ..Attribution::default()
        }
    }

    /// A gap all in the handshakes (TLS's phase holding it), between runs that opened with
    /// `openings` and `baseline`.
    fn in_handshakes(gap_s: f64, openings: Openings, baseline: Openings) -> Attribution {
        Attribution {
            handshake_s: 0.0,
            tls_s: Some(gap_s),
            extra_connections: 0.0,
            transfer_s: 0.0,
            slow_start_s: None,
            extra_rounds: None,
            remainder_s: 0.0,
            between_s: 0.0,
            wait_s: 0.0,
            openings,
            baseline_openings: baseline,
            ..attribution(gap_s, gap_s - 0.005, gap_s + 0.005)
        }
    }

    const TCP: Openings = Openings {
        tcp: 1.0,
        tcp_round_trips: 1.0,
        tls: 0.0,
        tls_round_trips: 0.0,
        quic: 0.0,
        zero_rtt: 0.0,
    };

    #[test]
    fn http2s_tls_against_a_persistent_that_speaks_none_is_told_per_run() {
        let tls = Openings {
            tls: 1.0,
            tls_round_trips: 1.0,
            ..TCP
        };
        let s = verdict(Mode::H2, &in_handshakes(0.041, tls, TCP), 0.2, 0.040, 10);
        assert!(
            s.ends_with(
                ": 41.0 ms in 1 extra TLS handshake per run (1 round trip against 0 round trips)."
            ),
            "{s}"
        );
    }

    #[test]
    fn quic_against_tcp_and_tls_says_the_round_trips_each_took_and_the_handshakes_behind_them() {
        // h3 against persistent over TLS 1.3, 40 ms faster: one QUIC handshake a run where
        // persistent made a TCP and a TLS one.
        let quic = Openings {
            quic: 1.0,
            ..Openings::default()
        };
        let tls = Openings {
            tls: 1.0,
            tls_round_trips: 1.0,
            ..TCP
        };
        let s = verdict(Mode::H3, &in_handshakes(-0.040, quic, tls), 0.2, 0.040, 10);
        assert!(
            s.ends_with(
                ": 40.0 ms in TCP and TLS handshakes: 2 round trips → QUIC's 1 per run (1 TCP and \
                 1 TLS handshake → 1 QUIC handshake; median RTT 40.0 ms)."
            ),
            "{s}"
        );
    }

    #[test]
    fn a_clear_gap_is_told_with_its_interval_and_its_counted_causes() {
        let a = attribution(0.164, 0.158, 0.170);
        let s = verdict(Mode::NonPersistent, &a, 0.674, 0.040, 10);
        assert_eq!(
            s,
            "persistent was 164 ms (24 %) faster per run than non-persistent (95 % CI +158 ms … \
             +170 ms): 80.0 ms in 2 extra handshakes (40.0 ms each; median RTT 40.0 ms), 80.0 ms \
             in 2 extra slow-start rounds."
        );
    }

    #[test]
    fn handshakes_that_waited_for_resent_syns_are_not_told_as_round_trips() {
        // Two extra handshakes took 325 ms where the round trip is 10.1 ms: three SYN-ACKs
        // resent over the runs hold the rest, and the sentence counts them.
        let a = Attribution {
            handshake_s: 0.325,
            remainder_s: 0.330 - 0.325 - 0.001 - 0.080 - 0.002,
            handshake_resends: Some(3),
            ..attribution(0.330, 0.010, 0.650)
        };
        let s = verdict(Mode::NonPersistent, &a, 1.0, 0.0101, 10);
        assert!(
            s.contains(
                "325 ms in 2 extra handshakes (162 ms each; median RTT 10.1 ms; 3 SYNs or \
                 SYN-ACKs resent in 10 runs)"
            ),
            "{s}"
        );
    }

    #[test]
    fn extra_rounds_where_segments_were_resent_are_not_all_told_as_slow_start() {
        let a = Attribution {
            resent: Some(14),
            ..attribution(0.164, 0.158, 0.170)
        };
        let s = verdict(Mode::NonPersistent, &a, 0.674, 0.040, 6);
        assert!(
            s.contains(
                "80.0 ms in 2 extra rounds (slow start, and recovery from 14 segments resent in \
                 6 runs)"
            ),
            "{s}"
        );
        assert!(!s.contains("slow-start rounds"), "{s}");
    }

    #[test]
    fn extra_rounds_that_a_shorter_transfer_offsets_are_not_a_cause() {
        // Over a rate-limited link: 2.4 more packet-timed rounds, but the transfer as a whole
        // took no longer; the gap is the handshakes'.
        let a = Attribution {
            handshake_s: 0.042,
            transfer_s: 0.0002,
            slow_start_s: Some(0.0485),
            extra_rounds: Some(2.4),
            transfer_rest_s: 0.0002 - 0.0485,
            remainder_s: 0.044 - 0.042 - 0.001 - 0.0002 - 0.002,
            ..attribution(0.044, 0.030, 0.058)
        };
        let s = verdict(Mode::NonPersistent, &a, 3.7, 0.020, 10);
        assert!(s.contains("in 2 extra handshakes"), "{s}");
        assert!(!s.contains("slow-start"), "{s}");
        assert!(!s.contains("transfer"), "{s}");
    }

    #[test]
    fn a_faster_mode_states_its_interval_with_the_same_sign_as_persistent_would() {
        // Pipelined 49 ms faster than persistent: mode − persistent runs −97.6 … −0.49 ms.
        let a = Attribution {
            handshake_s: 0.0,
            extra_connections: 0.0,
            transfer_s: -0.049,
            slow_start_s: Some(-0.049),
            extra_rounds: Some(-1.0),
            remainder_s: -0.049 - 0.001 - 0.002 + 0.049,
            ..attribution(-0.049, -0.0976, -0.00049)
        };
        let s = verdict(Mode::Pipelined, &a, 0.5, 0.049, 10);
        assert!(
            s.starts_with(
                "pipelined was 49.0 ms (9 %) faster per run than persistent (95 % CI +0.49 ms … \
                 +97.6 ms)"
            ),
            "{s}"
        );
    }

    #[test]
    fn a_gap_within_noise_says_so() {
        let a = attribution(0.0003, -0.0004, 0.0011);
        let s = verdict(Mode::NonPersistent, &a, 0.009, 0.00001, 10);
        assert_eq!(
            s,
            "non-persistent against persistent: no difference distinguishable from noise at 10 \
             rounds (95 % CI −0.40 ms … +1.10 ms)."
        );
    }
}
