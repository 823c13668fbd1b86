//! Attribute layer, comparison: one file's responses in one mode, medians over the rounds — how the
//! server's window grew and what held it back, from its TCP_INFO and the capture.

use super::mode::ModeResult;
use super::run::SourceFile;
use crate::transfer::run::{Mode, ResponseSample};

/// One file's responses in one mode, medians over the rounds: what the server's TCP_INFO and
/// the capture say about how its window grew and what held it back.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct ResponseStats {
    /// The mode.
    pub mode: Mode,
    /// The file.
    pub file: String,
    /// Congestion window as the response started, in segments.
    pub cwnd_start: Option<u32>,
    /// Congestion window once its last byte was acknowledged.
    pub cwnd_end: Option<u32>,
    /// Packet-timed rounds the response took (capture).
    pub rounds: Option<u32>,
    /// Segments in its first round (capture).
    pub first_flight: Option<u32>,
    /// The receive window the client advertised as the response began, in bytes (capture).
    pub client_window: Option<u64>,
    /// Microseconds the connection had data in flight during the response.
    pub busy_us: Option<u64>,
    /// Of those, microseconds the client's receive window kept the server from sending more.
    pub rwnd_limited_us: Option<u64>,
    /// Of those, microseconds the server's send buffer did.
    pub sndbuf_limited_us: Option<u64>,
    /// Responses whose closing sample saw every byte acknowledged, of all sampled.
    pub acked: (usize, usize),
}

impl ResponseStats {
    /// Whether a closing sample was taken before every byte of its response was acknowledged
    /// (a response queued behind others, as pipelined ones are): its window and times then stop
    /// short of the response's end.
    pub fn sampled_short(&self) -> bool {
        self.acked.0 < self.acked.1
    }

    /// Whether the first round counted more segments than the congestion window let the server
    /// send in one flight: the capture could not tell its first rounds apart (packets delayed
    /// or resent across a round's end), so its round count is approximate.
    pub fn rounds_ran_together(&self) -> bool {
        matches!((self.first_flight, self.cwnd_start), (Some(flight), Some(cwnd)) if flight > cwnd)
    }
}

/// The median of `values`, None when there are none; of an even count, the mean of the two
/// middle values, rounded half up (two rounds of 52 and 60 ms give 56 ms, not 60).
pub(super) fn median<T: Copy + Ord + Into<u64> + TryFrom<u64>>(mut values: Vec<T>) -> Option<T> {
    values.sort_unstable();
    let upper = *values.get(values.len() / 2)?;
    if values.len() % 2 == 1 {
        return Some(upper);
    }
    let lower: u64 = values[values.len() / 2 - 1].into();
    let upper: u64 = upper.into();
    T::try_from(lower + (upper - lower).div_ceil(2)).ok()
}

impl ModeResult {
    /// Per file, how the window grew and what held it back (built-in server and capture).
    pub fn response_stats(&self, files: &[SourceFile], paths: &[String]) -> Vec<ResponseStats> {
        let exchanges = self.exchanges_per_file(files.len());
        files
            .iter()
            .zip(paths)
            .enumerate()
            .map(|(i, (file, path))| {
                let samples: Vec<&ResponseSample> = self.samples_for(path).collect();
                let pick = |f: &dyn Fn(&ResponseSample) -> Option<u32>| {
                    median(samples.iter().filter_map(|s| f(s)).collect())
                };
                let spent = |f: &dyn Fn(&crate::transfer::run::TcpInfoSample) -> Option<u64>| {
                    median(
                        samples
                            .iter()
                            .filter_map(|s| Some(f(&s.at_end?)?.saturating_sub(f(&s.at_start?)?)))
                            .collect(),
                    )
                };
                ResponseStats {
                    mode: self.mode,
                    file: file.name.clone(),
                    cwnd_start: pick(&|s| s.at_start.map(|x| x.cwnd)),
                    cwnd_end: pick(&|s| s.at_end.map(|x| x.cwnd)),
                    rounds: exchanges.get(i).and_then(|list| {
                        median(list.iter().map(|x| x.rounds.len() as u32).collect())
                    }),
                    first_flight: exchanges.get(i).and_then(|list| {
                        median(
                            list.iter()
                                .filter_map(|x| Some(x.rounds.first()?.segments))
                                .collect(),
                        )
                    }),
                    client_window: exchanges.get(i).and_then(|list| {
                        median(list.iter().filter_map(|x| x.client_window).collect())
                    }),
                    busy_us: spent(&|x| x.busy_time_us),
                    rwnd_limited_us: spent(&|x| x.rwnd_limited_us),
                    sndbuf_limited_us: spent(&|x| x.sndbuf_limited_us),
                    acked: (
                        samples
                            .iter()
                            .filter(|s| s.at_end.is_some_and(|e| e.all_acked()))
                            .count(),
                        samples.len(),
                    ),
                }
            })
            .collect()
    }
}
