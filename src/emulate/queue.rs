//! The bottleneck's queue: how much it holds (packets or bytes, dropping at the tail beyond) and
//! what manages it: nothing (tail drop alone), or CoDel (RFC 8289), which drops at the head once
//! packets have waited longer than a target for a whole interval.

use std::time::{Duration, Instant};

/// How much the queue holds before it drops arrivals at the tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueLimit {
    /// At most this many packets waiting or being sent.
    Packets(usize),
    /// At most this many bytes (IP packets' lengths) waiting or being sent.
    Bytes(usize),
}

impl Default for QueueLimit {
    /// 1000 packets: Linux's default txqueuelen, a deep buffer.
    fn default() -> QueueLimit {
        QueueLimit::Packets(1000)
    }
}

impl QueueLimit {
    /// Whether a packet of `len` bytes fits behind `packets` packets of `bytes` bytes.
    pub fn admits(&self, packets: usize, bytes: usize, len: usize) -> bool {
        match *self {
            QueueLimit::Packets(limit) => packets < limit,
            // An empty queue takes any packet, or a byte limit below the MTU would stop the link.
            QueueLimit::Bytes(limit) => packets == 0 || bytes + len <= limit,
        }
    }

    /// How the limit reads on the command line: `1000` or `150KiB`.
    pub fn as_option(&self) -> String {
        match *self {
            QueueLimit::Packets(n) => n.to_string(),
            QueueLimit::Bytes(n) if n % 1024 == 0 => format!("{}KiB", n / 1024),
            QueueLimit::Bytes(n) => format!("{n}B"),
        }
    }
}

/// Parses `--queue`: a count of packets (`1000`, `64p`) or a size (`150KiB`, `1MiB`, `64000B`).
pub fn parse_queue(text: &str) -> Result<QueueLimit, String> {
    let text = text.trim();
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    match unit.to_ascii_lowercase().as_str() {
        "" | "p" | "packets" => {
            let n: usize = digits
                .parse()
                .map_err(|_| format!("{text:?} is not a number of packets (e.g. 1000)"))?;
            if !(1..=1_000_000).contains(&n) {
                return Err(format!("{text:?}: a queue holds 1 … 1000000 packets"));
            }
            Ok(QueueLimit::Packets(n))
        }
        "b" => {
            let n: usize = digits
                .parse()
                .map_err(|_| format!("{text:?} is not a number of bytes"))?;
            if !(1500..=1 << 30).contains(&n) {
                return Err(format!("{text:?}: a queue holds 1500 B … 1 GiB"));
            }
            Ok(QueueLimit::Bytes(n))
        }
        _ => super::parse::parse_bytes(text)
            .map(QueueLimit::Bytes)
            .map_err(|e| format!("{e}; or give packets, e.g. --queue 1000")),
    }
}

/// What manages the queue.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Aqm {
    /// Packets wait until the queue is full, then arrivals are dropped.
    #[default]
    TailDrop,
    /// CoDel (RFC 8289) with its recommended target 5 ms and interval 100 ms.
    Codel,
}

/// CoDel's target: the standing delay it allows (RFC 8289 §4.4).
pub const CODEL_TARGET: Duration = Duration::from_millis(5);

/// CoDel's interval: how long the delay must stay above target before it drops (§4.3).
pub const CODEL_INTERVAL: Duration = Duration::from_millis(100);

/// CoDel's state (RFC 8289 §5), fed each packet as it reaches the head of the queue.
///
/// The RFC's dequeue drops the head and looks at the next packet within one call; here each
/// packet is decided as it reaches the head, at the same instant, which gives the same drops.
#[derive(Debug, Clone)]
pub struct Codel {
    target: Duration,
    interval: Duration,
    mtu: usize,
    first_above_time: Option<Instant>,
    drop_next: Option<Instant>,
    count: u32,
    last_count: u32,
    dropping: bool,
}

impl Codel {
    /// CoDel with the RFC's target and interval; `mtu` is its MAXPACKET.
    pub fn new(mtu: usize) -> Codel {
        Codel {
            target: CODEL_TARGET,
            interval: CODEL_INTERVAL,
            mtu,
            first_above_time: None,
            drop_next: None,
            count: 0,
            last_count: 0,
            dropping: false,
        }
    }

    /// The RFC's `dodequeue`'s verdict on the head packet: whether its sojourn has been above
    /// target for an interval. `backlog_bytes` are the bytes queued behind it, itself included.
    fn ok_to_drop(&mut self, now: Instant, sojourn: Duration, backlog_bytes: usize) -> bool {
        if sojourn < self.target || backlog_bytes <= self.mtu {
            self.first_above_time = None;
            return false;
        }
        match self.first_above_time {
            None => {
                self.first_above_time = Some(now + self.interval);
                false
            }
            Some(above) => now >= above,
        }
    }

    fn control_law(&self, t: Instant) -> Instant {
        t + self.interval.div_f64(f64::from(self.count.max(1)).sqrt())
    }

    /// Whether the packet at the head at `now`, queued `sojourn` ago, is dropped.
    pub fn drops(&mut self, now: Instant, sojourn: Duration, backlog_bytes: usize) -> bool {
        let ok = self.ok_to_drop(now, sojourn, backlog_bytes);
        if self.dropping {
            if !ok {
                self.dropping = false;
                return false;
            }
            let due = self.drop_next.is_none_or(|next| now >= next);
            if due {
                self.count += 1;
                let next = self.drop_next.unwrap_or(now);
                self.drop_next = Some(self.control_law(next));
            }
            return due;
        }
        if !ok {
            return false;
        }
        self.dropping = true;
        // Re-entering soon after the last dropping state resumes its rate (§5.5).
        let delta = self.count.saturating_sub(self.last_count);
        let recent = self
            .drop_next
            .is_some_and(|next| now.saturating_duration_since(next) < 16 * self.interval);
        self.count = if delta > 1 && recent { delta } else { 1 };
        self.drop_next = Some(self.control_law(now));
        self.last_count = self.count;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_limits_in_packets_or_bytes() {
        assert_eq!(parse_queue("1000"), Ok(QueueLimit::Packets(1000)));
        assert_eq!(parse_queue("64p"), Ok(QueueLimit::Packets(64)));
        assert_eq!(parse_queue("150KiB"), Ok(QueueLimit::Bytes(150 * 1024)));
        assert_eq!(parse_queue("64000B"), Ok(QueueLimit::Bytes(64_000)));
        assert_eq!(parse_queue("1MiB"), Ok(QueueLimit::Bytes(1 << 20)));
        for bad in ["0", "-3", "many", "10 parsecs", "100B", "2000000"] {
            assert!(parse_queue(bad).is_err(), "{bad:?}");
        }
        assert_eq!(QueueLimit::Bytes(150 * 1024).as_option(), "150KiB");
        let bytes = QueueLimit::Bytes(3000);
        assert!(bytes.admits(0, 0, 9000), "an empty queue takes any packet");
        assert!(bytes.admits(1, 1500, 1500));
        assert!(!bytes.admits(2, 3000, 40));
    }

    #[test]
    fn codel_leaves_a_short_standing_delay_alone() {
        let mut codel = Codel::new(1500);
        let t0 = Instant::now();
        for k in 0..10_000u64 {
            let now = t0 + Duration::from_micros(k * 100);
            assert!(!codel.drops(now, Duration::from_millis(4), 30_000));
        }
    }

    #[test]
    fn codel_drops_after_an_interval_above_target_then_ever_faster() {
        let mut codel = Codel::new(1500);
        let t0 = Instant::now();
        let mut drops = Vec::new();
        // A standing 20 ms of delay, a packet every millisecond, for 1 s.
        for k in 0..1000u64 {
            let now = t0 + Duration::from_millis(k);
            if codel.drops(now, Duration::from_millis(20), 30_000) {
                drops.push(k);
            }
        }
        // First above target at 0 ms, so the first drop comes once 100 ms have passed.
        assert_eq!(drops.first(), Some(&100));
        // The next after a whole interval (count 1), then each 100/√count ms after the last
        // scheduled time: 200, 270.7, 328.4 ms, seen at the first packet on or after each.
        assert_eq!(&drops[1..4], &[200, 271, 329]);
        let gaps: Vec<u64> = drops.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.windows(2).all(|g| g[1] <= g[0]), "{gaps:?}");
    }

    #[test]
    fn codel_stops_dropping_once_the_delay_falls_below_target() {
        let mut codel = Codel::new(1500);
        let t0 = Instant::now();
        let ms = |k: u64| t0 + Duration::from_millis(k);
        assert!(!codel.drops(ms(0), Duration::from_millis(20), 30_000));
        assert!(codel.drops(ms(100), Duration::from_millis(20), 30_000));
        assert!(!codel.drops(ms(101), Duration::from_millis(1), 30_000));
        // Above target again: a fresh interval must pass first.
        assert!(!codel.drops(ms(150), Duration::from_millis(20), 30_000));
        assert!(!codel.drops(ms(249), Duration::from_millis(20), 30_000));
        assert!(codel.drops(ms(250), Duration::from_millis(20), 30_000));
    }
}
