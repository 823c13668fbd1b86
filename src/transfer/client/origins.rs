//! Transfer layer, client: a run over several servers at once, as a browser fetches a page whose
//! files come from more than one origin: each server's files in the mode, all servers at the same
//! time, the records merged into one run. Must not import the server, capture or report code.

use std::thread;

use super::modes::fetch;
use super::plan::FetchPlan;
use crate::transfer::TransferError;
use crate::transfer::events::EventLog;
use crate::transfer::run::{Mode, RunTiming};

/// Fetches every plan's paths in `mode`, one thread a plan, and merges the runs: the files in
/// the plans' order (a request's `file` counting across the plans), the connections in the order
/// they were opened, from the first connect to the last byte of any. One plan is a plain fetch.
pub fn fetch_sites(
    mode: Mode,
    plans: &[FetchPlan],
    events: Option<&EventLog>,
) -> Result<RunTiming, TransferError> {
    if let [plan] = plans {
        return fetch(mode, plan, events);
    }
    let runs: Vec<Result<RunTiming, TransferError>> = thread::scope(|scope| {
        let running: Vec<_> = plans
            .iter()
            .map(|plan| scope.spawn(move || fetch(mode, plan, events)))
            .collect();
        running
            .into_iter()
            .map(|r| r.join().expect("a fetch thread does not panic"))
            .collect()
    });
    let mut merged: Option<RunTiming> = None;
    let mut offset = 0;
    for (plan, run) in plans.iter().zip(runs) {
        let mut run = run?;
        for request in run.connections.iter_mut().flat_map(|c| &mut c.requests) {
            request.file += offset;
        }
        offset += plan.paths.len();
        merged = Some(match merged {
            None => run,
            Some(mut all) => {
                all.start = all.start.min(run.start);
                all.last_byte = all.last_byte.max(run.last_byte);
                all.end = all.end.max(run.end);
                all.connections.append(&mut run.connections);
                all.files.append(&mut run.files);
                all
            }
        });
    }
    let mut merged =
        merged.ok_or_else(|| TransferError::InvalidPlan("no server to fetch from".into()))?;
    merged.connections.sort_by_key(|c| c.connect_start);
    Ok(merged)
}
