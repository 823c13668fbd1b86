//! The files `compare` transfers: given with --files, or the generated samples; each with its
//! size and digest.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::analysis::comparison::SourceFile;
use crate::cli::CompareArgs;
use crate::transfer::files::{generate_samples, list_files, sha256_file};

/// The files to transfer (`--files`, else the generated samples in `samples`) and the folder
/// the server serves them from.
pub(super) fn source_files(
    args: &CompareArgs,
    samples: &Path,
) -> anyhow::Result<(Vec<SourceFile>, PathBuf)> {
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

/// Whether a file's name can travel as a request path the built-in server serves.
pub(super) fn servable_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !n.contains('\\') && !n.chars().any(char::is_control))
}

pub(super) fn describe(paths: &[PathBuf]) -> anyhow::Result<Vec<SourceFile>> {
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
                status: None,
            })
        })
        .collect()
}
