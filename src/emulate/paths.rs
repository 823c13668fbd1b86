//! Named paths (`--path NAME`): the round trip, rates, loss and queue of the links people ask
//! about, each figure from a published measurement or the physics of the medium. docs/link.md
//! gives the sources; any explicit link option overrides a preset's value.

use std::time::Duration;

use super::loss::LossModel;
use super::queue::QueueLimit;

/// One named path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathPreset {
    /// The name `--path` takes.
    pub name: &'static str,
    /// What it stands for, in a few words.
    pub about: &'static str,
    /// Round-trip time.
    pub rtt: Duration,
    /// Server → client rate in bits/s.
    pub down_bps: u64,
    /// Client → server rate in bits/s.
    pub up_bps: u64,
    /// Loss each way.
    pub loss: LossModel,
    /// The bottleneck's buffer.
    pub queue: QueueLimit,
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

const MBIT: u64 = 1_000_000;

/// Every preset, from the shortest round trip to the longest.
pub const PRESETS: &[PathPreset] = &[
    PathPreset {
        name: "lan",
        about: "switched Gigabit Ethernet",
        rtt: Duration::from_micros(200),
        down_bps: 1000 * MBIT,
        up_bps: 1000 * MBIT,
        loss: LossModel::None,
        queue: QueueLimit::Packets(1000),
    },
    PathPreset {
        name: "cable",
        about: "DOCSIS cable broadband, 100/10 Mbit/s",
        rtt: ms(20),
        down_bps: 100 * MBIT,
        up_bps: 10 * MBIT,
        loss: LossModel::None,
        queue: QueueLimit::Bytes(256 * 1024),
    },
    PathPreset {
        name: "dsl",
        about: "ADSL2+ broadband, 16/1 Mbit/s",
        rtt: ms(35),
        down_bps: 16 * MBIT,
        up_bps: MBIT,
        loss: LossModel::None,
        queue: QueueLimit::Bytes(64 * 1024),
    },
    PathPreset {
        name: "lte",
        about: "4G LTE, median of a US-wide study",
        rtt: ms(70),
        down_bps: 13 * MBIT,
        up_bps: 6 * MBIT,
        loss: LossModel::None,
        queue: QueueLimit::Bytes(512 * 1024),
    },
    PathPreset {
        name: "transcontinental",
        about: "New York ↔ Los Angeles",
        rtt: ms(70),
        down_bps: 100 * MBIT,
        up_bps: 100 * MBIT,
        loss: LossModel::None,
        queue: QueueLimit::Packets(1000),
    },
    PathPreset {
        name: "transoceanic",
        about: "Los Angeles ↔ Sydney",
        rtt: ms(150),
        down_bps: 100 * MBIT,
        up_bps: 100 * MBIT,
        loss: LossModel::None,
        queue: QueueLimit::Packets(1000),
    },
    PathPreset {
        name: "satellite",
        about: "geostationary satellite broadband, 25/3 Mbit/s",
        rtt: ms(600),
        down_bps: 25 * MBIT,
        up_bps: 3 * MBIT,
        loss: LossModel::None,
        queue: QueueLimit::Bytes(1024 * 1024),
    },
];

/// The preset called `name`, or an error listing the known ones.
pub fn preset(name: &str) -> Result<&'static PathPreset, String> {
    PRESETS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| {
            let known: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
            format!("no path called {name:?}; known paths: {}", known.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_path_lists_the_known_ones() {
        let error = preset("cabel").unwrap_err();
        assert!(error.contains("\"cabel\""), "{error}");
        for p in PRESETS {
            assert!(error.contains(p.name), "{error}");
        }
        assert_eq!(preset("LTE").map(|p| p.name), Ok("lte"));
    }

    #[test]
    fn a_geostationary_round_trip_is_no_shorter_than_light_allows() {
        // Four legs of 35 786 km (up and down, there and back) at the speed of light.
        let legs_m = 4.0 * 35_786_000.0;
        let floor = legs_m / 299_792_458.0;
        let satellite = preset("satellite").unwrap();
        assert!(satellite.rtt.as_secs_f64() > floor, "{floor}");
    }

    #[test]
    fn presets_are_in_order_of_round_trip() {
        assert!(PRESETS.windows(2).all(|w| w[0].rtt <= w[1].rtt));
    }
}
