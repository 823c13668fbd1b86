//! Attribute layer, comparison: the emulated link's settings as the comparison ran over them.
//! Reads the link's configuration (emulate); never touches the link itself.

use crate::emulate::{Aqm, DirectionConfig, LinkConfig, QueueLimit};

/// The emulated link, when there was one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct LinkSettings {
    /// The named path it started from (`--path`), if any.
    pub path: Option<String>,
    /// Configured round-trip time in seconds.
    pub rtt_s: f64,
    /// Configured jitter in seconds.
    pub jitter_s: f64,
    /// MTU of the link in bytes.
    pub mtu: u32,
    /// Server → client.
    pub down: DirectionSettings,
    /// Client → server.
    pub up: DirectionSettings,
    /// Each direction's queue, when it was bounded in packets.
    pub queue_packets: Option<usize>,
    /// Each direction's queue, when it was bounded in bytes.
    pub queue_bytes: Option<usize>,
    /// What manages the queue: `tail-drop` or `codel`.
    pub aqm: String,
    /// Seed of the loss and jitter.
    pub seed: u64,
}

/// One direction of the emulated link.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct DirectionSettings {
    /// The rate in bits/s: as configured, or a trace's mean (`trace` names it); None unlimited.
    pub rate_bps: Option<u64>,
    /// The loss model as the option reads (`0`, `1%`, `gemodel:1%,25%,100%,0%`).
    pub loss: String,
    /// The share of packets the loss model drops in the long run.
    pub mean_loss: f64,
    /// The trace replayed in place of a rate, if any.
    pub trace: Option<String>,
}

impl LinkSettings {
    /// The settings of `config`, started from the named path `path` (`--path`) if one was given.
    pub fn of(config: &LinkConfig, path: Option<&str>) -> LinkSettings {
        let (queue_packets, queue_bytes) = match config.queue {
            QueueLimit::Packets(n) => (Some(n), None),
            QueueLimit::Bytes(n) => (None, Some(n)),
        };
        LinkSettings {
            path: path.map(str::to_owned),
            rtt_s: config.rtt.as_secs_f64(),
            jitter_s: config.jitter.as_secs_f64(),
            mtu: config.mtu,
            down: DirectionSettings::of(&config.down, config.mtu),
            up: DirectionSettings::of(&config.up, config.mtu),
            queue_packets,
            queue_bytes,
            aqm: match config.aqm {
                Aqm::TailDrop => "tail-drop",
                Aqm::Codel => "codel",
            }
            .into(),
            seed: config.seed,
        }
    }

    /// The rate the responses cross (server → client), for the model.
    pub fn rate_bps(&self) -> Option<u64> {
        self.down.rate_bps
    }

    /// Whether either direction loses packets.
    pub fn lossy(&self) -> bool {
        self.down.mean_loss > 0.0 || self.up.mean_loss > 0.0
    }
}

impl DirectionSettings {
    /// The settings of one direction of a link whose MTU is `mtu` (a trace's mean rate needs it).
    fn of(config: &DirectionConfig, mtu: u32) -> DirectionSettings {
        DirectionSettings {
            rate_bps: config.rate_or_trace_mean(mtu),
            loss: config.loss.as_option(),
            mean_loss: config.loss.mean_loss(),
            trace: config.trace.as_ref().map(|t| t.name().to_owned()),
        }
    }
}
