//! Transfer layer: the kernel TCP settings that shape what a transfer measures, read from
//! /proc/sys/net/ipv4. Must not import capture or report code.

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use super::tcp_info;

/// Where the sysctls live.
const IPV4_SYSCTLS: &str = "/proc/sys/net/ipv4";

/// How long the probe connection for the initial window may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Kernel TCP settings; each is None when it cannot be read (another OS, a sandbox).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct KernelSettings {
    /// `net.ipv4.tcp_slow_start_after_idle`: 1 means an idle keep-alive connection falls back
    /// to its initial window, which erodes the persistent mode's advantage.
    pub tcp_slow_start_after_idle: Option<u32>,
    /// `net.ipv4.tcp_fin_timeout`: seconds an orphaned connection stays in FIN-WAIT-2.
    pub tcp_fin_timeout_s: Option<u32>,
    /// `net.ipv4.tcp_congestion_control`: the algorithm new connections use (cubic, bbr, ...).
    pub tcp_congestion_control: Option<String>,
    /// Congestion window, in segments, of a fresh loopback connection just after its handshake,
    /// read with `TCP_INFO`: the kernel's initial window (10 per RFC 6928), or a route's
    /// `initcwnd` where one applies to 127.0.0.1. Routes to other hosts may set another value.
    pub initial_cwnd: Option<u32>,
    /// `net.ipv4.tcp_no_metrics_save`: 0 means the kernel caches ssthresh and RTT per
    /// destination, so a new connection may start from what earlier ones learnt.
    pub tcp_no_metrics_save: Option<u32>,
}

/// The congestion controls this kernel can use (`net.ipv4.tcp_available_congestion_control`).
pub fn available_congestion_controls() -> Option<String> {
    fs::read_to_string(Path::new(IPV4_SYSCTLS).join("tcp_available_congestion_control"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Reads the settings; unreadable ones are None, never an error.
///
/// `initial_cwnd` comes from a probe connection on 127.0.0.1 (closed at once), so call this
/// outside any capture of loopback traffic.
pub fn read_kernel_settings() -> KernelSettings {
    read_from(Path::new(IPV4_SYSCTLS))
}

fn read_from(dir: &Path) -> KernelSettings {
    let text = |name: &str| {
        fs::read_to_string(dir.join(name))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let number = |name: &str| text(name).and_then(|s| s.parse().ok());
    KernelSettings {
        tcp_slow_start_after_idle: number("tcp_slow_start_after_idle"),
        tcp_fin_timeout_s: number("tcp_fin_timeout"),
        tcp_congestion_control: text("tcp_congestion_control"),
        initial_cwnd: probe_initial_cwnd(),
        tcp_no_metrics_save: number("tcp_no_metrics_save"),
    }
}

/// The congestion window of a loopback connection before any data has been sent on it.
fn probe_initial_cwnd() -> Option<u32> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    let addr: SocketAddr = listener.local_addr().ok()?;
    // The handshake completes in the kernel's accept queue; the window is set when it does.
    let stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok()?;
    let cwnd = tcp_info::sample(&stream).ok()?.cwnd;
    (cwnd > 0).then_some(cwnd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_reports_the_fin_timeout_and_an_initial_window() {
        let settings = read_kernel_settings();
        assert!(settings.tcp_fin_timeout_s.is_some(), "{settings:?}");
        assert!(settings.tcp_congestion_control.is_some(), "{settings:?}");
        assert!(settings.initial_cwnd.is_some_and(|c| c > 0), "{settings:?}");
    }

    #[test]
    fn missing_or_garbled_files_are_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("tcp_fin_timeout"), "60\n").expect("write");
        fs::write(dir.path().join("tcp_no_metrics_save"), "yes\n").expect("write");
        fs::write(dir.path().join("tcp_congestion_control"), "\n").expect("write");
        let settings = read_from(dir.path());
        assert_eq!(settings.tcp_fin_timeout_s, Some(60));
        assert_eq!(settings.tcp_no_metrics_save, None);
        assert_eq!(settings.tcp_slow_start_after_idle, None);
        assert_eq!(settings.tcp_congestion_control, None);
    }
}
