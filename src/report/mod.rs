//! Report layer: tables, JSON, CSV and the HTML page from analysis results. Renderers return a `Table`, a `String`
//! or a `serde_json::Value`; `main` and the commands print. Must not import `pcap` or `etherparse`.

pub mod csv;
pub mod html;
pub mod json;
pub mod json_writer;
pub mod ladder;
pub mod tables;
pub mod text;
pub mod units;
pub mod width;

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
    fn a_share_has_the_time_column_s_minus_and_none_when_it_rounds_to_zero() {
        assert_eq!(percent(-4.1, 100.0), "−4.1%");
        assert_eq!(percent(-0.01, 100.0), "0.0%");
        assert_eq!(percent(46.0, 100.0), "46.0%");
        assert_eq!(percent(1.0, 0.0), "—");
    }
}
