//! A recorded link, replayed: mahimahi's trace format. Each line is a time in milliseconds at which
//! the link can deliver one packet of up to an MTU's bytes (a delivery opportunity); several lines
//! with the same time are several opportunities in that millisecond. The trace repeats once its
//! last time is reached, so its last time is its period.

use std::path::Path;
use std::time::Duration;

/// A parsed trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// Opportunity times in ms from the start of each period, non-decreasing.
    opportunities_ms: Vec<u64>,
    /// The trace's period in ms: its last time.
    period_ms: u64,
    /// Where it came from, for the report.
    name: String,
}

impl Trace {
    /// Reads a trace file; a bad line is named by its number.
    pub fn read(path: &Path) -> Result<Trace, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the trace {}: {e}", path.display()))?;
        Trace::parse(&text, &path.display().to_string())
    }

    /// Parses trace text; `name` labels errors and the report.
    pub fn parse(text: &str, name: &str) -> Result<Trace, String> {
        let mut opportunities_ms = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let at: u64 = line.parse().map_err(|_| {
                format!(
                    "{name}, line {}: {line:?} is not a time in whole milliseconds (one per \
                     line, as mahimahi's traces)",
                    index + 1
                )
            })?;
            if opportunities_ms.last().is_some_and(|&last| at < last) {
                return Err(format!(
                    "{name}, line {}: {at} ms comes before the line above it; a trace's times \
                     never go back",
                    index + 1
                ));
            }
            opportunities_ms.push(at);
        }
        let Some(&period_ms) = opportunities_ms.last() else {
            return Err(format!(
                "{name} has no delivery opportunities: a trace is one time in ms per line"
            ));
        };
        if period_ms == 0 {
            return Err(format!(
                "{name} ends at 0 ms: its last time is the period it repeats with, so it must be \
                 later than 0"
            ));
        }
        Ok(Trace {
            opportunities_ms,
            period_ms,
            name: name.to_owned(),
        })
    }

    /// Where the trace came from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The period the trace repeats with.
    pub fn period(&self) -> Duration {
        Duration::from_millis(self.period_ms)
    }

    /// Opportunities in one period.
    pub fn opportunities_per_period(&self) -> usize {
        self.opportunities_ms.len()
    }

    /// The mean rate the trace offers with `mtu`-byte packets, in bits/s.
    pub fn mean_rate_bps(&self, mtu: u32) -> u64 {
        let bits = self.opportunities_ms.len() as u64 * u64::from(mtu) * 8;
        bits * 1000 / self.period_ms
    }

    /// Opportunities that fall in `[start_ms, end_ms)` since the link started: what a replay
    /// must deliver in that window when packets wait.
    pub fn count_between(&self, start_ms: u64, end_ms: u64) -> u64 {
        self.before(end_ms).saturating_sub(self.before(start_ms))
    }

    /// Opportunities strictly before `t_ms` since the link started. The last line of a period
    /// falls on the next period's start (mahimahi adds the period to the base after it).
    fn before(&self, t_ms: u64) -> u64 {
        let n = self.opportunities_ms.len() as u64;
        let cycles = t_ms / self.period_ms;
        let within = t_ms % self.period_ms;
        let in_cycle = self.opportunities_ms.partition_point(|&o| o < within) as u64;
        let mut index = cycles * n + in_cycle;
        if within == 0 && cycles > 0 {
            let at_end = self
                .opportunities_ms
                .iter()
                .rev()
                .take_while(|&&o| o == self.period_ms);
            index -= at_end.count() as u64;
        }
        index
    }

    /// The first opportunity at or after `at` (time since the link started), as
    /// (index over repeats, its time).
    pub fn next_at_or_after(&self, at: Duration) -> (u64, Duration) {
        let ms = u64::try_from(at.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX / 2);
        let index = self.before(ms);
        (index, self.time_of(index))
    }

    /// The time of opportunity `index` (over repeats) since the link started.
    pub fn time_of(&self, index: u64) -> Duration {
        let n = self.opportunities_ms.len() as u64;
        let cycles = index / n;
        let within = self.opportunities_ms[(index % n) as usize];
        // A time equal to the period is the next period's 0.
        Duration::from_millis(cycles * self.period_ms + within)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_lists_opportunities_and_repeats_with_its_last_time() {
        let trace = Trace::parse("1\n1\n3\n\n4\n", "t").unwrap();
        assert_eq!(trace.period(), Duration::from_millis(4));
        assert_eq!(trace.opportunities_per_period(), 4);
        // 4 opportunities of 1500 bytes every 4 ms: 12 Mbit/s.
        assert_eq!(trace.mean_rate_bps(1500), 12_000_000);
        assert_eq!(trace.time_of(0), Duration::from_millis(1));
        assert_eq!(trace.time_of(3), Duration::from_millis(4));
        assert_eq!(trace.time_of(4), Duration::from_millis(5));
        assert_eq!(trace.time_of(6), Duration::from_millis(7));
        assert_eq!(
            trace.next_at_or_after(Duration::from_micros(1500)),
            (2, Duration::from_millis(3))
        );
        assert_eq!(
            trace.next_at_or_after(Duration::from_millis(4)),
            (3, Duration::from_millis(4))
        );
        assert_eq!(
            trace.next_at_or_after(Duration::ZERO),
            (0, Duration::from_millis(1))
        );
        // [0, 8) holds 1, 1, 3, 4 and 5, 5, 7.
        assert_eq!(trace.count_between(0, 8), 7);
        assert_eq!(trace.count_between(4, 5), 1);
    }

    #[test]
    fn bad_traces_name_the_line_and_the_fix() {
        let error = Trace::parse("1\n2\nx3\n", "cell.up").unwrap_err();
        assert!(error.contains("cell.up, line 3"), "{error}");
        let error = Trace::parse("5\n4\n", "t").unwrap_err();
        assert!(error.contains("line 2"), "{error}");
        assert!(Trace::parse("", "t").unwrap_err().contains("no delivery"));
        assert!(
            Trace::parse("0\n0\n", "t")
                .unwrap_err()
                .contains("later than 0")
        );
        assert!(Trace::parse("-1\n", "t").is_err());
        assert!(Trace::parse("1.5\n", "t").is_err());
    }

    #[test]
    fn the_shipped_traces_read_and_offer_what_their_readme_says() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("traces");
        let read = |name: &str| Trace::read(&folder.join(name)).unwrap();
        assert_eq!(read("constant-12mbit").mean_rate_bps(1500), 12_000_000);
        let down = read("steps.down");
        assert_eq!(down.period(), Duration::from_millis(4000));
        // 500 ms each of 2, 1, 0.25, 1.5, 0.5, 2, 0.125 and 1 opportunities a millisecond: 4187
        // (the 0.125 step gives 62, not 62.5), each 12 000 bits, over 4 s.
        assert_eq!(down.opportunities_per_period(), 4187);
        assert_eq!(down.mean_rate_bps(1500), 4187 * 12_000 / 4);
        assert_eq!(down.count_between(1000, 1500), 125);
        let up = read("steps.up");
        assert_eq!(up.period(), Duration::from_millis(4000));
    }
}
