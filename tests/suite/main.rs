//! The integration tests, in one binary: each module drives the built binary or the library as
//! a user would. Tests that need root say so in their names and print why they skip without it
//! (under `CI=true` they fail instead); tests that run an emulated link hold `common::link_slot`,
//! so no more links share the cores than they have room for.

#[path = "../common/mod.rs"]
mod common;
#[path = "../fixtures/mod.rs"]
mod fixtures;

mod analyze_fixtures;
mod capture_split;
mod capture_stop;
mod commands;
mod doc_links;
mod emulated_compare;
mod emulated_link;
mod failure_paths;
mod h2_transfer;
mod h3_compare;
mod h3_transfer;
mod head_of_line;
mod html_pages;
mod html_report;
mod html_words;
mod http2_http3_model;
mod http2_wire;
mod keylog;
mod ladder;
mod link_types;
mod live_compare;
mod messages;
mod pdf_report;
mod quic_analysis;
mod quic_ladder;
mod robustness;
mod server_limits;
mod tls_early_data;
mod tls_transfer;
mod tls_wire;
mod tshark_analysis;
mod two_hosts;
mod url_compare;
