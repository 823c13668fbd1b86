//! Report layer: report.json, the comparison's JSON contract, as view structs built whole from
//! what analysis made. Its schema is generated from these types (`synack schema`,
//! docs/report.schema.json); `schema_version` changes when a key changes meaning or goes away.
//! Reads analysis and the per-connection views of [`super::json`]; must not import commands.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use super::json::{ConnectionJson, TotalsJson};
use crate::analysis::attribution::Attribution;
use crate::analysis::comparison::{
    CaptureInfo, Comparison, FastOpen, FlightLimit, LinkSettings, ModeResult, QuicTotals,
    ResponseStats, RunResult, SourceFile, TlsSessions, TlsSettings,
};
use crate::analysis::expected::{CountCheck, Expected};
use crate::analysis::file_phases::{self, FilePhase, FilePhases};
use crate::analysis::head_of_line::ModeHold;
use crate::analysis::model::{ModelGap, PathModel, Prediction};
use crate::analysis::phases::{PhaseSource, Phases};
use crate::analysis::stats::{Interval, Summary};
use crate::emulate::LinkStats;
use crate::transfer::run::{KernelSettings, ResponseSample};

/// The version of report.json's layout: 2 since the link's settings are per direction and the
/// report is typed.
pub const SCHEMA_VERSION: u32 = 2;

/// report.json: the first variant's comparison in full, the others' in `variants`, and the
/// emulated link's counts.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ComparisonReport<'a> {
    /// The layout's version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The report's opening lines, as the terminal prints them.
    pub summary: Vec<String>,
    /// The note on responses the client's receive window held back, if any.
    pub receive_window: Option<String>,
    /// Each mode's verdict against persistent, by mode name.
    pub verdicts: BTreeMap<String, VerdictJson>,
    /// The round trip as measured: the median handshake, in seconds.
    pub measured_rtt_s: f64,
    /// The congestion control the server's connections used.
    pub congestion: Option<String>,
    /// The congestion control of h3's QUIC connections (quinn's), when h3 ran.
    pub quic_congestion: Option<&'static str>,
    /// The modes in the order each round ran them.
    pub order: Vec<Vec<String>>,
    /// The seed of that order (and of the link's draws).
    pub seed: u64,
    /// The TLS asked for, if any.
    pub tls: Option<TlsSettings>,
    /// Rounds per mode.
    pub rounds: usize,
    /// The files transferred.
    pub files: Vec<SourceFile>,
    /// Each mode's capture file, by mode name (null without capture).
    pub captures: BTreeMap<String, Option<String>>,
    /// Each mode's results, by mode name.
    pub modes: BTreeMap<String, ModeJson<'a>>,
    /// The non-persistent − persistent gap, split by phase.
    pub attribution: Option<Attribution>,
    /// Every mode's gap against persistent, by mode name.
    pub attributions: BTreeMap<String, Attribution>,
    /// The model beside the measurement.
    pub model: ModelJson,
    /// Kernel settings that change the result.
    pub kernel: Option<KernelSettings>,
    /// The emulated link's settings, if one was emulated.
    pub link: Option<LinkSettings>,
    /// The MSS the captured handshakes agreed on (median).
    pub captured_mss: Option<u16>,
    /// Connections at once in the parallel mode.
    pub parallel: usize,
    /// Every variant's results, by variant name, when more than one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variants: Option<BTreeMap<String, VariantJson<'a>>>,
    /// What the emulated link did, over every run and the warm-up runs (null without a link).
    pub link_stats: Option<LinkStats>,
}

/// One mode's verdict.
#[derive(Debug, Serialize, JsonSchema)]
pub struct VerdictJson {
    /// The verdict as the terminal prints it.
    pub sentence: String,
    /// mean(mode) − mean(persistent), in seconds.
    pub gap_s: f64,
    /// The gap's 95 % confidence interval, when there were rounds enough.
    pub ci: Option<Interval>,
}

/// The model: the path it assumed, each mode's prediction and where the measurement differs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ModelJson {
    /// The path and sender the model assumed.
    pub path: PathModel,
    /// What held a fresh connection's first flight below the congestion window, if anything.
    pub first_flight_limit: Option<FlightLimit>,
    /// Each mode's prediction, by mode name.
    pub predictions: BTreeMap<String, Prediction>,
    /// Each mode's difference from its prediction, by mode name.
    pub differences: BTreeMap<String, ModelGap>,
}

/// One variant's results in `variants`: what the top level holds for the first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct VariantJson<'a> {
    /// As the top level's.
    pub modes: BTreeMap<String, ModeJson<'a>>,
    /// As the top level's.
    pub attribution: Option<Attribution>,
    /// As the top level's.
    pub attributions: BTreeMap<String, Attribution>,
    /// As the top level's.
    pub verdicts: BTreeMap<String, VerdictJson>,
    /// As the top level's.
    pub captures: BTreeMap<String, Option<String>>,
    /// As the top level's.
    pub model: ModelJson,
    /// As the top level's.
    pub tls: Option<TlsSettings>,
    /// Whether TCP Fast Open was asked for.
    pub fast_open: bool,
}

/// One mode's results.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ModeJson<'a> {
    /// Every run, in the order run.
    pub runs: Vec<RunJson<'a>>,
    /// Run totals and closing times over the rounds.
    pub summary: ModeSummaryJson,
    /// Rounds (from 1) whose totals lie outside the others' spread.
    pub outlier_rounds: Vec<usize>,
    /// Packet counts over every run (null without capture).
    pub totals: Option<TotalsJson>,
    /// The counts the mode predicts per run.
    pub expected: Expected,
    /// Each count beside its prediction (null without capture).
    pub checks: Option<Vec<CountCheck>>,
    /// Where the phases' instants come from.
    pub phase_source: PhaseSource,
    /// Rounds per file in each run (kept under its former name too).
    pub flights_per_file: Vec<Vec<u32>>,
    /// Rounds per file in each run, as the capture counts them.
    pub rounds_per_file: Vec<Vec<u32>>,
    /// The server's TCP_INFO as each response started and ended.
    pub tcp_info: Vec<ResponseSample>,
    /// Per file, the medians of those samples.
    pub responses: Vec<ResponseStats>,
    /// Packets the capture dropped (null without capture).
    pub capture_dropped: Option<u64>,
    /// What TCP Fast Open did, when asked for.
    pub fast_open: Option<FastOpen>,
    /// The TLS sessions, when the client spoke TLS.
    pub tls_sessions: Option<TlsSessions>,
    /// A QUIC mode's packets (h3), as tshark counts them: connections, datagrams and packets by
    /// type each way, resumed connections, handshakes summed; null for the TCP modes.
    pub quic: Option<QuicTotals>,
    /// Captured connections outside every run (warm-up, probes), or not opened by synack's
    /// client (another program's to the same server), left out of every count.
    pub connections_outside_runs: Option<usize>,
    /// Head-of-line blocking per file, where the capture shows cleartext HTTP/2 (h2c): the
    /// server's DATA frames that waited behind another stream's lost bytes; null otherwise.
    pub head_of_line: Option<ModeHold>,
}

/// A mode's run totals and closing times, summarised.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ModeSummaryJson {
    /// Connect → last byte, per run.
    pub total_s: Summary,
    /// Last byte → the last connection closed, per run.
    pub close_s: Summary,
}

/// One run.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RunJson<'a> {
    /// Connect → last byte, in seconds.
    pub total_s: f64,
    /// Last byte → the last connection closed, in seconds.
    pub close_s: f64,
    /// Slow-start rounds beyond one per file (null without capture).
    pub extra_rounds: Option<u32>,
    /// When the run started, in seconds since the Unix epoch.
    pub start_unix_s: f64,
    /// Each file as received.
    pub files: Vec<FileJson>,
    /// Packet counts (null without capture).
    pub totals: Option<TotalsJson>,
    /// The run's captured connections.
    pub connections: Vec<ConnectionJson<'a>>,
    /// Where the run's time went.
    pub phases: Phases,
    /// Each file's time split into the waterfall's phases.
    pub file_phases: Vec<FilePhasesJson>,
}

/// One file as the client received it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FileJson {
    /// File name.
    pub name: String,
    /// Seconds attributable to it (see docs/json.md).
    pub seconds: f64,
    /// Body bytes.
    pub bytes: u64,
    /// SHA-256 of the body, lowercase hex.
    pub sha256: String,
    /// Whether it matched the file sent.
    pub sha256_ok: Option<bool>,
}

/// One file's time in one run, split into the waterfall's phases.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FilePhasesJson {
    /// File name.
    pub name: String,
    /// The connection (index in the run) that carried it.
    pub connection: usize,
    /// When its first phase started, in seconds since the run's start.
    pub start_s: Option<f64>,
    /// Seconds between connections before it.
    pub between_s: f64,
    /// Seconds of TCP handshake.
    pub handshake_s: f64,
    /// Seconds of TLS handshake.
    pub tls_s: f64,
    /// Seconds of the client's own work.
    pub client_s: f64,
    /// Seconds from request to first byte.
    pub wait_s: f64,
    /// Seconds from first byte to last.
    pub transfer_s: f64,
    /// Seconds of closing.
    pub closing_s: f64,
}

impl<'a> ComparisonReport<'a> {
    /// The report of `compared` (the first variant in full), with the link's counts.
    pub fn of(
        compared: &[(&str, &'a Comparison)],
        link_stats: Option<&LinkStats>,
    ) -> ComparisonReport<'a> {
        let cmp = compared[0].1;
        let variants = (compared.len() > 1).then(|| {
            compared
                .iter()
                .map(|(name, c)| ((*name).to_owned(), VariantJson::of(c)))
                .collect()
        });
        ComparisonReport {
            schema_version: SCHEMA_VERSION,
            summary: super::sentences::opening(cmp),
            receive_window: super::sentences::receive_window_line(
                &cmp.modes
                    .iter()
                    .flat_map(|m| m.response_stats(&cmp.files, &cmp.paths))
                    .collect::<Vec<_>>(),
            ),
            verdicts: verdicts(cmp),
            measured_rtt_s: cmp.measured_rtt_s(),
            congestion: cmp.congestion().map(str::to_owned),
            quic_congestion: cmp.quic_congestion,
            order: cmp
                .order
                .iter()
                .map(|round| round.iter().map(|m| m.name().to_owned()).collect())
                .collect(),
            seed: cmp.seed,
            tls: cmp.tls,
            rounds: cmp.rounds,
            files: cmp.files.clone(),
            captures: captures(cmp),
            modes: modes(cmp),
            attribution: cmp.attribution(),
            attributions: attributions(cmp),
            model: ModelJson::of(cmp),
            kernel: cmp.kernel.clone(),
            link: cmp.link.clone(),
            captured_mss: cmp.captured_mss(),
            parallel: cmp.parallel,
            variants,
            link_stats: link_stats.copied(),
        }
    }
}

impl<'a> VariantJson<'a> {
    fn of(cmp: &'a Comparison) -> VariantJson<'a> {
        VariantJson {
            modes: modes(cmp),
            attribution: cmp.attribution(),
            attributions: attributions(cmp),
            verdicts: verdicts(cmp),
            captures: captures(cmp),
            model: ModelJson::of(cmp),
            tls: cmp.tls,
            fast_open: cmp.fastopen,
        }
    }
}

impl ModelJson {
    fn of(cmp: &Comparison) -> ModelJson {
        let path = cmp.path_model();
        ModelJson {
            first_flight_limit: cmp.first_flight_limit(&path),
            path,
            predictions: cmp
                .predictions()
                .into_iter()
                .map(|(mode, p)| (mode.name().to_owned(), p))
                .collect(),
            differences: cmp
                .model_gaps()
                .into_iter()
                .map(|(mode, _, gap)| (mode.name().to_owned(), gap))
                .collect(),
        }
    }
}

fn verdicts(cmp: &Comparison) -> BTreeMap<String, VerdictJson> {
    let rtt = cmp.measured_rtt_s();
    cmp.attributions()
        .into_iter()
        .map(|(mode, a)| {
            let slower_mean = cmp.mode(mode).map_or(0.0, |m| m.total_summary().mean);
            let verdict = VerdictJson {
                sentence: super::sentences::verdict(mode, &a, slower_mean, rtt, cmp.rounds),
                gap_s: a.gap_s,
                ci: a.interval,
            };
            (mode.name().to_owned(), verdict)
        })
        .collect()
}

fn captures(cmp: &Comparison) -> BTreeMap<String, Option<String>> {
    cmp.modes
        .iter()
        .map(|m| {
            let path = m.capture.as_ref().map(|c| c.path.display().to_string());
            (m.mode.name().to_owned(), path)
        })
        .collect()
}

fn modes(cmp: &Comparison) -> BTreeMap<String, ModeJson<'_>> {
    cmp.modes
        .iter()
        .map(|m| (m.mode.name().to_owned(), ModeJson::of(m, cmp)))
        .collect()
}

fn attributions(cmp: &Comparison) -> BTreeMap<String, Attribution> {
    cmp.attributions()
        .into_iter()
        .map(|(mode, a)| (mode.name().to_owned(), a))
        .collect()
}

impl<'a> ModeJson<'a> {
    fn of(m: &'a ModeResult, cmp: &Comparison) -> ModeJson<'a> {
        let files = cmp.files.len();
        let captured = m.capture.as_ref();
        let rounds = m.rounds_per_file(files);
        ModeJson {
            runs: m.runs.iter().map(|r| RunJson::of(r, m, cmp)).collect(),
            summary: ModeSummaryJson {
                total_s: m.total_summary(),
                close_s: m.close_summary(),
            },
            outlier_rounds: m.outlier_runs().iter().map(|r| r + 1).collect(),
            totals: m.totals().as_ref().map(TotalsJson::of),
            expected: m.expected,
            checks: m.checks(),
            phase_source: m.phase_source(),
            flights_per_file: rounds.clone(),
            rounds_per_file: rounds,
            tcp_info: m.samples.clone(),
            responses: m.response_stats(&cmp.files, &cmp.paths),
            capture_dropped: captured.map(|c: &CaptureInfo| c.dropped),
            fast_open: m.fast_open(),
            tls_sessions: m.tls_sessions(),
            connections_outside_runs: captured.map(|c| c.outside_runs),
            quic: m.quic_totals(),
            head_of_line: ModeHold::of(m),
        }
    }
}

impl<'a> RunJson<'a> {
    fn of(r: &'a RunResult, m: &ModeResult, cmp: &Comparison) -> RunJson<'a> {
        RunJson {
            total_s: r.timing.total_s(),
            close_s: r.timing.close_s(),
            extra_rounds: m.capture.is_some().then(|| r.extra_rounds()),
            start_unix_s: r.timing.start.as_secs_f64(),
            files: r
                .timing
                .files
                .iter()
                .map(|f| FileJson {
                    name: f.name.clone(),
                    seconds: f.seconds,
                    bytes: f.bytes,
                    sha256: f.sha256.clone(),
                    sha256_ok: f.sha256_ok,
                })
                .collect(),
            totals: r.totals.as_ref().map(TotalsJson::of),
            connections: r.connections.iter().map(ConnectionJson::of).collect(),
            phases: r.phases,
            file_phases: file_phases::of_run(r)
                .iter()
                .map(|f| FilePhasesJson::of(f, r, cmp))
                .collect(),
        }
    }
}

impl FilePhasesJson {
    fn of(f: &FilePhases, run: &RunResult, cmp: &Comparison) -> FilePhasesJson {
        FilePhasesJson {
            name: cmp
                .files
                .get(f.file)
                .map(|x| x.name.clone())
                .unwrap_or_default(),
            connection: f.connection,
            start_s: f.start().map(|s| s.secs_since(run.timing.start)),
            between_s: f.seconds(FilePhase::Between),
            handshake_s: f.seconds(FilePhase::Handshake),
            tls_s: f.seconds(FilePhase::Tls),
            client_s: f.seconds(FilePhase::ClientWork),
            wait_s: f.seconds(FilePhase::RequestWait),
            transfer_s: f.seconds(FilePhase::Transfer),
            closing_s: f.seconds(FilePhase::Closing),
        }
    }
}

/// report.json's JSON Schema, generated from [`ComparisonReport`].
pub fn schema() -> schemars::Schema {
    schemars::schema_for!(ComparisonReport<'static>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_in_docs_is_the_one_the_types_generate() {
        crate::report::assert_schema_file("docs/report.schema.json", &schema());
    }

    #[test]
    fn the_schema_names_the_version_and_requires_the_top_level_keys() {
        let schema = serde_json::to_value(schema()).unwrap();
        let required = schema["required"].as_array().unwrap();
        for key in ["schema_version", "modes", "verdicts", "model"] {
            assert!(required.iter().any(|k| k == key), "{key} in {required:?}");
        }
        // Present as null without a link.
        for key in ["link", "link_stats"] {
            assert!(schema["properties"][key].is_object(), "{key}");
        }
        assert!(
            !required.iter().any(|k| k == "variants"),
            "variants only with more than one"
        );
    }
}
