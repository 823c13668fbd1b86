//! The emulated link as the comparison needs it: each file's deadline over it.

use std::time::Duration;

use crate::analysis::comparison::SourceFile;
use crate::emulate::LinkConfig;
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
        .filter_map(|d| d.rate_or_trace_mean(link.mtu))
        .min();
    let serialising = slowest.map_or(0.0, |rate| 4.0 * largest_bits / rate.max(1) as f64);
    DEFAULT_TIMEOUT + round_trips + Duration::from_secs_f64(serialising.min(86_400.0))
}
