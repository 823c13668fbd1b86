//! The model of one direction of the link, as a pure function of arrival times: random loss, a
//! tail-drop queue served at the link rate, then a delay line. No I/O and no clock of its own, so
//! the same packets with the same seed always get the same fate.
//!
//! A packet that arrives at `t` with `len` bytes:
//! 1. is lost with probability `loss` (one Bernoulli draw per packet, before anything else);
//! 2. is dropped at the tail when `queue_packets` packets are still waiting for or being
//!    serialised (only with a rate; without one, serialisation takes no time and nothing queues);
//! 3. starts serialising when the previous packet has finished, `max(t, previous end)`, and takes
//!    `len × 8 / rate` (the IP packet's bytes, no link-layer overhead);
//! 4. is released after the one-way delay plus jitter drawn uniformly from `[-jitter, +jitter]`
//!    (as netem does without a distribution table), never before it finished serialising;
//! 5. unless `reorder` is set, is never released before the packet ahead of it: its release time is
//!    `max(its own, the previous packet's)`, so jitter widens gaps but keeps the order.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand::RngExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{DirectionStats, LinkConfig};

/// Which way a packet travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// Client namespace → server namespace.
    ToServer,
    /// Server namespace → client namespace.
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
    /// Dropped by the random loss.
    Lost,
    /// Dropped at the tail of a full queue.
    QueueDropped,
    /// Delivered to the other side at this time.
    Release(Instant),
}

/// One direction of the link; feed it packets in arrival order.
#[derive(Debug)]
pub struct DirectionModel {
    delay: Duration,
    jitter: Duration,
    loss: f64,
    rate_bps: Option<u64>,
    queue_packets: usize,
    reorder: bool,
    rng: ChaCha8Rng,
    /// When each packet still in the serialisation queue finishes, oldest first.
    backlog: VecDeque<Instant>,
    last_release: Option<Instant>,
    stats: DirectionStats,
}

impl DirectionModel {
    /// The model of direction `way` of a link configured by `config`; the two one-way delays add
    /// up to the RTT exactly.
    pub fn new(config: &LinkConfig, way: Way) -> DirectionModel {
        let half = config.rtt / 2;
        let delay = match way {
            Way::ToServer => half,
            Way::ToClient => config.rtt - half,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(way.stream());
        DirectionModel {
            delay,
            jitter: config.jitter,
            loss: config.loss,
            rate_bps: config.rate_bps.filter(|&r| r > 0),
            // A queue of 0 would refuse every packet while the link is busy, even the first.
            queue_packets: config.queue_packets.max(1),
            reorder: config.reorder,
            rng,
            backlog: VecDeque::new(),
            last_release: None,
            stats: DirectionStats::default(),
        }
    }

    /// Decides the fate of a `len`-byte packet that arrived at `arrival`. Arrivals must not go
    /// backwards.
    pub fn admit(&mut self, arrival: Instant, len: usize) -> Verdict {
        if self.loss > 0.0 && self.rng.random_bool(self.loss.min(1.0)) {
            self.stats.lost += 1;
            return Verdict::Lost;
        }
        let serialised = match self.rate_bps {
            None => arrival,
            Some(rate) => {
                while self.backlog.front().is_some_and(|&end| end <= arrival) {
                    self.backlog.pop_front();
                }
                if self.backlog.len() >= self.queue_packets {
                    self.stats.queue_dropped += 1;
                    return Verdict::QueueDropped;
                }
                let start = self.backlog.back().map_or(arrival, |&end| end.max(arrival));
                let end = start + serialisation_time(len, rate);
                self.backlog.push_back(end);
                end
            }
        };
        let mut release = serialised + self.delay;
        if !self.jitter.is_zero() {
            let jitter_ns = i64::try_from(self.jitter.as_nanos()).unwrap_or(i64::MAX);
            let offset = self.rng.random_range(-jitter_ns..=jitter_ns);
            let magnitude = Duration::from_nanos(offset.unsigned_abs());
            release = if offset >= 0 {
                release + magnitude
            } else {
                // A negative draw shortens the delay, but a packet never leaves before it was sent.
                release
                    .checked_sub(magnitude)
                    .unwrap_or(serialised)
                    .max(serialised)
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

    /// Counts so far: `forwarded` here means accepted for delivery.
    pub fn stats(&self) -> DirectionStats {
        self.stats
    }

    /// Packets waiting for or being serialised at `now`.
    pub fn queued(&mut self, now: Instant) -> usize {
        while self.backlog.front().is_some_and(|&end| end <= now) {
            self.backlog.pop_front();
        }
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

    fn config() -> LinkConfig {
        LinkConfig {
            rtt: Duration::from_millis(20),
            ..LinkConfig::default()
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
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
        let there = DirectionModel::new(&config, Way::ToServer).admit(t0, 60);
        let back = DirectionModel::new(&config, Way::ToClient).admit(t0, 60);
        let (Verdict::Release(a), Verdict::Release(b)) = (there, back) else {
            panic!("no loss configured")
        };
        assert_eq!((a - t0) + (b - t0), config.rtt);
    }

    #[test]
    fn without_jitter_or_rate_each_packet_waits_exactly_the_one_way_delay() {
        let mut model = DirectionModel::new(&config(), Way::ToServer);
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
        let ordered = releases(&mut DirectionModel::new(&config, Way::ToClient), &arrivals);
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
        let mut model = DirectionModel::new(&config, Way::ToServer);
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
        let config = LinkConfig {
            rate_bps: Some(12_000_000),
            ..config()
        };
        let mut model = DirectionModel::new(&config, Way::ToServer);
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
            rate_bps: Some(12_000_000),
            queue_packets: 3,
            ..config()
        };
        let mut model = DirectionModel::new(&config, Way::ToServer);
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
            loss: 0.1,
            seed,
            ..config()
        };
        let mut model = DirectionModel::new(&config, way);
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
        let mut none = DirectionModel::new(&config(), Way::ToServer);
        let mut all = DirectionModel::new(
            &LinkConfig {
                loss: 1.0,
                ..config()
            },
            Way::ToServer,
        );
        for _ in 0..100 {
            assert!(matches!(none.admit(t0, 40), Verdict::Release(_)));
            assert_eq!(all.admit(t0, 40), Verdict::Lost);
        }
        assert_eq!(all.stats().lost, 100);
        assert_eq!(none.stats().bytes, 4000);
    }
}
