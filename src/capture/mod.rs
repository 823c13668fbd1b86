//! Capture layer: libpcap live and file sources, and decoding to `Segment`.
//!
//! The only layer that touches `pcap` (in `source` and `split`) and `etherparse` (in `decode`). Must not import
//! transfer, analysis or report code.

pub mod decode;
pub mod records;
pub mod segment;
pub mod source;
pub mod split;
pub mod writer;

use std::path::PathBuf;

/// What can go wrong reading packets.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The process lacks CAP_NET_RAW / CAP_NET_ADMIN.
    #[error(
        "capturing on {iface} needs capture privileges: run with sudo, or give the binary the \
         capabilities with `sudo setcap cap_net_raw,cap_net_admin=eip {binary}` (redo after each rebuild)"
    )]
    Permission {
        /// The interface asked for.
        iface: String,
        /// This program's path, for the setcap hint.
        binary: String,
    },
    /// No such interface.
    #[error("no capture interface named {iface:?} ({detail}); `ip link` lists the interfaces")]
    NoInterface {
        /// The interface asked for.
        iface: String,
        /// libpcap's words.
        detail: String,
    },
    /// The capture's link type is one synack cannot decode.
    #[error(
        "unsupported link type {0} (synack reads Ethernet, LINUX_SLL, LINUX_SLL2, raw IP and BSD loopback)"
    )]
    UnsupportedLinkType(i32),
    /// The BPF filter did not compile.
    #[error("bad capture filter {filter:?}: {detail}")]
    Filter {
        /// The filter text.
        filter: String,
        /// libpcap's words.
        detail: String,
    },
    /// A capture file could not be opened or read.
    #[error("cannot read capture {path}: {detail}")]
    File {
        /// The file.
        path: PathBuf,
        /// libpcap's words.
        detail: String,
    },
    /// The file ends inside a header or packet record.
    #[error("truncated capture at byte {at_byte} of {path}: {detail}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where it ends.
        at_byte: u64,
        /// libpcap's words.
        detail: String,
    },
    /// Writing the saved capture failed.
    #[error("cannot write capture {path}: {detail}")]
    Save {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// A live read waited its timeout without a packet; ask again.
    #[error("no packet within the read timeout")]
    Timeout,
    /// Any other libpcap failure.
    #[error("libpcap: {0}")]
    Pcap(String),
}
