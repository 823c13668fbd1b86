//! Attribute layer, model: the path and sender the model assumes — round trip, windows, rate,
//! how the sender spaces its segments, and what opening a connection costs. Pure data; imports
//! nothing of the project.

/// How the sender spaces the segments its window lets out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Release {
    /// All at once as the window opens: each round's flight leaves as a burst (Reno, CUBIC
    /// without a pacing queue discipline).
    #[default]
    Burst,
    /// BBR's startup (Linux's tcp_bbr.c): paced at 2/ln 2 times the best delivery rate measured
    /// (before any, the initial window per round trip), the window grown by each segment
    /// acknowledged while below 2/ln 2 bandwidth-delay products. Each flight is spread over
    /// part of the round trip, and from the third on the sending is continuous, its rate
    /// doubling every round trip.
    BbrStartup,
}

/// What the model needs to know about the path and the sender.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct PathModel {
    /// Round-trip time in seconds: the configured one when emulated, else the measured handshake.
    pub rtt_s: f64,
    /// Initial window in segments: what the first flight of a fresh connection held as captured
    /// (the client's receive window can hold it below the congestion window).
    pub initial_window: u32,
    /// The sender's initial congestion window (TCP_INFO), in segments.
    pub congestion_window: u32,
    /// Maximum segment size in bytes.
    pub mss: u32,
    /// Bottleneck rate in bits/s, if limited.
    pub rate_bps: Option<u64>,
    /// The receive window the client advertised as a connection's first response began, in
    /// bytes (capture); it grows by two segments for each segment the client receives, as
    /// Linux's receiver raises it (`tcp_grow_window`). None when not captured: no limit.
    pub receive_window: Option<u64>,
    /// How the sender spaces its segments (its congestion control).
    pub release: Release,
    /// `tcp_slow_start_after_idle`: a connection idle for longer than its retransmission
    /// timeout falls back to its initial window.
    pub restart_after_idle: bool,
    /// What opening a connection costs before its first request can leave.
    pub opening: Opening,
}

/// The UDP payload of quinn's datagrams (`INITIAL_MTU`, the least RFC 9000 §14 allows). quinn's
/// path MTU discovery may raise it to 1452 bytes once the handshake is confirmed, after probes
/// that take round trips of their own; the model keeps 1200, which a transfer of a few round
/// trips mostly sends at.
pub const QUIC_DATAGRAM: u32 = 1200;

/// What a datagram of response bytes spends on QUIC and HTTP/3 rather than on the response: a
/// short header (1 byte, quinn's 8-byte connection ID, a packet number of 2 bytes), AEAD's
/// 16-byte tag, and a STREAM frame's type, stream ID, offset and length (about 8 bytes).
pub const QUIC_OVERHEAD: u32 = 1 + 8 + 2 + 16 + 8;

/// quinn's initial congestion window in datagrams: its CUBIC starts at min(10 × 1200,
/// max(2 × 1200, 14 720)) = 12 000 bytes (RFC 9002 §7.2), and grows by the bytes acknowledged.
pub const QUIC_INITIAL_WINDOW: u32 = 10;

impl PathModel {
    /// The same path as QUIC's sender meets it (h3, quinn): datagrams of [`QUIC_DATAGRAM`] bytes
    /// carrying [`QUIC_OVERHEAD`] fewer of the response, a window of [`QUIC_INITIAL_WINDOW`]
    /// datagrams that grows by each one acknowledged, and no receive window (quinn's flow
    /// control allows 1.25 MB per stream and the connection no limit). quinn paces each flight
    /// beyond its first ten datagrams at 5/4 of its window per round trip; the model sends each
    /// flight at once, so its slow start is the least QUIC's can take.
    pub fn over_quic(&self, opening: Opening) -> PathModel {
        PathModel {
            initial_window: QUIC_INITIAL_WINDOW,
            congestion_window: QUIC_INITIAL_WINDOW,
            mss: QUIC_DATAGRAM - QUIC_OVERHEAD,
            receive_window: None,
            release: Release::Burst,
            opening,
            ..*self
        }
    }
}

/// What opening a connection costs: TCP's handshake (none with Fast Open once the client holds
/// a cookie) and TLS's, or QUIC's, which is both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, schemars::JsonSchema)]
pub struct Opening {
    /// TCP Fast Open: every connection sends its request (or ClientHello) with the SYN, the
    /// kernel holding the cookie from the warm-up run on.
    pub fastopen: bool,
    /// TLS, when spoken.
    pub tls: Option<TlsOpening>,
    /// QUIC (h3): one round trip opens the transport and TLS 1.3 together (RFC 9001 §4), and
    /// none comes before requests sent as 0-RTT data on a resumed session; `tls` says whether
    /// sessions resume and carry early data, `fastopen` does not apply.
    pub quic: bool,
}

/// The round trips a TLS handshake adds before the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TlsOpening {
    /// A full handshake's round trips (TLS 1.2: 2, TLS 1.3: 1).
    pub full: u32,
    /// A resumed one's (1), used on every connection after a run's first.
    pub resumed: Option<u32>,
    /// Resumed connections send their request as early data: no TLS round trip before it.
    pub early_data: bool,
}

impl Opening {
    /// Round trips before the request of a connection: (transport, TLS), QUIC's handshake the
    /// transport's with TLS inside it. `later` is false for the first connection of a run and for
    /// the first batch of parallel ones: no TLS session yet (each run starts without), while a
    /// Fast Open cookie outlives runs, and so do QUIC's sessions (h3 keeps them from the warm-up
    /// run on: every run it measures resumes one).
    pub fn round_trips(&self, later: bool) -> (u32, u32) {
        if self.quic {
            let zero_rtt = self
                .tls
                .is_some_and(|t| t.resumed.is_some() && t.early_data);
            return (u32::from(!zero_rtt), 0);
        }
        let tcp = u32::from(!self.fastopen);
        let tls = match self.tls {
            None => 0,
            Some(t) => match (later, t.resumed) {
                (true, Some(_)) if t.early_data => 0,
                (true, Some(resumed)) => resumed,
                _ => t.full,
            },
        };
        (tcp, tls)
    }
}
