//! `synack analyze`: the packet, connection and phase tables of a saved capture.

use anyhow::Context;

use crate::capture::reader::track_file;
use crate::capture::track::{Connection, Totals};
use crate::cli::AnalyzeArgs;
use crate::report::{json, tables};

/// Shown connections without `--all`.
const CONNECTION_ROWS: usize = 20;

/// Reads the capture and prints its tables (or JSON).
pub fn run(args: &AnalyzeArgs) -> anyhow::Result<()> {
    let tracked = track_file(&args.file, args.filter.as_deref())
        .with_context(|| format!("cannot analyze {}", args.file.display()))?;
    if let Some(cut) = &tracked.cut_off {
        eprintln!(
            "synack: warning: {cut}; analysed the {} packets before it",
            tracked.frames
        );
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json::capture(&tracked))?
        );
        return Ok(());
    }
    let totals = Totals::of(&tracked.connections);
    println!(
        "{}: {} packets ({} TCP, {} other, {} fragments, {} truncated)\n",
        args.file.display(),
        tracked.frames,
        totals.counts.packets,
        tracked.not_tcp,
        tracked.fragments,
        tracked.truncated
    );
    println!("Packets\n{}\n", tables::totals_table(&totals));
    let limit = (!args.all).then_some(CONNECTION_ROWS);
    println!(
        "Connections\n{}\n",
        tables::connection_table(&tracked.connections, limit)
    );
    println!(
        "Phases (connections in order)\n{}\n",
        tables::capture_phase_table(&tracked.connections)
    );
    println!("{}", pattern(&tracked.connections));
    Ok(())
}

/// One line naming the pattern: one request per connection, or many over few.
pub fn pattern(conns: &[Connection]) -> String {
    // HTTP request lines when the snap length kept them, else request/response exchanges.
    let per_conn: Vec<u64> = conns
        .iter()
        .map(|c| {
            if c.http_requests > 0 {
                c.http_requests
            } else {
                c.exchanges.len() as u64
            }
        })
        .collect();
    let requests: u64 = per_conn.iter().sum();
    let n = conns.len();
    if n == 0 {
        "no TCP connections".into()
    } else if per_conn.iter().all(|&r| r == 1) {
        format!("{n} connections each carrying one request (non-persistent)")
    } else if per_conn.iter().any(|&r| r > 1) {
        format!("{requests} requests over {n} connections (persistent)")
    } else {
        format!("{requests} requests over {n} connections")
    }
}
