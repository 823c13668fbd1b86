//! Report layer: tables, JSON, CSV and the HTML page from analysis results. Renderers return a `Table`, a `String`
//! or a `serde_json::Value`; `main` and the commands print. Must not import `pcap` or `etherparse`.
//!
//! Within it, dependencies run one way: `units` and `width` ← `labels` ← `sentences` ← `tables` ←
//! `terminal`; `html`, `json` and `csv` read the layers below `terminal`.

pub mod compare_json;
pub mod csv;
pub mod html;
pub mod http2_json;
pub mod json;
pub mod json_writer;
pub mod labels;
pub mod ladder;
pub mod link;
pub mod quic_json;
pub mod sentences;
pub mod tables;
pub mod terminal;
pub mod units;
pub mod width;

/// Fails unless the schema checked in at `path` (relative to the project) is `schema` as
/// generated; with `SYNACK_WRITE_SCHEMA` set, writes it there first (`SYNACK_WRITE_SCHEMA=1 cargo
/// test --lib schema` after a change to the report's types).
#[cfg(test)]
pub(crate) fn assert_schema_file(path: &str, schema: &schemars::Schema) {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let generated = serde_json::to_string_pretty(schema).unwrap() + "\n";
    if std::env::var_os("SYNACK_WRITE_SCHEMA").is_some() {
        std::fs::write(&file, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{path} is stale: run SYNACK_WRITE_SCHEMA=1 cargo test --lib schema"
    );
}
