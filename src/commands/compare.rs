//! `synack compare`: both modes, round after round, each mode under its own live capture; then the
//! timing, packet, phase and attribution tables, the saved captures and report.json.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::analysis::comparison::{CaptureInfo, Comparison, LinkSettings, ModeResult, SourceFile};
use crate::capture::CaptureError;
use crate::capture::source::Recorder;
use crate::cli::CompareArgs;
use crate::emulate::EmulatedLink;
use crate::report::{json, secs, tables};
use crate::track::reader::track_file;
use crate::transfer::client::{FetchPlan, Mode, RunTiming, fetch};
use crate::transfer::events::EventLog;
use crate::transfer::files::{generate_samples, list_files, sha256_file};
use crate::transfer::http::path_for_name;
use crate::transfer::kernel::read_kernel_settings;
use crate::transfer::server::{Server, ServerConfig};

/// Quiet time after a mode's last run before the capture stops: the last FIN/ACK arrive after the
/// client has returned.
const SETTLE_QUIET: Duration = Duration::from_millis(150);
/// Upper bound on that wait.
const SETTLE_LIMIT: Duration = Duration::from_secs(3);

/// Where the client and the server run: on this host, or at the two ends of an emulated link.
enum Network {
    /// This host's own network (loopback for the built-in server).
    Host,
    /// Two namespaces joined by synack's link emulator.
    Emulated(Box<EmulatedLink>),
}

impl Network {
    /// Runs `f` where the client runs.
    fn client<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        match self {
            Network::Host => f(),
            Network::Emulated(link) => link.in_client(f),
        }
    }

    /// Runs `f` where the server runs.
    fn server<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        match self {
            Network::Host => f(),
            Network::Emulated(link) => link.in_server(f),
        }
    }
}

/// Runs the comparison and prints its report. Whatever happens, what it wrote belongs to the
/// invoking user when run under sudo.
pub fn run(args: &CompareArgs) -> anyhow::Result<()> {
    let captures_existed = args.captures.exists();
    let mut run_dir = None;
    let result = compare(args, &mut run_dir);
    let mut written: Vec<&Path> = vec![args.out.as_path()];
    written.extend(run_dir.as_deref());
    written.extend(args.output.json.as_deref());
    if !captures_existed {
        written.push(args.captures.as_path());
    }
    for path in written.into_iter().filter(|p| p.exists()) {
        let owned = super::ownership::give_to_invoking_user(path)
            .with_context(|| format!("cannot give {} to the sudo user", path.display()));
        if result.is_ok() {
            owned?;
        }
    }
    result
}

fn compare(args: &CompareArgs, run_dir_made: &mut Option<PathBuf>) -> anyhow::Result<()> {
    let mut selected: Vec<Mode> = Vec::new();
    for &mode in &args.modes {
        if !selected.contains(&mode) {
            selected.push(mode);
        }
    }
    let link_config = args.link.config();
    if link_config.is_some() && args.capture.iface.is_some() {
        bail!("with an emulated link the capture is taken on its client end; leave out --iface");
    }
    if link_config.is_some() && args.server.is_some() {
        bail!(
            "--rtt, --jitter, --loss and --rate emulate a link to the built-in server; leave out --server"
        );
    }
    let samples = tempfile::Builder::new()
        .prefix("synack-files-")
        .tempdir()
        .context("cannot make a temporary folder for the sample files")?;
    let file_paths = match &args.files {
        Some(dir) => list_files(dir).with_context(|| format!("cannot list {}", dir.display()))?,
        None => generate_samples(samples.path()).context("cannot generate the sample files")?,
    };
    if file_paths.is_empty() {
        bail!(
            "no regular files to transfer in {}",
            args.files.as_deref().unwrap_or(samples.path()).display()
        );
    }
    let files = describe(&file_paths)?;
    let root = file_paths[0]
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();

    let network = match &link_config {
        Some(config) => Network::Emulated(Box::new(
            EmulatedLink::start(config.clone()).context("cannot emulate the link")?,
        )),
        None => Network::Host,
    };
    let link = match (&network, &link_config) {
        (Network::Emulated(link), Some(config)) => Some((
            link.server_ip(),
            link.client_iface().to_owned(),
            config.clone(),
        )),
        _ => None,
    };
    let server_events = EventLog::default();
    let server = match &args.server {
        Some(_) => None,
        None => {
            let config = ServerConfig {
                bind: SocketAddr::new(
                    link.as_ref().map_or(IpAddr::from([127, 0, 0, 1]), |l| l.0),
                    0,
                ),
                root,
                max_connections: 64,
                congestion: args.congestion.clone(),
            };
            let events = args.verbose.then(|| server_events.clone());
            Some(
                network
                    .server(move || Server::start(config, events))
                    .context("cannot start the built-in server")?,
            )
        }
    };
    let addr = match (&args.server, &server) {
        (Some(s), _) => resolve(s)?,
        (None, Some(srv)) => srv.local_addr(),
        (None, None) => unreachable!("a built-in server runs when --server is absent"),
    };
    let iface = match &link {
        Some(l) => l.1.clone(),
        None => args.capture.iface.clone().unwrap_or_else(|| "lo".into()),
    };

    let run_dir = make_run_dir(&args.captures)?;
    *run_dir_made = Some(run_dir.clone());
    let plan = FetchPlan {
        addr,
        host: addr.to_string(),
        paths: files.iter().map(|f| path_for_name(&f.name)).collect(),
        out_dir: args.out.clone(),
        expected_sha256: Some(files.iter().map(|f| f.sha256.clone()).collect()),
        parallel: args.parallel,
        rcvbuf: args.rcvbuf,
    };
    // Read where the server runs, before any capture starts: it opens a probe connection.
    let kernel = network.server(read_kernel_settings);
    // One unrecorded run per mode first, so no mode pays for cold caches and thread start.
    for &mode in &selected {
        let plan = plan.clone();
        network
            .client(move || fetch(mode, &plan, None))
            .with_context(|| format!("{} warm-up run failed", mode.name()))?;
    }
    server_events.take();
    if let Some(server) = &server {
        server.take_samples();
    }

    let filter = format!("tcp and host {} and port {}", addr.ip(), addr.port());
    let mut capture = !args.no_capture;
    let mut modes = Vec::new();
    for &mode in &selected {
        let pcap_path = run_dir.join(format!("{}.pcap", mode.name()));
        let recorder = if capture {
            let (iface, filter, path, snaplen) = (
                iface.clone(),
                filter.clone(),
                pcap_path.clone(),
                args.capture.snaplen,
            );
            match network.client(move || Recorder::start(&iface, &filter, snaplen, &path)) {
                Ok(r) => Some(r),
                Err(e @ CaptureError::Permission { .. }) => {
                    eprintln!(
                        "synack: capture skipped, timing only (phases from the client's own timestamps): {e}"
                    );
                    capture = false;
                    None
                }
                Err(e) => return Err(e).context("cannot start the packet capture"),
            }
        } else {
            None
        };
        let client_events = EventLog::default();
        let mut timings: Vec<RunTiming> = Vec::new();
        for round in 0..args.rounds {
            clear_received(&plan, mode, &files)?;
            let (plan, events, verbose) = (plan.clone(), client_events.clone(), args.verbose);
            let timing = network
                .client(move || fetch(mode, &plan, verbose.then_some(&events)))
                .with_context(|| {
                    format!(
                        "{} run {} of {} failed",
                        mode.name(),
                        round + 1,
                        args.rounds
                    )
                })?;
            if args.verbose {
                print_events(mode, round, &timing, &client_events, &server_events);
            }
            timings.push(timing);
        }
        let captured = match recorder {
            Some(recorder) => {
                recorder.wait_quiet(SETTLE_QUIET, SETTLE_LIMIT);
                let stats = recorder.stop().context("the packet capture failed")?;
                let dropped = stats.kernel_dropped + stats.interface_dropped;
                if dropped > 0 {
                    eprintln!(
                        "synack: warning: the kernel dropped {dropped} packets of the {} capture; counts may be short",
                        mode.name()
                    );
                }
                let tracked = track_file(&pcap_path, None)
                    .with_context(|| format!("cannot read back {}", pcap_path.display()))?;
                Some((
                    tracked.connections,
                    CaptureInfo {
                        path: pcap_path,
                        dropped,
                        outside_runs: 0,
                    },
                ))
            }
            None => None,
        };
        let mut result = ModeResult::new(mode, files.len(), timings, captured);
        if let Some(server) = &server {
            result.samples = server.take_samples();
        }
        modes.push(result);
    }
    if let Some(server) = server {
        // Stopped from its own network: it wakes its accept thread by connecting to itself.
        network.server(move || server.stop());
    }
    let link_stats = match network {
        Network::Emulated(link) => Some(link.stop()),
        Network::Host => None,
    };

    let comparison = Comparison {
        rounds: args.rounds as usize,
        paths: plan.paths.clone(),
        files,
        modes,
        parallel: args.parallel,
        kernel: Some(kernel),
        link: link.map(|(_, _, c)| LinkSettings {
            rtt_s: c.rtt.as_secs_f64(),
            jitter_s: c.jitter.as_secs_f64(),
            loss: c.loss,
            rate_bps: c.rate_bps,
            queue_packets: c.queue_packets,
            seed: c.seed,
        }),
    };
    print_report(&comparison);
    if let Some(stats) = &link_stats {
        println!(
            "Link: {} packets to the server ({} lost, {} dropped at the queue), {} to the client ({} lost, {} dropped at the queue)\n",
            stats.to_server.forwarded,
            stats.to_server.lost,
            stats.to_server.queue_dropped,
            stats.to_client.forwarded,
            stats.to_client.lost,
            stats.to_client.queue_dropped
        );
    }
    let mut report = json::comparison(&comparison);
    report["link_stats"] = serde_json::to_value(link_stats)?;
    let report = serde_json::to_string_pretty(&report)?;
    let report_path = run_dir.join("report.json");
    write_atomically(&report_path, report.as_bytes())?;
    if let Some(extra) = &args.output.json {
        write_atomically(extra, report.as_bytes())?;
    }
    println!("Saved");
    for m in &comparison.modes {
        if let Some(c) = &m.capture {
            println!("  {:<15} {}", m.mode.name(), c.path.display());
        }
    }
    println!("  {:<15} {}", "report", report_path.display());
    println!("  {:<15} {}", "received files", args.out.display());
    Ok(())
}

fn print_report(cmp: &Comparison) {
    println!(
        "Timing over {} rounds per mode (after one warm-up run each, not counted)\n{}\n",
        cmp.rounds,
        tables::timing_table(cmp)
    );
    for m in &cmp.modes {
        if let Some(checks) = m.checks() {
            println!(
                "Packets, {} ({} connection(s) expected per run)\n{}",
                m.mode.name(),
                m.expected.connections / m.runs.len().max(1) as u64,
                tables::packet_table(m, &checks)
            );
            if let Some(note) = m.close_note() {
                println!("{note}");
            }
            println!();
        }
    }
    if cmp.modes.iter().all(|m| m.capture.is_none()) {
        println!("Packets: not captured (no capture privileges or --no-capture)\n");
    }
    println!(
        "Phases, mean seconds per run (handshakes + client work + wait + transfer + between = first SYN → last byte)\n{}\n",
        tables::phase_table(cmp)
    );
    for (mode, a) in cmp.attributions() {
        println!(
            "Where the gap goes: {} against persistent\n{}\n",
            mode.name(),
            tables::attribution_table(&a, mode)
        );
    }
    if cmp.mode(Mode::Persistent).is_none() {
        println!("Where the gap goes: needs the persistent mode as the baseline (--modes)\n");
    }
    let path = cmp.path_model();
    println!(
        "The textbook model (RTT {} s {}, initial window {} segments of {} bytes{})\n{}\n",
        secs(path.rtt_s),
        if cmp.link.is_some() {
            "configured"
        } else {
            "measured: median handshake"
        },
        path.initial_window,
        path.mss,
        path.rate_bps.map_or(String::new(), |r| format!(
            ", rate {} Mbit/s",
            r as f64 / 1e6
        )),
        tables::model_table(cmp, &cmp.predictions())
    );
    if cmp.modes.iter().any(|m| !m.samples.is_empty()) {
        println!(
            "Slow start: the server's TCP_INFO as each response starts and ends (medians over the rounds)\n{}",
            tables::slow_start_table(cmp)
        );
    }
    if let Some(k) = &cmp.kernel {
        let show = |v: Option<u32>| v.map_or("?".to_string(), |v| v.to_string());
        println!(
            "Kernel: tcp_slow_start_after_idle={} tcp_fin_timeout={} s, congestion control {}, initial cwnd {}\n",
            show(k.tcp_slow_start_after_idle),
            show(k.tcp_fin_timeout_s),
            k.tcp_congestion_control.as_deref().unwrap_or("?"),
            show(k.initial_cwnd)
        );
    }
}

fn print_events(mode: Mode, round: u32, timing: &RunTiming, client: &EventLog, server: &EventLog) {
    let mut events = client.take();
    events.extend(server.take());
    events.sort_by_key(|e| e.ts);
    println!(
        "{} run {} — times from the run's start",
        mode.name(),
        round + 1
    );
    for e in &events {
        println!("{}", super::event_line(timing.start, e));
    }
}

/// Removes the previous run's copies, so replacing them is not timed as part of this run.
fn clear_received(plan: &FetchPlan, mode: Mode, files: &[SourceFile]) -> anyhow::Result<()> {
    for f in files {
        let path = plan.out_dir.join(mode.name()).join(&f.name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
        }
    }
    Ok(())
}

fn describe(paths: &[PathBuf]) -> anyhow::Result<Vec<SourceFile>> {
    paths
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .with_context(|| format!("{}: file names must be UTF-8", p.display()))?
                .to_owned();
            Ok(SourceFile {
                name,
                bytes: std::fs::metadata(p)
                    .with_context(|| format!("cannot read {}", p.display()))?
                    .len(),
                sha256: sha256_file(p).with_context(|| format!("cannot read {}", p.display()))?,
            })
        })
        .collect()
}

fn resolve(server: &str) -> anyhow::Result<SocketAddr> {
    server
        .to_socket_addrs()
        .with_context(|| format!("--server {server:?}: expected HOST:PORT"))?
        .next()
        .with_context(|| format!("--server {server:?} has no address"))
}

/// Makes `<captures>/<YYYYmmdd-HHMMSS>` (UTC), with a suffix if that second is taken.
fn make_run_dir(captures: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(captures)
        .with_context(|| format!("cannot create {}", captures.display()))?;
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    for n in 1..100 {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let dir = captures.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    bail!("cannot find a free run folder under {}", captures.display())
}

/// Writes `path` via a temporary file in the same folder, so it is never seen half-written.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // Temporary files are private (0600); a report is for reading.
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
