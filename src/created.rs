//! What this process created on disk, shared by every layer that writes files: only these paths
//! are given to the sudo user (never what was there before), and the half-written ones are
//! removed when a run is interrupted. A leaf module: it imports nothing of synack.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// Paths made so far, in the order they were made.
#[derive(Debug, Default)]
struct Registry {
    /// Set once the run is interrupted: nothing new may be created after the clean-up.
    interrupted: bool,
    /// Folders and complete files this process made.
    made: Vec<PathBuf>,
    /// Half-written files and temporary folders, removed on interruption.
    partial: Vec<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    interrupted: false,
    made: Vec::new(),
    partial: Vec::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn interrupted_error() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "the run was interrupted")
}

/// Creates `path` and its missing parents, recording each folder this call made.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = path
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && fs::symlink_metadata(p).is_err())
        .collect();
    for dir in missing.into_iter().rev() {
        match fs::create_dir(dir) {
            Ok(()) => registry().made.push(dir.to_owned()),
            // Made meanwhile by someone else: not ours.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    if !path.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "exists and is not a folder",
        ));
    }
    Ok(())
}

/// Creates the folder `path` (its parent must exist), failing if the name is taken.
pub fn create_dir(path: &Path) -> io::Result<()> {
    fs::create_dir(path)?;
    registry().made.push(path.to_owned());
    Ok(())
}

/// Whether a file can be made at `path`, found before a long run rather than after it; the error
/// says why in words that name the folder ("its folder out/ does not exist"), never a
/// temporary name.
pub fn check_can_create(path: &Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let said = |kind, words: String| io::Error::new(kind, words);
    if path.is_dir() {
        return Err(said(
            io::ErrorKind::IsADirectory,
            "it is a folder: give a file name".into(),
        ));
    }
    match fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(said(
            e.kind(),
            format!("its folder {} does not exist", dir.display()),
        )),
        Err(e) => Err(e),
        Ok(meta) if !meta.is_dir() => Err(said(
            io::ErrorKind::NotADirectory,
            format!("{} is not a folder", dir.display()),
        )),
        // An unnamed file, gone when dropped: nothing to clean up, even on a kill.
        Ok(_) => tempfile::tempfile_in(dir)
            .map(drop)
            .map_err(|e| match e.kind() {
                io::ErrorKind::PermissionDenied => said(
                    e.kind(),
                    format!("its folder {} is not writable by this user", dir.display()),
                ),
                io::ErrorKind::ReadOnlyFilesystem => said(
                    e.kind(),
                    format!("its folder {} is on a read-only file system", dir.display()),
                ),
                _ => e,
            }),
    }
}

/// Creates `path` for writing, exclusively: an existing file or symlink of that name is removed
/// first (never followed), and a name taken again meanwhile fails. The file counts as
/// half-written (removed on interruption) until [`complete`] or [`discard`].
pub fn create_partial(path: &Path) -> io::Result<File> {
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            // What any new file gets (0666 less the umask): received files, captures and reports
            // are for others to read, or to serve.
            .mode(0o666)
            .open(path)
    };
    let mut registry = registry();
    if registry.interrupted {
        return Err(interrupted_error());
    }
    let file = match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // A leftover of a killed run, or a planted link: unlink the name, then try once more.
            fs::remove_file(path)?;
            open()?
        }
        other => other?,
    };
    registry.partial.push(path.to_owned());
    Ok(file)
}

/// Renames the half-written `part` to `dest`, which then counts as made by this process.
pub fn complete(part: &Path, dest: &Path) -> io::Result<()> {
    let mut registry = registry();
    if registry.interrupted {
        return Err(interrupted_error());
    }
    fs::rename(part, dest)?;
    registry.partial.retain(|p| p != part);
    registry.made.push(dest.to_owned());
    Ok(())
}

/// Removes the half-written `part`.
pub fn discard(part: &Path) {
    let mut registry = registry();
    registry.partial.retain(|p| p != part);
    // Already gone after an interruption, or never fully made.
    let _ = fs::remove_file(part);
}

/// Records a complete file this process wrote at `path` (replacing whatever was there).
pub fn made(path: &Path) {
    registry().made.push(path.to_owned());
}

/// Records a temporary folder, removed with its contents on interruption.
pub fn temporary(dir: &Path) {
    registry().partial.push(dir.to_owned());
}

/// Every folder and complete file made so far that still exists, parents before children.
pub fn made_paths() -> Vec<PathBuf> {
    let registry = registry();
    let mut paths: Vec<PathBuf> = Vec::new();
    for path in &registry.made {
        if !paths.contains(path) && fs::symlink_metadata(path).is_ok() {
            paths.push(path.clone());
        }
    }
    paths
}

/// Removes every half-written file and temporary folder, and every folder this process made that
/// is left empty; from then on nothing new can be created. Returns the paths removed.
pub fn interrupt() -> Vec<PathBuf> {
    let mut registry = registry();
    registry.interrupted = true;
    let mut removed = Vec::new();
    for path in std::mem::take(&mut registry.partial) {
        let gone = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(&path).is_ok(),
            Ok(_) => fs::remove_file(&path).is_ok(),
            Err(_) => false,
        };
        if gone {
            removed.push(path);
        }
    }
    // Children were made after their parents: the latest first.
    for dir in registry.made.iter().rev() {
        if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) && fs::remove_dir(dir).is_ok() {
            removed.push(dir.clone());
        }
    }
    registry.made.retain(|p| fs::symlink_metadata(p).is_ok());
    removed
}

/// Removes the folders this process made that are still empty (a run that failed before writing
/// into them), children first.
pub fn remove_empty_dirs() {
    let mut registry = registry();
    let made = std::mem::take(&mut registry.made);
    for dir in made.iter().rev() {
        if fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
            // Fails, as it should, for a folder with anything in it.
            let _ = fs::remove_dir(dir);
        }
    }
    registry.made = made
        .into_iter()
        .filter(|p| fs::symlink_metadata(p).is_ok())
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_symlink_is_replaced_never_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep me").expect("write");
        let part = dir.path().join(".f.part");
        std::os::unix::fs::symlink(&victim, &part).expect("symlink");
        let mut file = create_partial(&part).expect("created anew");
        io::Write::write_all(&mut file, b"new").expect("write");
        assert_eq!(fs::read_to_string(&victim).expect("read"), "keep me");
        assert!(!fs::symlink_metadata(&part).expect("part").is_symlink());
        discard(&part);
        assert!(!part.exists());
    }

    #[test]
    fn a_file_that_cannot_be_made_is_said_by_its_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        check_can_create(&dir.path().join("report.json")).expect("a folder to write in");
        let missing = dir.path().join("none");
        let error = check_can_create(&missing.join("x.json")).expect_err("no such folder");
        assert_eq!(
            error.to_string(),
            format!("its folder {} does not exist", missing.display())
        );
        assert!(
            check_can_create(dir.path()).is_err(),
            "a folder is not a file"
        );
        assert_eq!(
            fs::read_dir(dir.path()).expect("list").count(),
            0,
            "no leftovers"
        );
    }

    #[test]
    fn only_the_folders_made_here_are_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let deep = dir.path().join("a").join("b");
        create_dir_all(&deep).expect("made");
        let made = made_paths();
        assert!(made.contains(&dir.path().join("a")) && made.contains(&deep));
        assert!(!made.contains(&dir.path().to_path_buf()));
    }
}
