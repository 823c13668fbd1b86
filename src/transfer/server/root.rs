//! Transfer layer, server: the served directory, the confinement of request paths to it, and the
//! small files a poller keeps open between requests. Must not import the server's connection
//! code, the client, capture or report code.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use percent_encoding::percent_decode_str;

use super::beneath::{Directory, Identity};
use super::content_type::content_type;
use super::status::{BAD_REQUEST, FORBIDDEN, NOT_FOUND, Status};

/// The largest file a poller sends itself (see
/// [`KeepAlive`](super::keep_alive::KeepAlive)): with nothing unacknowledged, the head and this
/// much body fit in a socket's smallest default send buffer (16 KiB), so sending them never waits
/// for the client.
pub(super) const INLINE_BODY: u64 = 12 * 1024;

/// Why a request path is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No regular file at that path (missing, a directory, or a special file).
    NotFound,
    /// The path tries to leave the root (`..`, backslash, `//`, a symlink pointing outside).
    Forbidden,
    /// The path is not a usable origin-form target (no leading `/`, NUL, invalid UTF-8).
    BadRequest,
}

impl Refusal {
    /// The status code and reason phrase that answer this refusal.
    pub fn status(self) -> (u16, &'static str) {
        match self {
            Refusal::NotFound => NOT_FOUND,
            Refusal::Forbidden => FORBIDDEN,
            Refusal::BadRequest => BAD_REQUEST,
        }
    }
}

/// Maps a request target to a regular file under `root`, or says why it must not be served.
///
/// The path is percent-decoded before it is checked, so encoded traversal (`%2e%2e`, `..%2f`)
/// is caught like the plain form; the final canonical path must still lie under the canonical
/// root, which catches symlinks that lead out.
pub fn resolve(root: &Path, request_path: &str) -> Result<PathBuf, Refusal> {
    let relative = relative_path(request_path)?;
    let root = root.canonicalize().map_err(not_served)?;
    resolve_relative(&root, &relative)
}

/// The file path a request target names, relative to the root; refused when it is not a plain
/// path downwards (`..`, `.`, `//`, backslash, NUL, invalid UTF-8).
fn relative_path(request_path: &str) -> Result<PathBuf, Refusal> {
    let request_path = origin_form(request_path);
    let end = request_path.find(['?', '#']).unwrap_or(request_path.len());
    let rest = request_path[..end]
        .strip_prefix('/')
        .ok_or(Refusal::BadRequest)?;
    let decoded = percent_decode_str(rest)
        .decode_utf8()
        .map_err(|_| Refusal::BadRequest)?;
    if decoded.contains('\0') {
        return Err(Refusal::BadRequest);
    }
    if decoded.contains('\\') {
        return Err(Refusal::Forbidden);
    }
    let segments: Vec<&str> = decoded.split('/').collect();
    let mut relative = PathBuf::new();
    for (index, segment) in segments.iter().enumerate() {
        match *segment {
            // A trailing slash names a directory, which resolves to NotFound below.
            "" if index + 1 == segments.len() => {}
            // An empty segment elsewhere would turn the rest into an absolute path on join.
            "" | "." | ".." => return Err(Refusal::Forbidden),
            name => relative.push(name),
        }
    }
    if !relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)))
    {
        return Err(Refusal::Forbidden);
    }
    Ok(relative)
}

/// Why a path that could not be looked up is not served.
fn not_served(error: io::Error) -> Refusal {
    match error.kind() {
        io::ErrorKind::PermissionDenied => Refusal::Forbidden,
        _ => Refusal::NotFound,
    }
}

/// The regular file at `relative` under the canonical `root`, with symlinks followed; refused
/// when it is missing, not a regular file, or really lies outside the root.
fn resolve_relative(root: &Path, relative: &Path) -> Result<PathBuf, Refusal> {
    let real = root.join(relative).canonicalize().map_err(not_served)?;
    if !real.starts_with(root) {
        return Err(Refusal::Forbidden);
    }
    if !fs::metadata(&real).map_err(not_served)?.is_file() {
        return Err(Refusal::NotFound);
    }
    Ok(real)
}

/// The directory served: its canonical path, and the directory held open where files can be
/// opened beneath it in one step.
#[derive(Debug)]
pub(super) struct Root {
    path: PathBuf,
    dir: Option<Directory>,
}

/// A file about to be served.
pub(super) struct Served {
    /// Shared with later responses when a poller keeps it (see [`Recent`]).
    pub(super) file: Arc<File>,
    /// The length of the opened file, not of the path: a later rename cannot change it.
    pub(super) length: u64,
    pub(super) content_type: &'static str,
}

/// How many files each poller keeps open for repeated requests.
const RECENT_FILES: usize = 64;

/// A small file a poller served lately, kept open with its identity when it was opened, so that
/// the next request for the same target costs one stat instead of an open, a stat and a close.
/// It is served again only while the path names the very same file with the same length, owner,
/// permissions and change times: a file replaced, rewritten, moved away or made a symlink is
/// opened afresh. Only files opened beneath the root with no symlink on the way are kept.
struct Recent {
    relative: PathBuf,
    file: Arc<File>,
    identity: Identity,
    content_type: &'static str,
}

thread_local! {
    /// The files the calling poller keeps, by request target.
    static RECENT: RefCell<HashMap<String, Recent>> = RefCell::new(HashMap::new());
}

impl Root {
    /// `path` must be canonical.
    pub(super) fn new(path: PathBuf) -> Root {
        let dir = Directory::open(&path);
        Root { path, dir }
    }

    /// Opens the file a request target names, or says which status refuses it. The outer error
    /// is an opened file whose length cannot be read.
    pub(super) fn open(&self, request_path: &str) -> io::Result<Result<Served, Status>> {
        Ok(self
            .open_identified(request_path)?
            .map(|(served, _)| served))
    }

    /// As [`Root::open`], on a poller: a small file served lately is served again from the file
    /// kept open while its path still names it unchanged (see [`Recent`]).
    pub(super) fn open_recent(&self, request_path: &str) -> io::Result<Result<Served, Status>> {
        let Some(dir) = &self.dir else {
            return self.open(request_path);
        };
        let kept = RECENT.with_borrow(|recent| {
            let kept = recent.get(request_path)?;
            let now = dir.identify(&kept.relative).ok()?;
            (now == kept.identity).then(|| Served {
                file: Arc::clone(&kept.file),
                length: now.length(),
                content_type: kept.content_type,
            })
        });
        if let Some(served) = kept {
            return Ok(Ok(served));
        }
        let opened = self.open_identified(request_path)?;
        RECENT.with_borrow_mut(|recent| {
            recent.remove(request_path);
            if let Ok((served, Some((relative, identity)))) = &opened
                && served.length <= INLINE_BODY
            {
                if recent.len() >= RECENT_FILES {
                    recent.clear();
                }
                recent.insert(
                    request_path.to_owned(),
                    Recent {
                        relative: relative.clone(),
                        file: Arc::clone(&served.file),
                        identity: *identity,
                        content_type: served.content_type,
                    },
                );
            }
        });
        Ok(opened.map(|(served, _)| served))
    }

    /// As [`Root::open`], with the relative path and identity of a file opened beneath the root
    /// with no symlink on the way.
    #[allow(clippy::type_complexity)]
    fn open_identified(
        &self,
        request_path: &str,
    ) -> io::Result<Result<(Served, Option<(PathBuf, Identity)>), Status>> {
        let relative = match relative_path(request_path) {
            Ok(relative) => relative,
            Err(refusal) => return Ok(Err(refusal.status())),
        };
        // The kernel opens only a path with no symlink and no way out of the root, which is
        // then its own canonical form, so the file is served as is. Anything else (a symlink, a
        // missing file, a directory, an old kernel) takes the canonical-path route, which
        // decides every refusal.
        if let Some(dir) = &self.dir
            && let Ok(file) = dir.open_beneath(&relative)
            && let Ok(metadata) = file.metadata()
            && metadata.is_file()
        {
            let served = Served {
                file: Arc::new(file),
                length: metadata.len(),
                content_type: content_type(&relative),
            };
            return Ok(Ok((served, Some((relative, Identity::of(&metadata))))));
        }
        let path = match resolve_relative(&self.path, &relative) {
            Ok(path) => path,
            Err(refusal) => return Ok(Err(refusal.status())),
        };
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) => {
                return Ok(Err(match error.kind() {
                    io::ErrorKind::PermissionDenied => FORBIDDEN,
                    _ => NOT_FOUND,
                }));
            }
        };
        let length = file.metadata()?.len();
        let served = Served {
            file: Arc::new(file),
            length,
            content_type: content_type(&path),
        };
        Ok(Ok((served, None)))
    }
}

/// The path of an absolute-form target (`http://host/a.jpg`, which servers must accept, RFC 9112
/// §3.2.2); any other target as it is.
fn origin_form(target: &str) -> &str {
    let Some(scheme_end) = target.find("://") else {
        return target;
    };
    let scheme = &target[..scheme_end];
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return target;
    }
    let rest = &target[scheme_end + 3..];
    match rest.find(['/', '?', '#']) {
        Some(at) if rest[at..].starts_with('/') => &rest[at..],
        // No path: the root, which is not a file.
        _ => "/",
    }
}
