//! The runs of `synack compare`: one warm-up run per mode, then round after round every mode
//! once, in an order shuffled per round (seeded), so drift over the session hits every mode
//! alike. One live capture covers every round; it is split into a .pcap per mode at the end.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::Network;
use super::progress::Progress;
use crate::analysis::comparison::{CaptureInfo, ModeResult, SourceFile};
use crate::analysis::expected::TlsPlan;
use crate::capture::CaptureError;
use crate::capture::source::Recorder;
use crate::capture::split::{Window, split_by_time};
use crate::capture::writer::Format;
use crate::commands::output::outln;
use crate::track::reader::track_file;
use crate::transfer::client::{FetchPlan, fetch_sites};
use crate::transfer::events::EventLog;
use crate::transfer::run::{Mode, ResponseSample, RunTiming};
use crate::transfer::server::Server;

/// Quiet on the run's own connections after a run, beyond two round trips, before the next run
/// starts: its last ACKs arrive after the client has returned, and must not fall into the next
/// run. Only the run's connections count: another program talking to the same server (which the
/// capture's filter lets in) would otherwise hold every run to `SETTLE_LIMIT`.
const SETTLE_MARGIN: Duration = Duration::from_millis(30);

/// Upper bound on that wait.
const SETTLE_LIMIT: Duration = Duration::from_secs(3);

/// What to capture, where.
pub struct CaptureSetup {
    /// Interface.
    pub iface: String,
    /// BPF filter for the comparison's traffic.
    pub filter: String,
    /// Bytes kept per frame.
    pub snaplen: i32,
    /// Save pcapng whose section comment starts with these lines (the command, the link, the
    /// server), then names the mode and its rounds; `None` saves classic pcap.
    pub about: Option<String>,
}

/// Everything a session needs.
pub struct Session<'a> {
    /// Where the client and the server run.
    pub network: &'a Network,
    /// The built-in server, when it is used.
    pub server: Option<&'a Server>,
    /// The lifecycle log both sides write to with -v.
    pub events: &'a EventLog,
    /// What the client fetches.
    /// One plan a server (the URLs' servers, fetched at once in a run).
    pub plans: &'a [FetchPlan],
    /// The same with TLS the other way round, for the HTTP/2 mode that differs from the others
    /// (h2 always speaks TLS, h2c never); see [`Session::plans_for`].
    pub http2_plan: Option<&'a FetchPlan>,
    /// The files, as the source describes them.
    pub files: &'a [SourceFile],
    /// Modes to run, in their report order.
    pub modes: &'a [Mode],
    /// Rounds: runs per mode.
    pub rounds: u32,
    /// Seed of the per-round order.
    pub seed: u64,
    /// The capture, unless skipped.
    pub capture: Option<CaptureSetup>,
    /// The run folder, where the captures go.
    pub run_dir: &'a Path,
    /// The path's round trip when known (emulated), for the quiet wait after each run.
    pub rtt: Duration,
    /// Print each run's lifecycle events.
    pub verbose: bool,
    /// At most this many requests a second, on average over a run and the pause after it.
    pub pace: Option<u32>,
}

/// What a session produced.
pub struct Outcome {
    /// One result per mode, in the order of `Session::modes`.
    pub modes: Vec<ModeResult>,
    /// The order each round ran the modes in.
    pub order: Vec<Vec<Mode>>,
}

/// One run, as it happened.
struct Run {
    mode: usize,
    timing: RunTiming,
}

impl Session<'_> {
    /// The plan `mode` runs with: h2 speaks TLS and h2c does not, whatever the others do.
    fn plans_for(&self, mode: Mode) -> &[FetchPlan] {
        let flipped = match mode {
            Mode::H2 => self.plans[0].tls.is_none(),
            Mode::H2c => self.plans[0].tls.is_some(),
            _ => false,
        };
        match self.http2_plan {
            Some(plan) if flipped => std::slice::from_ref(plan),
            _ => self.plans,
        }
    }

    /// Runs the warm-up and every round; then splits, tracks and assembles the results.
    pub fn run(&self) -> anyhow::Result<Outcome> {
        let warm_ups = self.modes.len() as u64;
        let mut progress =
            Progress::new(warm_ups + u64::from(self.rounds) * self.modes.len() as u64);
        // One unrecorded run per mode first, so no mode pays for cold caches and thread start.
        let mut warm_up_clients = Vec::new();
        for &mode in self.modes {
            progress.warm_up(mode);
            let plans = self.plans_for(mode).to_vec();
            let started = Instant::now();
            let timing = self
                .network
                .client(move || fetch_sites(mode, &plans, None))
                .with_context(|| format!("{} warm-up run failed", mode.name()))?;
            warm_up_clients.extend(clients(&timing));
            self.keep_pace(started);
            progress.run_done();
        }
        let session_pcap = self.run_dir.join("session.pcap");
        let mut recorder = self.start_capture(&session_pcap)?;
        // What the warm-up left (its closing packets, events, samples) is not part of any run.
        if let Some(r) = &recorder {
            r.wait_quiet_for(&warm_up_clients, self.settle(), SETTLE_LIMIT);
        }
        self.events.take();
        if let Some(server) = self.server {
            server.take_samples();
        }

        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut order = Vec::new();
        let mut runs: Vec<Run> = Vec::new();
        for round in 0..self.rounds {
            let mut modes: Vec<usize> = (0..self.modes.len()).collect();
            modes.shuffle(&mut rng);
            for &index in &modes {
                progress.next(self.modes[index], round, self.rounds);
                let started = Instant::now();
                let timing = self.run_once(self.modes[index], round)?;
                self.keep_pace(started);
                if let Some(r) = &mut recorder {
                    r.wait_quiet_for(&clients(&timing), self.settle(), SETTLE_LIMIT);
                    // A capture cut short (a full disk) ends the session: no tables from it.
                    r.check().context("the packet capture failed")?;
                }
                progress.run_done();
                if self.verbose {
                    progress.print(|| self.print_events(&timing, round));
                }
                runs.push(Run {
                    mode: index,
                    timing,
                });
            }
            order.push(modes.iter().map(|&i| self.modes[i]).collect());
        }

        drop(progress);
        let split = match recorder.take() {
            Some(recorder) => Some(self.split_capture(recorder, &session_pcap, &runs)?),
            None => None,
        };
        let mut samples = self.server.map(Server::take_samples).unwrap_or_default();
        let mut results = Vec::new();
        for (index, &mode) in self.modes.iter().enumerate() {
            let timings: Vec<RunTiming> = runs
                .iter()
                .filter(|r| r.mode == index)
                .map(|r| r.timing.clone())
                .collect();
            let tracked = match &split {
                Some((paths, dropped)) => {
                    let path = paths[index].clone();
                    let tracked = track_file(&path, None)
                        .with_context(|| format!("cannot read back {}", path.display()))?;
                    let info = CaptureInfo {
                        path,
                        dropped: *dropped,
                        outside_runs: 0,
                    };
                    Some((tracked, info))
                }
                None => None,
            };
            // h3's packets are QUIC: counted as such, its phases the client's own.
            let (captured, quic) = match tracked {
                Some((t, info)) if mode == Mode::H3 => (None, Some((t.quic.connections, info))),
                Some((t, info)) => (Some((t.connections, info)), None),
                None => (None, None),
            };
            let tls = self.plans_for(mode)[0]
                .tls
                .as_ref()
                .map(|tls| TlsPlan::of(&tls.options(), self.plans[0].parallel));
            let mine = take_samples_of(&mut samples, &runs, index);
            let mut result = ModeResult::new(
                mode,
                self.files.len(),
                self.plans.len(),
                timings,
                captured,
                tls,
                mine,
            );
            if let Some((connections, info)) = quic {
                result.add_quic(connections, info);
            }
            results.push(result);
        }
        Ok(Outcome {
            modes: results,
            order,
        })
    }

    /// Waits, after a run that began at `started`, until its requests are no more than `pace`
    /// a second on average.
    fn keep_pace(&self, started: Instant) {
        if let Some(rate) = self.pace {
            let least = Duration::from_secs_f64(self.files.len() as f64 / f64::from(rate));
            if let Some(rest) = least.checked_sub(started.elapsed()) {
                std::thread::sleep(rest);
            }
        }
    }

    fn settle(&self) -> Duration {
        2 * self.rtt + SETTLE_MARGIN
    }

    fn start_capture(&self, path: &Path) -> anyhow::Result<Option<Recorder>> {
        let Some(setup) = &self.capture else {
            return Ok(None);
        };
        let (iface, filter, snaplen, path) = (
            setup.iface.clone(),
            setup.filter.clone(),
            setup.snaplen,
            path.to_owned(),
        );
        match self
            .network
            .client(move || Recorder::start(&iface, &filter, snaplen, &path))
        {
            Ok(recorder) => Ok(Some(recorder)),
            Err(e @ CaptureError::Permission { .. }) => {
                eprintln!(
                    "synack: capture skipped, timing only (phases from the client's own timestamps): {e}"
                );
                Ok(None)
            }
            Err(e) => Err(e).context("cannot start the packet capture"),
        }
    }

    fn run_once(&self, mode: Mode, round: u32) -> anyhow::Result<RunTiming> {
        self.clear_received(mode)?;
        let (plans, log) = (self.plans_for(mode).to_vec(), self.events.clone());
        let verbose = self.verbose;
        let timing = self
            .network
            .client(move || fetch_sites(mode, &plans, verbose.then_some(&log)))
            .with_context(|| {
                format!(
                    "{} run {} of {} failed",
                    mode.name(),
                    round + 1,
                    self.rounds
                )
            })?;
        Ok(timing)
    }

    /// Removes the previous run's copies, so replacing them is not timed as part of this run.
    fn clear_received(&self, mode: Mode) -> anyhow::Result<()> {
        for f in self.files {
            let path = self.plans[0].out_dir.join(mode.name()).join(&f.name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot remove {}", path.display()));
                }
            }
        }
        Ok(())
    }

    /// Prints the run's lifecycle from both sides, times from the run's start; events from
    /// before it (a previous run's late closing) are left out.
    fn print_events(&self, timing: &RunTiming, round: u32) {
        let mut events: Vec<_> = self
            .events
            .take()
            .into_iter()
            .filter(|e| e.ts >= timing.start)
            .collect();
        events.sort_by_key(|e| e.ts);
        outln!(
            "{} run {} — times from the run's start",
            timing.mode.name(),
            round + 1
        );
        for e in &events {
            outln!("{}", super::super::event_line(timing.start, e));
        }
    }

    /// Stops the capture and splits it into one file per mode: every frame from a run's start
    /// to the next run's start goes to that run's mode.
    fn split_capture(
        &self,
        recorder: Recorder,
        session_pcap: &Path,
        runs: &[Run],
    ) -> anyhow::Result<(Vec<PathBuf>, u64)> {
        let stats = recorder.stop().context("the packet capture failed")?;
        let dropped = stats.kernel_dropped + stats.interface_dropped;
        if dropped > 0 {
            eprintln!(
                "synack: warning: the kernel dropped {dropped} packets of the capture; counts may be short"
            );
        }
        let about = self.capture.as_ref().and_then(|c| c.about.as_deref());
        let formats: Vec<Format> = (0..self.modes.len())
            .map(|index| match about {
                Some(about) => Format::PcapNg {
                    comment: self.comment(about, index, runs),
                },
                None => Format::Pcap,
            })
            .collect();
        let paths: Vec<PathBuf> = self
            .modes
            .iter()
            .zip(&formats)
            .map(|(m, f)| self.run_dir.join(format!("{}.{}", m.name(), f.extension())))
            .collect();
        let windows: Vec<Window> = runs
            .iter()
            .map(|r| Window {
                start: r.timing.start,
                output: r.mode,
            })
            .collect();
        let split = split_by_time(session_pcap, &windows, &paths, &formats);
        let _ = std::fs::remove_file(session_pcap);
        split.context("cannot split the capture by mode")?;
        for path in &paths {
            crate::created::made(path);
        }
        Ok((paths, dropped))
    }
}

impl Session<'_> {
    /// The section comment of mode `index`'s capture: `about`, the mode, and when each of its
    /// rounds started (UTC, as the frames' timestamps), so a frame is placed in its round.
    fn comment(&self, about: &str, index: usize, runs: &[Run]) -> String {
        let mode = self.modes[index];
        let mut text = format!(
            "{about}\nmode: {mode}\nrounds: {} of each mode, their order shuffled with seed {}",
            self.rounds, self.seed
        );
        for (round, run) in runs.iter().filter(|r| r.mode == index).enumerate() {
            text.push_str(&format!(
                "\nround {} started {}",
                round + 1,
                utc(run.timing.start)
            ));
        }
        text
    }
}

/// `ts` as UTC to the microsecond, e.g. 2026-12-05 19:31:34.123456 UTC.
fn utc(ts: crate::timeline::Ts) -> String {
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.0)) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        ),
        Err(_) => format!("{:.6} s after 1970", ts.as_secs_f64()),
    }
}

/// Moves out of `samples` those of mode `index`: each sample belongs to the latest run that
/// started before it and opened a connection from the sample's peer address.
fn take_samples_of(
    samples: &mut Vec<ResponseSample>,
    runs: &[Run],
    index: usize,
) -> Vec<ResponseSample> {
    let owner = |sample: &ResponseSample| -> Option<usize> {
        runs.iter()
            .filter(|r| r.timing.start <= sample.started)
            .filter(|r| has_connection_from(&r.timing, sample.peer))
            .max_by_key(|r| r.timing.start)
            .map(|r| r.mode)
    };
    let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(samples)
        .into_iter()
        .partition(|s| owner(s) == Some(index));
    *samples = rest;
    mine
}

/// The client's end (address and port, TCP or UDP) of each of a run's connections: what the
/// capture waits on after the run.
fn clients(timing: &RunTiming) -> Vec<SocketAddr> {
    timing.connections.iter().map(|c| c.local).collect()
}

fn has_connection_from(timing: &RunTiming, peer: SocketAddr) -> bool {
    timing.connections.iter().any(|c| c.local == peer)
}
