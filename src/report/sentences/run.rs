//! Report layer, sentences: the lines around a comparison's packet and phase tables — Fast Open,
//! why the packet rows do not add up, the phase table's heading, the kernel's settings. Reads
//! `units`; must not import tables or the terminal report.

use crate::analysis::comparison::{Comparison, FastOpen};
use crate::analysis::phases::PhaseSource;
use crate::report::units;

/// How many SYNs carried a request, in one line.
pub fn fast_open_line(f: &FastOpen) -> String {
    let others = f.connections - f.with_data;
    format!(
        "TCP Fast Open: {} of {} connections sent their request with the SYN ({}){}",
        f.with_data,
        f.connections,
        units::bytes(f.bytes as f64),
        match others {
            0 => String::new(),
            1 => "; one shook hands first (without a cookie, or refused)".to_string(),
            n => format!("; {n} shook hands first (without a cookie, or refused)"),
        }
    )
}

/// Under the packet tables: why their rows do not add up to the packets.
pub const PACKETS_NOTE: &str = "A packet can count in more than one row, as it matches more than \
     one of Wireshark's filters: a handshake ACK is also a pure ACK, and a FIN can carry data.";

/// The phase table's heading: where its instants come from, and what its rows add up to.
pub fn phases_heading(cmp: &Comparison) -> String {
    let (source, start) = match cmp.phase_source() {
        PhaseSource::Capture => ("from the capture", "first SYN"),
        PhaseSource::Client => ("from the client's own timestamps", "first connect()"),
    };
    let mut heading = format!("Phases, {source}: those above \"=\" add up to {start} → last byte");
    // A mode whose connections the capture does not cut request by request (h3's QUIC, HTTP/2's
    // streams) beside captured ones.
    let uncaptured: Vec<&str> = cmp
        .modes
        .iter()
        .filter(|m| m.phase_source() == PhaseSource::Client)
        .map(|m| m.mode.name())
        .collect();
    if cmp.phase_source() == PhaseSource::Capture && !uncaptured.is_empty() {
        heading.push_str(&format!(
            "; {} from the client's own timestamps (the capture does not cut their connections \
             request by request)",
            uncaptured.join(", ")
        ));
    }
    heading
}

/// The kernel settings that change the result, read on this machine.
pub fn kernel_line(cmp: &Comparison) -> Option<String> {
    let k = cmp.kernel.as_ref()?;
    let show = |v: Option<u32>| v.map_or("?".to_string(), |v| v.to_string());
    Some(format!(
        "Kernel: tcp_slow_start_after_idle={} tcp_fin_timeout={} s, congestion control {}, \
         initial cwnd {}",
        show(k.tcp_slow_start_after_idle),
        show(k.tcp_fin_timeout_s),
        cmp.congestion().unwrap_or("?"),
        show(k.initial_cwnd)
    ))
}
