//! Transfer layer, server: opening a file that the kernel guarantees lies under a directory, by a
//! path without symlinks (Linux `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), in one
//! system call instead of a path canonicalisation. Must not import the server's HTTP code
//! (connections, responses, the root), the client, capture or report code.

use std::fs::File;
use std::io;
use std::path::Path;

/// A directory held open, so files can be opened relative to it.
#[derive(Debug)]
pub(super) struct Directory {
    #[cfg(target_os = "linux")]
    fd: std::os::fd::OwnedFd,
}

impl Directory {
    /// Opens the directory at `path`; None where opening beneath it is not supported.
    pub(super) fn open(path: &Path) -> Option<Directory> {
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::OpenOptionsExt;
            let dir = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_PATH)
                .open(path)
                .ok()?;
            Some(Directory { fd: dir.into() })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = path;
            None
        }
    }

    /// Opens `relative` for reading if it names something under this directory with no symlink
    /// and no `..` on the way, so that `relative` is its real path; an error otherwise (`ELOOP`
    /// for a symlink, `EXDEV` for a way out, `ENOSYS` or `EPERM` without `openat2`).
    ///
    /// Opened without blocking, so a FIFO does not hang the caller: check the file type before
    /// reading.
    pub(super) fn open_beneath(&self, relative: &Path) -> io::Result<File> {
        #[cfg(target_os = "linux")]
        {
            use std::ffi::CString;
            use std::os::fd::{AsRawFd, FromRawFd};
            use std::os::unix::ffi::OsStrExt;

            let name = CString::new(relative.as_os_str().as_bytes())
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            // SAFETY: open_how is plain integers, for which all zeroes is a valid value (and the
            // kernel's "nothing asked" for mode and resolve).
            #[allow(unsafe_code)]
            let mut how: libc::open_how = unsafe { std::mem::zeroed() };
            how.flags =
                (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK) as u64;
            how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS;
            // SAFETY: the descriptor and the NUL-terminated name outlive the call, and `how` is
            // a live open_how whose size is passed with it; the kernel only reads them.
            #[allow(unsafe_code)]
            let result = unsafe {
                libc::syscall(
                    libc::SYS_openat2,
                    self.fd.as_raw_fd(),
                    name.as_ptr(),
                    &raw const how,
                    std::mem::size_of::<libc::open_how>(),
                )
            };
            let fd = i32::try_from(result).map_err(|_| io::Error::last_os_error())?;
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: openat2 returned a new descriptor that nothing else owns.
            #[allow(unsafe_code)]
            Ok(unsafe { File::from_raw_fd(fd) })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = relative;
            Err(io::ErrorKind::Unsupported.into())
        }
    }
}

/// What tells one state of a file from another: the file (device and inode), its length, owner,
/// permissions and change times. Equal identities at two moments mean the same file with the same
/// length and permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Identity {
    device: u64,
    inode: u64,
    length: u64,
    mode: u32,
    owner: (u32, u32),
    modified: (i64, i64),
    changed: (i64, i64),
}

impl Identity {
    /// The identity of an opened file, from its metadata.
    #[cfg(unix)]
    pub(super) fn of(metadata: &std::fs::Metadata) -> Identity {
        use std::os::unix::fs::MetadataExt;
        Identity {
            device: metadata.dev(),
            inode: metadata.ino(),
            length: metadata.size(),
            mode: metadata.mode(),
            owner: (metadata.uid(), metadata.gid()),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// The file's length.
    pub(super) fn length(&self) -> u64 {
        self.length
    }
}

impl Directory {
    /// The identity of what `relative` names now, without following a symlink at its end (a
    /// symlink there has an identity of its own); one system call.
    pub(super) fn identify(&self, relative: &Path) -> io::Result<Identity> {
        #[cfg(target_os = "linux")]
        {
            use std::ffi::CString;
            use std::os::fd::AsRawFd;
            use std::os::unix::ffi::OsStrExt;

            let name = CString::new(relative.as_os_str().as_bytes())
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            // SAFETY: `stat` is plain integers, for which all zeroes is a valid value.
            #[allow(unsafe_code)]
            let mut stat: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: the descriptor and the NUL-terminated name outlive the call; the kernel
            // writes one `stat` into `stat`, a live local.
            #[allow(unsafe_code)]
            let result = unsafe {
                libc::fstatat(
                    self.fd.as_raw_fd(),
                    name.as_ptr(),
                    &raw mut stat,
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            };
            if result != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Identity {
                device: stat.st_dev,
                inode: stat.st_ino,
                length: u64::try_from(stat.st_size).unwrap_or(0),
                mode: stat.st_mode,
                owner: (stat.st_uid, stat.st_gid),
                modified: (stat.st_mtime, stat.st_mtime_nsec),
                changed: (stat.st_ctime, stat.st_ctime_nsec),
            })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = relative;
            Err(io::ErrorKind::Unsupported.into())
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_plain_path_under_the_directory_opens_and_a_symlink_or_a_way_out_does_not() {
        let outside = tempfile::tempdir().expect("tempdir");
        let secret = outside.path().join("secret");
        std::fs::write(&secret, b"no").expect("write");
        let root = outside.path().join("root");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        std::fs::write(root.join("sub/page.txt"), b"yes").expect("write");
        std::os::unix::fs::symlink(&secret, root.join("out")).expect("symlink");
        std::os::unix::fs::symlink("../secret", root.join("up")).expect("symlink");
        std::os::unix::fs::symlink("sub/page.txt", root.join("near")).expect("symlink");
        let dir = Directory::open(&root).expect("open the root");

        let mut text = String::new();
        io::Read::read_to_string(
            &mut dir.open_beneath(Path::new("sub/page.txt")).expect("open"),
            &mut text,
        )
        .expect("read");
        assert_eq!(text, "yes");
        for way_out in ["out", "up", "near", "../secret", "sub/../../secret"] {
            let error = dir.open_beneath(Path::new(way_out)).expect_err(way_out);
            // ELOOP or EXDEV where openat2 exists; ENOSYS or EPERM where it does not.
            assert!(
                matches!(
                    error.raw_os_error(),
                    Some(libc::ELOOP | libc::EXDEV | libc::ENOSYS | libc::EPERM)
                ),
                "{way_out}: {error}"
            );
        }
    }

    #[test]
    fn an_identity_changes_with_the_file_its_length_or_its_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().expect("tempdir");
        let page = root.path().join("page.txt");
        std::fs::write(&page, b"first").expect("write");
        let dir = Directory::open(root.path()).expect("open the root");
        let name = Path::new("page.txt");
        let opened = dir.open_beneath(name).expect("open");
        let first = Identity::of(&opened.metadata().expect("metadata"));
        assert_eq!(dir.identify(name).expect("stat"), first);
        assert_eq!(first.length(), 5);

        std::fs::write(&page, b"longer now").expect("rewrite");
        let rewritten = dir.identify(name).expect("stat");
        assert_ne!(rewritten, first);
        assert_eq!(rewritten.length(), 10);

        let mut permissions = std::fs::metadata(&page).expect("metadata").permissions();
        permissions.set_mode(0o600);
        std::fs::set_permissions(&page, permissions).expect("chmod");
        assert_ne!(dir.identify(name).expect("stat"), rewritten);

        let replacement = root.path().join("new.txt");
        std::fs::write(&replacement, b"longer now").expect("write");
        std::fs::rename(&replacement, &page).expect("rename");
        assert_ne!(dir.identify(name).expect("stat").inode, rewritten.inode);

        std::fs::remove_file(&page).expect("remove");
        std::os::unix::fs::symlink("/etc/hostname", &page).expect("symlink");
        let link = dir.identify(name).expect("the link itself");
        assert_eq!(link.mode & libc::S_IFMT, libc::S_IFLNK);
    }
}
