//! `synack compare`: the files in every mode, round after round under one live capture (see
//! `session`), then the report, the saved captures and report.json.

mod page;
mod progress;
mod session;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use self::session::{CaptureSetup, Session};
use crate::analysis::comparison::{
    Comparison, DirectionSettings, LinkSettings, SourceFile, TlsSettings,
};
use crate::capture::source::DEFAULT_SNAPLEN;
use crate::cli::CompareArgs;
use crate::commands::output::{out, outln};
use crate::emulate::{Aqm, DirectionConfig, EmulatedLink, LinkConfig, LinkStats, QueueLimit};
use crate::report::{json, terminal};
use crate::transfer::client::{DEFAULT_TIMEOUT, FetchLimits, FetchPlan};
use crate::transfer::events::EventLog;
use crate::transfer::files::{generate_samples, list_files, sha256_file};
use crate::transfer::http::path_for_name;
use crate::transfer::kernel::KernelSettings;
use crate::transfer::kernel::read_kernel_settings;
use crate::transfer::run::Mode;
use crate::transfer::server::{DEFAULT_MAX_CONNECTIONS, Server, ServerConfig, ServerTimeouts};
use crate::transfer::tls::{ClientTls, ClientTlsOptions, ServerTls, TlsVersion};
use crate::transfer::variant::Variant;

/// Where the client and the server run: on this host, or at the two ends of an emulated link.
pub(crate) enum Network {
    /// This host's own network (loopback for the built-in server).
    Host,
    /// Two namespaces joined by synack's link emulator.
    Emulated(Box<EmulatedLink>),
}

impl Network {
    /// Runs `f` where the client runs.
    pub(crate) fn client<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        match self {
            Network::Host => f(),
            Network::Emulated(link) => link.in_client(f),
        }
    }

    /// Runs `f` where the server runs.
    pub(crate) fn server<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        match self {
            Network::Host => f(),
            Network::Emulated(link) => link.in_server(f),
        }
    }
}

/// Runs the comparison and prints its report. Whatever happens, what it made belongs to the
/// invoking user when run under sudo; a failed run leaves no empty folder behind.
pub fn run(args: &CompareArgs) -> anyhow::Result<()> {
    super::interrupt::clean_up_on_signals()?;
    let result = compare(args);
    if result.is_err() {
        crate::created::remove_empty_dirs();
    }
    let owned = super::ownership::give_made_to_invoking_user();
    result.and(owned)
}

fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    let modes = selected_modes(&args.modes);
    let link_config = args
        .link
        .config()
        .map_err(|e| anyhow::anyhow!(e))
        .context("cannot set up the emulated link")?;
    check_options(args, link_config.as_ref())?;
    let variants = variants(args)?;
    let samples = tempfile::Builder::new()
        .prefix("synack-files-")
        .tempdir()
        .context("cannot make a temporary folder for the sample files")?;
    crate::created::temporary(samples.path());
    let (files, root) = source_files(args, samples.path())?;
    let network = match &link_config {
        Some(config) => Network::Emulated(Box::new(
            EmulatedLink::start(config.clone()).context("cannot emulate the link")?,
        )),
        None => Network::Host,
    };
    if variants.iter().any(|v| v.fastopen) {
        allow_fastopen(&network)?;
    }
    let run_dir = make_run_dir(&args.captures)?;
    // Read where the server runs, before any capture starts: it opens a probe connection.
    let kernel = network.server(read_kernel_settings);
    let setup = Setup {
        args,
        network: &network,
        files: &files,
        root: &root,
        modes: &modes,
        link: link_config.as_ref(),
        kernel: &kernel,
        events: EventLog::default(),
    };
    let compared = setup.run_variants(&variants, &run_dir)?;
    let link_stats = match network {
        Network::Emulated(link) => Some(link.stop()),
        Network::Host => None,
    };
    let width = crate::report::width::output_width();
    print_report(&compared, link_stats.as_ref(), width, args.all_files);
    let report_path = save_report(&compared, link_stats.as_ref(), &run_dir, args)?;
    let mut pages = Vec::new();
    for compared in &compared {
        pages.push(page::write_html(&compared.comparison, &compared.dir)?);
    }
    out!(
        "{}",
        terminal::saved(
            &saved_list(&compared, &report_path, &pages, &args.out),
            width
        )
    );
    Ok(())
}

/// One variant's comparison, and the folder its captures and page went to.
struct Compared {
    variant: Variant,
    comparison: Comparison,
    dir: PathBuf,
}

/// Options that cannot go together, and a --json file that could not be written, found before
/// anything runs.
fn check_options(args: &CompareArgs, link: Option<&LinkConfig>) -> anyhow::Result<()> {
    if link.is_some() && args.capture.iface.is_some() {
        bail!("with an emulated link the capture is taken on its client end; leave out --iface");
    }
    if link.is_some() && args.server.is_some() {
        bail!(
            "--path, --rtt, --jitter, --loss, --rate and the other link options emulate a link to \
             the built-in server; leave out --server"
        );
    }
    if let Some(json) = &args.output.json {
        // Found now rather than after the whole run.
        crate::created::check_can_create(json)
            .with_context(|| format!("cannot write --json {}", json.display()))?;
    }
    Ok(())
}

/// The variants by name, for the report's side-by-side view.
fn named(compared: &[Compared]) -> Vec<(&str, &Comparison)> {
    compared
        .iter()
        .map(|c| (c.variant.name.as_str(), &c.comparison))
        .collect()
}

/// The terminal report: the first variant in full, the variants side by side, the link's counts.
fn print_report(
    compared: &[Compared],
    link_stats: Option<&LinkStats>,
    width: Option<u16>,
    all_files: bool,
) {
    out!(
        "{}",
        terminal::comparison(&compared[0].comparison, width, all_files)
    );
    if compared.len() > 1 {
        out!("{}", terminal::variants(&named(compared), width));
    }
    let first = &compared[0].comparison;
    if let Some(link) = &first.link {
        let settings = crate::report::link::settings_with_mss(link, first.captured_mss());
        outln!("{}", crate::report::width::wrap(&settings, width));
    }
    if let Some(stats) = link_stats {
        outln!(
            "{}\n",
            crate::report::width::wrap(&crate::report::link::counts(stats), width)
        );
    }
}

/// Writes report.json into `run_dir` (and to --json); returns its path.
fn save_report(
    compared: &[Compared],
    link_stats: Option<&LinkStats>,
    run_dir: &Path,
    args: &CompareArgs,
) -> anyhow::Result<PathBuf> {
    let mut report = json::comparison(&compared[0].comparison);
    if compared.len() > 1 {
        report["variants"] = json::variants(&named(compared));
    }
    report["link_stats"] = serde_json::to_value(link_stats)?;
    let report = serde_json::to_string_pretty(&report)?;
    let report_path = run_dir.join("report.json");
    write_atomically(&report_path, report.as_bytes())?;
    if let Some(extra) = &args.output.json {
        write_atomically(extra, report.as_bytes())?;
    }
    Ok(report_path)
}

/// What was saved where: each capture and page by variant, report.json, the received files.
fn saved_list<'a>(
    compared: &'a [Compared],
    report: &'a Path,
    pages: &'a [PathBuf],
    received: &'a Path,
) -> terminal::Saved<'a> {
    let one = compared.len() == 1;
    let variant = |c: &'a Compared| (!one).then_some(c.variant.name.as_str());
    terminal::Saved {
        captures: compared
            .iter()
            .flat_map(|c| {
                c.comparison.modes.iter().filter_map(move |m| {
                    Some((variant(c), m.mode, m.capture.as_ref()?.path.as_path()))
                })
            })
            .collect(),
        report,
        pages: compared
            .iter()
            .zip(pages)
            .map(|(c, page)| (variant(c), page.as_path()))
            .collect(),
        received,
    }
}

/// The ways of opening connections to compare: `--variants`, else the one the TLS and Fast Open
/// options describe.
fn variants(args: &CompareArgs) -> anyhow::Result<Vec<Variant>> {
    if !args.variants.is_empty() {
        let mut unique: Vec<Variant> = Vec::new();
        for v in &args.variants {
            if !unique.iter().any(|u| u.name == v.name) {
                unique.push(v.clone());
            }
        }
        return Ok(unique);
    }
    let tls = args.tls.options(false).map_err(anyhow::Error::msg)?;
    let mut name = match tls {
        None => "tcp".to_owned(),
        Some(t) => match t.version.unwrap_or(TlsVersion::Tls13) {
            TlsVersion::Tls12 => "tls1.2".to_owned(),
            TlsVersion::Tls13 => "tls1.3".to_owned(),
        },
    };
    if let Some(t) = tls {
        if t.early_data {
            name.push_str("+0rtt");
        } else if t.resume {
            name.push_str("+resume");
        }
    }
    if args.tfo {
        name = if tls.is_some() {
            format!("{name}+tfo")
        } else {
            "tfo".into()
        };
    }
    Ok(vec![Variant {
        name,
        fastopen: args.tfo,
        tls: tls.map(|t| ClientTlsOptions {
            version: Some(t.version.unwrap_or(TlsVersion::Tls13)),
            ..t
        }),
    }])
}

/// The snap length that keeps whole packets (the largest libpcap takes).
const WHOLE_PACKETS: i32 = 262_144;

/// What every variant of a comparison shares.
struct Setup<'a> {
    args: &'a CompareArgs,
    network: &'a Network,
    files: &'a [SourceFile],
    root: &'a Path,
    modes: &'a [Mode],
    link: Option<&'a LinkConfig>,
    kernel: &'a KernelSettings,
    events: EventLog,
}

impl Setup<'_> {
    /// Runs each variant in turn; with more than one, each in a folder of its own in `run_dir`.
    fn run_variants(&self, variants: &[Variant], run_dir: &Path) -> anyhow::Result<Vec<Compared>> {
        let mut compared = Vec::with_capacity(variants.len());
        for variant in variants {
            let dir = if variants.len() == 1 {
                run_dir.to_path_buf()
            } else {
                let dir = run_dir.join(&variant.name);
                crate::created::create_dir(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                dir
            };
            let comparison = self.run(variant, &dir)?;
            compared.push(Compared {
                variant: variant.clone(),
                comparison,
                dir,
            });
        }
        Ok(compared)
    }

    /// Runs every mode, round after round, with connections opened as `variant` says, its
    /// server started for it and stopped after; the captures go to `dir`.
    fn run(&self, variant: &Variant, dir: &Path) -> anyhow::Result<Comparison> {
        let Setup {
            args,
            network,
            files,
            link,
            ..
        } = *self;
        let server_tls = match (&args.server, variant.tls) {
            (None, Some(options)) => Some(
                ServerTls::self_signed(
                    options.version.unwrap_or(TlsVersion::Tls13),
                    &[server_ip(network).to_string(), "localhost".into()],
                )
                .context("cannot make the built-in server's certificate")?,
            ),
            _ => None,
        };
        let server = start_server(
            args,
            network,
            self.root.to_path_buf(),
            variant.fastopen,
            server_tls.clone(),
            &self.events,
        )?;
        let addr = match (&args.server, &server) {
            (Some(s), _) => resolve(s)?,
            (None, Some(srv)) => srv.local_addr(),
            (None, None) => unreachable!("a built-in server runs when --server is absent"),
        };
        let client_tls = match (variant.tls, &server_tls) {
            (None, _) => None,
            (Some(options), Some(made)) => Some(ClientTls::trusting(
                made.certificate(),
                &addr.ip().to_string(),
                options,
            )?),
            (Some(options), None) => Some(ClientTls::verifying(
                None,
                args.server.as_deref().unwrap_or_default(),
                options,
            )?),
        };
        let plan = FetchPlan {
            addr,
            host: addr.to_string(),
            paths: files.iter().map(|f| path_for_name(&f.name)).collect(),
            out_dir: args.out.clone(),
            expected_sha256: Some(files.iter().map(|f| f.sha256.clone()).collect()),
            parallel: args.parallel,
            rcvbuf: args.rcvbuf,
            fastopen: variant.fastopen,
            tls: client_tls,
            limits: FetchLimits {
                per_file: args.timeout.unwrap_or_else(|| default_timeout(link, files)),
                max_size: None,
            },
        };
        let capture = (!args.no_capture).then(|| CaptureSetup {
            iface: match network {
                Network::Emulated(link) => link.client_iface().to_owned(),
                Network::Host => args.capture.iface.clone().unwrap_or_else(|| "lo".into()),
            },
            filter: format!("tcp and host {} and port {}", addr.ip(), addr.port()),
            snaplen: args.capture.snaplen.unwrap_or(if variant.tls.is_some() {
                WHOLE_PACKETS
            } else {
                DEFAULT_SNAPLEN
            }),
        });
        let outcome = Session {
            network,
            server: server.as_ref(),
            events: &self.events,
            plan: &plan,
            files,
            modes: self.modes,
            rounds: args.rounds,
            seed: args.link.seed,
            capture,
            run_dir: dir,
            rtt: link.map_or(Duration::ZERO, |c| c.rtt + 2 * c.jitter),
            verbose: args.verbose,
        }
        .run();
        if let Some(server) = server {
            // Stopped from its own network: it wakes its accept thread by connecting to itself.
            network.server(move || server.stop());
        }
        let outcome = outcome?;
        Ok(Comparison {
            rounds: args.rounds as usize,
            paths: plan.paths.clone(),
            files: files.to_vec(),
            modes: outcome.modes,
            parallel: args.parallel,
            kernel: Some(self.kernel.clone()),
            link: link.map(|c| link_settings(c, args.link.path.map(|p| p.name))),
            order: outcome.order,
            seed: args.link.seed,
            fastopen: variant.fastopen,
            tls: variant.tls.map(|options| TlsSettings {
                version: options.version.unwrap_or(TlsVersion::Tls13),
                resume: options.resume,
                early_data: options.early_data,
            }),
        })
    }
}

/// Each file's deadline when `--timeout` is not given: the client's default, plus 100 round
/// trips (slow start and resends on a long path) and four times the largest file at the rate.
fn default_timeout(link: Option<&LinkConfig>, files: &[SourceFile]) -> Duration {
    let Some(link) = link else {
        return DEFAULT_TIMEOUT;
    };
    let round_trips = 100 * (link.rtt + 2 * link.jitter);
    let largest_bits = files.iter().map(|f| f.bytes).max().unwrap_or(0) as f64 * 8.0;
    let slowest = [&link.down, &link.up]
        .iter()
        .filter_map(|d| rate_of(d, link.mtu))
        .min();
    let serialising = slowest.map_or(0.0, |rate| 4.0 * largest_bits / rate.max(1) as f64);
    DEFAULT_TIMEOUT + round_trips + Duration::from_secs_f64(serialising.min(86_400.0))
}

/// A direction's rate: configured, or its trace's mean.
fn rate_of(direction: &DirectionConfig, mtu: u32) -> Option<u64> {
    direction
        .rate_bps
        .or(direction.trace.as_ref().map(|t| t.mean_rate_bps(mtu)))
}

/// The report's view of the link's settings.
fn link_settings(config: &LinkConfig, path: Option<&str>) -> LinkSettings {
    let direction = |d: &DirectionConfig| DirectionSettings {
        rate_bps: rate_of(d, config.mtu),
        loss: d.loss.as_option(),
        mean_loss: d.loss.mean_loss(),
        trace: d.trace.as_ref().map(|t| t.name().to_owned()),
    };
    LinkSettings {
        path: path.map(str::to_owned),
        rtt_s: config.rtt.as_secs_f64(),
        jitter_s: config.jitter.as_secs_f64(),
        mtu: config.mtu,
        down: direction(&config.down),
        up: direction(&config.up),
        queue_packets: match config.queue {
            QueueLimit::Packets(n) => Some(n),
            QueueLimit::Bytes(_) => None,
        },
        queue_bytes: match config.queue {
            QueueLimit::Bytes(n) => Some(n),
            QueueLimit::Packets(_) => None,
        },
        aqm: match config.aqm {
            Aqm::TailDrop => "tail-drop",
            Aqm::Codel => "codel",
        }
        .into(),
        seed: config.seed,
    }
}

/// The modes asked for, each once, in the order given.
fn selected_modes(asked: &[Mode]) -> Vec<Mode> {
    let mut selected: Vec<Mode> = Vec::new();
    for &mode in asked {
        if !selected.contains(&mode) {
            selected.push(mode);
        }
    }
    selected
}

/// The files to transfer (`--files`, else the generated samples in `samples`) and the folder
/// the server serves them from.
fn source_files(args: &CompareArgs, samples: &Path) -> anyhow::Result<(Vec<SourceFile>, PathBuf)> {
    let file_paths = match &args.files {
        Some(dir) => list_files(dir).with_context(|| format!("cannot list {}", dir.display()))?,
        None => generate_samples(samples).context("cannot generate the sample files")?,
    };
    // One file that cannot be fetched must not end the comparison of all the others.
    let (file_paths, left_out): (Vec<PathBuf>, Vec<PathBuf>) =
        file_paths.into_iter().partition(|p| servable_name(p));
    for path in &left_out {
        eprintln!(
            "synack: leaving out {}: the server refuses names with a backslash, a control \
             character or invalid UTF-8",
            path.display()
        );
    }
    if file_paths.is_empty() {
        bail!(
            "no regular files to transfer in {}",
            args.files.as_deref().unwrap_or(samples).display()
        );
    }
    let files = describe(&file_paths)?;
    let root = file_paths[0]
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Ok((files, root))
}

/// Makes sure TCP Fast Open is allowed where the client and the server run: inside an emulated
/// link synack sets it; on this host it only checks, and says how to set it.
fn allow_fastopen(network: &Network) -> anyhow::Result<()> {
    use crate::transfer::fastopen::{CLIENT_AND_SERVER, enable_here, setting};
    match network {
        Network::Emulated(_) => {
            network
                .server(enable_here)
                .and(network.client(enable_here))
                .context("cannot enable TCP Fast Open in the emulated link's namespaces")?;
        }
        Network::Host => {
            let now = setting().context("cannot read net.ipv4.tcp_fastopen")?;
            if now & CLIENT_AND_SERVER != CLIENT_AND_SERVER {
                bail!(
                    "--tfo needs net.ipv4.tcp_fastopen={CLIENT_AND_SERVER} on this host (it is \
                     {now}): `sudo sysctl -w net.ipv4.tcp_fastopen={CLIENT_AND_SERVER}`, or emulate \
                     a path (--rtt), inside which synack sets it"
                );
            }
        }
    }
    Ok(())
}

/// Whether a file's name can travel as a request path the built-in server serves.
fn servable_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !n.contains('\\') && !n.chars().any(char::is_control))
}

/// The built-in server's address: loopback, or the server's end of the emulated link.
fn server_ip(network: &Network) -> IpAddr {
    match network {
        Network::Emulated(link) => link.server_ip(),
        Network::Host => IpAddr::from([127, 0, 0, 1]),
    }
}

/// Starts the built-in server where the server runs, unless `--server` names another one.
fn start_server(
    args: &CompareArgs,
    network: &Network,
    root: PathBuf,
    fastopen: bool,
    tls: Option<ServerTls>,
    events: &EventLog,
) -> anyhow::Result<Option<Server>> {
    if args.server.is_some() {
        return Ok(None);
    }
    let config = ServerConfig {
        bind: SocketAddr::new(server_ip(network), 0),
        root,
        max_connections: DEFAULT_MAX_CONNECTIONS,
        congestion: args.congestion.clone(),
        fastopen,
        tls,
        sample_responses: true,
        timeouts: ServerTimeouts::default(),
    };
    let events = args.verbose.then(|| events.clone());
    network
        .server(move || Server::start(config, events))
        .context("cannot start the built-in server")
        .map(Some)
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
    if let Some((_, rest)) = server.split_once("://") {
        let authority = rest.split('/').next().unwrap_or(rest);
        bail!("--server takes HOST:PORT, not a URL: --server {authority}");
    }
    server
        .to_socket_addrs()
        .with_context(|| format!("--server {server:?}: expected HOST:PORT"))?
        .next()
        .with_context(|| format!("--server {server:?} has no address"))
}

/// Makes `<captures>/<YYYYmmdd-HHMMSS>` (UTC), with a suffix if that second is taken.
fn make_run_dir(captures: &Path) -> anyhow::Result<PathBuf> {
    crate::created::create_dir_all(captures)
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
        match crate::created::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    bail!("cannot find a free run folder under {}", captures.display())
}

/// Whether a file can be made beside `path`.
/// Writes `path` via a temporary file in the same folder, so it is never seen half-written.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Temporary files are private (0600) by default; a report is for reading, as any new file
    // under the umask.
    use std::os::unix::fs::PermissionsExt;
    let mut tmp = tempfile::Builder::new()
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    crate::created::made(path);
    Ok(())
}
