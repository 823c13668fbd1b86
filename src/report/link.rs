//! Report layer: the emulated link in words — what it was set to, and what it did to the packets.

use crate::analysis::comparison::{DirectionSettings, LinkSettings};
use crate::emulate::{DirectionStats, LATE, LinkStats};
use crate::report::units::{bytes, duration};

/// What the emulated link was set to, naming only the settings given: `emulated link (cable):
/// RTT 20.0 ms, MTU 1500 B, down 100 Mbit/s, up 10 Mbit/s, queue 256KiB`. Without an RTT the
/// link added no delay (a link emulated for `--loss` alone), which is said rather than shown as
/// `RTT 0.0 µs`.
pub fn settings(link: &LinkSettings) -> String {
    settings_with_mss(link, None)
}

/// [`settings`], with the MSS the captured SYNs agreed on after the MTU: `MTU 1500 B (MSS 1460
/// in the SYNs)`.
pub fn settings_with_mss(link: &LinkSettings, mss: Option<u16>) -> String {
    let mut parts = Vec::new();
    if link.rtt_s > 0.0 {
        parts.push(format!("RTT {}", duration(link.rtt_s)));
    } else if link.jitter_s == 0.0 {
        parts.push("no added delay".to_string());
    }
    if link.jitter_s > 0.0 {
        parts.push(format!("jitter {}", duration(link.jitter_s)));
    }
    parts.push(match mss {
        Some(mss) => format!("MTU {} B (MSS {mss} in the SYNs)", link.mtu),
        None => format!("MTU {} B", link.mtu),
    });
    let (down, up) = (&link.down, &link.up);
    if (&down.trace, down.rate_bps) == (&up.trace, up.rate_bps) {
        parts.extend(rate(down, ""));
    } else {
        parts.extend(rate(down, "down "));
        parts.extend(rate(up, "up "));
    }
    if (down.mean_loss, &down.loss) == (up.mean_loss, &up.loss) {
        parts.extend(loss(down, ""));
    } else {
        parts.extend(loss(down, "down "));
        parts.extend(loss(up, "up "));
    }
    let queues = [&link.down, &link.up].iter().any(|d| d.rate_bps.is_some());
    if queues {
        let aqm = if link.aqm == "tail-drop" {
            String::new()
        } else {
            format!(" managed by {}", link.aqm)
        };
        let size = match (link.queue_packets, link.queue_bytes) {
            (_, Some(n)) => bytes(n as f64),
            (Some(n), None) => format!("{n} packets"),
            (None, None) => "unbounded".into(),
        };
        parts.push(format!("queue {size}{aqm}"));
    }
    let named = link
        .path
        .as_ref()
        .map_or(String::new(), |p| format!(" (--path {p})"));
    format!("emulated link{named}: {}", parts.join(", "))
}

/// A direction's rate or trace, prefixed with `way`.
fn rate(d: &DirectionSettings, way: &str) -> Option<String> {
    match (&d.trace, d.rate_bps) {
        (Some(trace), Some(rate)) => Some(format!("{way}trace {trace} (mean {})", bit_rate(rate))),
        (None, Some(rate)) => Some(format!("{way}rate {}", bit_rate(rate))),
        _ => None,
    }
}

/// A direction's loss, prefixed with `way`: its long-run share, and the model when bursty.
fn loss(d: &DirectionSettings, way: &str) -> Option<String> {
    if d.mean_loss == 0.0 {
        return None;
    }
    let model = if d.loss.starts_with("gemodel") {
        format!(" ({})", d.loss)
    } else {
        String::new()
    };
    Some(format!(
        "{way}loss {} %{model}",
        short_number(100.0 * d.mean_loss)
    ))
}

/// A rate as given on the command line: `10 Mbit/s`, `1.5 Gbit/s`, `64 kbit/s`.
pub fn bit_rate(bps: u64) -> String {
    let (value, unit) = [(1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")]
        .into_iter()
        .find(|&(scale, _)| bps as f64 >= scale)
        .map_or((bps as f64, "bit/s"), |(scale, unit)| {
            (bps as f64 / scale, unit)
        });
    format!("{} {unit}", short_number(value))
}

/// A setting's number without trailing zeros: `1`, `0.5`, `2.25`.
pub fn short_number(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What the emulated link did, in one line: per direction the packets carried, lost (in how
/// many bursts), dropped at the queue, and held back by the forwarder itself.
pub fn counts(stats: &LinkStats) -> String {
    let mut late = Vec::new();
    for (way, d) in [
        ("to the server", &stats.to_server),
        ("to the client", &stats.to_client),
    ] {
        if d.late > 0 {
            late.push(format!(
                "{} packets {way} (up to {})",
                d.late,
                duration(d.max_late_us as f64 * 1e-6)
            ));
        }
    }
    let forwarder = if late.is_empty() {
        String::new()
    } else {
        format!(
            ". The forwarder, not the configured path, released {} more than {} late: this \
             machine was too busy to keep the link's timing",
            late.join(" and "),
            duration(LATE.as_secs_f64())
        )
    };
    format!(
        "Link, over every run and the warm-up runs: {} to the server ({}), {} to the client \
         ({}){forwarder}",
        stats.to_server.forwarded,
        drops(&stats.to_server),
        stats.to_client.forwarded,
        drops(&stats.to_client),
    )
}

/// One direction's drops: `3 lost in 1 burst, 0 dropped at the queue`.
fn drops(d: &DirectionStats) -> String {
    let mut parts = vec![match d.mean_burst() {
        Some(mean) if d.loss_bursts < d.lost => format!(
            "{} lost in {} bursts of {} on average",
            d.lost,
            d.loss_bursts,
            short_number((mean * 10.0).round() / 10.0)
        ),
        _ => format!("{} lost", d.lost),
    }];
    parts.push(format!("{} dropped at the queue", d.queue_dropped));
    if d.aqm_dropped > 0 {
        parts.push(format!("{} dropped by CoDel", d.aqm_dropped));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direction(rate_bps: Option<u64>, loss: &str, mean_loss: f64) -> DirectionSettings {
        DirectionSettings {
            rate_bps,
            loss: loss.into(),
            mean_loss,
            trace: None,
        }
    }

    fn link(
        rtt_s: f64,
        jitter_s: f64,
        down: DirectionSettings,
        up: DirectionSettings,
    ) -> LinkSettings {
        LinkSettings {
            path: None,
            rtt_s,
            jitter_s,
            mtu: 1500,
            down,
            up,
            queue_packets: Some(1000),
            queue_bytes: None,
            aqm: "tail-drop".into(),
            seed: 1,
        }
    }

    #[test]
    fn the_settings_name_only_what_was_given() {
        let same = direction(Some(10_000_000), "1%", 0.01);
        assert_eq!(
            settings(&link(0.020, 0.005, same.clone(), same)),
            "emulated link: RTT 20.0 ms, jitter 5.00 ms, MTU 1500 B, rate 10 Mbit/s, loss 1 %, \
             queue 1000 packets"
        );
        assert_eq!(bit_rate(64_000), "64 kbit/s");
        assert_eq!(bit_rate(900), "900 bit/s");
        assert_eq!(bit_rate(1_500_000_000), "1.5 Gbit/s");
        let none = direction(None, "0", 0.0);
        assert_eq!(
            settings(&link(0.0, 0.0, direction(None, "1%", 0.01), none.clone())),
            "emulated link: no added delay, MTU 1500 B, down loss 1 %"
        );
        assert_eq!(
            settings(&link(0.150, 0.0, none.clone(), none)),
            "emulated link: RTT 150 ms, MTU 1500 B"
        );
    }

    #[test]
    fn each_direction_is_named_when_they_differ() {
        let mut cable = link(
            0.020,
            0.0,
            direction(Some(100_000_000), "gemodel:1%,25%,100%,0%", 0.0385),
            direction(Some(10_000_000), "0", 0.0),
        );
        cable.path = Some("cable".into());
        cable.queue_packets = None;
        cable.queue_bytes = Some(256 * 1024);
        cable.aqm = "codel".into();
        assert_eq!(
            settings(&cable),
            "emulated link (--path cable): RTT 20.0 ms, MTU 1500 B, down rate 100 Mbit/s, up \
             rate 10 Mbit/s, down loss 3.85 % (gemodel:1%,25%,100%,0%), queue 256 KiB managed \
             by codel"
        );
    }

    #[test]
    fn the_counts_give_bursts_and_the_forwarders_own_delay() {
        let stats = LinkStats {
            to_server: DirectionStats {
                forwarded: 100,
                lost: 8,
                loss_bursts: 2,
                ..DirectionStats::default()
            },
            to_client: DirectionStats {
                forwarded: 200,
                lost: 1,
                loss_bursts: 1,
                late: 3,
                max_late_us: 2500,
                ..DirectionStats::default()
            },
        };
        let line = counts(&stats);
        assert!(
            line.contains(
                "100 to the server (8 lost in 2 bursts of 4 on average, 0 dropped at the queue)"
            ),
            "{line}"
        );
        assert!(
            line.contains("200 to the client (1 lost, 0 dropped"),
            "{line}"
        );
        assert!(
            line.contains(
                "released 3 packets to the client (up to 2.50 ms) more than 1.00 ms late"
            ),
            "{line}"
        );
    }
}
