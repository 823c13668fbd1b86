//! Report layer: tables, JSON, CSV and the HTML page from analysis results. Renderers return a `Table`, a `String`
//! or a `serde_json::Value`; `main` and the commands print. Must not import `pcap` or `etherparse`.
//!
//! Within it, dependencies run one way: `units` and `width` ← `labels` ← `sentences` ← `tables` ←
//! `terminal`; `html`, `json` and `csv` read the layers below `terminal`.

pub mod compare_json;
pub mod csv;
pub mod html;
pub mod json;
pub mod json_writer;
pub mod labels;
pub mod ladder;
pub mod link;
pub mod sentences;
pub mod tables;
pub mod terminal;
pub mod units;
pub mod width;
