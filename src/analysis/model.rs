//! Attribute layer: the textbook model of each mode (Kurose & Ross), to print beside the measured
//! mean: handshake and request round trips, slow-start flights for each file, and serialisation at
//! the link rate. Pure arithmetic; imports nothing of the project.

/// What the model needs to know about the path and the sender.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PathModel {
    /// Round-trip time in seconds: the configured one when emulated, else the measured handshake.
    pub rtt_s: f64,
    /// Initial window in segments: what the first flight of a fresh connection can hold.
    pub initial_window: u32,
    /// The sender's initial congestion window (TCP_INFO); larger than `initial_window` when the
    /// client's receive window held the first flight back.
    pub congestion_window: u32,
    /// Maximum segment size in bytes.
    pub mss: u32,
    /// Bottleneck rate in bits/s, if limited.
    pub rate_bps: Option<u64>,
    /// What opening a connection costs before its first request can leave.
    pub opening: Opening,
}

/// What opening a connection costs: TCP's handshake (none with Fast Open once the client holds
/// a cookie) and TLS's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Opening {
    /// TCP Fast Open: every connection sends its request (or ClientHello) with the SYN, the
    /// kernel holding the cookie from the warm-up run on.
    pub fastopen: bool,
    /// TLS, when spoken.
    pub tls: Option<TlsOpening>,
}

/// The round trips a TLS handshake adds before the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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

/// How the files are fetched, for the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// One connection per file, one after another.
    NonPersistent,
    /// One connection, one request after another.
    Persistent,
    /// One connection, all requests at once.
    Pipelined,
    /// One connection per file, up to this many at once.
    Parallel(usize),
}

/// A predicted run time, split into its terms.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Prediction {
    /// Round trips for handshakes and requests, in seconds (`handshakes_s + tls_handshakes_s +
    /// requests_s`).
    pub round_trips_s: f64,
    /// Of those, the TCP handshakes' round trips on the critical path.
    pub handshakes_s: f64,
    /// Of those, the TLS handshakes' round trips on the critical path.
    pub tls_handshakes_s: f64,
    /// Of those, the requests' round trips (request → first byte) on the critical path.
    pub requests_s: f64,
    /// Slow-start rounds beyond each response's first, on the critical path.
    pub extra_flights: u32,
    /// Seconds the sender idles between slow-start flights: a round trip each without a rate
    /// limit, less once a flight takes longer to send than an ACK takes to return.
    pub slow_start_s: f64,
    /// Serialisation of the bytes at the link rate, in seconds.
    pub serialisation_s: f64,
    /// Slow-start flights of all files together.
    pub flights: u32,
    /// The sum.
    pub total_s: f64,
}

/// Flights needed to send `bytes` starting from a window of `cwnd` segments that doubles every
/// round trip; returns the flights and the window once the last flight is acknowledged.
pub fn flights(bytes: u64, cwnd: u32, mss: u32) -> (u32, u32) {
    let segments = bytes.div_ceil(u64::from(mss.max(1)));
    let (mut sent, mut window, mut rounds) = (0u64, u64::from(cwnd.max(1)), 0u32);
    while sent < segments {
        sent += window;
        window = window.saturating_mul(2);
        rounds += 1;
    }
    (rounds.max(1), u32::try_from(window).unwrap_or(u32::MAX))
}

fn serialisation(path: &PathModel, bytes: u64) -> f64 {
    path.rate_bps.map_or(0.0, |r| bytes as f64 * 8.0 / r as f64)
}

/// Seconds the sender waits between flights while slow start sends `bytes` from a window of
/// `cwnd` segments (Kurose & Ross, "TCP latency modelling"): after a flight of W segments it
/// idles for `RTT + S/R − W·S/R`, as long as that is positive, where S/R is one segment's time
/// at the link rate. Without a rate limit each wait is a whole round trip; once a flight takes
/// longer to send than the first segment's ACK takes to return, the sender no longer idles and
/// the rest is serialisation alone.
pub fn stalls(path: &PathModel, bytes: u64, cwnd: u32) -> f64 {
    let (flights, _) = flights(bytes, cwnd, path.mss);
    let segment_s = serialisation(path, u64::from(path.mss));
    (0..flights.saturating_sub(1))
        .map(|k| {
            let window = f64::from(cwnd.max(1)) * 2f64.powi(k as i32);
            (path.rtt_s + segment_s - window * segment_s).max(0.0)
        })
        .sum()
}

/// The model's run time for `pattern` over files of these sizes.
pub fn predict(pattern: Pattern, path: &PathModel, files: &[u64]) -> Prediction {
    let rtt = path.rtt_s;
    let n = files.len() as f64;
    let total_bytes: u64 = files.iter().sum();
    let iw = path.initial_window;
    // Every flight after the first costs one more round trip; the first rides on the request's.
    let mut extra_flights = 0u32;
    let mut all_flights = 0u32;
    // The waits of those flights on the critical path.
    let mut stalled = 0.0;
    // Round trips of opening `count` connections one after another, the first of a run first.
    let opening = |count: usize| -> (f64, f64) {
        (0..count).fold((0.0, 0.0), |(tcp, tls), i| {
            let (a, b) = path.opening.round_trips(i > 0);
            (tcp + f64::from(a), tls + f64::from(b))
        })
    };
    // Round trips on the critical path: (TCP handshakes, TLS handshakes, requests).
    let (handshakes, tls_handshakes, requests) = match pattern {
        Pattern::NonPersistent => {
            for &size in files {
                let (f, _) = flights(size, iw, path.mss);
                extra_flights += f - 1;
                all_flights += f;
                stalled += stalls(path, size, iw);
            }
            let (tcp, tls) = opening(files.len());
            (tcp, tls, n)
        }
        Pattern::Persistent => {
            let mut cwnd = iw;
            for &size in files {
                let (f, after) = flights(size, cwnd, path.mss);
                extra_flights += f - 1;
                all_flights += f;
                stalled += stalls(path, size, cwnd);
                cwnd = after;
            }
            let (tcp, tls) = opening(1);
            (tcp, tls, n)
        }
        Pattern::Pipelined => {
            let (f, _) = flights(total_bytes, iw, path.mss);
            extra_flights = f - 1;
            all_flights = f;
            stalled = stalls(path, total_bytes, iw);
            let (tcp, tls) = opening(1);
            (tcp, tls, 1.0)
        }
        Pattern::Parallel(k) => {
            let k = k.max(1);
            // Each batch of K connections costs a handshake and a request, and as many extra
            // flights as its largest file needs.
            for batch in files.chunks(k) {
                let f = batch
                    .iter()
                    .map(|&s| flights(s, iw, path.mss).0)
                    .max()
                    .unwrap_or(1);
                extra_flights += f - 1;
                all_flights += f;
                stalled += batch
                    .iter()
                    .map(|&s| stalls(path, s, iw))
                    .fold(0.0, f64::max);
            }
            let batches = files.len().div_ceil(k);
            // Each batch's connections open at once: a batch costs one connection's opening.
            let (tcp, tls) = opening(batches);
            (tcp, tls, batches as f64)
        }
    };
    let round_trips = (handshakes + tls_handshakes + requests) * rtt;
    let slow_start_s = stalled;
    let serialisation_s = serialisation(path, total_bytes);
    Prediction {
        round_trips_s: round_trips,
        handshakes_s: handshakes * rtt,
        tls_handshakes_s: tls_handshakes * rtt,
        requests_s: requests * rtt,
        extra_flights,
        slow_start_s,
        serialisation_s,
        flights: all_flights,
        total_s: round_trips + slow_start_s + serialisation_s,
    }
}

/// Where a measured mean differs from the model: named effects whose sum is the difference.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelGap {
    /// The measured mean run total.
    pub measured_s: f64,
    /// The model's total.
    pub predicted_s: f64,
    /// The effects, in a fixed order; their seconds add up to `measured_s − predicted_s`.
    pub effects: Vec<Effect>,
}

/// One effect the model leaves out, in seconds per run.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "effect", rename_all = "kebab-case")]
pub enum Effect {
    /// Handshakes took longer than the model's round trips.
    Handshakes {
        /// Seconds.
        seconds: f64,
    },
    /// TLS handshakes took longer than the model's round trips: the cryptography, the
    /// certificate's bytes, and a Finished that waits for the client.
    TlsHandshakes {
        /// Seconds.
        seconds: f64,
    },
    /// Request → first byte took longer than the model's round trips: the server's time
    /// (reading the request, opening the file) and a delayed first segment.
    ServerTime {
        /// Seconds.
        seconds: f64,
    },
    /// Rounds were spaced more than a round trip apart: the client's ACK of a round's first
    /// segment was delayed, or the server was slow to send the next.
    RoundSpacing {
        /// Seconds: the sum over rounds of (start − previous start − RTT).
        seconds: f64,
    },
    /// Each response's last round is spread over time rather than sent at once: pacing, or a
    /// window that let the segments out as ACKs came back.
    LastRound {
        /// Seconds: the sum over responses of their last round's first → last segment.
        seconds: f64,
    },
    /// The responses took more (or fewer) packet-timed rounds than the model's doubling window.
    Rounds {
        /// Seconds: the rounds times the round trip.
        seconds: f64,
        /// Rounds per run beyond the model's.
        rounds: f64,
        /// Seconds per run the client's receive window kept the server from sending
        /// (TCP_INFO `rwnd_limited`), when it did: the receive window, growing more slowly than
        /// the model's doubling window, is what took the extra rounds.
        receive_window_limited_s: Option<f64>,
    },
    /// The client's own time on the critical path: its work before requests, closing after a
    /// file and reconnecting, and outside the captured timeline (connect() before the first SYN,
    /// reading the last byte after it arrived).
    Client {
        /// Seconds.
        seconds: f64,
    },
    /// Everything else: transfer time the rounds do not account for.
    Rest {
        /// Seconds.
        seconds: f64,
    },
}

impl Effect {
    /// The effect's seconds per run.
    pub fn seconds(&self) -> f64 {
        match *self {
            Effect::Handshakes { seconds }
            | Effect::TlsHandshakes { seconds }
            | Effect::ServerTime { seconds }
            | Effect::RoundSpacing { seconds }
            | Effect::LastRound { seconds }
            | Effect::Client { seconds }
            | Effect::Rounds { seconds, .. }
            | Effect::Rest { seconds } => seconds,
        }
    }
}

/// What a mode's runs measured, averaged per run, for the comparison with the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// Mean run total.
    pub total_s: f64,
    /// Mean handshake phase.
    pub handshake_s: f64,
    /// Mean TLS handshake phase.
    pub tls_s: f64,
    /// Mean request-wait phase.
    pub wait_s: f64,
    /// Mean of the client's own phases (client work, closing, between connections) plus what
    /// lies outside the captured timeline.
    pub client_s: f64,
    /// Mean rounds beyond each response's first, when a capture counted them.
    pub extra_rounds: Option<f64>,
    /// Mean over runs of the rounds' spacing: the sum over responses of each round's start −
    /// the previous round's start (capture).
    pub round_spacing_s: Option<f64>,
    /// Mean over runs of the sum of each response's last round span (capture).
    pub last_round_s: Option<f64>,
    /// Mean seconds per run the client's receive window held the server back (TCP_INFO).
    pub rwnd_limited_s: Option<f64>,
}

impl ModelGap {
    /// Splits measured − predicted into handshakes, server time, rounds and the rest.
    pub fn of(measured: &Measured, predicted: &Prediction, path: &PathModel) -> ModelGap {
        let handshakes = measured.handshake_s - predicted.handshakes_s;
        let server = measured.wait_s - predicted.requests_s;
        let mut effects = vec![
            Effect::Handshakes {
                seconds: handshakes,
            },
            Effect::ServerTime { seconds: server },
        ];
        effects.push(Effect::Client {
            seconds: measured.client_s,
        });
        let mut explained = handshakes + server + measured.client_s;
        if path.opening.tls.is_some() {
            let tls = measured.tls_s - predicted.tls_handshakes_s;
            effects.insert(1, Effect::TlsHandshakes { seconds: tls });
            explained += tls;
        }
        // The rounds are priced a round trip each, as the model prices its flights without a
        // rate. Where the link's rate shortens the model's waits between flights, the
        // packet-timed rounds are partly the link's pace: their time is in the serialisation
        // and waits the prediction holds, and the transfer's difference is left whole to the
        // rest rather than split into rounds.
        let whole_round_trips = f64::from(predicted.extra_flights) * path.rtt_s;
        let paced = whole_round_trips - predicted.slow_start_s > 0.05 * whole_round_trips;
        if let Some(rounds) = measured.extra_rounds.filter(|_| !paced) {
            if let Some(spacing) = measured.round_spacing_s {
                let beyond = spacing - rounds * path.rtt_s;
                effects.push(Effect::RoundSpacing { seconds: beyond });
                explained += beyond;
            }
            if let Some(last) = measured.last_round_s {
                effects.push(Effect::LastRound { seconds: last });
                explained += last;
            }
            let rounds = rounds - f64::from(predicted.extra_flights);
            effects.push(Effect::Rounds {
                seconds: rounds * path.rtt_s,
                rounds,
                receive_window_limited_s: measured.rwnd_limited_s.filter(|&s| s > 0.0),
            });
            explained += rounds * path.rtt_s;
        }
        effects.push(Effect::Rest {
            seconds: measured.total_s - predicted.total_s - explained,
        });
        ModelGap {
            measured_s: measured.total_s,
            predicted_s: predicted.total_s,
            effects,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: PathModel = PathModel {
        rtt_s: 0.040,
        initial_window: 10,
        congestion_window: 10,
        mss: 1000,
        rate_bps: None,
        opening: Opening {
            fastopen: false,
            tls: None,
        },
    };

    #[test]
    fn slow_start_doubles_the_window_each_flight() {
        assert_eq!(flights(10_000, 10, 1000), (1, 20));
        assert_eq!(flights(10_001, 10, 1000), (2, 40));
        assert_eq!(flights(70_000, 10, 1000), (3, 80));
        assert_eq!(flights(0, 10, 1000), (1, 10));
    }

    #[test]
    fn textbook_formulas_per_mode() {
        let files = [5_000, 5_000, 5_000];
        let np = predict(Pattern::NonPersistent, &PATH, &files);
        assert!((np.total_s - 3.0 * 2.0 * 0.040).abs() < 1e-12);
        let p = predict(Pattern::Persistent, &PATH, &files);
        assert!((p.total_s - (2.0 * 0.040 + 2.0 * 0.040)).abs() < 1e-12);
        let pl = predict(Pattern::Pipelined, &PATH, &files);
        assert!(
            (pl.total_s - (2.0 * 0.040 + 0.040)).abs() < 1e-12,
            "15 segments need 2 flights"
        );
        let par = predict(Pattern::Parallel(2), &PATH, &files);
        assert!((par.total_s - 2.0 * 2.0 * 0.040).abs() < 1e-12);
    }

    #[test]
    fn tls_and_fast_open_change_the_round_trips_before_each_request() {
        let files = [5_000, 5_000, 5_000];
        let with = |fastopen, tls| PathModel {
            opening: Opening { fastopen, tls },
            ..PATH
        };
        let tls12 = TlsOpening {
            full: 2,
            resumed: None,
            early_data: false,
        };
        let tls13 = TlsOpening { full: 1, ..tls12 };
        let rtts = |path: &PathModel, pattern| {
            let p = predict(pattern, path, &files);
            (p.round_trips_s / path.rtt_s).round() as u32
        };
        // Non-persistent: three openings of (TCP + TLS) and three requests.
        assert_eq!(
            rtts(&with(false, Some(tls12)), Pattern::NonPersistent),
            3 * 3 + 3
        );
        assert_eq!(
            rtts(&with(false, Some(tls13)), Pattern::NonPersistent),
            3 * 2 + 3
        );
        let resumed = TlsOpening {
            resumed: Some(1),
            ..tls12
        };
        assert_eq!(
            rtts(&with(false, Some(resumed)), Pattern::NonPersistent),
            3 + 2 + 1 + 1 + 3,
            "TLS 1.2 resumed: 2 round trips on the first connection, 1 on the others"
        );
        let early = TlsOpening {
            full: 1,
            resumed: Some(1),
            early_data: true,
        };
        assert_eq!(
            rtts(&with(false, Some(early)), Pattern::NonPersistent),
            3 + 1 + 3,
            "0-RTT: only the first connection's TLS round trip"
        );
        assert_eq!(
            rtts(&with(true, None), Pattern::NonPersistent),
            3,
            "Fast Open: every request rides on its SYN"
        );
        // One connection: one opening, whatever resumes.
        assert_eq!(rtts(&with(true, Some(tls12)), Pattern::Persistent), 2 + 3);
        // Parallel: the first batch opens fresh, the second resumes.
        assert_eq!(
            rtts(&with(false, Some(resumed)), Pattern::Parallel(2)),
            (1 + 2) + (1 + 1) + 2
        );
    }

    #[test]
    fn persistent_connections_carry_the_window_over() {
        let files = [70_000, 70_000];
        let np = predict(Pattern::NonPersistent, &PATH, &files);
        let p = predict(Pattern::Persistent, &PATH, &files);
        assert_eq!(np.flights, 6);
        assert_eq!(p.flights, 3 + 1);
    }

    #[test]
    fn the_gap_to_the_model_is_split_into_effects_that_add_up() {
        let files = [70_000, 70_000];
        let p = predict(Pattern::NonPersistent, &PATH, &files);
        assert_eq!((p.handshakes_s, p.requests_s), (0.080, 0.080));
        assert_eq!(p.extra_flights, 4);
        let measured = Measured {
            total_s: p.total_s + 0.095,
            handshake_s: 0.081,
            tls_s: 0.0,
            wait_s: 0.090,
            client_s: 0.0,
            extra_rounds: Some(6.0),
            round_spacing_s: Some(6.0 * 0.040 + 0.004),
            last_round_s: Some(0.001),
            rwnd_limited_s: Some(0.050),
        };
        let gap = ModelGap::of(&measured, &p, &PATH);
        let sum: f64 = gap.effects.iter().map(Effect::seconds).sum();
        assert!((sum - 0.095).abs() < 1e-12, "{gap:?}");
        assert!(
            (gap.effects[3].seconds() - 0.004).abs() < 1e-12,
            "spacing beyond 6 RTTs"
        );
        assert!(
            (gap.effects[4].seconds() - 0.001).abs() < 1e-12,
            "the last rounds' spread"
        );
        assert!(matches!(
            gap.effects[5],
            Effect::Rounds { rounds, receive_window_limited_s: Some(w), seconds }
                if rounds == 2.0 && (seconds - 0.080).abs() < 1e-12 && w == 0.050
        ));
        assert!(
            (gap.effects[1].seconds() - 0.010).abs() < 1e-12,
            "server time"
        );
        // A receive window that never held the server back is not named.
        let wide = Measured {
            rwnd_limited_s: Some(0.0),
            ..measured
        };
        let gap = ModelGap::of(&wide, &p, &PATH);
        assert!(matches!(
            gap.effects[5],
            Effect::Rounds {
                receive_window_limited_s: None,
                ..
            }
        ));
    }

    #[test]
    fn rate_limit_adds_serialisation() {
        let path = PathModel {
            rate_bps: Some(8_000_000),
            ..PATH
        };
        let p = predict(Pattern::Persistent, &path, &[1_000_000]);
        assert!((p.serialisation_s - 1.0).abs() < 1e-12);
    }

    #[test]
    fn slow_start_stalls_shrink_once_a_flight_outlasts_the_round_trip() {
        // 1000-byte segments at 8 Mbit/s take 1 ms each; the round trip is 40 ms. From a window
        // of 10: flights of 10, 20, 40, 80 … segments. After the first the sender idles
        // 40 + 1 − 10 = 31 ms, after the second 21 ms, after the third 1 ms, then never.
        let path = PathModel {
            rate_bps: Some(8_000_000),
            ..PATH
        };
        let stalled = stalls(&path, 150_000, 10);
        assert!(
            (stalled - (0.031 + 0.021 + 0.001)).abs() < 1e-9,
            "{stalled}"
        );
        // Without a rate limit every wait is a round trip, as before.
        assert!((stalls(&PATH, 150_000, 10) - 3.0 * 0.040).abs() < 1e-12);
        let p = predict(Pattern::Persistent, &path, &[150_000]);
        assert_eq!(p.extra_flights, 3);
        assert!((p.slow_start_s - 0.053).abs() < 1e-9);
        assert!((p.total_s - (0.080 + 0.053 + 0.150)).abs() < 1e-9);
    }

    #[test]
    fn rounds_paced_by_the_link_rate_are_not_told_as_rounds_beyond_the_model() {
        // 1 MB at 8 Mbit/s: 1 s of serialisation against 53 ms of waits between its seven
        // flights. The capture counted 24 rounds of the link's pace; the prediction holds their
        // time as serialisation.
        let path = PathModel {
            rate_bps: Some(8_000_000),
            ..PATH
        };
        let p = predict(Pattern::Persistent, &path, &[1_000_000]);
        assert!(p.serialisation_s > p.slow_start_s);
        let measured = Measured {
            total_s: p.total_s + 0.010,
            handshake_s: 0.040,
            tls_s: 0.0,
            wait_s: 0.040,
            client_s: 0.0,
            extra_rounds: Some(24.0),
            round_spacing_s: Some(24.0 * 0.045),
            last_round_s: Some(0.002),
            rwnd_limited_s: None,
        };
        let gap = ModelGap::of(&measured, &p, &path);
        assert!(
            !gap.effects.iter().any(|e| matches!(
                e,
                Effect::Rounds { .. } | Effect::RoundSpacing { .. } | Effect::LastRound { .. }
            )),
            "{gap:?}"
        );
        let sum: f64 = gap.effects.iter().map(Effect::seconds).sum();
        assert!((sum - 0.010).abs() < 1e-12, "{gap:?}");
        let rest = gap.effects.last().map(Effect::seconds).unwrap_or_default();
        assert!(
            (rest - 0.010).abs() < 1e-12,
            "the transfer beyond the model: {gap:?}"
        );
    }
}
