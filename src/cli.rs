//! The command line: one `enum Command`, shared option groups flattened.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};

use crate::emulate::parse::{parse_bytes, parse_duration, parse_rate};
use crate::emulate::paths::PathPreset;
use crate::emulate::queue::parse_queue;
use crate::emulate::{
    Aqm, DEFAULT_MTU, DirectionConfig, LinkConfig, LossModel, MAX_MTU, MIN_MTU, QueueLimit, Trace,
};
use crate::transfer::client::DEFAULT_PARALLEL;
use crate::transfer::files::SampleSet;
use crate::transfer::run::Mode;
use crate::transfer::tls::{ClientTlsOptions, TlsVersion};
use crate::transfer::variant::Variant;

/// How much does a new TCP connection per file cost, and where does the time go?
///
/// synack transfers the same files non-persistently (one connection per file) and persistently
/// (one keep-alive connection), captures every packet, counts SYN/SYN-ACK/ACK/FIN/RST per run,
/// and splits the time gap, with its confidence interval, into extra handshakes, closing and
/// reconnecting, slow-start round trips, the rest of the transfer, request wait, the client's own
/// work, and a remainder. Each comparison also writes report.json and report.html (and
/// report.pdf where Chromium is installed).
#[derive(Debug, Parser)]
#[command(name = "synack", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Transfer the files in each mode, capture, and show where the time goes.
    ///
    /// Needs capture privileges (sudo, or setcap on the binary); without them it runs
    /// timing-only from the client's own timestamps.
    Compare(Box<CompareArgs>),
    /// Packet, connection and phase tables for a saved capture (pcap or pcapng, `-` for stdin).
    Analyze(AnalyzeArgs),
    /// Serve the files of a folder over HTTP/1.1 and HTTP/2 (h2c with prior knowledge, h2 over
    /// --tls by ALPN) on one port, each at its own path (no index pages or folder listings), to
    /// curl, a browser or `synack fetch`.
    Serve(ServeArgs),
    /// Fetch URLs from any HTTP/1.1 or HTTP/2 server in one mode; prints per-file and total time.
    Fetch(FetchArgs),
    /// Write a set of sample files into a folder, for `compare --files DIR` or `serve --root DIR`.
    Files(FilesArgs),
}

/// Options of `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Runs of each mode.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: u32,
    /// Transfer the regular files in this folder instead of the generated a.jpg, b.mp3, c.txt.
    #[arg(long, value_name = "DIR")]
    pub files: Option<PathBuf>,
    /// Use an already-running server (which must serve the same files at /<name>) instead of
    /// the built-in one on 127.0.0.1.
    #[arg(long, value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// Compare the modes on these http:// or https:// URLs instead of the built-in server's
    /// files, grouped by server as a browser groups them: non-persistent opens a connection per
    /// URL, persistent and pipelined one to each server, parallel up to --parallel at once to
    /// each. Certificates are checked against the system's roots; redirects are not followed but
    /// kept, with their status. Requests are paced as with --server.
    #[arg(value_name = "URL", conflicts_with_all = ["server", "files"])]
    pub urls: Vec<String>,
    /// Read the URLs from FILE, one a line (blank lines and lines starting with # left out).
    #[arg(long = "urls", value_name = "FILE", conflicts_with_all = ["server", "files", "urls"])]
    pub urls_file: Option<PathBuf>,
    /// With https:// URLs or an HTTPS --server: trust the CAs in this PEM file instead of the
    /// system's (a private CA, or the certificate `synack serve --tls` saved).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Compare the modes on a page: the HTML at URL and the images, scripts and style sheets it
    /// references on its own server, as a browser loads them.
    #[arg(long, value_name = "URL", conflicts_with_all = ["server", "files", "urls", "urls_file"])]
    pub page: Option<String>,
    /// With --server or URLs: at most this many requests a second, on average over each run and
    /// the pause after it, so a server synack did not start is not loaded by it (default 10).
    /// The built-in server is not paced.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub request_rate: Option<u32>,
    /// Where received files go: <OUT>/<mode>/, e.g. received/non-persistent/.
    #[arg(long, value_name = "DIR", default_value = "received")]
    pub out: PathBuf,
    /// Where each run's folder of captures and report.json is made.
    #[arg(long, value_name = "DIR", default_value = "captures")]
    pub captures: PathBuf,
    /// Skip packet capture: timing from the client's own timestamps only.
    #[arg(long)]
    pub no_capture: bool,
    /// Modes to run, comma-separated: non-persistent, persistent, pipelined (one connection,
    /// every request before any response), parallel (one connection per file, --parallel at once),
    /// h2 (HTTP/2: one connection, every request a stream of its own; always over TLS, 1.3 with
    /// the built-in server's certificate unless --tls says otherwise) and h2c (the same in
    /// cleartext with prior knowledge, even with --tls).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Mode::DEFAULT)]
    pub modes: Vec<Mode>,
    /// Connections open at once in the parallel mode.
    #[arg(long, value_name = "K", default_value_t = DEFAULT_PARALLEL, value_parser = clap::value_parser!(u64).range(1..=64).map(|k| k as usize))]
    pub parallel: usize,
    /// Congestion control of the built-in server's connections (e.g. cubic, bbr, reno); default:
    /// the kernel's. It decides how slow start grows the window and paces each round.
    #[arg(long, value_name = "NAME", conflicts_with = "server")]
    pub congestion: Option<String>,
    /// The client's receive buffer (SO_RCVBUF), e.g. 4MiB (KB and MB are binary too, as the
    /// kernel counts buffers): a small default window can hold back the first flights; setting
    /// it lifts (or imposes) that limit.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, allow_hyphen_values = true)]
    pub rcvbuf: Option<usize>,
    /// TCP Fast Open: after the first connection has fetched the server's cookie, every request
    /// rides on its connection's SYN, so the handshake's round trip leaves the critical path.
    #[arg(long, conflicts_with = "server")]
    pub tfo: bool,
    /// Each file's deadline, connect to last byte (a run's: the sum over its files), e.g. 10s.
    /// Default: 30 s plus 100 round trips and four times the largest file at --rate.
    #[arg(long, value_name = "TIME", value_parser = parse_timeout, allow_hyphen_values = true)]
    pub timeout: Option<Duration>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Print each connection's lifecycle (connect, request, response, FIN sent/received, closed)
    /// from both sides.
    #[arg(short, long)]
    pub verbose: bool,
    /// Print the whole report: each file's timing, each mode's packet counts, the phases, where
    /// each gap goes, the model and slow start. By default the terminal gets the verdict and the
    /// modes side by side; report.html always has everything.
    #[arg(long)]
    pub full: bool,
    /// Show every file in the timing table (from 10 files on, it shows the five slowest per
    /// mode); implies --full.
    #[arg(long)]
    pub all_files: bool,
    // The headed groups come last: clap keeps a group's heading for the options after it.
    #[command(flatten)]
    pub tls: ClientTlsArgs,
    /// Compare ways of opening connections, each across every mode with a capture of its own:
    /// tcp, tfo, tls1.2, tls1.3, with +resume, +0rtt (TLS 1.3 early data) or +tfo added, e.g.
    /// tcp,tls1.2,tls1.3,tls1.3+resume,tls1.3+0rtt,tfo.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        conflicts_with_all = ["tls", "tls_resume", "early_data", "tfo", "server"],
        help_heading = "TLS"
    )]
    pub variants: Vec<Variant>,
    #[command(flatten)]
    pub capture: CaptureArgs,
    #[command(flatten)]
    pub link: LinkArgs,
}

/// How the client speaks TLS.
#[derive(Debug, Args)]
#[command(next_help_heading = "TLS")]
pub struct ClientTlsArgs {
    /// Speak HTTPS with this TLS version: 1.2 costs two round trips before each connection's
    /// first request, 1.3 one.
    #[arg(long, value_name = "VERSION", value_enum)]
    pub tls: Option<TlsVersion>,
    /// Resume the TLS session on every connection after a run's first (no certificate, and
    /// with TLS 1.2 one round trip instead of two). Each run starts without a session, so a mode
    /// with one connection per run (persistent, pipelined, h2) never resumes.
    #[arg(long)]
    pub tls_resume: bool,
    /// Send each resumed connection's request as TLS 1.3 early (0-RTT) data, with the
    /// ClientHello: its first response byte two round trips after its SYN instead of three.
    /// Early data can be replayed by anyone who captured it: the built-in server accepts it only
    /// for GET and HEAD.
    #[arg(long)]
    pub early_data: bool,
}

/// Live capture options.
#[derive(Debug, Args)]
#[command(next_help_heading = "Capture")]
pub struct CaptureArgs {
    /// Interface that carries the traffic. Default: the one the routing table sends to the
    /// server by (lo for the built-in server, as `ip route get ADDRESS` names it for --server);
    /// with an emulated link, always its client end.
    #[arg(long)]
    pub iface: Option<String>,
    /// Bytes kept of each packet. Default: 512, every header and the HTTP request and status
    /// lines, not file bodies (byte counts still come from the wire lengths); with TLS, whole
    /// packets, so every record's header is there to count.
    #[arg(long, value_parser = clap::value_parser!(i32).range(96..=262_144))]
    pub snaplen: Option<i32>,
    /// Save the captures as classic .pcap, for tools that predate pcapng. By default they are
    /// .pcapng, whose comment names the command, the link, the mode and when each round
    /// started (Wireshark: Statistics → Capture File Properties; `capinfos -k`).
    #[arg(long)]
    pub pcap: bool,
}

/// An emulated network path. With any of these, the server and the client run in two network
/// namespaces joined by a link synack emulates itself (needs root), and the capture is taken on
/// the client's side of it. "Down" is server → client (the responses), "up" client → server.
#[derive(Debug, Args)]
#[command(next_help_heading = "Emulated link (needs root)")]
pub struct LinkArgs {
    /// A named path: lan, cable, dsl, lte, transcontinental, transoceanic, satellite (each an
    /// RTT, rates each way and a queue, sourced in docs/link.md); the options below override its
    /// values.
    #[arg(long, value_name = "NAME", value_parser = parse_path)]
    pub path: Option<&'static PathPreset>,
    /// Round-trip time of the path, e.g. 20ms, 150ms.
    #[arg(long, value_name = "TIME", value_parser = parse_link_time, allow_hyphen_values = true)]
    pub rtt: Option<Duration>,
    /// Each packet's one-way delay varies uniformly within ± this (at most half of --rtt);
    /// packets are never reordered.
    #[arg(long, value_name = "TIME", value_parser = parse_link_time, allow_hyphen_values = true)]
    pub jitter: Option<Duration>,
    /// Loss each way: a percentage each packet is lost with (1%), or bursts as netem's
    /// Gilbert-Elliott model, gemodel:P,R[,1-H[,1-K]] in percent (gemodel:1%,25%: a move to
    /// the losing state at 1 % of packets, back at 25 %: 3.8 % lost in bursts of 4 on average).
    #[arg(long, value_name = "LOSS", value_parser = parse_link_loss, allow_hyphen_values = true)]
    pub loss: Option<LossModel>,
    /// Loss server → client only; overrides --loss that way.
    #[arg(long, value_name = "LOSS", value_parser = parse_link_loss, allow_hyphen_values = true)]
    pub down_loss: Option<LossModel>,
    /// Loss client → server only; overrides --loss that way.
    #[arg(long, value_name = "LOSS", value_parser = parse_link_loss, allow_hyphen_values = true)]
    pub up_loss: Option<LossModel>,
    /// Link rate each way, e.g. 10mbit, 1gbit.
    #[arg(long, value_name = "RATE", value_parser = parse_link_rate, allow_hyphen_values = true)]
    pub rate: Option<u64>,
    /// Rate server → client (the downlink); overrides --rate that way.
    #[arg(long, value_name = "RATE", value_parser = parse_link_rate, allow_hyphen_values = true)]
    pub down_rate: Option<u64>,
    /// Rate client → server (the uplink); overrides --rate that way.
    #[arg(long, value_name = "RATE", value_parser = parse_link_rate, allow_hyphen_values = true)]
    pub up_rate: Option<u64>,
    /// Replay a recorded link server → client instead of a rate: a mahimahi trace, one line per
    /// delivery opportunity (a time in ms, each carrying up to an MTU), repeated when it ends.
    #[arg(long, value_name = "FILE", conflicts_with = "down_rate")]
    pub trace_down: Option<PathBuf>,
    /// Replay a recorded link client → server (as --trace-down).
    #[arg(long, value_name = "FILE", conflicts_with = "up_rate")]
    pub trace_up: Option<PathBuf>,
    /// What each direction's queue holds with a rate or a trace, before it drops at the tail:
    /// packets (1000) or bytes (256KiB). Default: 1000 packets, or the --path's buffer.
    #[arg(long, value_name = "SIZE", value_parser = parse_queue)]
    pub queue: Option<QueueLimit>,
    /// What manages the queue: tail-drop (a full queue drops arrivals), or codel (RFC 8289:
    /// drops at the head once packets waited over 5 ms for 100 ms, so a deep buffer does not
    /// become delay).
    #[arg(long, value_name = "AQM", default_value = "tail-drop")]
    pub aqm: Aqm,
    /// MTU of the emulated link in bytes: 1500 (Ethernet, the internet's path MTU) by default;
    /// 9000 for jumbo frames. The SYNs' MSS follows it (MTU − 40); with TCP timestamps each
    /// segment carries 12 bytes less.
    #[arg(long, value_name = "BYTES", value_parser = parse_mtu)]
    pub mtu: Option<u32>,
    /// Seed of the loss, the jitter and each round's order of the modes, so a run can be
    /// repeated.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl ClientTlsArgs {
    /// The client's TLS options: with `https` (an https:// URL), or when --tls is given.
    pub fn options(&self, https: bool) -> Result<Option<ClientTlsOptions>, String> {
        if self.early_data && self.tls == Some(TlsVersion::Tls12) {
            return Err("--early-data needs --tls 1.3: TLS 1.2 has no early data".into());
        }
        if !https && self.tls.is_none() {
            if self.tls_resume || self.early_data {
                return Err("--tls-resume and --early-data need TLS: add --tls 1.3".into());
            }
            return Ok(None);
        }
        Ok(Some(ClientTlsOptions {
            version: self.tls,
            resume: self.tls_resume || self.early_data,
            early_data: self.early_data,
        }))
    }
}

impl LinkArgs {
    /// Whether any option asks for an emulated link.
    pub fn emulated(&self) -> bool {
        self.path.is_some()
            || self.rtt.is_some()
            || self.jitter.is_some()
            || [&self.loss, &self.down_loss, &self.up_loss]
                .iter()
                .any(|l| l.is_some())
            || [self.rate, self.down_rate, self.up_rate]
                .iter()
                .any(Option::is_some)
            || self.trace_down.is_some()
            || self.trace_up.is_some()
            || self.queue.is_some()
            || self.aqm != Aqm::TailDrop
            || self.mtu.is_some()
    }

    /// The link to emulate, if any option asks for one: the --path's values, each overridden
    /// by an option given; a direction's own option over the shared one. Reads the trace files.
    pub fn config(&self) -> Result<Option<LinkConfig>, String> {
        if !self.emulated() {
            return Ok(None);
        }
        let preset = self.path;
        let trace = |file: &Option<PathBuf>| -> Result<Option<Arc<Trace>>, String> {
            file.as_deref()
                .map(|path| Trace::read(path).map(Arc::new))
                .transpose()
        };
        let shared_loss = self.loss.or(preset.map(|p| p.loss)).unwrap_or_default();
        let direction = |loss: Option<LossModel>,
                         rate: Option<u64>,
                         preset_rate: Option<u64>,
                         trace: Option<Arc<Trace>>| DirectionConfig {
            loss: loss.unwrap_or(shared_loss),
            // A trace replaces the rate, the preset's included.
            rate_bps: if trace.is_some() {
                None
            } else {
                rate.or(self.rate).or(preset_rate)
            },
            trace,
        };
        Ok(Some(LinkConfig {
            rtt: self.rtt.or(preset.map(|p| p.rtt)).unwrap_or_default(),
            jitter: self.jitter.unwrap_or_default(),
            down: direction(
                self.down_loss,
                self.down_rate,
                preset.map(|p| p.down_bps),
                trace(&self.trace_down)?,
            ),
            up: direction(
                self.up_loss,
                self.up_rate,
                preset.map(|p| p.up_bps),
                trace(&self.trace_up)?,
            ),
            queue: self.queue.or(preset.map(|p| p.queue)).unwrap_or_default(),
            aqm: self.aqm,
            seed: self.seed,
            mtu: self.mtu.unwrap_or(DEFAULT_MTU),
            ..LinkConfig::default()
        }))
    }
}

/// Report output options.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Require report.pdf (report.html printed by headless Chromium), failing before the run
    /// when Chromium is not installed. Without it, report.pdf is written where Chromium is found.
    #[arg(long)]
    pub pdf: bool,
    /// Write no report.pdf even where Chromium is found (printing takes a second or two of CPU).
    #[arg(long, conflicts_with = "pdf")]
    pub no_pdf: bool,
}

/// Options of `analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The capture file; `-` reads standard input (`tcpdump -w - | synack analyze -`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A BPF filter applied by libpcap, e.g. 'tcp port 443'.
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,
    /// Print JSON instead of tables: `connections` (one object each), `packets` (frames read),
    /// `fragments`, `not_tcp`, `truncated_frames`, `cut_off` (why reading stopped early, or
    /// null), `totals`, `tls` and `pattern` (the requests per connection, in words).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print JSON lines instead: each connection's object (as in `--json`) on a line of its own
    /// as the capture is read, then `{"summary": …}` with the rest of `--json`'s fields.
    #[arg(long, conflicts_with_all = ["json", "csv"])]
    pub jsonl: bool,
    /// Print one CSV row per connection instead of tables.
    #[arg(long)]
    pub csv: bool,
    /// Show every connection (default: the first 20).
    #[arg(long)]
    pub all: bool,
    /// Print connection N (the # column; Wireshark's tcp.stream) as a ladder diagram instead of
    /// the tables: client and server lanes, an arrow per packet, each data round on one line.
    #[arg(long, value_name = "N", conflicts_with_all = ["json", "jsonl", "csv", "html"])]
    pub ladder: Option<usize>,
    /// Also write the HTML report (waterfall, ladder diagrams, time–sequence graphs, tables).
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
    /// Decrypt TLS 1.3, TLS 1.2 (AEAD suites) and QUIC with the secrets of this key log (the
    /// SSLKEYLOGFILE format browsers, curl and synack write): HTTP/1.x and HTTP/2 requests and
    /// frames over TLS, and HTTP/3's streams, are counted.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Folder to serve; nothing outside it is ever sent.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Connections served at once.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_connections: u32,
    /// Congestion control of every connection (e.g. cubic, bbr, reno); default: the kernel's.
    #[arg(long, value_name = "NAME")]
    pub congestion: Option<String>,
    /// Accept requests carried on the SYN (TCP Fast Open; needs net.ipv4.tcp_fastopen=3).
    #[arg(long)]
    pub tfo: bool,
    /// Serve HTTPS with this TLS version. Without --cert and --key, a certificate is made for
    /// the --bind address (and localhost) and saved to --cert-out for clients to trust.
    #[arg(long, value_name = "VERSION", value_enum, help_heading = "TLS")]
    pub tls: Option<TlsVersion>,
    /// The certificate chain (PEM, leaf first) to serve with --tls.
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"], help_heading = "TLS")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert", help_heading = "TLS")]
    pub key: Option<PathBuf>,
    /// Where the certificate made at start is saved (PEM), e.g. for `curl --cacert`.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "synack-cert.pem",
        conflicts_with = "cert",
        help_heading = "TLS"
    )]
    pub cert_out: PathBuf,
    /// Print each connection's lifecycle.
    #[arg(short, long)]
    pub verbose: bool,
}

/// Options of `fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// One connection per file, one keep-alive connection for all (in turn or pipelined), one
    /// connection per file with several open at once, or one HTTP/2 connection with every
    /// request a stream (h2 for https:// URLs, h2c for http:// ones).
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// Connections open at once in the parallel mode.
    #[arg(long, value_name = "K", default_value_t = DEFAULT_PARALLEL, value_parser = clap::value_parser!(u64).range(1..=64).map(|k| k as usize))]
    pub parallel: usize,
    /// Where files go: <OUT>/<mode>/.
    #[arg(long, value_name = "DIR", default_value = "received")]
    pub out: PathBuf,
    /// The client's receive buffer (SO_RCVBUF), e.g. 4MiB (KB and MB are binary too, as the
    /// kernel counts buffers); default: the kernel's autotuning.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, allow_hyphen_values = true)]
    pub rcvbuf: Option<usize>,
    /// Send each request on the SYN (TCP Fast Open) once the server has given a cookie.
    #[arg(long)]
    pub tfo: bool,
    /// Each file's deadline, connect (or the previous file's last byte) to last byte; a run's
    /// is the sum over its files.
    #[arg(
        long,
        value_name = "TIME",
        default_value = "30s",
        value_parser = parse_timeout,
        allow_hyphen_values = true
    )]
    pub timeout: Duration,
    /// Largest body accepted, e.g. 100MiB; a larger one ends the fetch.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, allow_hyphen_values = true)]
    pub max_size: Option<usize>,
    /// Print each connection's lifecycle.
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub tls: ClientTlsArgs,
    /// With https:// URLs: trust the CAs in this PEM file instead of the system's (a private CA,
    /// or the certificate `synack serve --tls` saved).
    #[arg(long, value_name = "FILE", help_heading = "TLS")]
    pub cacert: Option<PathBuf>,
    /// http:// or https:// URLs, all on the same host and port.
    #[arg(value_name = "URL", required = true)]
    pub urls: Vec<String>,
}

/// `text`, unless it has a minus sign. The options parsed with it take such a text as their value
/// (allow_hyphen_values), so that the error says what is wrong with it rather than clap's
/// "unexpected argument '-5'"; an option left without its value takes the next option's name.
fn not_negative<'a>(text: &'a str, what: &str) -> Result<&'a str, String> {
    let text = text.trim_start();
    if text.starts_with("--") {
        return Err(format!("expected {what}, found the option {text}"));
    }
    if text.starts_with('-') {
        return Err(format!("{what} cannot be negative"));
    }
    Ok(text)
}

/// A delay of the emulated link: a duration, zero or more.
fn parse_link_time(text: &str) -> Result<Duration, String> {
    parse_duration(not_negative(text, "a duration")?)
}

/// A deadline: a duration above zero.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(not_negative(text, "a timeout")?)?;
    if duration.is_zero() {
        return Err("a timeout must be above zero".into());
    }
    Ok(duration)
}

/// A loss model: a percentage, zero or more, or gemodel:….
fn parse_link_loss(text: &str) -> Result<LossModel, String> {
    crate::emulate::loss::parse_loss(not_negative(text, "a loss rate")?)
}

/// An MTU in bytes, 576 … 65535.
fn parse_mtu(text: &str) -> Result<u32, String> {
    let fix = "give --mtu 1500 (Ethernet, the default) or 9000 (jumbo frames)";
    let mtu: u32 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of bytes: {fix}"))?;
    if mtu < MIN_MTU {
        return Err(format!(
            "{mtu} is below {MIN_MTU}, the least every IPv4 host must take: {fix}"
        ));
    }
    if mtu > MAX_MTU {
        return Err(format!(
            "{mtu} is above {MAX_MTU}, the largest IP packet: {fix}"
        ));
    }
    Ok(mtu)
}

/// A named path.
fn parse_path(text: &str) -> Result<&'static PathPreset, String> {
    crate::emulate::paths::preset(text)
}

/// A link rate: bits per second.
fn parse_link_rate(text: &str) -> Result<u64, String> {
    parse_rate(not_negative(text, "a rate")?)
}

/// A size in bytes.
fn parse_size(text: &str) -> Result<usize, String> {
    parse_bytes(not_negative(text, "a size")?)
}

/// Options of `files`.
#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Which set: compare, the three files `compare` transfers without --files (a.jpg, b.mp3,
    /// c.txt); or page-1997, the 43 files of the 1997 HTTP/1.1 pipelining study's page (one
    /// 42 KiB page, 42 images of 125 KiB in all).
    #[arg(long, value_enum, default_value = "page-1997")]
    pub set: SampleSet,
    /// The folder to write them into (created if missing; files of the same name are replaced).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn modes_parse_by_their_names() {
        let cli = Cli::try_parse_from([
            "synack",
            "fetch",
            "--mode",
            "non-persistent",
            "http://127.0.0.1:1/a",
        ])
        .unwrap();
        match cli.command {
            Command::Fetch(f) => assert_eq!(f.mode, Mode::NonPersistent),
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["synack", "compare", "--rounds", "0"]).is_err());
        let cli = Cli::try_parse_from([
            "synack",
            "fetch",
            "--mode",
            "parallel",
            "--parallel",
            "2",
            "http://127.0.0.1:1/a",
        ])
        .unwrap();
        match cli.command {
            Command::Fetch(f) => assert_eq!((f.mode, f.parallel), (Mode::Parallel, 2)),
            other => panic!("parsed as {other:?}"),
        }
        let parse = |k: &str| {
            Cli::try_parse_from([
                "synack",
                "fetch",
                "--mode",
                "pipelined",
                "--parallel",
                k,
                "x",
            ])
        };
        assert!(parse("0").is_err());
        assert!(parse("6").is_ok());
    }

    /// The link `synack compare ARGS` asks for.
    fn link_of(args: &[&str]) -> Option<LinkConfig> {
        let cli = Cli::try_parse_from(["synack", "compare"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Compare(c) => c.link.config().unwrap(),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn no_link_option_means_no_link_and_the_default_mtu_is_ethernets() {
        assert_eq!(link_of(&[]), None);
        let link = link_of(&["--rtt", "40ms"]).unwrap();
        assert_eq!((link.mtu, link.down.rate_bps), (1500, None));
        assert_eq!(link_of(&["--mtu", "9000"]).unwrap().mtu, 9000);
    }

    #[test]
    fn a_preset_gives_its_values_and_each_option_given_overrides_them() {
        let cable = link_of(&["--path", "cable"]).unwrap();
        assert_eq!(cable.rtt, Duration::from_millis(20));
        assert_eq!(
            (cable.down.rate_bps, cable.up.rate_bps),
            (Some(100_000_000), Some(10_000_000))
        );
        assert_eq!(cable.queue, QueueLimit::Bytes(256 * 1024));
        let changed = link_of(&[
            "--path",
            "cable",
            "--rtt",
            "5ms",
            "--rate",
            "50mbit",
            "--up-rate",
            "1mbit",
            "--queue",
            "64",
        ])
        .unwrap();
        assert_eq!(changed.rtt, Duration::from_millis(5));
        assert_eq!(
            (changed.down.rate_bps, changed.up.rate_bps),
            (Some(50_000_000), Some(1_000_000))
        );
        assert_eq!(changed.queue, QueueLimit::Packets(64));
    }

    #[test]
    fn a_directions_own_loss_overrides_the_shared_one() {
        let link = link_of(&["--loss", "1%", "--up-loss", "gemodel:2%,50%"]).unwrap();
        assert_eq!(link.down.loss, LossModel::Uniform { probability: 0.01 });
        assert!(matches!(link.up.loss, LossModel::GilbertElliott { .. }));
    }

    #[test]
    fn a_trace_takes_the_place_of_a_rate_that_way() {
        let trace = concat!(env!("CARGO_MANIFEST_DIR"), "/traces/constant-12mbit");
        let link = link_of(&["--path", "dsl", "--trace-down", trace]).unwrap();
        assert_eq!(link.down.rate_bps, None);
        assert!(link.down.trace.is_some());
        assert_eq!(link.up.rate_bps, Some(1_000_000));
        assert!(
            Cli::try_parse_from([
                "synack",
                "compare",
                "--trace-down",
                trace,
                "--down-rate",
                "1mbit"
            ])
            .is_err()
        );
    }
}
