//! Attribute layer: the textbook model of each mode (Kurose & Ross), to print beside the measured
//! mean: handshake and request round trips, slow-start flights for each file, and serialisation at
//! the link rate. Pure arithmetic; imports nothing of the project.

/// What the model needs to know about the path and the sender.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PathModel {
    /// Round-trip time in seconds: the configured one when emulated, else the measured handshake.
    pub rtt_s: f64,
    /// Initial congestion window in segments.
    pub initial_window: u32,
    /// Maximum segment size in bytes.
    pub mss: u32,
    /// Bottleneck rate in bits/s, if limited.
    pub rate_bps: Option<u64>,
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
    /// Round trips for handshakes and requests, in seconds.
    pub round_trips_s: f64,
    /// Extra round trips spent in slow start, in seconds.
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

/// The model's run time for `pattern` over files of these sizes.
pub fn predict(pattern: Pattern, path: &PathModel, files: &[u64]) -> Prediction {
    let rtt = path.rtt_s;
    let n = files.len() as f64;
    let total_bytes: u64 = files.iter().sum();
    let iw = path.initial_window;
    // Every flight after the first costs one more round trip; the first rides on the request's.
    let mut extra_flights = 0u32;
    let mut all_flights = 0u32;
    let round_trips = match pattern {
        Pattern::NonPersistent => {
            for &size in files {
                let (f, _) = flights(size, iw, path.mss);
                extra_flights += f - 1;
                all_flights += f;
            }
            n * 2.0 * rtt
        }
        Pattern::Persistent => {
            let mut cwnd = iw;
            for &size in files {
                let (f, after) = flights(size, cwnd, path.mss);
                extra_flights += f - 1;
                all_flights += f;
                cwnd = after;
            }
            2.0 * rtt + (n - 1.0) * rtt
        }
        Pattern::Pipelined => {
            let (f, _) = flights(total_bytes, iw, path.mss);
            extra_flights = f - 1;
            all_flights = f;
            2.0 * rtt
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
            }
            files.len().div_ceil(k) as f64 * 2.0 * rtt
        }
    };
    let slow_start_s = f64::from(extra_flights) * rtt;
    let serialisation_s = serialisation(path, total_bytes);
    Prediction {
        round_trips_s: round_trips,
        slow_start_s,
        serialisation_s,
        flights: all_flights,
        total_s: round_trips + slow_start_s + serialisation_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: PathModel = PathModel {
        rtt_s: 0.040,
        initial_window: 10,
        mss: 1000,
        rate_bps: None,
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
    fn persistent_connections_carry_the_window_over() {
        let files = [70_000, 70_000];
        let np = predict(Pattern::NonPersistent, &PATH, &files);
        let p = predict(Pattern::Persistent, &PATH, &files);
        assert_eq!(np.flights, 6);
        assert_eq!(p.flights, 3 + 1);
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
}
