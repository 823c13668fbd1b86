//! Transfer layer, client: what to fetch, from where and within which limits, checked and named
//! before any connection is opened. Must not import the rest of the client, the server, capture or
//! report code.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::transfer::TransferError;
use crate::transfer::tls::ClientTls;

/// Each file's deadline unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections the parallel mode opens at once unless told otherwise: browsers' per-host limit.
pub const DEFAULT_PARALLEL: usize = 6;

/// What to fetch, from where, and where to put it.
#[derive(Debug, Clone)]
pub struct FetchPlan {
    /// Server address.
    pub addr: SocketAddr,
    /// Value of the Host header.
    pub host: String,
    /// Request paths in fetch order, e.g. `/a.jpg` (see
    /// [`path_for_name`](crate::transfer::http::path_for_name)).
    pub paths: Vec<String>,
    /// Files go to `out_dir/<mode name>/<decoded last path segment>`.
    pub out_dir: PathBuf,
    /// Expected SHA-256 (hex) per path; when given, a mismatch fails the fetch.
    pub expected_sha256: Option<Vec<String>>,
    /// Connections open at once in the parallel mode (at least 1; see [`DEFAULT_PARALLEL`]).
    /// The other modes ignore it.
    pub parallel: usize,
    /// The client's receive buffer (`SO_RCVBUF`, set before connecting, which also fixes the
    /// window it advertises); None leaves the kernel's autotuning in charge.
    pub rcvbuf: Option<usize>,
    /// Send each request with the SYN (TCP Fast Open) once the server has given a cookie.
    pub fastopen: bool,
    /// Speak TLS (HTTPS) with these settings; None for plain HTTP.
    pub tls: Option<ClientTls>,
    /// The name each path's file is saved under, in `paths`' order; None saves each under its
    /// decoded last segment.
    pub names: Option<Vec<String>>,
    /// Keep a response whatever its status (a redirect, a 404), recording the status; otherwise
    /// a status outside 2xx fails the fetch.
    pub any_status: bool,
    /// TLS for the h3 mode where `tls` does not fit it (plain HTTP/1.x, or TLS 1.2, beside h3,
    /// which always speaks TLS 1.3); None to use `tls`.
    pub h3_tls: Option<ClientTls>,
    /// Deadlines and size bound.
    pub limits: FetchLimits,
}

/// How long a fetch may take and how much it may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Each file's deadline: from its connect (a connection of its own) or the previous file's
    /// last byte (a shared connection) to its own last byte. A run ends by the sum over its files.
    pub per_file: Duration,
    /// Largest body accepted; None for no bound.
    pub max_size: Option<u64>,
}

impl Default for FetchLimits {
    fn default() -> FetchLimits {
        FetchLimits {
            per_file: DEFAULT_TIMEOUT,
            max_size: None,
        }
    }
}

/// One file to fetch, checked and named before any connection is opened.
pub(crate) struct Target<'a> {
    pub(crate) index: usize,
    pub(crate) path: &'a str,
    pub(crate) name: String,
    pub(crate) expected: Option<String>,
}

pub(super) fn targets(plan: &FetchPlan) -> Result<Vec<Target<'_>>, TransferError> {
    if plan.paths.is_empty() {
        return Err(invalid("no files to fetch".into()));
    }
    if plan.parallel == 0 {
        return Err(invalid("parallel connections must be at least 1".into()));
    }
    if let Some(names) = &plan.names
        && names.len() != plan.paths.len()
    {
        return Err(invalid(format!(
            "{} names for {} paths",
            names.len(),
            plan.paths.len()
        )));
    }
    if let Some(expected) = &plan.expected_sha256
        && expected.len() != plan.paths.len()
    {
        return Err(invalid(format!(
            "{} expected SHA-256 values for {} paths",
            expected.len(),
            plan.paths.len()
        )));
    }
    let mut seen = HashSet::new();
    plan.paths
        .iter()
        .enumerate()
        .map(|(index, path)| {
            if !path.starts_with('/') {
                return Err(invalid(format!("path {path:?} does not start with '/'")));
            }
            let name = match &plan.names {
                Some(names) => Some(names[index].clone()).filter(|n| usable(n)),
                None => file_name(path),
            }
            .ok_or_else(|| invalid(format!("path {path:?} does not end in a file name")))?;
            if !seen.insert(name.clone()) {
                return Err(invalid(format!(
                    "two paths would both be saved as {name:?}"
                )));
            }
            Ok(Target {
                index,
                path,
                name,
                expected: plan
                    .expected_sha256
                    .as_ref()
                    .map(|all| all[index].trim().to_ascii_lowercase()),
            })
        })
        .collect()
}

fn invalid(message: String) -> TransferError {
    TransferError::InvalidPlan(message)
}

/// The file name a request path is saved under: its decoded last segment.
fn file_name(path: &str) -> Option<String> {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let last = path[..end].rsplit('/').next()?;
    let name = percent_decode_str(last).decode_utf8().ok()?;
    usable(&name).then(|| name.into_owned())
}

/// True when `name` can be a file's name in the output folder and nothing else.
fn usable(name: &str) -> bool {
    !(name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_decoded_last_segments() {
        assert_eq!(file_name("/dir/a%20b.jpg?v=2").as_deref(), Some("a b.jpg"));
        assert_eq!(file_name("/%2e%2e"), None);
        assert_eq!(file_name("/a%2Fb"), None);
    }
}
