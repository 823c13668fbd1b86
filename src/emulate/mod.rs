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
pub mod namespace;
pub mod parse;
pub mod schedule;
pub mod stamp;
pub mod tun;

use std::io;
use std::time::Duration;

pub use link::EmulatedLink;
pub use parse::{parse_duration, parse_percent, parse_rate};

/// Default TUN MTU: Ethernet's 1500 bytes, the path MTU of the internet. Segments of 1448 bytes
/// (with timestamps) and an initial window of 10 make the first flight 14 KiB, as a server on the
/// internet sends it; jumbo frames (`--mtu 9000`) send six times that and hide slow-start rounds
/// a new connection pays on a real path.
pub const DEFAULT_MTU: u32 = 1500;

/// The smallest MTU accepted: IPv4's minimum datagram every host must take (RFC 791).
pub const MIN_MTU: u32 = 576;

/// The largest MTU accepted: a TUN device's limit, the largest IPv4 packet.
pub const MAX_MTU: u32 = 65_535;

/// What the emulated path does to packets; the same settings apply to both directions.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Round-trip propagation delay; each direction holds packets for half of it.
    pub rtt: Duration,
    /// Each packet's one-way delay varies uniformly within ± this (as netem without a table).
    pub jitter: Duration,
    /// Probability that a packet is dropped at random, 0.0 ..= 1.0, per direction.
    pub loss: f64,
    /// Link rate in bits/s per direction; `None` serialises instantly.
    pub rate_bps: Option<u64>,
    /// Packets the rate limiter's queue holds before dropping at the tail (with a rate only).
    pub queue_packets: usize,
    /// Seed of the loss and jitter draws: the same seed and packets give the same run.
    pub seed: u64,
    /// Let jitter reorder packets of one direction (otherwise a packet never overtakes).
    pub reorder: bool,
    /// MTU of both TUN devices (576 ..= 65535).
    pub mtu: u32,
}

impl Default for LinkConfig {
    /// A transparent link: no delay, no loss, no rate limit.
    fn default() -> LinkConfig {
        LinkConfig {
            rtt: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            rate_bps: None,
            queue_packets: 1000,
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
        if !(0.0..=1.0).contains(&self.loss) {
            return Err(EmulateError::Config(format!(
                "loss {} is not a probability between 0 and 1",
                self.loss
            )));
        }
        if self.rate_bps == Some(0) {
            return Err(EmulateError::Config(
                "a rate of 0 bit/s carries nothing; leave the rate out for no limit".into(),
            ));
        }
        if self.queue_packets == 0 {
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DirectionStats {
    /// Packets delivered to the other side.
    pub forwarded: u64,
    /// Bytes of those packets (IP headers included).
    pub bytes: u64,
    /// Packets dropped by the random loss.
    pub lost: u64,
    /// Packets dropped because the queue (or the delay line's memory bound) was full.
    pub queue_dropped: u64,
}

/// Counts for both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
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
        assert_eq!(config.queue_packets, 1000);
        assert_eq!(config.rate_bps, None);
    }

    #[test]
    fn settings_that_make_no_link_are_refused() {
        for config in [
            LinkConfig {
                loss: 1.5,
                ..LinkConfig::default()
            },
            LinkConfig {
                loss: f64::NAN,
                ..LinkConfig::default()
            },
            LinkConfig {
                rate_bps: Some(0),
                ..LinkConfig::default()
            },
            LinkConfig {
                queue_packets: 0,
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
