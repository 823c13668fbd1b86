//! Report layer: tables, JSON, CSV and the HTML page from analysis results. Renderers return a `Table`, a `String`
//! or a `serde_json::Value`; `main` and the commands print. Must not import `pcap` or `etherparse`.

pub mod csv;
pub mod html;
pub mod json;
pub mod ladder;
pub mod tables;
pub mod text;
pub mod units;
pub mod width;

/// Seconds with enough digits that loopback microseconds do not print as 0.
pub fn secs(s: f64) -> String {
    format!("{s:.6}")
}

/// A share of a whole in percent.
pub fn percent(part: f64, whole: f64) -> String {
    if whole == 0.0 {
        "—".into()
    } else {
        format!("{:.1}%", 100.0 * part / whole)
    }
}
