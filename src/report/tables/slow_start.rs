//! Report layer, tables: the server's TCP_INFO and the capture per mode and file — how the window
//! grew and what held it back. Must not import sentences or the terminal report.

use comfy_table::Table;

use super::cells::{glued, table};
use crate::analysis::comparison::ResponseStats;
use crate::report::units::{self, TimeUnit};

/// Per mode and file: the server's window as the response started and once acknowledged; the
/// first round's segments beside that window, the client's advertised window and the rounds, from
/// the capture; and how long the receive window or the send buffer held the server back
/// (TCP_INFO's limit counters).
pub fn slow_start_table(stats: &[ResponseStats]) -> Table {
    let mut t = table(&[
        "mode",
        "file",
        "cwnd → acked",
        "1st flight",
        "client rwnd",
        "rounds",
        "busy",
        "rwnd limited",
        "sndbuf limited",
    ]);
    let micros = |v: Option<u64>| v.map(|us| us as f64 / 1e6);
    let unit = TimeUnit::for_column(stats.iter().filter_map(|s| micros(s.busy_us)));
    let show = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |s| unit.format(s));
    let segments = |v: Option<u32>| v.map_or_else(|| "—".to_string(), |v| v.to_string());
    for s in stats {
        t.add_row(glued(vec![
            s.mode.name().to_string(),
            s.file.clone(),
            format!(
                "{} → {}{}",
                segments(s.cwnd_start),
                segments(s.cwnd_end),
                if s.sampled_short() { " †" } else { "" }
            ),
            format!(
                "{} / {}{}",
                segments(s.first_flight),
                segments(s.cwnd_start),
                if s.rounds_ran_together() { " *" } else { "" }
            ),
            s.client_window
                .map_or_else(|| "—".to_string(), |w| units::bytes(w as f64)),
            segments(s.rounds),
            show(micros(s.busy_us)),
            show(micros(s.rwnd_limited_us)),
            show(micros(s.sndbuf_limited_us)),
        ]));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::run::Mode;

    fn stats(mode: Mode, first_flight: Option<u32>, acked: (usize, usize)) -> ResponseStats {
        ResponseStats {
            mode,
            file: "b.mp3".into(),
            cwnd_start: Some(10),
            cwnd_end: Some(40),
            rounds: first_flight.map(|_| 6),
            first_flight,
            client_window: Some(63_488),
            busy_us: Some(120_000),
            rwnd_limited_us: Some(8_000),
            sndbuf_limited_us: Some(0),
            acked,
        }
    }

    #[test]
    fn the_slow_start_table_marks_rounds_run_together_and_windows_sampled_short() {
        let rows = [
            // A first round of 12 segments with a window of 10: two rounds run together.
            stats(Mode::NonPersistent, Some(12), (2, 2)),
            // Sampled before its last ACK in one of two rounds.
            stats(Mode::Pipelined, None, (1, 2)),
            stats(Mode::Persistent, Some(7), (2, 2)),
        ];
        let text = crate::report::width::fit(slow_start_table(&rows), None).to_string();
        let line = |mode: &str| {
            text.lines()
                .find(|l| l.contains(mode))
                .unwrap_or_else(|| panic!("{mode}: {text}"))
        };
        assert!(line("non-persistent").contains("12 / 10 *"), "{text}");
        assert!(!line("non-persistent").contains('†'), "{text}");
        assert!(line("pipelined").contains("10 → 40 †"), "{text}");
        let persistent = line("│ persistent");
        assert!(
            !persistent.contains('*') && !persistent.contains('†'),
            "{text}"
        );
    }
}
