//! Report layer, sentences: what the server's TCP_INFO says under the slow-start table — its
//! marks, the resolution of its times, and when the receive window held the server back. Reads
//! `units`; must not import tables or the terminal report.

use crate::analysis::comparison::ResponseStats;
use crate::report::units::duration;
use crate::transfer::run::Mode;

/// The notes under the slow-start table: its marks (†, —, *) where a row has one, and the
/// resolution of its times.
pub fn slow_start_notes(stats: &[ResponseStats]) -> Vec<String> {
    let mut notes = Vec::new();
    let short: Vec<&ResponseStats> = stats.iter().filter(|s| s.sampled_short()).collect();
    if !short.is_empty() {
        notes.push(format!(
            "† sampled before every byte was acknowledged ({}): the window and times stop short \
             of the response's end, as for a response queued behind others",
            short
                .iter()
                .map(|s| format!(
                    "{} {} in {} of {}",
                    s.mode.name(),
                    s.file,
                    s.acked.1 - s.acked.0,
                    crate::words::counted(s.acked.1, "round", "rounds")
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if stats
        .iter()
        .any(|s| s.mode == Mode::Pipelined && s.rounds.is_none())
    {
        notes.push(
            "— pipelined responses follow each other in one stream in the capture: no rounds, \
             first flight or window of their own"
                .to_string(),
        );
    }
    if stats.iter().any(ResponseStats::rounds_ran_together) {
        notes.push(
            "* more segments in the first round than the congestion window allowed in one \
             flight: the capture could not tell the first rounds apart, so that response's \
             rounds are approximate"
                .to_string(),
        );
    }
    notes.push(
        "busy and limited times come from TCP_INFO, which counts them in whole ticks of the \
         kernel's clock (1 to 10 ms): each is good to a tick, and a shorter time can read 0"
            .to_string(),
    );
    notes
}

/// When the client's receive window held the server back, in words: which responses, for how
/// long, and how to lift it.
pub fn receive_window_line(stats: &[ResponseStats]) -> Option<String> {
    let limited: Vec<String> = stats
        .iter()
        .filter_map(|s| {
            let us = s.rwnd_limited_us.filter(|&us| us > 0)?;
            Some(format!(
                "{} {} for {} of {} busy",
                s.mode.name(),
                s.file,
                duration(us as f64 / 1e6),
                duration(s.busy_us.unwrap_or(0) as f64 / 1e6)
            ))
        })
        .collect();
    (!limited.is_empty()).then(|| {
        format!(
            "For part of the time the server was busy sending, the client's receive window, \
             not the congestion window, held it back (TCP_INFO rwnd_limited): {}. A larger \
             receive buffer lifts it: --rcvbuf 4MiB.",
            limited.join("; ")
        )
    })
}
