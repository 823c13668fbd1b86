//! `synack compare`: the files in every mode, round after round under one live capture (see
//! `session`), then the report, the saved captures and report.json.

mod files;
mod link;
mod page;
mod progress;
mod saving;
mod servers;
mod session;
mod site;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use self::files::source_files;
use self::link::default_timeout;
use self::saving::{make_run_dir, print_report, save_report, saved_list};
use self::servers::{
    BuiltIn, allow_fastopen, built_in_server_tls, client_tls, h3_ends, http2_plan, resolve,
    start_server,
};
use self::session::{CaptureSetup, Session};
use crate::analysis::comparison::{Comparison, LinkSettings, SourceFile, TlsSettings};
use crate::capture::source::DEFAULT_SNAPLEN;
use crate::cli::CompareArgs;
use crate::commands::output::{out, outln};
use crate::commands::pdf::{Chromium, PACKAGE as PDF_PACKAGE};
use crate::commands::urls::Site;
use crate::emulate::{EmulatedLink, LinkConfig};
use crate::report::terminal;
use crate::transfer::client::{FetchLimits, FetchPlan};
use crate::transfer::events::EventLog;
use crate::transfer::h3::QuicCongestion;
use crate::transfer::http::path_for_name;
use crate::transfer::kernel::KernelSettings;
use crate::transfer::kernel::read_kernel_settings;
use crate::transfer::run::Mode;
use crate::transfer::tls::{ClientTlsOptions, TlsVersion};
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
    let sites = site::asked_sites(args)?;
    if !sites.is_empty() && (link_config.is_some() || !args.variants.is_empty()) {
        bail!(
            "URLs are compared over the real path to their server as the URLs say: leave out \
             the link options and --variants"
        );
    }
    let chromium = printer(args)?;
    let variants = variants(args, sites.iter().any(|s| s.https))?;
    let samples = tempfile::Builder::new()
        .prefix("synack-files-")
        .tempdir()
        .context("cannot make a temporary folder for the sample files")?;
    crate::created::temporary(samples.path());
    let (files, root) = if sites.is_empty() {
        source_files(args, samples.path())?
    } else {
        let plans = site::site_plans(&sites, args)?;
        let files = site::first_look(&plans, samples.path())?;
        (files, samples.path().to_path_buf())
    };
    let network = match &link_config {
        Some(config) => Network::Emulated(Box::new(
            EmulatedLink::start(config.clone()).context("cannot emulate the link")?,
        )),
        None => Network::Host,
    };
    if variants.iter().any(|v| v.fastopen) {
        allow_fastopen(&network)?;
    }
    let foreign = match (sites.is_empty(), &args.server) {
        (false, _) => Some(
            sites
                .iter()
                .map(|s| s.host_header.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (true, Some(server)) => Some(server.clone()),
        (true, None) => None,
    };
    if let Some(server) = &args.server {
        // A --server written as a URL gets its one line before anything else is said.
        resolve(server)?;
    }
    if let Some(server) = foreign {
        let runs = (u64::from(args.rounds) + 1) * modes.len() as u64 * variants.len() as u64;
        // On standard output, where the report follows: standard error keeps to what went wrong.
        outln!(
            "{server} is not synack's own server: {} requests ({} runs of {}), at most {} a second \
             on average (--request-rate)",
            runs * files.len() as u64,
            runs,
            crate::words::counted(files.len(), "file", "files"),
            pace(args)
        );
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
        sites: &sites,
    };
    let compared = setup.run_variants(&variants, &run_dir)?;
    let link_stats = match network {
        Network::Emulated(link) => Some(link.stop()),
        Network::Host => None,
    };
    let width = crate::report::width::output_width();
    print_report(&compared, link_stats.as_ref(), width, args);
    let report_path = save_report(&compared, link_stats.as_ref(), &run_dir, args)?;
    let mut pages = Vec::new();
    for compared in &compared {
        pages.push(page::write_html(&compared.comparison, &compared.dir)?);
    }
    let (documents, unprinted) = print_pages(chromium.as_ref(), &pages, args.output.pdf);
    out!(
        "{}",
        terminal::saved(
            &saved_list(&compared, &report_path, &pages, &documents, &args.out),
            width
        )
    );
    unprinted.map_or(Ok(()), Err)
}

/// Chromium, to print the pages with: required by --pdf, found before anything runs.
fn printer(args: &CompareArgs) -> anyhow::Result<Option<Chromium>> {
    if args.output.no_pdf {
        return Ok(None);
    }
    let chromium = Chromium::find();
    if args.output.pdf && chromium.is_none() {
        bail!(
            "--pdf prints report.html with Chromium, which is not on PATH: install it (Debian: \
             apt-get install {PDF_PACKAGE})"
        );
    }
    Ok(chromium)
}

/// Each page printed to report.pdf beside it, where Chromium is found. A page that does not print
/// is said in one line; with --pdf, which asked for them, it is the run's error, returned once
/// everything else is saved.
fn print_pages(
    chromium: Option<&Chromium>,
    pages: &[PathBuf],
    required: bool,
) -> (Vec<Option<PathBuf>>, Option<anyhow::Error>) {
    let Some(chromium) = chromium else {
        return (vec![None; pages.len()], None);
    };
    let mut unprinted = None;
    let documents = pages
        .iter()
        .map(|html| match page::write_pdf(chromium, html) {
            Ok(pdf) => Some(pdf),
            Err(error) if required => {
                unprinted.get_or_insert(error);
                None
            }
            Err(error) => {
                eprintln!("synack: note: no report.pdf: {}", super::error_line(&error));
                None
            }
        })
        .collect();
    (documents, unprinted)
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
fn variants(args: &CompareArgs, https: bool) -> anyhow::Result<Vec<Variant>> {
    if !args.variants.is_empty() {
        let mut unique: Vec<Variant> = Vec::new();
        for v in &args.variants {
            if !unique.iter().any(|u| u.name == v.name) {
                unique.push(v.clone());
            }
        }
        return Ok(unique);
    }
    let tls = args.tls.options(https).map_err(anyhow::Error::msg)?;
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

/// Requests a second at most, on average, against a server synack did not start.
const DEFAULT_REQUEST_RATE: u32 = 10;

fn pace(args: &CompareArgs) -> u32 {
    args.request_rate.unwrap_or(DEFAULT_REQUEST_RATE)
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
    /// The URLs compared, on their servers, when they replace the built-in server and its files.
    sites: &'a [Site],
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
        let (args, network, files, link) = (self.args, self.network, self.files, self.link);
        if !self.sites.is_empty() {
            let plans = site::site_plans(self.sites, args)?;
            let servers = BuiltIn {
                tcp: None,
                h3: None,
            };
            return self.compare_on(variant, dir, servers, plans, None);
        }
        let server_tls = built_in_server_tls(args, network, variant, self.modes)?;
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
        let h3 = self.modes.contains(&Mode::H3);
        let (h3_server, h3_tls) = if h3 {
            let events = args.verbose.then(|| self.events.clone());
            h3_ends(
                args,
                network,
                self.root,
                variant,
                server_tls.as_ref(),
                addr,
                events,
            )?
        } else {
            (None, None)
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
            names: None,
            any_status: false,
            h3_tls,
            limits: FetchLimits {
                per_file: args.timeout.unwrap_or_else(|| default_timeout(link, files)),
                max_size: None,
            },
        };
        let http2_plan = http2_plan(args, self.modes, &plan, server_tls.as_ref(), addr)?;
        let servers = BuiltIn {
            tcp: server,
            h3: h3_server,
        };
        self.compare_on(variant, dir, servers, vec![plan], http2_plan)
    }

    /// Runs every mode against `plans`' servers (`servers` when they are the built-in ones,
    /// stopped after; `http2_plan` for the HTTP/2 mode whose TLS differs from the others') and
    /// assembles the comparison.
    fn compare_on(
        &self,
        variant: &Variant,
        dir: &Path,
        servers: BuiltIn,
        plans: Vec<FetchPlan>,
        http2_plan: Option<FetchPlan>,
    ) -> anyhow::Result<Comparison> {
        let BuiltIn {
            tcp: server,
            h3: h3_server,
        } = servers;
        let h3 = self.modes.contains(&Mode::H3);
        let Setup {
            args,
            network,
            files,
            link,
            ..
        } = *self;
        let addr = plans[0].addr;
        let foreign = args.server.is_some() || !self.sites.is_empty();
        let capture = (!args.no_capture).then(|| CaptureSetup {
            iface: match network {
                Network::Emulated(link) => link.client_iface().to_owned(),
                Network::Host => args.capture.iface.clone().unwrap_or_else(|| {
                    crate::capture::source::Source::iface_towards(addr)
                        .unwrap_or_else(|| "lo".into())
                }),
            },
            // h3's QUIC runs over UDP on the same port number.
            filter: plans
                .iter()
                .map(|p| {
                    format!(
                        "({} and host {} and port {})",
                        if h3 { "(tcp or udp)" } else { "tcp" },
                        p.addr.ip(),
                        p.addr.port()
                    )
                })
                .collect::<Vec<_>>()
                .join(" or "),
            // TLS records are read whole, QUIC's Initials only decrypt whole, and h2c's frame
            // headers lie anywhere in a segment.
            snaplen: args.capture.snaplen.unwrap_or(
                if variant.tls.is_some() || h3 || self.modes.contains(&Mode::H2c) {
                    WHOLE_PACKETS
                } else {
                    DEFAULT_SNAPLEN
                },
            ),
            about: (!args.capture.pcap).then(|| {
                let settings = link.map(|c| LinkSettings::of(c, args.link.path.map(|p| p.name)));
                saving::about(addr, foreign, &variant.name, settings.as_ref())
            }),
        });
        let outcome = Session {
            network,
            server: server.as_ref(),
            events: &self.events,
            plans: &plans,
            http2_plan: http2_plan.as_ref(),
            files,
            modes: self.modes,
            rounds: args.rounds,
            seed: args.link.seed,
            capture,
            run_dir: dir,
            rtt: link.map_or(Duration::ZERO, |c| c.rtt + 2 * c.jitter),
            verbose: args.verbose,
            pace: foreign.then(|| pace(args)),
        }
        .run();
        if let Some(server) = h3_server {
            server.stop();
        }
        if let Some(server) = server {
            // Stopped from its own network: it wakes its accept thread by connecting to itself.
            network.server(move || server.stop());
        }
        let outcome = outcome?;
        let h3_ran = outcome.modes.iter().any(|m| m.mode == Mode::H3);
        Ok(Comparison {
            rounds: args.rounds as usize,
            paths: plans.iter().flat_map(|p| p.paths.clone()).collect(),
            files: files.to_vec(),
            modes: outcome.modes,
            parallel: args.parallel,
            kernel: Some(self.kernel.clone()),
            link: link.map(|c| LinkSettings::of(c, args.link.path.map(|p| p.name))),
            order: outcome.order,
            seed: args.link.seed,
            fastopen: variant.fastopen,
            tls: variant.tls.as_ref().map(TlsSettings::of),
            quic_congestion: h3_ran
                .then(|| QuicCongestion::like_tcp(args.congestion.as_deref()).name()),
        })
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
