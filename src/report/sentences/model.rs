//! Report layer, sentences: the model in words — the model table's heading (the path it assumes)
//! and, per mode, where the measurement differs from it. Reads `units`; must not import tables or
//! the terminal report.

use std::fmt::Write as _;

use crate::analysis::comparison::{Comparison, FlightLimit};
use crate::analysis::model::{Effect, ModelGap, PathModel, QUIC_DATAGRAM, Release};
use crate::report::units::{self, TimeUnit, count, duration};
use crate::transfer::run::Mode;

/// Where a mode's measurement differs from the model, effect by effect (they add up).
pub fn model_difference(mode: Mode, gap: &ModelGap) -> String {
    let unit = TimeUnit::of(gap.measured_s - gap.predicted_s);
    let parts: Vec<String> = gap
        .effects
        .iter()
        // An effect of under a microsecond (none measured) is left unsaid; the rest always shows.
        .filter(|e| e.seconds().abs() >= 1e-6 || matches!(e, Effect::Rest { .. }))
        .map(|e| {
            let t = unit.format_signed(e.seconds());
            match *e {
                Effect::Handshakes { .. } => format!("{t} handshakes beyond the RTT"),
                Effect::TlsHandshakes { .. } => {
                    format!("{t} TLS handshakes beyond their round trips")
                }
                Effect::ServerTime { .. } => format!("{t} server time (request → first byte)"),
                Effect::Rounds {
                    rounds,
                    receive_window_limited_s,
                    ..
                } => {
                    let noun = if (rounds.abs() - 1.0).abs() < 0.05 {
                        "round"
                    } else {
                        "rounds"
                    };
                    let mut s =
                        format!("{t} in {} {noun} beyond the model's", count_signed(rounds));
                    if let Some(limited) = receive_window_limited_s {
                        let _ = write!(
                            s,
                            " (the receive window held the server back {} per run)",
                            duration(limited)
                        );
                    }
                    s
                }
                Effect::RoundSpacing { .. } if e.seconds() < 0.0 => {
                    format!("{t} rounds spaced closer than the model's")
                }
                Effect::RoundSpacing { .. } => {
                    format!("{t} rounds spaced further apart than the model's")
                }
                Effect::LastRound { .. } => {
                    format!("{t} spread of each response's last round beyond the model's")
                }
                Effect::Client { .. } => format!("{t} the client's own work and closing"),
                Effect::Rest { .. } => format!("{t} the rest"),
            }
        })
        .collect();
    format!(
        "  {}: {} = {}",
        mode.name(),
        unit.format_signed(gap.measured_s - gap.predicted_s),
        parts.join(", ")
    )
}

fn count_signed(v: f64) -> String {
    let text = count(v.abs());
    if v < 0.0 {
        format!("−{text}")
    } else {
        format!("+{text}")
    }
}

/// The model table's heading: the path it assumes, and where that comes from.
pub fn model_heading(cmp: &Comparison) -> String {
    let path = cmp.path_model();
    let held = match cmp.first_flight_limit(&path) {
        Some(FlightLimit::LinkRate { bytes_per_rtt }) => format!(
            ": the link carries {} a round trip",
            units::bytes(bytes_per_rtt as f64)
        ),
        Some(FlightLimit::ReceiveWindow { bytes }) => format!(
            ": the client advertised a receive window of {}",
            units::bytes(bytes as f64)
        ),
        None => String::new(),
    };
    // h3's sender is QUIC's, on datagrams of its own.
    let quic = cmp.mode(Mode::H3).map_or(String::new(), |_| {
        let h3 = cmp.path_for(Mode::H3);
        format!(
            "; h3's QUIC: an initial window of {} of {} bytes, {} of them response, each flight \
             sent at once",
            crate::words::counted(h3.initial_window, "datagram", "datagrams"),
            QUIC_DATAGRAM,
            h3.mss
        )
    });
    format!(
        "The model (RTT {} {}, {}initial window {} of {} bytes{}; {}{quic}), and where each \
         measurement differs from it",
        duration(path.rtt_s),
        if cmp.configured_rtt_s().is_some() {
            "configured"
        } else {
            "measured: median handshake"
        },
        path.rate_bps.map_or(String::new(), |r| format!(
            "rate {} Mbit/s, ",
            r as f64 / 1e6
        )),
        crate::words::counted(path.initial_window, "segment", "segments"),
        path.mss,
        if path.initial_window < path.congestion_window {
            format!(
                " as captured in the first round trip, below the sender's congestion window of \
                 {}{held}",
                path.congestion_window
            )
        } else {
            String::new()
        },
        sender_words(&path),
    )
}

/// How the model's sender sends, as the heading says it.
fn sender_words(path: &PathModel) -> String {
    let release = match path.release {
        Release::BbrStartup => {
            "the server's BBR paces each round at 2/ln 2 times the rate it measured, its window \
             growing by each segment acknowledged"
        }
        Release::Burst => {
            "each round's flight leaves at once, the window growing by each segment acknowledged"
        }
    };
    let idle = if path.restart_after_idle {
        "kept across a keep-alive connection's pauses, which are shorter than its retransmission timeout"
    } else {
        "kept across a keep-alive connection's pauses (tcp_slow_start_after_idle=0)"
    };
    format!("{release}, {idle}")
}
