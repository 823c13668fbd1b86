//! Wall-clock timestamps shared by every layer: nanoseconds since the Unix epoch.
//!
//! Capture timestamps (libpcap, CLOCK_REALTIME) and the client's own timestamps use the same clock,
//! so a connection seen on the wire can be matched with the run that made it. Imports nothing.

use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time, in nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ts(pub i64);

impl Ts {
    /// The current wall-clock time.
    pub fn now() -> Ts {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Ts(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX))
    }

    /// Builds a timestamp from seconds and nanoseconds.
    pub fn from_parts(secs: i64, nanos: i64) -> Ts {
        Ts(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    /// Seconds from `earlier` to `self` (negative when `self` is earlier).
    pub fn secs_since(self, earlier: Ts) -> f64 {
        // i128: timestamps from a damaged capture may lie at opposite ends of i64.
        (i128::from(self.0) - i128::from(earlier.0)) as f64 / 1e9
    }

    /// Seconds since the epoch as a float, for display and JSON.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_keep_nanosecond_precision() {
        let a = Ts::from_parts(1_700_000_000, 1);
        let b = Ts::from_parts(1_700_000_000, 1_001);
        assert_eq!(b.secs_since(a), 1e-6);
        assert!(a < b);
    }
}
