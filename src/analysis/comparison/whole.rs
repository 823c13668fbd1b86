//! Attribute layer, comparison: the whole comparison — its settings, its modes, and what is read
//! across them: the round trip measured, the gap of each mode against persistent, the resends.

use super::link::LinkSettings;
use super::mode::ModeResult;
use super::response::median;
use super::run::SourceFile;
use crate::analysis::attribution::Attribution;
use crate::analysis::phases::PhaseSource;
use crate::track::Connection;
use crate::transfer::run::{ClientTlsOptions, KernelSettings, Mode, TlsVersion};

/// A whole comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Rounds per mode.
    pub rounds: usize,
    /// The files transferred.
    pub files: Vec<SourceFile>,
    /// Request paths, in file order.
    pub paths: Vec<String>,
    /// One result per mode, in the order run.
    pub modes: Vec<ModeResult>,
    /// Connections at once in the parallel mode.
    pub parallel: usize,
    /// Kernel settings that change the result (read on this machine).
    pub kernel: Option<KernelSettings>,
    /// The emulated link, if any.
    pub link: Option<LinkSettings>,
    /// The modes in the order each round ran them (shuffled per round).
    pub order: Vec<Vec<Mode>>,
    /// The seed of that shuffle.
    pub seed: u64,
    /// Whether TCP Fast Open was asked for.
    pub fastopen: bool,
    /// TLS, when the client spoke it.
    pub tls: Option<TlsSettings>,
    /// The congestion control of h3's QUIC connections (quinn's own, named as the kernel names
    /// TCP's: `cubic`, `reno`, `bbr`), when h3 ran.
    pub quic_congestion: Option<&'static str>,
}

/// The TLS a comparison asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TlsSettings {
    /// The version both sides were pinned to.
    pub version: TlsVersion,
    /// Later connections resumed the run's session.
    pub resume: bool,
    /// Resumed connections sent their request as early data.
    pub early_data: bool,
}

impl TlsSettings {
    /// What a client with these options spoke: a version left open is TLS 1.3, which both
    /// sides prefer.
    pub fn of(options: &ClientTlsOptions) -> TlsSettings {
        TlsSettings {
            version: options.version.unwrap_or(TlsVersion::Tls13),
            resume: options.resume,
            early_data: options.early_data,
        }
    }
}

impl Comparison {
    /// The result of `mode`, if it ran.
    pub fn mode(&self, mode: Mode) -> Option<&ModeResult> {
        self.modes.iter().find(|m| m.mode == mode)
    }

    /// The non-persistent − persistent gap, split by phase.
    pub fn attribution(&self) -> Option<Attribution> {
        self.attribution_of(Mode::NonPersistent)
    }

    /// The gap between `mode` and persistent, split by phase.
    pub fn attribution_of(&self, mode: Mode) -> Option<Attribution> {
        let other = self.mode(mode)?;
        let baseline = self.mode(Mode::Persistent)?;
        (mode != Mode::Persistent).then(|| {
            Attribution::between(
                &other.run_phases(),
                &baseline.run_phases(),
                self.measured_rtt_s(),
            )
        })
    }

    /// The congestion control the server's connections used (read from their sockets), else
    /// the kernel's default.
    pub fn congestion(&self) -> Option<&str> {
        self.modes
            .iter()
            .flat_map(|m| &m.samples)
            .find_map(|s| s.congestion.as_deref())
            .or(self
                .kernel
                .as_ref()
                .and_then(|k| k.tcp_congestion_control.as_deref()))
    }

    /// Whether h3's QUIC connections ran another congestion control than the TCP modes' (both
    /// known, and some TCP mode ran beside h3): (TCP's, QUIC's).
    pub fn congestion_differs(&self) -> Option<(&str, &'static str)> {
        let quic = self.quic_congestion?;
        let tcp = self.congestion()?;
        let tcp_ran = self.modes.iter().any(|m| m.mode != Mode::H3);
        (tcp_ran && tcp != quic).then_some((tcp, quic))
    }

    /// The round trip as measured: the median handshake (the SYN it answered → SYN-ACK at the
    /// capture, so a resent SYN's timeout is left out; else the client's connect time), 0 with
    /// no connection.
    pub fn measured_rtt_s(&self) -> f64 {
        let mut handshakes: Vec<f64> = self
            .modes
            .iter()
            .flat_map(|m| &m.runs)
            .flat_map(|r| {
                let captured = r.connections.iter().filter_map(Connection::round_trip_s);
                let client = r
                    .timing
                    .connections
                    .iter()
                    .map(|c| c.connected.secs_since(c.connect_start));
                if r.connections.is_empty() {
                    client.collect::<Vec<_>>()
                } else {
                    captured.collect()
                }
            })
            .collect();
        handshakes.sort_by(f64::total_cmp);
        handshakes.get(handshakes.len() / 2).copied().unwrap_or(0.0)
    }

    /// Where the phases' instants come from: the capture when any mode was captured.
    pub fn phase_source(&self) -> PhaseSource {
        if self.modes.iter().any(|m| m.source == PhaseSource::Capture) {
            PhaseSource::Capture
        } else {
            PhaseSource::Client
        }
    }

    /// Every mode's gap against persistent.
    pub fn attributions(&self) -> Vec<(Mode, Attribution)> {
        self.modes
            .iter()
            .filter_map(|m| Some((m.mode, self.attribution_of(m.mode)?)))
            .collect()
    }

    /// Captured segments sent again, over all modes and runs: those Wireshark marks as a
    /// retransmission or out-of-order (a resent SYN or FIN among them, as each takes sequence
    /// space).
    pub fn resent(&self) -> u64 {
        self.modes
            .iter()
            .flat_map(|m| &m.runs)
            .flat_map(|r| &r.connections)
            .map(|c| c.counts.resent())
            .sum()
    }

    /// The MSS the captured handshakes agreed on (median over connections; each the smaller of
    /// its two SYNs' options): what the path's MTU let a segment carry, as the wire shows it.
    pub fn captured_mss(&self) -> Option<u16> {
        median(
            self.modes
                .iter()
                .flat_map(|m| &m.runs)
                .flat_map(|r| &r.connections)
                .filter_map(Connection::mss)
                .collect(),
        )
    }

    /// The emulated link's round trip, when one was set (`--loss` alone emulates a link with
    /// none: loopback's own round trip is then the one measured).
    pub fn configured_rtt_s(&self) -> Option<f64> {
        self.link.as_ref().map(|l| l.rtt_s).filter(|&rtt| rtt > 0.0)
    }
}
