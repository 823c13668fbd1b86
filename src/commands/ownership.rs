//! Files written under sudo belong to the invoking user, not root.

use std::path::Path;

/// The invoking user's uid and gid when running as root under sudo.
fn sudo_owner() -> Option<(u32, u32)> {
    let uid = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    let gid = std::env::var("SUDO_GID").ok()?.parse().ok()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    (euid == 0 && uid != 0).then_some((uid, gid))
}

/// Gives `path` and everything below it to the sudo user, if there is one.
pub fn give_to_invoking_user(path: &Path) -> std::io::Result<()> {
    let Some((uid, gid)) = sudo_owner() else {
        return Ok(());
    };
    chown_tree(path, uid, gid)
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}
