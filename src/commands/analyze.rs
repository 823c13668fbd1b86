//! `synack analyze`: the packet, connection and phase tables of any capture, streamed: memory
//! follows the connections open at once, not the packets in the file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};

use crate::analysis::drawn::draw;
use crate::analysis::head_of_line::CaptureHold;
use crate::analysis::pattern::RequestPattern;
use crate::analysis::phases::{ConnectionTimeline, PhaseAccumulator};
use crate::capture::CaptureError;
use crate::cli::AnalyzeArgs;
use crate::report::{csv as csv_rows, html, json, terminal};
use crate::track::http2::{Http2Seen, Http2Totals};
use crate::track::keylog::KeyLog;
use crate::track::quic::{QuicCapture, QuicConnection};
use crate::track::reader::{CaptureRead, CaptureReader, FrameCounts};
use crate::track::tls::TlsTotals;
use crate::track::trace::{TraceRequest, trace_connections};
use crate::track::{Connection, Totals};

/// Shown connections without `--all`.
const CONNECTION_ROWS: usize = 20;

/// Connections the HTML report keeps for its waterfall and tables.
const HTML_CONNECTIONS: usize = 200;

/// Connections the HTML report draws packet by packet: the first TCP connections, and as many
/// of the first QUIC connections.
const HTML_LADDERS: usize = 8;

/// Where each finished connection goes.
enum Output {
    /// Kept (the first rows, or all with `--all`) for the tables printed at the end, with every
    /// connection's phases.
    Tables {
        rows: BTreeMap<usize, Connection>,
        limit: Option<usize>,
        phases: Box<PhaseAccumulator>,
    },
    /// Written out as a JSON array element at once.
    Json { first: bool },
    /// Written out as a line of JSON at once.
    JsonLines,
    /// Written out as a CSV row at once.
    Csv(Box<csv::Writer<std::fs::File>>),
}

impl Output {
    /// The output `args` ask for, its opening written to `out`.
    fn open(args: &AnalyzeArgs, out: &mut Vec<u8>) -> anyhow::Result<Output> {
        Ok(if args.json {
            out.extend_from_slice(b"{\"connections\":[");
            Output::Json { first: true }
        } else if args.jsonl {
            Output::JsonLines
        } else if args.csv {
            let mut w = csv::Writer::from_writer(stdout_file()?);
            w.write_record(csv_rows::HEADER)?;
            Output::Csv(Box::new(w))
        } else {
            Output::Tables {
                rows: BTreeMap::new(),
                limit: (!args.all).then_some(CONNECTION_ROWS),
                phases: Box::default(),
            }
        })
    }

    /// Adds a finished connection: JSON goes to `out`, a CSV row to its writer.
    fn add(&mut self, conn: &Connection, out: &mut Vec<u8>) -> anyhow::Result<()> {
        match self {
            Output::Tables {
                rows,
                limit,
                phases,
            } => {
                // Only the tables show phases: JSON and CSV skip the work.
                phases.add(&ConnectionTimeline::from_capture(conn));
                keep_first(rows, *limit, conn);
            }
            Output::Json { first } => {
                if !std::mem::take(first) {
                    out.push(b',');
                }
                json::ConnectionJson::of(conn).write(out);
            }
            Output::JsonLines => {
                json::ConnectionJson::of(conn).write(out);
                out.push(b'\n');
            }
            Output::Csv(w) => w.write_record(csv_rows::row(conn))?,
        }
        Ok(())
    }

    /// Writes what follows the connections to `out`.
    fn finish(self, end: &CaptureEnd<'_>, out: &mut impl Write) -> anyhow::Result<()> {
        let summary = || {
            serde_json::to_string(&json::capture_summary(
                end.counts,
                end.totals,
                end.tls,
                end.http2,
                end.quic,
                end.pattern,
                end.comment,
            ))
        };
        match self {
            Output::Json { .. } => {
                let summary = summary()?;
                // The summary object's fields follow the streamed array inside the same object.
                writeln!(out, "],{}", summary.strip_prefix('{').unwrap_or(&summary))?;
            }
            Output::JsonLines => writeln!(out, "{{\"summary\":{}}}", summary()?)?,
            Output::Csv(mut w) => w.flush()?,
            Output::Tables { rows, phases, .. } => {
                let connections: Vec<Connection> = rows.into_values().collect();
                let report = terminal::CaptureReport {
                    path: end.path,
                    counts: end.counts,
                    totals: end.totals,
                    hidden: (end.totals.connections as usize).saturating_sub(connections.len()),
                    connections: &connections,
                    phases: &phases.finish(),
                    tls: end.tls,
                    http2: end.http2,
                    head_of_line: end.head_of_line,
                    quic: end.quic,
                    pattern: end.pattern,
                    comment: end.comment,
                };
                let width = crate::report::width::output_width();
                write!(out, "{}", terminal::capture(&report, width))?;
            }
        }
        Ok(())
    }
}

/// What the whole capture adds up to, for the end of the output.
struct CaptureEnd<'a> {
    path: &'a Path,
    counts: &'a FrameCounts,
    totals: &'a Totals,
    tls: &'a TlsTotals,
    http2: &'a Http2Totals,
    head_of_line: &'a CaptureHold,
    quic: &'a QuicCapture,
    pattern: &'a str,
    /// The pcapng section's comment, which names the run for a capture synack saved.
    comment: Option<&'a str>,
}

/// Reads the key log at `path`: an error when it cannot be read or holds no secret; lines it
/// cannot read are passed over with a warning.
fn read_keylog(path: &Path) -> anyhow::Result<KeyLog> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --keylog {}", path.display()))?;
    let keylog = KeyLog::parse(&text);
    if keylog.is_empty() {
        bail!(
            "--keylog {}: no TLS secret in it (lines like `CLIENT_TRAFFIC_SECRET_0 <client random> \
             <secret>`, as SSLKEYLOGFILE writes them)",
            path.display()
        );
    }
    match keylog.malformed_lines() {
        0 => {}
        n => eprintln!(
            "synack: warning: --keylog {}: {n} malformed lines passed over",
            path.display()
        ),
    }
    Ok(keylog)
}

/// Reads the capture and prints its tables, JSON, JSON lines or CSV.
pub fn run(args: &AnalyzeArgs) -> anyhow::Result<()> {
    let failed = |error| cannot_analyze(&args.file, error);
    if args.html.is_some() && args.file.as_os_str() == "-" {
        bail!("--html reads the capture twice: give a file, not standard input");
    }
    if let Some(stream) = args.ladder {
        return print_ladder(args, stream);
    }
    if let Some(out) = &args.html {
        // Found now rather than after the whole capture.
        crate::created::check_can_create(out)
            .with_context(|| format!("cannot write --html {}", out.display()))?;
    }
    let reader = open_reader(args)?;
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, stdout_file()?);
    // JSON, written here and passed on in large writes.
    let mut objects = Vec::with_capacity(1 << 17);
    let mut output = Output::open(args, &mut objects)?;
    let mut totals = Totals::default();
    let mut tls = TlsTotals::default();
    let mut http2 = Http2Totals::default();
    let mut head_of_line = CaptureHold::default();
    let mut pattern = RequestPattern::default();
    let mut page = args.html.as_ref().map(|_| HtmlCollector::default());
    let mut write_error: Option<anyhow::Error> = None;
    let read = reader.read(|conn| {
        totals.add(&Totals::of([&conn.counts]));
        if let Some(h) = conn.tls() {
            tls.add(h);
        }
        match conn.http2() {
            Some(Http2Seen::Frames(f)) => http2.add(f),
            Some(Http2Seen::Encrypted(_)) => http2.add_encrypted(),
            None => {}
        }
        head_of_line.add(conn);
        pattern.add(conn);
        if let Some(page) = &mut page {
            page.add(conn);
        }
        let written = output
            .add(conn, &mut objects)
            .and_then(|()| flush_over(&mut objects, 1 << 16, &mut stdout));
        if let Err(e) = written {
            write_error.get_or_insert(e);
        }
    });
    // What is buffered goes out before any error: the output covers the packets before it.
    let flushed = flush_over(&mut objects, 0, &mut stdout);
    // A read error once output has begun (a damaged record mid-file) still fails the command:
    // the output is incomplete, and the exit status says so.
    let CaptureRead { counts, quic } = read.map_err(failed)?;
    if let Some(e) = write_error.or(flushed.err()) {
        return Err(e.context("cannot write the output"));
    }
    // A file cut off mid-record is still a usable capture; a damaged record is not, so after its
    // output the command fails, naming the record (one line either way).
    let damaged = match &counts.cut_off {
        Some(cut @ CaptureError::Truncated { .. }) => {
            eprintln!(
                "synack: warning: {cut}; analysed the {} packets before it",
                counts.frames
            );
            None
        }
        Some(damage) => Some(format!(
            "{damage}; the output above covers the {} packets before it",
            counts.frames
        )),
        None => None,
    };
    let description = crate::report::sentences::pattern(&pattern);
    if let (Some(out), Some(page)) = (&args.html, page) {
        page.write(
            args,
            out,
            counts.frames,
            &totals,
            &quic.connections,
            &description,
        )?;
    }
    let comment = if args.file.as_os_str() == "-" {
        None
    } else {
        crate::capture::writer::section_comment(&args.file)
    };
    let end = CaptureEnd {
        path: &args.file,
        counts: &counts,
        totals: &totals,
        tls: &tls,
        http2: &http2,
        head_of_line: &head_of_line,
        quic: &quic,
        pattern: &description,
        comment: comment.as_deref(),
    };
    output.finish(&end, &mut stdout)?;
    stdout.flush()?;
    match damaged {
        Some(damage) => bail!("{damage}"),
        None => Ok(()),
    }
}

/// What `--html` keeps while the capture streams past: the first connections and every
/// connection's phases.
#[derive(Default)]
struct HtmlCollector {
    connections: BTreeMap<usize, Connection>,
    phases: PhaseAccumulator,
}

impl HtmlCollector {
    fn add(&mut self, conn: &Connection) {
        self.phases.add(&ConnectionTimeline::from_capture(conn));
        keep_first(&mut self.connections, Some(HTML_CONNECTIONS), conn);
    }

    /// Reads the drawn connections' packets again and writes the page to `out`.
    fn write(
        self,
        args: &AnalyzeArgs,
        out: &Path,
        frames: u64,
        totals: &Totals,
        quic: &[QuicConnection],
        pattern: &str,
    ) -> anyhow::Result<()> {
        let connections: Vec<Connection> = self.connections.into_values().collect();
        let shown: Vec<&Connection> = connections.iter().take(HTML_LADDERS).collect();
        // The tracker hands them over by number, the order they first appeared in.
        let shown_quic: Vec<&QuicConnection> = quic.iter().take(HTML_LADDERS).collect();
        let drawn =
            draw(&args.file, &shown, &shown_quic).map_err(|e| cannot_analyze(&args.file, e))?;
        let page_dir = out.parent().unwrap_or(Path::new(""));
        let page = html::capture(
            &html::CaptureView {
                path: &args.file,
                frames,
                totals,
                hidden: (totals.connections as usize).saturating_sub(connections.len()),
                connections: &connections,
                phases: &self.phases.finish(),
                pattern,
                drawn: &drawn.connections,
                drawn_quic: &drawn.quic,
                quic,
            },
            page_dir,
        );
        std::fs::write(out, page).with_context(|| format!("cannot write {}", out.display()))
    }
}

/// Standard output written directly, behind a buffer of the caller's: Rust's own stdout is
/// line-buffered and scans every write for newlines.
fn stdout_file() -> anyhow::Result<std::fs::File> {
    use std::os::fd::AsFd;
    let fd = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot use standard output")?;
    Ok(std::fs::File::from(fd))
}

/// Writes out and empties `buffer` once it holds more than `limit` bytes.
fn flush_over(buffer: &mut Vec<u8>, limit: usize, out: &mut impl Write) -> anyhow::Result<()> {
    if buffer.len() > limit {
        out.write_all(buffer)?;
        buffer.clear();
    }
    Ok(())
}

/// Keeps a copy of `conn` in `kept` when it is among the first `limit` streams seen so far (all
/// without a limit).
fn keep_first(kept: &mut BTreeMap<usize, Connection>, limit: Option<usize>, conn: &Connection) {
    let full = limit.is_some_and(|l| kept.len() >= l);
    if full
        && kept
            .last_key_value()
            .is_some_and(|(&last, _)| last < conn.stream)
    {
        return;
    }
    kept.insert(conn.stream, conn.clone());
    if limit.is_some_and(|l| kept.len() > l) {
        kept.pop_last();
    }
}

/// A capture that cannot be read, as "cannot analyze FILE: why", naming the file once: the
/// errors about the file itself already name it, so only libpcap's words follow the context.
fn cannot_analyze(path: &Path, error: CaptureError) -> anyhow::Error {
    let context = format!("cannot analyze {}", path.display());
    match error {
        CaptureError::File { detail, .. } => anyhow!("{context}: {detail}"),
        CaptureError::Truncated {
            at_byte, detail, ..
        } => anyhow!("{context}: it ends at byte {at_byte} ({detail})"),
        other => anyhow::Error::new(other).context(context),
    }
}

/// The capture's reader, with `--filter` and `--keylog` (whose file is read first, so a bad one
/// is said before the capture is).
fn open_reader(args: &AnalyzeArgs) -> anyhow::Result<CaptureReader> {
    let keylog = args.keylog.as_deref().map(read_keylog).transpose()?;
    let reader = CaptureReader::open(&args.file, args.filter.as_deref())
        .map_err(|error| cannot_analyze(&args.file, error))?;
    Ok(match keylog {
        Some(keylog) => reader.with_keylog(Arc::new(keylog)),
        None => reader,
    })
}

/// Prints connection `stream` of the capture as a ladder diagram.
fn print_ladder(args: &AnalyzeArgs, stream: usize) -> anyhow::Result<()> {
    let failed = |error| cannot_analyze(&args.file, error);
    if args.file.as_os_str() == "-" {
        bail!("--ladder reads the capture twice: give a file, not standard input");
    }
    // With keys, the requests inside TLS are read, and named on the ladder.
    let reader = open_reader(args)?;
    let mut found = None;
    let mut seen = 0usize;
    reader
        .read(|conn| {
            seen += 1;
            if conn.stream == stream {
                found = Some(conn.clone());
            }
        })
        .map_err(failed)?;
    let Some(conn) = found else {
        bail!(
            "{} has no connection #{stream}: its connections are numbered 0 to {}",
            args.file.display(),
            seen.saturating_sub(1)
        );
    };
    let request = TraceRequest {
        client: conn.client,
        server: conn.server,
        from: conn.first_ts,
        to: conn.last_ts,
    };
    let traces = trace_connections(&args.file, &[request]).map_err(failed)?;
    let trace = traces
        .first()
        .context("the connection's packets were not found again")?;
    let width = crate::report::width::output_width();
    print!("{}", crate::report::ladder::ladder(&conn, trace, width));
    Ok(())
}
