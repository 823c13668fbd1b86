//! Link-emulation layer: an emulated network path between two anonymous network namespaces, as
//! mahimahi builds one. Must not import capture, analysis or report code; commands may use it.
//!
//! Each namespace holds one TUN device with a point-to-point address (client 10.47.0.2, server
//! 10.47.0.1, `ip addr add … peer …` style, /32) and its own `lo`. Two threads of this process
//! (one per direction) forward packets between the TUN devices, holding each for half the RTT
//! plus uniform jitter, dropping some at random (seeded), and serialising at a rate through a
//! bounded tail-drop queue; see [`schedule`] for the exact model. A packet is timed from the moment
//! the kernel sent it to the TUN device ([`stamp`]), not from when a thread got round to reading
//! it, and released by a sleep-then-spin loop ([`forward`]), so a capture on the client's TUN sees
//! SYN → SYN-ACK take the configured RTT plus the hosts' own stack time.
//!
//! Code runs inside a namespace through [`EmulatedLink::in_server`] and
//! [`EmulatedLink::in_client`]. Nothing is named, mounted or spawned as a process: the namespaces
//! and their devices live only as long as this process's threads, sockets and descriptors in them,
//! so nothing is left after a normal stop, Ctrl-C (default SIGINT termination) or kill -9
//! (see [`namespace`]).

pub mod forward;
pub mod link;
pub mod loss;
pub mod namespace;
pub mod parse;
pub mod paths;
pub mod queue;
pub mod schedule;
pub mod stamp;
pub mod trace;
pub mod tun;

use std::io;
use std::sync::Arc;
use std::time::Duration;

pub use link::EmulatedLink;
pub use loss::LossModel;
pub use parse::{parse_duration, parse_percent, parse_rate};
pub use queue::{Aqm, QueueLimit};
pub use trace::Trace;

/// Default TUN MTU: Ethernet's 1500 bytes, the path MTU of the internet. Segments of 1448 bytes
/// (with timestamps) and an initial window of 10 make the first flight 14 KiB, as a server on the
/// internet sends it; jumbo frames (`--mtu 9000`) send six times that and hide slow-start rounds
/// a new connection pays on a real path.
pub const DEFAULT_MTU: u32 = 1500;

/// The smallest MTU accepted: IPv4's minimum datagram every host must take (RFC 791).
pub const MIN_MTU: u32 = 576;

/// The largest MTU accepted: a TUN device's limit, the largest IPv4 packet.
pub const MAX_MTU: u32 = 65_535;

/// What the emulated path does to packets.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Round-trip propagation delay; each direction holds packets for half of it.
    pub rtt: Duration,
    /// Each packet's one-way delay varies uniformly within ± this (as netem without a table).
    pub jitter: Duration,
    /// Server → client: the downlink.
    pub down: DirectionConfig,
    /// Client → server: the uplink.
    pub up: DirectionConfig,
    /// How much each direction's queue holds (with a rate or a trace only).
    pub queue: QueueLimit,
    /// What manages each direction's queue.
    pub aqm: Aqm,
    /// Seed of the loss and jitter draws: the same seed and packets give the same run.
    pub seed: u64,
    /// Let jitter reorder packets of one direction (otherwise a packet never overtakes).
    pub reorder: bool,
    /// MTU of both TUN devices (576 ..= 65535).
    pub mtu: u32,
}

/// What one direction of the path does.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DirectionConfig {
    /// Which packets are lost.
    pub loss: LossModel,
    /// Link rate in bits/s; `None` sends instantly (unless a trace is given).
    pub rate_bps: Option<u64>,
    /// A recorded link's delivery opportunities, in place of a rate.
    pub trace: Option<Arc<Trace>>,
}

impl DirectionConfig {
    /// Whether this direction holds packets in a queue: with a rate or a trace.
    pub fn queues(&self) -> bool {
        self.rate_bps.is_some() || self.trace.is_some()
    }

    /// The rate this direction moves packets at: as configured, or its trace's mean.
    pub fn rate_or_trace_mean(&self, mtu: u32) -> Option<u64> {
        self.rate_bps
            .or(self.trace.as_ref().map(|t| t.mean_rate_bps(mtu)))
    }
}

impl Default for LinkConfig {
    /// A transparent link: no delay, no loss, no rate limit.
    fn default() -> LinkConfig {
        LinkConfig {
            rtt: Duration::ZERO,
            jitter: Duration::ZERO,
            down: DirectionConfig::default(),
            up: DirectionConfig::default(),
            queue: QueueLimit::default(),
            aqm: Aqm::default(),
            seed: 0,
            reorder: false,
            mtu: DEFAULT_MTU,
        }
    }
}

/// A duration as the link's options take it: `20ms`, `0.5ms`.
fn as_option(d: Duration) -> String {
    let ms = format!("{:.3}", d.as_secs_f64() * 1e3);
    format!("{}ms", ms.trim_end_matches('0').trim_end_matches('.'))
}

impl LinkConfig {
    /// Checks the settings make a link.
    pub fn validate(&self) -> Result<(), EmulateError> {
        let hour = Duration::from_secs(3600);
        if self.rtt > hour || self.jitter > hour {
            return Err(EmulateError::Config(
                "rtt and jitter must be under an hour".into(),
            ));
        }
        // Jitter varies the one-way delay (half the round trip) both ways: beyond it, a packet
        // would have to arrive before it was sent, and the draws stop being uniform.
        if self.jitter > self.rtt / 2 && self.rtt.is_zero() {
            return Err(EmulateError::Config(format!(
                "--jitter varies the delay --rtt sets, and there is none: give --rtt too, at \
                 least twice the jitter, e.g. --rtt {} --jitter {}",
                as_option(self.jitter * 2),
                as_option(self.jitter)
            )));
        }
        if self.jitter > self.rtt / 2 {
            return Err(EmulateError::Config(format!(
                "--jitter {} is more than the one-way delay ({} of --rtt {}): give an --rtt of at \
                 least twice the jitter, e.g. --rtt {} --jitter {}",
                as_option(self.jitter),
                as_option(self.rtt / 2),
                as_option(self.rtt),
                as_option(self.jitter * 2),
                as_option(self.jitter)
            )));
        }
        for direction in [&self.down, &self.up] {
            direction.loss.validate().map_err(EmulateError::Config)?;
            if direction.rate_bps == Some(0) {
                return Err(EmulateError::Config(
                    "a rate of 0 bit/s carries nothing; leave the rate out for no limit".into(),
                ));
            }
        }
        if matches!(self.queue, QueueLimit::Packets(0) | QueueLimit::Bytes(0)) {
            return Err(EmulateError::Config(
                "the queue must hold at least one packet".into(),
            ));
        }
        if !(MIN_MTU..=MAX_MTU).contains(&self.mtu) {
            return Err(EmulateError::Config(format!(
                "MTU {} is outside {MIN_MTU} ..= {MAX_MTU}: give --mtu 1500 (Ethernet) or 9000 \
                 (jumbo frames)",
                self.mtu
            )));
        }
        Ok(())
    }
}

/// Counts for one direction of the link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct DirectionStats {
    /// Packets delivered to the other side.
    pub forwarded: u64,
    /// Bytes of those packets (IP headers included).
    pub bytes: u64,
    /// Packets dropped by the loss model.
    pub lost: u64,
    /// Runs of consecutive packets the loss model dropped (a lone loss is a run of one).
    pub loss_bursts: u64,
    /// Packets dropped because the queue (or the delay line's memory bound) was full.
    pub queue_dropped: u64,
    /// Packets CoDel dropped at the head of the queue.
    pub aqm_dropped: u64,
    /// Packets the forwarder released more than [`LATE`] after the time the path set: where the
    /// forwarder, not the configured path, held them back.
    pub late: u64,
    /// The latest of those, in microseconds after its time.
    pub max_late_us: u64,
}

impl DirectionStats {
    /// Lost packets per run of losses, when any were lost.
    pub fn mean_burst(&self) -> Option<f64> {
        (self.loss_bursts > 0).then(|| self.lost as f64 / self.loss_bursts as f64)
    }
}

/// How late a release may be before it counts as the forwarder's delay rather than timer noise:
/// a millisecond, a twentieth of a 20 ms round trip.
pub const LATE: Duration = Duration::from_millis(1);

/// Counts for both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct LinkStats {
    /// Client → server.
    pub to_server: DirectionStats,
    /// Server → client.
    pub to_client: DirectionStats,
}

/// Why a link could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EmulateError {
    /// Namespaces and TUN devices need CAP_SYS_ADMIN and CAP_NET_ADMIN.
    #[error(
        "emulating a link needs root (network namespaces and TUN devices): run with sudo \
         ({0} was refused)"
    )]
    Permission(String),
    /// The kernel has no TUN driver loaded.
    #[error("no TUN support: /dev/net/tun is missing (load the driver with `sudo modprobe tun`)")]
    NoTun,
    /// A system call failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's words.
        #[source]
        source: io::Error,
    },
    /// The settings do not make a link.
    #[error("invalid link setting: {0}")]
    Config(String),
}

impl EmulateError {
    fn io(what: impl Into<String>, source: io::Error) -> EmulateError {
        EmulateError::Io {
            what: what.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_link_is_transparent_and_valid() {
        let config = LinkConfig::default();
        assert!(config.validate().is_ok());
        assert_eq!(config.queue, QueueLimit::Packets(1000));
        assert_eq!(config.down.rate_bps, None);
        assert_eq!(config.mtu, 1500);
    }

    #[test]
    fn settings_that_make_no_link_are_refused() {
        for config in [
            LinkConfig {
                down: DirectionConfig {
                    loss: LossModel::Uniform { probability: 1.5 },
                    ..DirectionConfig::default()
                },
                ..LinkConfig::default()
            },
            LinkConfig {
                up: DirectionConfig {
                    loss: LossModel::Uniform {
                        probability: f64::NAN,
                    },
                    ..DirectionConfig::default()
                },
                ..LinkConfig::default()
            },
            LinkConfig {
                up: DirectionConfig {
                    rate_bps: Some(0),
                    ..DirectionConfig::default()
                },
                ..LinkConfig::default()
            },
            LinkConfig {
                queue: QueueLimit::Packets(0),
                ..LinkConfig::default()
            },
            LinkConfig {
                mtu: 100_000,
                ..LinkConfig::default()
            },
            LinkConfig {
                rtt: Duration::from_millis(20),
                jitter: Duration::from_millis(11),
                ..LinkConfig::default()
            },
        ] {
            assert!(
                matches!(config.validate(), Err(EmulateError::Config(_))),
                "{config:?}"
            );
        }
    }

    #[test]
    fn the_permission_error_says_what_to_do() {
        let message = EmulateError::Permission("creating a network namespace".into()).to_string();
        assert!(message.contains("needs root"), "{message}");
        assert!(message.contains("sudo"), "{message}");
    }
}
