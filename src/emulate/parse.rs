//! Parsing the link settings people type: durations, rates, percentages and buffer sizes.

use std::time::Duration;

/// The longest delay or jitter accepted: beyond this a "link" is a typo.
const MAX_DURATION: Duration = Duration::from_secs(3600);

/// Splits `"1.5ms"` into `(1.5, "ms")`.
fn split_number(s: &str) -> Result<(f64, &str), String> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(end);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} does not start with a number"))?;
    Ok((value, unit.trim()))
}

/// Parses a duration with a unit: `"40ms"`, `"1.5ms"`, `"200us"` (or `µs`), `"1s"`, `"500ns"`;
/// a bare `"0"` is zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (value, unit) = split_number(s)?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "ns" => 1e-9,
        "" if value == 0.0 => 0.0,
        "" => return Err(format!("{s:?} needs a unit: s, ms, us or ns (e.g. 40ms)")),
        other => {
            return Err(format!(
                "unknown time unit {other:?} in {s:?} (s, ms, us, ns)"
            ));
        }
    };
    let duration = Duration::try_from_secs_f64(value * scale)
        .map_err(|_| format!("{s:?} is not a usable duration"))?;
    if duration > MAX_DURATION {
        return Err(format!("{s:?} is longer than an hour"));
    }
    // Round to whole nanoseconds so "1.5ms" is exactly 1_500_000 ns, not 1_499_999.
    Ok(Duration::from_nanos((value * scale * 1e9).round() as u64))
}

/// Parses a size in bytes: `"65536"`, `"64KiB"` (or `k`, `KB`: binary, as the kernel counts
/// buffers), `"4MiB"` (or `m`). At least 1 KiB and at most 1 GiB: beyond that it is a typo.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let (value, unit) = split_number(s)?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        other => return Err(format!("unknown size unit {other:?} in {s:?} (KiB, MiB)")),
    };
    let bytes = value * scale;
    if !(1024.0..=1024.0 * 1024.0 * 1024.0).contains(&bytes) {
        return Err(format!("{s:?} is outside 1 KiB … 1 GiB"));
    }
    Ok(bytes as usize)
}

/// Parses a rate in bits per second: `"10mbit"`, `"1gbit"`, `"500kbit"`, `"1.5mbit"`, or a bare
/// number of bits per second (`"1000000"`). Prefixes are decimal (k = 1000), as in tc.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let (value, unit) = split_number(s)?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        // A bare number could be bits or bytes, per second or in total: a unit says which.
        "" => {
            return Err(format!(
                "{s:?} needs a unit: bit, kbit, mbit or gbit per second (e.g. 10mbit)"
            ));
        }
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        other if other.ends_with("bps") || other.ends_with('b') => {
            return Err(format!(
                "{s:?}: write rates in bits, e.g. 10mbit (\"bps\" is ambiguous between bits and bytes)"
            ));
        }
        other => {
            return Err(format!(
                "unknown rate unit {other:?} in {s:?} (bit, kbit, mbit, gbit)"
            ));
        }
    };
    let bits = (value * scale).round();
    if !(1.0..=u64::MAX as f64).contains(&bits) {
        return Err(format!("{s:?} is not a usable rate (at least 1 bit/s)"));
    }
    Ok(bits as u64)
}

/// Parses a percentage into a fraction: `"1%"` → 0.01, `"0.5%"` → 0.005, `"0"` → 0.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let (value, unit) = split_number(s)?;
    match unit {
        "%" => {}
        "" if value == 0.0 => return Ok(0.0),
        "" => {
            return Err(format!(
                "{s:?} needs a % sign (e.g. 1% for one packet in 100)"
            ));
        }
        other => return Err(format!("unknown unit {other:?} in {s:?} (expected %)")),
    }
    if !(0.0..=100.0).contains(&value) {
        return Err(format!("{s:?} is not between 0% and 100%"));
    }
    Ok(value / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_with_units() {
        assert_eq!(parse_duration("40ms"), Ok(Duration::from_millis(40)));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse_duration("200us"), Ok(Duration::from_micros(200)));
        assert_eq!(parse_duration("200µs"), Ok(Duration::from_micros(200)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration(" 750ns "), Ok(Duration::from_nanos(750)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0.1ms"), Ok(Duration::from_micros(100)));
    }

    #[test]
    fn durations_refused() {
        for bad in [
            "",
            "ms",
            "40",
            "40 parsecs",
            "-1ms",
            "1.2.3ms",
            "2h",
            "7200s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rates_in_bits() {
        assert_eq!(parse_rate("10mbit"), Ok(10_000_000));
        assert_eq!(parse_rate("1gbit"), Ok(1_000_000_000));
        assert_eq!(parse_rate("500kbit"), Ok(500_000));
        assert_eq!(parse_rate("1.5Mbit"), Ok(1_500_000));
        assert_eq!(parse_rate("64bit"), Ok(64));
    }

    #[test]
    fn rates_refused() {
        for bad in ["", "0", "0mbit", "10mbps", "10MB", "fast", "10 furlongs"] {
            assert!(parse_rate(bad).is_err(), "{bad:?}");
        }
        assert!(parse_rate("10mbps").unwrap_err().contains("bits"));
        assert!(parse_rate("10").unwrap_err().contains("needs a unit"));
    }

    #[test]
    fn percentages_become_fractions() {
        assert_eq!(parse_percent("1%"), Ok(0.01));
        assert_eq!(parse_percent("0.5%"), Ok(0.005));
        assert_eq!(parse_percent("0"), Ok(0.0));
        assert_eq!(parse_percent("100%"), Ok(1.0));
        for bad in ["", "1", "0.01", "101%", "%", "5 percent"] {
            assert!(parse_percent(bad).is_err(), "{bad:?}");
        }
    }
}
