//! `synack analyze` never panics on a capture file of any bytes: libpcap reads it (pcap or
//! pcapng), synack decodes and tracks it, and the JSON and tables are rendered, not printed.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use synack::analysis::pattern::RequestPattern;
use synack::analysis::phases::{ConnectionTimeline, PhaseAccumulator};
use synack::report::{json, sentences, tables};
use synack::track::Totals;
use synack::track::reader::track_file;
use synack::track::tls::TlsTotals;

/// One file per fuzzing process, rewritten for each input (libpcap reads files, not memory).
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("synack-fuzz-{}.pcap", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("write the scratch capture");
    match track_file(path, None) {
        Ok(tracked) => {
            let totals = Totals::of(tracked.connections.iter().map(|c| &c.counts));
            let mut pattern = RequestPattern::default();
            let mut phases = PhaseAccumulator::default();
            let mut tls = TlsTotals::default();
            for c in &tracked.connections {
                let _ = json::connection(c).to_string();
                pattern.add(c);
                phases.add(&ConnectionTimeline::from_capture(c));
                if let Some(h) = c.tls() {
                    tls.add(h);
                }
            }
            let words = sentences::pattern(pattern.pattern(), pattern.never_established());
            let summary =
                json::capture_summary(&tracked.counts, &totals, &tls, &tracked.quic, &words);
            let _ = serde_json::to_string(&summary);
            let _ = tables::quic_table(&tracked.quic.connections).to_string();
            let _ = tables::quic_tls_table(&tracked.quic.connections).to_string();
            let _ = tables::totals_table(&totals).to_string();
            let shown = tracked.connections.len().min(20);
            let _ = tables::connection_table(&tracked.connections[..shown], 0).to_string();
            let _ = tables::phase_summary_table(&phases.finish()).to_string();
            if let Some(cut) = &tracked.counts.cut_off {
                assert!(!cut.to_string().contains('\n'), "{cut}");
            }
        }
        Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
    }
});
