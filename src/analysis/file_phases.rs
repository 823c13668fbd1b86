//! Attribute layer: where each file's time went, span by span — the run's phases cut per request,
//! for the waterfall (one bar per file) and the JSON.
//!
//! Reads capture and transfer results; must not import `pcap`, `etherparse` or report code.

use super::comparison::RunResult;
use super::phases::ConnectionTimeline;
use crate::timeline::Ts;

/// A phase of one file's bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FilePhase {
    /// The previous connection's FIN → this connection's SYN.
    Between,
    /// Client SYN → SYN-ACK.
    Handshake,
    /// SYN-ACK → the end of the TLS handshake.
    Tls,
    /// Connection ready or previous response done → request sent.
    ClientWork,
    /// Request sent → first response byte.
    RequestWait,
    /// First → last response byte.
    Transfer,
    /// Last response byte → the client's FIN.
    Closing,
}

impl FilePhase {
    /// Every phase, in the order they happen.
    pub const ALL: [FilePhase; 7] = [
        FilePhase::Between,
        FilePhase::Handshake,
        FilePhase::Tls,
        FilePhase::ClientWork,
        FilePhase::RequestWait,
        FilePhase::Transfer,
        FilePhase::Closing,
    ];
}

/// One stretch of a file's time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseSpan {
    /// The phase.
    pub phase: FilePhase,
    /// Its start.
    pub from: Ts,
    /// Its end.
    pub to: Ts,
}

/// One request's time on its connection, split into phases.
#[derive(Debug, Clone, PartialEq)]
pub struct FilePhases {
    /// The file's index in the plan (in a capture, the request's order on its connection).
    pub file: usize,
    /// The connection's index in the order the connections opened.
    pub connection: usize,
    /// Its spans in time order; a connection's handshake and the gap before it belong to its
    /// first request, its closing to its last.
    pub spans: Vec<PhaseSpan>,
}

impl FilePhases {
    /// Seconds spent in `phase`.
    pub fn seconds(&self, phase: FilePhase) -> f64 {
        self.spans
            .iter()
            .filter(|s| s.phase == phase)
            .map(|s| s.to.secs_since(s.from))
            // A float sum of nothing is −0.0; a phase a file did not have is 0.
            .fold(0.0, |sum, s| sum + s)
    }

    /// Where the bar starts.
    pub fn start(&self) -> Option<Ts> {
        self.spans.first().map(|s| s.from)
    }
}

/// Cuts connections into per-request spans; `files[i]` names the file of each request of
/// connection `i`, in order. Connections are taken in the order given (the order they opened).
/// On a `multiplexed` connection (HTTP/2, HTTP/3) every request's wait and transfer run from its
/// own request on, beside the others', and the closing follows the response that ended last; on
/// any other, the responses come one after another and each waits for the one before.
pub fn cut_per_request(
    connections: &[(ConnectionTimeline, Vec<usize>)],
    multiplexed: bool,
) -> Vec<FilePhases> {
    let mut out = Vec::new();
    let mut previous_close: Option<Ts> = None;
    for (index, (line, files)) in connections.iter().enumerate() {
        let last = if multiplexed {
            // The response that ended last, the first of those ending together.
            let latest = line.exchanges.iter().map(|x| x.2).max();
            line.exchanges.iter().position(|x| Some(x.2) == latest)
        } else {
            line.exchanges.len().checked_sub(1)
        };
        let mut cursor = line.ready;
        let mut opened = line.ready;
        let mut ended = line.ready;
        for (j, (&(request, first, last_byte), &file)) in
            line.exchanges.iter().zip(files).enumerate()
        {
            let mut spans = Vec::new();
            let mut push = |phase, from: Ts, to: Ts| {
                if to > from {
                    spans.push(PhaseSpan { phase, from, to });
                }
            };
            if j == 0 {
                if let Some(close) = previous_close {
                    push(FilePhase::Between, close, line.start);
                }
                push(FilePhase::Handshake, line.start, line.ready);
                if let Some(tls_ready) = line.tls_ready {
                    // Early data leaves before the handshake ends: the wait then covers the rest.
                    push(FilePhase::Tls, line.ready, tls_ready.min(request));
                    cursor = cursor.max(tls_ready.min(request));
                }
                opened = cursor;
            }
            if multiplexed {
                // Each stream on its own: from the connection's opening, not the last response.
                cursor = opened;
            }
            push(FilePhase::ClientWork, cursor, request);
            // Pipelined responses queue behind each other: the wait starts no earlier than the
            // client's work ended.
            let waited_from = request.max(cursor);
            push(FilePhase::RequestWait, waited_from, first);
            push(FilePhase::Transfer, first.max(waited_from), last_byte);
            cursor = cursor.max(last_byte);
            ended = ended.max(last_byte);
            if Some(j) == last
                && let Some(close) = line.client_close
            {
                push(FilePhase::Closing, ended, close);
            }
            out.push(FilePhases {
                file,
                connection: index,
                spans,
            });
        }
        previous_close = line.client_close.or(Some(ended.max(cursor)));
    }
    out
}

/// A run's per-file phases: from the capture where each of the client's connections was found
/// there with one exchange per request, else from the client's own timestamps.
pub fn of_run(run: &RunResult) -> Vec<FilePhases> {
    let from_capture: Option<Vec<ConnectionTimeline>> = run
        .timing
        .connections
        .iter()
        .map(|timing| {
            run.connections
                .iter()
                .find(|c| c.client == timing.local && c.exchanges.len() == timing.requests.len())
                .map(ConnectionTimeline::from_capture)
        })
        .collect();
    let lines: Vec<(ConnectionTimeline, Vec<usize>)> = run
        .timing
        .connections
        .iter()
        .enumerate()
        .map(|(i, timing)| {
            let line = match &from_capture {
                Some(lines) => lines[i].clone(),
                _ => ConnectionTimeline::from_client(timing),
            };
            (line, timing.requests.iter().map(|r| r.file).collect())
        })
        .collect();
    cut_per_request(&lines, run.timing.mode.is_multiplexed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(us: i64) -> Ts {
        Ts(us * 1_000)
    }

    /// Three streams requested at once on one connection, answered interleaved and out of order:
    /// each file's bar runs from its own request, and the closing follows the last to end.
    #[test]
    fn multiplexed_streams_each_wait_from_their_own_request() {
        let line = ConnectionTimeline {
            start: t(0),
            ready: t(40),
            tls_ready: Some(t(80)),
            exchanges: vec![
                (t(81), t(121), t(400)),
                (t(82), t(125), t(200)),
                (t(83), t(130), t(300)),
            ],
            client_close: Some(t(410)),
            teardown_s: None,
        };
        let files = cut_per_request(&[(line, vec![0, 1, 2])], true);
        let spans = |k: usize| -> Vec<(FilePhase, Ts, Ts)> {
            files[k]
                .spans
                .iter()
                .map(|s| (s.phase, s.from, s.to))
                .collect()
        };
        assert_eq!(
            spans(0),
            [
                (FilePhase::Handshake, t(0), t(40)),
                (FilePhase::Tls, t(40), t(80)),
                (FilePhase::ClientWork, t(80), t(81)),
                (FilePhase::RequestWait, t(81), t(121)),
                (FilePhase::Transfer, t(121), t(400)),
                (FilePhase::Closing, t(400), t(410)),
            ]
        );
        assert_eq!(
            spans(1),
            [
                (FilePhase::ClientWork, t(80), t(82)),
                (FilePhase::RequestWait, t(82), t(125)),
                (FilePhase::Transfer, t(125), t(200)),
            ]
        );
        assert_eq!(
            spans(2),
            [
                (FilePhase::ClientWork, t(80), t(83)),
                (FilePhase::RequestWait, t(83), t(130)),
                (FilePhase::Transfer, t(130), t(300)),
            ]
        );
    }

    #[test]
    fn each_file_gets_its_connection_s_setup_and_its_own_exchange() {
        let lines = vec![
            (
                ConnectionTimeline {
                    start: t(100),
                    ready: t(130),
                    tls_ready: None,
                    exchanges: vec![(t(150), t(200), t(900))],
                    client_close: Some(t(950)),
                    teardown_s: None,
                },
                vec![2],
            ),
            (
                ConnectionTimeline {
                    start: t(1000),
                    ready: t(1020),
                    tls_ready: None,
                    exchanges: vec![(t(1040), t(1100), t(1400)), (t(1450), t(1500), t(1700))],
                    client_close: Some(t(1750)),
                    teardown_s: None,
                },
                vec![0, 1],
            ),
        ];
        let files = cut_per_request(&lines, false);
        assert_eq!(files.len(), 3);
        assert_eq!((files[0].file, files[0].connection), (2, 0));
        assert!((files[0].seconds(FilePhase::Handshake) - 30e-6).abs() < 1e-12);
        assert!((files[0].seconds(FilePhase::Closing) - 50e-6).abs() < 1e-12);
        assert!((files[1].seconds(FilePhase::Between) - 50e-6).abs() < 1e-12);
        assert!((files[1].seconds(FilePhase::Transfer) - 300e-6).abs() < 1e-12);
        assert_eq!(files[1].seconds(FilePhase::Closing), 0.0);
        assert_eq!(files[2].seconds(FilePhase::Handshake), 0.0);
        assert!((files[2].seconds(FilePhase::ClientWork) - 50e-6).abs() < 1e-12);
        assert!((files[2].seconds(FilePhase::Closing) - 50e-6).abs() < 1e-12);
        assert_eq!(files[2].start(), Some(t(1400)));
    }
}
