//! Transfer layer, server: the few epoll(7) calls the server's connection watchers make. Must not
//! import the server's HTTP code (connections, responses, the root), the client, capture or report
//! code.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A new epoll instance.
#[allow(unsafe_code)]
pub(super) fn epoll_create() -> io::Result<OwnedFd> {
    // SAFETY: no pointers; a non-negative result is a new descriptor that nothing else owns.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Watches `fd` for data, its peer's FIN and errors (level-triggered).
pub(super) fn epoll_add(epoll: &OwnedFd, fd: RawFd) -> io::Result<()> {
    let tag = u64::try_from(fd).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    add(epoll, fd, libc::EPOLLIN | libc::EPOLLRDHUP, tag)
}

/// Watches the listening socket `fd` for connections to accept, reporting them as `tag`. Several
/// epoll instances may watch one listener: each connection wakes one of them (EPOLLEXCLUSIVE).
pub(super) fn epoll_add_listener(epoll: &OwnedFd, fd: RawFd, tag: u64) -> io::Result<()> {
    add(epoll, fd, libc::EPOLLIN | libc::EPOLLEXCLUSIVE, tag)
}

/// Watches `fd` for `events`, reported as `tag`.
#[allow(unsafe_code)]
fn add(epoll: &OwnedFd, fd: RawFd, events: libc::c_int, tag: u64) -> io::Result<()> {
    let mut event = libc::epoll_event {
        events: events as u32,
        u64: tag,
    };
    // SAFETY: both descriptors are open for the whole call; the kernel reads `event`, a live local.
    let result =
        unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &raw mut event) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Waits up to `timeout` (rounded up to a millisecond) for events; how many were written.
#[allow(unsafe_code)]
pub(super) fn epoll_wait(
    epoll: &OwnedFd,
    events: &mut [libc::epoll_event],
    timeout: Duration,
) -> io::Result<usize> {
    let millis = timeout.as_micros().div_ceil(1000);
    let millis = libc::c_int::try_from(millis).unwrap_or(libc::c_int::MAX);
    let capacity = libc::c_int::try_from(events.len()).unwrap_or(libc::c_int::MAX);
    // SAFETY: the kernel writes at most `capacity` entries into `events`, which holds that many
    // and is borrowed mutably for the call; the descriptor is open.
    let ready =
        unsafe { libc::epoll_wait(epoll.as_raw_fd(), events.as_mut_ptr(), capacity, millis) };
    usize::try_from(ready).map_err(|_| io::Error::last_os_error())
}

/// Stops watching `fd`.
#[allow(unsafe_code)]
pub(super) fn epoll_del(epoll: &OwnedFd, fd: RawFd) -> io::Result<()> {
    // SAFETY: both descriptors are open for the whole call; DEL reads no event.
    let result = unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            fd,
            std::ptr::null_mut(),
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
