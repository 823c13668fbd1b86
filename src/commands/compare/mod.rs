//! `synack compare`: the files in every mode, round after round under one live capture (see
//! `session`), then the report, the saved captures and report.json.

mod files;
mod link;
mod page;
mod progress;
mod saving;
mod session;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use self::files::source_files;
use self::link::default_timeout;
use self::saving::{make_run_dir, print_report, save_report, saved_list};
use self::session::{CaptureSetup, Session};
use crate::analysis::comparison::{Comparison, LinkSettings, SourceFile, TlsSettings};
use crate::capture::source::DEFAULT_SNAPLEN;
use crate::cli::CompareArgs;
use crate::commands::output::out;
use crate::emulate::{EmulatedLink, LinkConfig};
use crate::report::terminal;
use crate::transfer::client::{FetchLimits, FetchPlan};
use crate::transfer::events::EventLog;
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
        let server_tls = built_in_server_tls(args, network, variant)?;
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
        let client_tls = client_tls(args, variant, server_tls.as_ref(), addr)?;
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
            link: link.map(|c| LinkSettings::of(c, args.link.path.map(|p| p.name))),
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

/// The built-in server's TLS, with a certificate made for this run, when the variant speaks TLS
/// and no --server was given.
fn built_in_server_tls(
    args: &CompareArgs,
    network: &Network,
    variant: &Variant,
) -> anyhow::Result<Option<ServerTls>> {
    match (&args.server, variant.tls) {
        (None, Some(options)) => Ok(Some(
            ServerTls::self_signed(
                options.version.unwrap_or(TlsVersion::Tls13),
                &[server_ip(network).to_string(), "localhost".into()],
            )
            .context("cannot make the built-in server's certificate")?,
        )),
        _ => Ok(None),
    }
}

/// The client's TLS: trusting exactly the built-in server's certificate, else verifying the
/// --server as a browser would.
fn client_tls(
    args: &CompareArgs,
    variant: &Variant,
    server_tls: Option<&ServerTls>,
    addr: SocketAddr,
) -> anyhow::Result<Option<ClientTls>> {
    let Some(options) = variant.tls else {
        return Ok(None);
    };
    Ok(Some(match server_tls {
        Some(made) => ClientTls::trusting(made.certificate(), &addr.ip().to_string(), options)?,
        None => ClientTls::verifying(None, args.server.as_deref().unwrap_or_default(), options)?,
    }))
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
