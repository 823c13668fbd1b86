//! The emulated link as the comparison needs it: each file's deadline over it, and the report's
//! view of its settings.

use std::time::Duration;

use crate::analysis::comparison::{DirectionSettings, LinkSettings, SourceFile};
use crate::emulate::{Aqm, DirectionConfig, LinkConfig, QueueLimit};
use crate::transfer::client::DEFAULT_TIMEOUT;

/// Each file's deadline when `--timeout` is not given: the client's default, plus 100 round
/// trips (slow start and resends on a long path) and four times the largest file at the rate.
pub(super) fn default_timeout(link: Option<&LinkConfig>, files: &[SourceFile]) -> Duration {
    let Some(link) = link else {
        return DEFAULT_TIMEOUT;
    };
    let round_trips = 100 * (link.rtt + 2 * link.jitter);
    let largest_bits = files.iter().map(|f| f.bytes).max().unwrap_or(0) as f64 * 8.0;
    let slowest = [&link.down, &link.up]
        .iter()
        .filter_map(|d| rate_of(d, link.mtu))
        .min();
    let serialising = slowest.map_or(0.0, |rate| 4.0 * largest_bits / rate.max(1) as f64);
    DEFAULT_TIMEOUT + round_trips + Duration::from_secs_f64(serialising.min(86_400.0))
}

/// A direction's rate: configured, or its trace's mean.
pub(super) fn rate_of(direction: &DirectionConfig, mtu: u32) -> Option<u64> {
    direction
        .rate_bps
        .or(direction.trace.as_ref().map(|t| t.mean_rate_bps(mtu)))
}

/// The report's view of the link's settings.
pub(super) fn link_settings(config: &LinkConfig, path: Option<&str>) -> LinkSettings {
    let direction = |d: &DirectionConfig| DirectionSettings {
        rate_bps: rate_of(d, config.mtu),
        loss: d.loss.as_option(),
        mean_loss: d.loss.mean_loss(),
        trace: d.trace.as_ref().map(|t| t.name().to_owned()),
    };
    LinkSettings {
        path: path.map(str::to_owned),
        rtt_s: config.rtt.as_secs_f64(),
        jitter_s: config.jitter.as_secs_f64(),
        mtu: config.mtu,
        down: direction(&config.down),
        up: direction(&config.up),
        queue_packets: match config.queue {
            QueueLimit::Packets(n) => Some(n),
            QueueLimit::Bytes(_) => None,
        },
        queue_bytes: match config.queue {
            QueueLimit::Bytes(n) => Some(n),
            QueueLimit::Packets(_) => None,
        },
        aqm: match config.aqm {
            Aqm::TailDrop => "tail-drop",
            Aqm::Codel => "codel",
        }
        .into(),
        seed: config.seed,
    }
}
