//! Report layer: numbers in human units, one helper for every output that people read.
//! A column shares one unit, chosen from its typical value (as hyperfine does per benchmark).

/// A unit of time for a whole column, chosen from its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Millis,
    /// Microseconds.
    Micros,
    /// Nanoseconds.
    Nanos,
}

impl TimeUnit {
    /// The unit that shows `seconds` with one to three digits before the point.
    pub fn of(seconds: f64) -> TimeUnit {
        let s = seconds.abs();
        if s >= 1.0 {
            TimeUnit::Seconds
        } else if s >= 1e-3 {
            TimeUnit::Millis
        } else if s >= 1e-6 || s == 0.0 {
            TimeUnit::Micros
        } else {
            TimeUnit::Nanos
        }
    }

    /// The unit for a column: the one its smallest non-zero value needs, so small values keep
    /// their digits (`30.1 ms` beside `3712 ms`, not `0.03 s` beside `3.71 s`) and large ones grow
    /// to four (`1700 ms`), but no further: a column whose largest value would take five digits
    /// or more takes the next larger unit (`121 ms`, not `120960 µs`).
    pub fn for_column(values: impl IntoIterator<Item = f64>) -> TimeUnit {
        let mut v: Vec<f64> = values
            .into_iter()
            .map(f64::abs)
            .filter(|v| *v > 0.0 && v.is_finite())
            .collect();
        v.sort_by(f64::total_cmp);
        let mut unit = TimeUnit::of(v.first().copied().unwrap_or(0.0));
        let largest = v.last().copied().unwrap_or(0.0);
        while largest * unit.scale_and_symbol().0 >= 10_000.0 {
            unit = match unit {
                TimeUnit::Nanos => TimeUnit::Micros,
                TimeUnit::Micros => TimeUnit::Millis,
                TimeUnit::Millis | TimeUnit::Seconds => TimeUnit::Seconds,
            };
            if unit == TimeUnit::Seconds {
                break;
            }
        }
        unit
    }

    fn scale_and_symbol(self) -> (f64, &'static str) {
        match self {
            TimeUnit::Seconds => (1.0, "s"),
            TimeUnit::Millis => (1e3, "ms"),
            TimeUnit::Micros => (1e6, "µs"),
            TimeUnit::Nanos => (1e9, "ns"),
        }
    }

    /// `seconds` in this unit: three significant digits for the column's largest values, never
    /// more than one decimal below 100 and none from 100 on.
    pub fn format(self, seconds: f64) -> String {
        let (scale, symbol) = self.scale_and_symbol();
        let v = seconds * scale;
        let decimals = if v.abs() >= 100.0 || self == TimeUnit::Nanos {
            0
        } else if v.abs() >= 10.0 || self == TimeUnit::Micros {
            1
        } else {
            2
        };
        format!("{v:.decimals$} {symbol}")
    }

    /// Like `format`, with an explicit sign.
    pub fn format_signed(self, seconds: f64) -> String {
        let text = self.format(seconds.abs());
        if seconds < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
            format!("−{text}")
        } else if seconds > 0.0 {
            format!("+{text}")
        } else {
            text
        }
    }
}

/// `seconds` in the unit that suits it alone: `20.1 ms`, `13.0 µs`, `1.84 s`.
pub fn duration(seconds: f64) -> String {
    TimeUnit::of(seconds).format(seconds)
}

/// A byte count with binary prefixes: `512 B`, `240.0 KiB`, `4.00 MiB`.
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n.abs() < 1024.0 {
        return format!("{n:.0} B");
    }
    let mut v = n / 1024.0;
    let mut unit = 0;
    while v.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    let decimals = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.decimals$} {}", UNITS[unit])
}

/// A count averaged over runs: an integer when it is one (to a tenth), else one decimal.
pub fn count(v: f64) -> String {
    let tenths = (v * 10.0).round() / 10.0;
    if tenths.fract() == 0.0 {
        format!("{tenths:.0}")
    } else {
        format!("{tenths:.1}")
    }
}

/// A share of a whole in percent.
pub fn percent(part: f64, whole: f64) -> String {
    if whole == 0.0 {
        return "—".into();
    }
    let text = format!("{:.1}%", (100.0 * part / whole).abs());
    // A share that rounds to zero has no sign; a negative one takes the minus of the time
    // column ("−"), not a hyphen.
    if part / whole < 0.0 && text != "0.0%" {
        format!("−{text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_the_unit_of_their_magnitude() {
        assert_eq!(duration(0.0201), "20.1 ms");
        assert_eq!(duration(13e-6), "13.0 µs");
        assert_eq!(duration(1.84), "1.84 s");
        assert_eq!(duration(0.164), "164 ms");
        assert_eq!(duration(0.0), "0.0 µs");
        assert_eq!(duration(5e-9), "5 ns");
    }

    #[test]
    fn a_column_shares_the_unit_of_its_largest_value() {
        let unit = TimeUnit::for_column([0.0005, 0.0201, 0.0019, 0.0]);
        assert_eq!(unit, TimeUnit::Millis);
        assert_eq!(unit.format(0.0005), "0.50 ms");
        assert_eq!(unit.format(3.52), "3520 ms");
        assert_eq!(TimeUnit::for_column([0.0, 0.0]), TimeUnit::Micros);
        assert_eq!(unit.format_signed(-0.0004), "−0.40 ms");
        assert_eq!(unit.format_signed(0.0201), "+20.1 ms");
    }

    #[test]
    fn a_column_of_mostly_small_values_still_shows_its_largest_in_four_digits() {
        // A loopback run with loss: phases of microseconds beside 121 ms of transfer.
        let unit = TimeUnit::for_column([0.120_960, 0.123_463, 0.000_08, 0.000_12, 0.000_3]);
        assert_eq!(unit, TimeUnit::Millis);
        assert_eq!(unit.format(0.120_960), "121 ms");
        assert_eq!(
            TimeUnit::for_column([12.0, 0.000_1, 0.000_2]),
            TimeUnit::Seconds
        );
    }

    #[test]
    fn a_column_of_seconds_keeps_the_digits_of_its_small_values() {
        // Over a 10 Mbit/s link: a 3.7 s total beside a 30 ms file, whose spread is a millisecond.
        let unit = TimeUnit::for_column([0.24, 3.42, 0.0301, 3.712]);
        assert_eq!(unit, TimeUnit::Millis);
        assert_eq!(unit.format(3.712), "3712 ms");
        assert_eq!(unit.format(0.0301), "30.1 ms");
        assert_eq!(unit.format(0.0012), "1.20 ms");
    }

    #[test]
    fn bytes_and_counts() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(240.0 * 1024.0), "240 KiB");
        assert_eq!(bytes(4.0 * 1024.0 * 1024.0), "4.00 MiB");
        assert_eq!(bytes(4_501_204.2), "4.29 MiB");
        assert_eq!(count(3.0), "3");
        assert_eq!(count(48.3), "48.3");
        assert_eq!(count(7.599999999999998), "7.6");
        assert_eq!(count(2.04), "2");
    }

    #[test]
    fn a_share_has_the_time_column_s_minus_and_none_when_it_rounds_to_zero() {
        assert_eq!(percent(-4.1, 100.0), "−4.1%");
        assert_eq!(percent(-0.01, 100.0), "0.0%");
        assert_eq!(percent(46.0, 100.0), "46.0%");
        assert_eq!(percent(1.0, 0.0), "—");
    }
}
