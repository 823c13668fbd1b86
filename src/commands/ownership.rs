//! Files written under sudo belong to the invoking user, not root: only those this process made
//! (see `crate::created`), never what was there before.

/// The invoking user's uid and gid when running as root under sudo.
fn sudo_owner() -> Option<(u32, u32)> {
    let uid = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    let gid = std::env::var("SUDO_GID").ok()?.parse().ok()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    let euid = unsafe { libc::geteuid() };
    (euid == 0 && uid != 0).then_some((uid, gid))
}

/// Gives every folder and file this process made to the sudo user, if there is one; links are
/// never followed.
pub fn give_made_to_invoking_user() -> anyhow::Result<()> {
    let Some((uid, gid)) = sudo_owner() else {
        return Ok(());
    };
    for path in crate::created::made_paths() {
        std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
            .map_err(|e| anyhow::anyhow!("cannot give {} to the sudo user: {e}", path.display()))?;
    }
    Ok(())
}
