//! The model of one direction of the link, as a pure function of arrival times: loss, a bounded
//! queue served at the link's rate or by a recorded trace's delivery opportunities, optionally
//! managed by CoDel, then a delay line. No I/O and no clock of its own, so the same packets with
//! the same seed always get the same fate.
//!
//! A packet that arrives at `t` with `len` bytes:
//! 1. is lost as the direction's loss model draws ([`super::loss`]: uniform, or Gilbert-Elliott
//!    bursts), before anything else;
//! 2. is dropped at the tail when the queue ([`super::queue::QueueLimit`]) already holds its limit
//!    of packets or bytes waiting for or being sent (only with a rate or a trace; without either,
//!    sending takes no time and nothing queues);
//! 3. reaches the head when the packet ahead has gone, `max(t, previous end)`; CoDel, when it
//!    manages the queue, may drop it there, judging by how long it waited;
//! 4. is sent: at a rate it takes `len × 8 / rate` (the IP packet's bytes, no link-layer
//!    overhead); on a trace it goes in the next delivery opportunities, each carrying up to an
//!    MTU's bytes of queued packets (a packet may span two, as in mahimahi), and leaves with the
//!    opportunity that carries its last byte;
//! 5. is released after the one-way delay plus jitter drawn uniformly from `[-jitter, +jitter]`
//!    (as netem does without a distribution table), never before it was sent;
//! 6. unless `reorder` is set, is never released before the packet ahead of it: its release time is
//!    `max(its own, the previous packet's)`, so jitter widens gaps but keeps the order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::loss::Losses;
use super::queue::{Aqm, Codel, QueueLimit};
use super::trace::Trace;
use super::{DirectionStats, LinkConfig};

/// Which way a packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Client namespace → server namespace (the uplink).
    ToServer,
    /// Server namespace → client namespace (the downlink).
    ToClient,
}

impl Way {
    /// The generator stream of this direction, so each direction's draws depend only on its own
    /// packets, not on how the two directions interleave.
    fn stream(self) -> u64 {
        match self {
            Way::ToServer => 0,
            Way::ToClient => 1,
        }
    }
}

/// What happens to one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Dropped by the loss model.
    Lost,
    /// Dropped at the tail of a full queue.
    QueueDropped,
    /// Dropped at the head by CoDel.
    AqmDropped,
    /// Delivered to the other side at this time.
    Release(Instant),
}

/// What takes packets off the queue.
#[derive(Debug)]
enum Sender {
    /// Nothing limits the rate: packets leave as they arrive.
    Unlimited,
    /// A fixed rate in bits/s.
    Rate(u64),
    /// A recorded trace's delivery opportunities.
    Trace(TraceSender),
}

/// Where a trace replay stands.
#[derive(Debug)]
struct TraceSender {
    trace: Arc<Trace>,
    /// Time zero of the trace: when the link started.
    origin: Instant,
    /// Bytes one opportunity carries: the MTU.
    per_opportunity: u64,
    /// The opportunity that carried the previous packet's last byte, and the bytes it had left.
    partial: Option<(u64, u64)>,
    /// The first opportunity not yet used (nor wasted on an empty queue).
    next: u64,
}

impl TraceSender {
    /// When a `len`-byte packet at the head from `head_at` has gone.
    fn send(&mut self, head_at: Instant, len: usize) -> Instant {
        let since = head_at.saturating_duration_since(self.origin);
        let mut remaining = len as u64;
        let mut last = None;
        if let Some((index, left)) = self.partial.take()
            && self.trace.time_of(index) >= since
            && left > 0
        {
            let used = left.min(remaining);
            remaining -= used;
            self.partial = Some((index, left - used));
            last = Some(index);
        }
        if remaining > 0 {
            let mut index = self.next.max(self.trace.next_at_or_after(since).0);
            loop {
                let used = self.per_opportunity.min(remaining);
                remaining -= used;
                if remaining == 0 {
                    self.partial = Some((index, self.per_opportunity - used));
                    last = Some(index);
                    break;
                }
                index += 1;
            }
        }
        let last = last.unwrap_or(self.next);
        self.next = self.next.max(last + 1);
        self.origin + self.trace.time_of(last)
    }
}

/// A packet in the queue: when it has gone, and its size.
#[derive(Debug, Clone, Copy)]
struct Queued {
    gone: Instant,
    len: usize,
}

/// One direction of the link; feed it packets in arrival order.
#[derive(Debug)]
pub struct DirectionModel {
    delay: Duration,
    jitter: Duration,
    losses: Losses,
    sender: Sender,
    limit: QueueLimit,
    codel: Option<Codel>,
    reorder: bool,
    rng: ChaCha8Rng,
    /// Packets waiting for or being sent, oldest first.
    backlog: VecDeque<Queued>,
    backlog_bytes: usize,
    last_release: Option<Instant>,
    stats: DirectionStats,
}

impl DirectionModel {
    /// The model of direction `way` of a link configured by `config` that started at `origin`
    /// (time zero of a trace); the two one-way delays add up to the RTT exactly.
    pub fn new(config: &LinkConfig, way: Way, origin: Instant) -> DirectionModel {
        let half = config.rtt / 2;
        let (delay, direction) = match way {
            Way::ToServer => (half, &config.up),
            Way::ToClient => (config.rtt - half, &config.down),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(way.stream());
        let sender = match (&direction.trace, direction.rate_bps.filter(|&r| r > 0)) {
            (Some(trace), _) => Sender::Trace(TraceSender {
                trace: Arc::clone(trace),
                origin,
                per_opportunity: u64::from(config.mtu),
                partial: None,
                next: 0,
            }),
            (None, Some(rate)) => Sender::Rate(rate),
            (None, None) => Sender::Unlimited,
        };
        DirectionModel {
            delay,
            jitter: config.jitter,
            losses: Losses::new(direction.loss),
            sender,
            limit: config.queue,
            codel: (config.aqm == Aqm::Codel).then(|| Codel::new(config.mtu as usize)),
            reorder: config.reorder,
            rng,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            last_release: None,
            stats: DirectionStats::default(),
        }
    }

    /// Decides the fate of a `len`-byte packet that arrived at `arrival`. Arrivals must not go
    /// backwards.
    pub fn admit(&mut self, arrival: Instant, len: usize) -> Verdict {
        if self.losses.lose(&mut self.rng) {
            self.stats.lost = self.losses.lost();
            self.stats.loss_bursts = self.losses.bursts();
            return Verdict::Lost;
        }
        let sent = match self.queue(arrival, len) {
            Ok(sent) => sent,
            Err(verdict) => return verdict,
        };
        let mut release = sent + self.delay;
        if !self.jitter.is_zero() {
            let jitter_ns = i64::try_from(self.jitter.as_nanos()).unwrap_or(i64::MAX);
            let offset = self.rng.random_range(-jitter_ns..=jitter_ns);
            let magnitude = Duration::from_nanos(offset.unsigned_abs());
            release = if offset >= 0 {
                release + magnitude
            } else {
                // A negative draw shortens the delay, but a packet never leaves before it was sent.
                release.checked_sub(magnitude).unwrap_or(sent).max(sent)
            };
        }
        if !self.reorder
            && let Some(previous) = self.last_release
        {
            release = release.max(previous);
        }
        self.last_release = Some(release);
        self.stats.forwarded += 1;
        self.stats.bytes += len as u64;
        Verdict::Release(release)
    }

    /// Queues a packet and returns when it has been sent, or why it was dropped.
    fn queue(&mut self, arrival: Instant, len: usize) -> Result<Instant, Verdict> {
        if matches!(self.sender, Sender::Unlimited) {
            return Ok(arrival);
        }
        self.drain(arrival);
        if !self
            .limit
            .admits(self.backlog.len(), self.backlog_bytes, len)
        {
            self.stats.queue_dropped += 1;
            return Err(Verdict::QueueDropped);
        }
        let head_at = self
            .backlog
            .back()
            .map_or(arrival, |ahead| ahead.gone.max(arrival));
        if let Some(codel) = &mut self.codel {
            // The bytes ahead of it as it arrived stand for the queue CoDel sees: those behind
            // it are not known yet.
            let queued = self.backlog_bytes + len;
            if codel.drops(head_at, head_at - arrival, queued) {
                self.stats.aqm_dropped += 1;
                return Err(Verdict::AqmDropped);
            }
        }
        let gone = match &mut self.sender {
            Sender::Unlimited => arrival,
            Sender::Rate(rate) => head_at + serialisation_time(len, *rate),
            Sender::Trace(trace) => trace.send(head_at, len),
        };
        self.backlog.push_back(Queued { gone, len });
        self.backlog_bytes += len;
        Ok(gone)
    }

    fn drain(&mut self, now: Instant) {
        while let Some(head) = self.backlog.front().copied()
            && head.gone <= now
        {
            self.backlog.pop_front();
            self.backlog_bytes -= head.len;
        }
    }

    /// Counts so far: `forwarded` here means accepted for delivery.
    pub fn stats(&self) -> DirectionStats {
        self.stats
    }

    /// Packets waiting for or being sent at `now`.
    pub fn queued(&mut self, now: Instant) -> usize {
        self.drain(now);
        self.backlog.len()
    }
}

/// Time to put `len` bytes on a link of `rate` bits/s, rounded up to the nanosecond.
pub fn serialisation_time(len: usize, rate_bps: u64) -> Duration {
    let bits = len as u128 * 8;
    let nanos = (bits * 1_000_000_000).div_ceil(u128::from(rate_bps.max(1)));
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulate::{DirectionConfig, LossModel};

    fn config() -> LinkConfig {
        LinkConfig {
            rtt: Duration::from_millis(20),
            ..LinkConfig::default()
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// `config` with `set` applied to both directions.
    fn both_ways(mut config: LinkConfig, set: impl Fn(&mut DirectionConfig)) -> LinkConfig {
        set(&mut config.down);
        set(&mut config.up);
        config
    }

    fn releases(model: &mut DirectionModel, arrivals: &[(Instant, usize)]) -> Vec<Verdict> {
        arrivals
            .iter()
            .map(|&(at, len)| model.admit(at, len))
            .collect()
    }

    // Delay

    #[test]
    fn the_two_one_way_delays_add_up_to_the_rtt() {
        let config = LinkConfig {
            rtt: Duration::from_nanos(20_000_001),
            ..LinkConfig::default()
        };
        let t0 = Instant::now();
        let there = DirectionModel::new(&config, Way::ToServer, Instant::now()).admit(t0, 60);
        let back = DirectionModel::new(&config, Way::ToClient, Instant::now()).admit(t0, 60);
        let (Verdict::Release(a), Verdict::Release(b)) = (there, back) else {
            panic!("no loss configured")
        };
        assert_eq!((a - t0) + (b - t0), config.rtt);
    }

    #[test]
    fn without_jitter_or_rate_each_packet_waits_exactly_the_one_way_delay() {
        let mut model = DirectionModel::new(&config(), Way::ToServer, Instant::now());
        let t0 = Instant::now();
        for k in 0..5 {
            let at = t0 + Duration::from_micros(k * 7);
            assert_eq!(model.admit(at, 1500), Verdict::Release(at + ms(10)));
        }
    }

    // Jitter and order

    #[test]
    fn jitter_never_reorders_a_direction_unless_asked() {
        let config = LinkConfig {
            jitter: ms(5),
            seed: 7,
            ..config()
        };
        let t0 = Instant::now();
        let arrivals: Vec<(Instant, usize)> = (0..2000)
            .map(|k| (t0 + Duration::from_micros(k * 50), 1500))
            .collect();
        let ordered = releases(
            &mut DirectionModel::new(&config, Way::ToClient, Instant::now()),
            &arrivals,
        );
        let times: Vec<Instant> = ordered
            .iter()
            .map(|v| match v {
                Verdict::Release(at) => *at,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "reordered");
        // Every packet waits at least the delay minus the jitter and no more than plus it, bar the
        // catch-up behind a slower predecessor.
        for (&(at, _), &release) in arrivals.iter().zip(&times) {
            assert!(release >= at + ms(5), "{:?}", release - at);
        }

        let shuffled = releases(
            &mut DirectionModel::new(
                &LinkConfig {
                    reorder: true,
                    ..config.clone()
                },
                Way::ToClient,
                Instant::now(),
            ),
            &arrivals,
        );
        let times: Vec<Instant> = shuffled
            .iter()
            .map(|v| match v {
                Verdict::Release(at) => *at,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(
            times.windows(2).any(|w| w[0] > w[1]),
            "with reorder, 5 ms of jitter on 50 µs spacing reorders"
        );
        for (&(at, _), &release) in arrivals.iter().zip(&times) {
            let delay = release - at;
            assert!(delay >= ms(5) && delay <= ms(15), "{delay:?}");
        }
    }

    #[test]
    fn jitter_draws_spread_over_the_whole_window() {
        let config = LinkConfig {
            jitter: ms(2),
            reorder: true,
            seed: 3,
            ..config()
        };
        let mut model = DirectionModel::new(&config, Way::ToServer, Instant::now());
        let t0 = Instant::now();
        let delays: Vec<Duration> = (0..1000)
            .map(|_| match model.admit(t0, 100) {
                Verdict::Release(at) => at - t0,
                other => panic!("{other:?}"),
            })
            .collect();
        let min = delays.iter().min().copied().unwrap_or_default();
        let max = delays.iter().max().copied().unwrap_or_default();
        assert!(
            min >= ms(8) && min < ms(8) + Duration::from_micros(100),
            "{min:?}"
        );
        assert!(
            max <= ms(12) && max > ms(12) - Duration::from_micros(100),
            "{max:?}"
        );
    }

    // Rate and queue

    #[test]
    fn serialisation_time_is_bits_over_rate_rounded_up() {
        assert_eq!(
            serialisation_time(1500, 12_000_000),
            Duration::from_millis(1)
        );
        assert_eq!(
            serialisation_time(1250, 10_000_000),
            Duration::from_millis(1)
        );
        assert_eq!(
            serialisation_time(1, 3),
            Duration::from_nanos(2_666_666_667)
        );
        assert_eq!(
            serialisation_time(65_000, 1_000_000_000),
            Duration::from_micros(520)
        );
    }

    #[test]
    fn a_burst_leaves_back_to_back_at_the_link_rate() {
        let config = both_ways(config(), |d| d.rate_bps = Some(12_000_000));
        let mut model = DirectionModel::new(&config, Way::ToServer, Instant::now());
        let t0 = Instant::now();
        // Four 1500-byte packets at once: each takes 1 ms on a 12 Mbit/s link.
        for k in 1..=4 {
            assert_eq!(model.admit(t0, 1500), Verdict::Release(t0 + ms(k) + ms(10)));
        }
        // One arriving after the link went idle starts at once.
        let later = t0 + ms(100);
        assert_eq!(model.admit(later, 1500), Verdict::Release(later + ms(11)));
    }

    #[test]
    fn a_full_queue_drops_at_the_tail_and_counts_it() {
        let config = LinkConfig {
            queue: QueueLimit::Packets(3),
            ..both_ways(config(), |d| d.rate_bps = Some(12_000_000))
        };
        let mut model = DirectionModel::new(&config, Way::ToServer, Instant::now());
        let t0 = Instant::now();
        let burst = vec![(t0, 1500); 5];
        let verdicts = releases(&mut model, &burst);
        assert_eq!(
            verdicts,
            [
                Verdict::Release(t0 + ms(11)),
                Verdict::Release(t0 + ms(12)),
                Verdict::Release(t0 + ms(13)),
                Verdict::QueueDropped,
                Verdict::QueueDropped,
            ]
        );
        assert_eq!(model.queued(t0), 3);
        // Once the first has been serialised there is room for one more, behind the others.
        let at = t0 + ms(1);
        assert_eq!(model.queued(at), 2);
        assert_eq!(model.admit(at, 1500), Verdict::Release(t0 + ms(14)));
        let stats = model.stats();
        assert_eq!(
            (stats.forwarded, stats.queue_dropped, stats.lost),
            (4, 2, 0)
        );
    }

    // Loss

    fn lost_pattern(seed: u64, way: Way) -> Vec<bool> {
        let config = LinkConfig {
            seed,
            ..both_ways(config(), |d| {
                d.loss = LossModel::Uniform { probability: 0.1 }
            })
        };
        let mut model = DirectionModel::new(&config, way, Instant::now());
        let t0 = Instant::now();
        (0..5000)
            .map(|k| model.admit(t0 + Duration::from_micros(k), 1500) == Verdict::Lost)
            .collect()
    }

    #[test]
    fn the_same_seed_loses_the_same_packets() {
        let first = lost_pattern(42, Way::ToServer);
        assert_eq!(first, lost_pattern(42, Way::ToServer));
        let lost = first.iter().filter(|&&l| l).count();
        // 10% of 5000, give or take a few standard deviations (σ ≈ 21).
        assert!((400..=600).contains(&lost), "{lost}");
        assert_ne!(first, lost_pattern(43, Way::ToServer));
        assert_ne!(first, lost_pattern(42, Way::ToClient));
    }

    #[test]
    fn no_loss_means_no_draws_and_full_loss_drops_everything() {
        let t0 = Instant::now();
        let mut none = DirectionModel::new(&config(), Way::ToServer, Instant::now());
        let mut all = DirectionModel::new(
            &both_ways(LinkConfig::default(), |d| {
                d.loss = LossModel::Uniform { probability: 1.0 }
            }),
            Way::ToServer,
            Instant::now(),
        );
        for _ in 0..100 {
            assert!(matches!(none.admit(t0, 40), Verdict::Release(_)));
            assert_eq!(all.admit(t0, 40), Verdict::Lost);
        }
        assert_eq!(all.stats().lost, 100);
        assert_eq!(none.stats().bytes, 4000);
    }

    // Each direction its own

    #[test]
    fn each_direction_serialises_at_its_own_rate() {
        let config = LinkConfig {
            down: DirectionConfig {
                rate_bps: Some(12_000_000),
                ..DirectionConfig::default()
            },
            up: DirectionConfig {
                rate_bps: Some(1_200_000),
                ..DirectionConfig::default()
            },
            ..config()
        };
        let t0 = Instant::now();
        let down = DirectionModel::new(&config, Way::ToClient, t0).admit(t0, 1500);
        let up = DirectionModel::new(&config, Way::ToServer, t0).admit(t0, 1500);
        assert_eq!(down, Verdict::Release(t0 + ms(1) + ms(10)));
        assert_eq!(up, Verdict::Release(t0 + ms(10) + ms(10)));
    }

    #[test]
    fn a_byte_limited_queue_drops_what_would_overflow_it() {
        let config = LinkConfig {
            queue: QueueLimit::Bytes(4000),
            ..both_ways(config(), |d| d.rate_bps = Some(12_000_000))
        };
        let mut model = DirectionModel::new(&config, Way::ToServer, Instant::now());
        let t0 = Instant::now();
        let verdicts = releases(&mut model, &[(t0, 1500), (t0, 1500), (t0, 1500), (t0, 900)]);
        assert_eq!(verdicts[2], Verdict::QueueDropped);
        assert_eq!(
            verdicts[3],
            Verdict::Release(t0 + ms(10) + ms(2) + Duration::from_micros(600))
        );
    }

    // Traces

    #[test]
    fn a_trace_sends_an_mtu_per_opportunity_and_wastes_what_an_empty_queue_leaves() {
        // Opportunities at 1, 1, 3 and 4 ms, repeating every 4 ms.
        let trace = Arc::new(Trace::parse("1\n1\n3\n4\n", "t").unwrap());
        let config = LinkConfig {
            rtt: Duration::ZERO,
            down: DirectionConfig {
                trace: Some(trace),
                ..DirectionConfig::default()
            },
            ..LinkConfig::default()
        };
        let t0 = Instant::now();
        let mut model = DirectionModel::new(&config, Way::ToClient, t0);
        let at = |us: u64| t0 + Duration::from_micros(us);
        let verdicts = releases(
            &mut model,
            &[
                // Four full packets at once: both 1 ms opportunities, then 3 and 4 ms.
                (at(0), 1500),
                (at(0), 1500),
                (at(0), 1500),
                (at(0), 1500),
                // Two halves share the 5 ms opportunity.
                (at(4500), 750),
                (at(4500), 750),
                // A 2000-byte packet spans the second 5 ms opportunity and 7 ms.
                (at(4500), 2000),
                // Arrives after 8 ms: the 1000 bytes left at 7 ms are gone, and so is 8 ms.
                (at(8200), 100),
            ],
        );
        let expect: Vec<Verdict> = [1, 1, 3, 4, 5, 5, 7, 9]
            .iter()
            .map(|&m| Verdict::Release(t0 + ms(m)))
            .collect();
        assert_eq!(verdicts, expect);
    }

    #[test]
    fn a_saturated_trace_delivers_its_opportunities_per_window() {
        let text: String = (1..=100).map(|k| format!("{}\n", k * 3 / 2)).collect();
        let trace = Arc::new(Trace::parse(&text, "t").unwrap());
        let config = LinkConfig {
            up: DirectionConfig {
                trace: Some(Arc::clone(&trace)),
                ..DirectionConfig::default()
            },
            queue: QueueLimit::Packets(100_000),
            ..LinkConfig::default()
        };
        let t0 = Instant::now();
        let mut model = DirectionModel::new(&config, Way::ToServer, t0);
        let mut per_window = [0u64; 10];
        for _ in 0..5000 {
            if let Verdict::Release(at) = model.admit(t0, 1500) {
                let window = ((at - t0).as_millis() / 100) as usize;
                if window < per_window.len() {
                    per_window[window] += 1;
                }
            }
        }
        for (k, &got) in per_window.iter().enumerate() {
            let offered = trace.count_between(k as u64 * 100, (k as u64 + 1) * 100);
            assert_eq!(got, offered, "window {k}");
        }
    }

    // CoDel

    #[test]
    fn codel_keeps_a_flood_queue_a_fraction_of_what_tail_drop_lets_it_grow_to() {
        // Arrivals at 1.2 times a 12 Mbit/s link's rate for 24 s, from a sender that never backs
        // off: the mean wait in the queue over the last 6 s. CoDel's drop rate grows with the
        // square root of its drops and restarts lower after each drained queue, so against a
        // flood it saws between its target and a few hundred ms (a TCP sender, which backs off
        // at each drop, is held near the target: tests/emulated_link.rs).
        let standing = |aqm: Aqm| {
            let config = LinkConfig {
                aqm,
                ..both_ways(config(), |d| d.rate_bps = Some(12_000_000))
            };
            let t0 = Instant::now();
            let mut model = DirectionModel::new(&config, Way::ToClient, t0);
            let mut waits = Vec::new();
            for k in 0..28_800u64 {
                let at = t0 + Duration::from_nanos(k * 833_333);
                if let Verdict::Release(release) = model.admit(at, 1500)
                    && k >= 21_600
                {
                    waits.push((release - at - ms(10)).as_secs_f64());
                }
            }
            waits.iter().sum::<f64>() / waits.len() as f64
        };
        let tail = standing(Aqm::TailDrop);
        let codel = standing(Aqm::Codel);
        // Tail drop: the 1000-packet queue fills and holds a second of delay.
        assert!(tail > 0.9, "{tail}");
        assert!(codel < tail / 5.0, "{codel} against {tail}");
        assert!(
            codel > 0.005,
            "a flood keeps the queue above CoDel's target: {codel}"
        );
    }
}
