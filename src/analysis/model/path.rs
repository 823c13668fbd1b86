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

/// What opening a connection costs: TCP's handshake (none with Fast Open once the client holds
/// a cookie) and TLS's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, schemars::JsonSchema)]
pub struct Opening {
    /// TCP Fast Open: every connection sends its request (or ClientHello) with the SYN, the
    /// kernel holding the cookie from the warm-up run on.
    pub fastopen: bool,
    /// TLS, when spoken.
    pub tls: Option<TlsOpening>,
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
    /// Round trips before the request of a connection: (TCP, TLS). `later` is false for the
    /// first connection of a run and for the first batch of parallel ones: no TLS session yet
    /// (each run starts without), while a Fast Open cookie outlives runs.
    pub fn round_trips(&self, later: bool) -> (u32, u32) {
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
