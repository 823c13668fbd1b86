//! Transfer layer, client: a run in each mode: a connection per file, one for all (request after
//! response, or pipelined), or a few at once. Must not import the server, capture or report code.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::Instant;

use super::connection::Connection;
use super::deadline::Run;
use super::multiplexed::fetch_multiplexed;
use super::plan::{FetchPlan, Target, targets};
use crate::transfer::TransferError;
use crate::transfer::events::EventLog;
use crate::transfer::run::{ConnectionTiming, FileResult, Mode, RunTiming};
use crate::transfer::tls::ClientTls;

/// Read size for response bodies: large reads keep syscall overhead out of the timings.
const BODY_BUFFER: usize = 256 * 1024;

/// Fetches every path of the plan in `mode` and returns the client-side timings.
pub fn fetch(
    mode: Mode,
    plan: &FetchPlan,
    events: Option<&EventLog>,
) -> Result<RunTiming, TransferError> {
    let targets = targets(plan)?;
    let run = Run::new(
        &plan.limits,
        targets.len(),
        plan.tls.as_ref().map(ClientTls::sessions),
    );
    let dir = plan.out_dir.join(mode.name());
    crate::created::create_dir_all(&dir).map_err(|source| TransferError::Output {
        path: dir.clone(),
        source,
    })?;
    let (connections, files) = match mode {
        Mode::NonPersistent => {
            let mut body = vec![0u8; BODY_BUFFER];
            let mut connections = Vec::new();
            let mut files = Vec::new();
            for target in &targets {
                let (conn, file) = fetch_alone(plan, &run, target, &dir, &mut body, events)?;
                connections.push(conn);
                files.push(file);
            }
            (connections, files)
        }
        Mode::Persistent => fetch_on_one(plan, &run, &targets, false, &dir, events)?,
        Mode::Pipelined => fetch_on_one(plan, &run, &targets, true, &dir, events)?,
        Mode::Parallel => fetch_in_parallel(plan, &run, &targets, &dir, events)?,
        Mode::H2 | Mode::H2c => fetch_multiplexed(mode, plan, &run, &targets, &dir, events)?,
        Mode::H3 => return crate::transfer::h3::fetch(plan, &targets, &dir, events),
    };
    let start = connections
        .iter()
        .map(|c: &ConnectionTiming| c.connect_start)
        .min()
        .expect("a plan has at least one file, so one connection");
    let end = connections
        .iter()
        .map(|c| c.closed)
        .max()
        .expect("a plan has at least one file, so one connection");
    let last_byte = connections
        .iter()
        .flat_map(|c| &c.requests)
        .map(|r| r.last_byte)
        .max()
        .unwrap_or(end);
    Ok(RunTiming {
        mode,
        start,
        last_byte,
        end,
        connections,
        files,
    })
}

/// Fetches one file over a connection of its own, closed once the response has been read.
fn fetch_alone(
    plan: &FetchPlan,
    run: &Run,
    target: &Target<'_>,
    dir: &Path,
    body: &mut [u8],
    events: Option<&EventLog>,
) -> Result<(ConnectionTiming, FileResult), TransferError> {
    let mut conn = Connection::open(plan, run, events)?;
    let (request, mut file) = conn.exchange(&plan.host, target, true, dir, body)?;
    file.seconds = request.last_byte.secs_since(conn.timing.connect_start);
    conn.timing.requests.push(request);
    // The server closes first; reading up to its FIN before closing makes our close the second
    // FIN of a clean exchange, never a RST for unread data.
    conn.set_deadline(Instant::now() + run.per_file);
    conn.await_fin()?;
    conn.send_fin();
    Ok((conn.close(), file))
}

/// Fetches every file over one keep-alive connection: request after response (persistent),
/// or every request first and then every response (pipelined).
fn fetch_on_one(
    plan: &FetchPlan,
    run: &Run,
    targets: &[Target<'_>],
    pipelined: bool,
    dir: &Path,
    events: Option<&EventLog>,
) -> Result<(Vec<ConnectionTiming>, Vec<FileResult>), TransferError> {
    let mut body = vec![0u8; BODY_BUFFER];
    let mut conn = Connection::open(plan, run, events)?;
    let mut sent = Vec::new();
    if pipelined {
        // Nothing is read until every request is out, so the server may stop reading while its
        // first response fills the buffers; the write timeout bounds that for huge plans.
        for target in targets {
            sent.push(conn.send_request(&plan.host, target, false)?);
        }
    }
    let mut files = Vec::new();
    let mut previous = conn.timing.connect_start;
    for (position, target) in targets.iter().enumerate() {
        let sent = match sent.get(position) {
            Some(&sent) => sent,
            None => conn.send_request(&plan.host, target, false)?,
        };
        let (request, mut file) = conn.receive_response(target, sent, false, dir, &mut body)?;
        let more = position + 1 < targets.len();
        if conn.server_closes && more {
            return Err(TransferError::BadResponse(format!(
                "{} announced Connection: close after {}, so it cannot serve the {} mode",
                plan.addr,
                target.path,
                if pipelined {
                    Mode::Pipelined
                } else {
                    Mode::Persistent
                }
            )));
        }
        file.seconds = request.last_byte.secs_since(previous);
        previous = request.last_byte;
        conn.timing.requests.push(request);
        files.push(file);
        conn.set_deadline(run.file_deadline(Instant::now()));
    }
    // The client closes first, as a browser does when it is done with a connection.
    conn.set_deadline(Instant::now() + run.per_file);
    conn.send_fin();
    conn.await_fin()?;
    Ok((vec![conn.close()], files))
}

/// Fetches each file over a connection of its own with up to `plan.parallel` connections open
/// at once: every slot takes the next file in plan order as soon as its previous one is done.
fn fetch_in_parallel(
    plan: &FetchPlan,
    run: &Run,
    targets: &[Target<'_>],
    dir: &Path,
    events: Option<&EventLog>,
) -> Result<(Vec<ConnectionTiming>, Vec<FileResult>), TransferError> {
    let slots = plan.parallel.clamp(1, targets.len());
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let done: Mutex<Vec<Option<(ConnectionTiming, FileResult)>>> =
        Mutex::new(targets.iter().map(|_| None).collect());
    let errors: Mutex<Vec<(usize, TransferError)>> = Mutex::new(Vec::new());
    let slot = || {
        let mut body = vec![0u8; BODY_BUFFER];
        // Each pass takes a distinct index, so a slot makes at most one pass per file.
        while !failed.load(Ordering::SeqCst) {
            let index = next.fetch_add(1, Ordering::SeqCst);
            let Some(target) = targets.get(index) else {
                return;
            };
            match fetch_alone(plan, run, target, dir, &mut body, events) {
                Ok(result) => {
                    done.lock().unwrap_or_else(PoisonError::into_inner)[index] = Some(result)
                }
                Err(error) => {
                    // Slots finish the file they hold, but take no new one.
                    failed.store(true, Ordering::SeqCst);
                    errors
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((index, error));
                }
            }
        }
    };
    thread::scope(|scope| {
        for number in 0..slots {
            let spawned = thread::Builder::new()
                .name(format!("synack-fetch-{number}"))
                .spawn_scoped(scope, slot);
            if let Err(error) = spawned {
                // Fewer slots than asked would measure something else, so fail the run.
                failed.store(true, Ordering::SeqCst);
                errors
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((usize::MAX, error.into()));
                break;
            }
        }
    });
    let mut errors = errors.into_inner().unwrap_or_else(PoisonError::into_inner);
    errors.sort_by_key(|(index, _)| *index);
    if let Some((_, error)) = errors.into_iter().next() {
        return Err(error);
    }
    let mut connections = Vec::with_capacity(targets.len());
    let mut files = Vec::with_capacity(targets.len());
    for result in done.into_inner().unwrap_or_else(PoisonError::into_inner) {
        let (conn, file) = result.expect("without a failure every file was fetched");
        connections.push(conn);
        files.push(file);
    }
    connections.sort_by_key(|c| c.connect_start);
    Ok((connections, files))
}
