//! Track layer: HTTP/1.x requests counted in the client's byte stream, as tshark's `http.request`
//! counts them: every request head, also when several ride in one segment (pipelining) or one
//! spans segments.
//!
//! Reads the stream in sequence order from the segments the capture holds. Where it loses the
//! thread (a gap, a payload cut by the snap length, a body it cannot frame) it counts again from
//! the next segment that starts with a request line, as a segment-by-segment count would; a
//! segment that fills a gap later (a receiver-side capture of a loss upstream) counts if it
//! starts with one.

use super::seq::SeqNumber;
use crate::capture::decode::METHODS;

/// A head longer than this is no request head this counter follows (servers refuse them too).
const MAX_HEAD: usize = 64 * 1024;

/// Gaps in the stream remembered, so that a segment filling one later is still read.
const MAX_GAPS: usize = 16;

/// Where the counter stands in the client's stream.
#[derive(Debug, Clone, Default)]
enum Position {
    /// Where a request may begin.
    #[default]
    Boundary,
    /// Inside a head whose start was counted; the bytes so far.
    Head(Vec<u8>),
    /// Inside a body with this many bytes to go.
    Body(u64),
    /// Position unknown until a segment starts with a request line.
    Lost,
}

/// Counts the request heads in one side's byte stream.
#[derive(Debug, Clone, Default)]
pub(super) struct RequestCounter {
    position: Position,
    /// The sequence number the next in-order byte carries.
    next: Option<SeqNumber>,
    /// Request heads begun.
    pub(super) count: u64,
    /// Ranges of the stream passed over (not captured, or not yet), oldest first.
    gaps: Vec<(SeqNumber, SeqNumber)>,
}

impl RequestCounter {
    /// Reads one segment's payload: `seq` its first byte's number, `len` its length on the wire,
    /// `captured` the bytes the capture holds (fewer when the snap length cut it).
    pub(super) fn feed(&mut self, seq: SeqNumber, len: u32, captured: &[u8]) {
        if len == 0 {
            return;
        }
        let Some(next) = self.next else {
            self.next = Some(seq + len);
            self.read_from_start(captured, len);
            return;
        };
        if seq + len <= next {
            // Bytes passed over before: a resend, or one that fills a gap the capture left, which
            // is counted on its own if it starts a request.
            self.fill_gap(seq, len, captured);
            return;
        }
        self.next = Some(seq + len);
        if seq < next {
            // A resend with new bytes after the old: read on from where the stream was.
            let old = next.bytes_since(seq) as usize;
            let cut = captured.len() < len as usize;
            self.read(captured.get(old..).unwrap_or_default());
            if cut {
                self.position = Position::Lost;
            }
            return;
        }
        if seq > next {
            self.remember_gap(next, seq);
            self.position = Position::Lost;
        }
        self.read_from_start(captured, len);
    }

    /// Reads a segment that begins at or after the stream's position.
    fn read_from_start(&mut self, captured: &[u8], len: u32) {
        if matches!(self.position, Position::Lost) && starts_a_request(captured) {
            self.position = Position::Boundary;
        }
        self.read(captured);
        if captured.len() < len as usize {
            self.position = Position::Lost;
        }
    }

    /// Remembers bytes the stream skipped (at most a few ranges).
    fn remember_gap(&mut self, from: SeqNumber, to: SeqNumber) {
        if self.gaps.len() == MAX_GAPS {
            self.gaps.remove(0);
        }
        self.gaps.push((from, to));
    }

    /// A segment of bytes behind the stream's position: where it starts inside a gap, it starts a
    /// request if its bytes say so, and the gap shrinks by it.
    fn fill_gap(&mut self, seq: SeqNumber, len: u32, captured: &[u8]) {
        let end = seq + len;
        let Some(at) = self
            .gaps
            .iter()
            .position(|&(from, to)| from <= seq && seq < to)
        else {
            return;
        };
        if starts_a_request(captured) {
            self.count += 1;
        }
        let (from, to) = self.gaps.remove(at);
        if from < seq {
            self.gaps.push((from, seq));
        }
        if end < to {
            self.gaps.push((end, to));
        }
    }

    fn read(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match std::mem::take(&mut self.position) {
                Position::Lost => {
                    self.position = Position::Lost;
                    return;
                }
                Position::Boundary if starts_a_request(bytes) => {
                    self.count += 1;
                    self.position = Position::Head(Vec::new());
                }
                // Not a request line: a stray CRLF between requests, or no HTTP at all.
                Position::Boundary => {
                    let blank = bytes
                        .iter()
                        .take_while(|b| matches!(b, b'\r' | b'\n'))
                        .count();
                    if blank == 0 {
                        self.position = Position::Lost;
                        return;
                    }
                    self.position = Position::Boundary;
                    bytes = &bytes[blank..];
                }
                // A head that ends in the bytes it starts in is read where it lies.
                Position::Head(head) if head.is_empty() => {
                    let start = &bytes[..bytes.len().min(MAX_HEAD)];
                    let Some(end) = find_head_end(start, 0) else {
                        self.position = if start.len() >= MAX_HEAD {
                            Position::Lost
                        } else {
                            Position::Head(start.to_vec())
                        };
                        return;
                    };
                    self.position = after_head(&start[..end]);
                    bytes = &bytes[end..];
                }
                Position::Head(mut head) => {
                    let before = head.len();
                    head.extend_from_slice(&bytes[..bytes.len().min(MAX_HEAD)]);
                    let Some(end) = find_head_end(&head, before) else {
                        self.position = if head.len() >= MAX_HEAD {
                            Position::Lost
                        } else {
                            Position::Head(head)
                        };
                        return;
                    };
                    bytes = &bytes[end - before..];
                    self.position = after_head(&head[..end]);
                }
                Position::Body(left) => {
                    let skipped = left.min(bytes.len() as u64);
                    bytes = &bytes[skipped as usize..];
                    self.position = if skipped == left {
                        Position::Boundary
                    } else {
                        Position::Body(left - skipped)
                    };
                }
            }
        }
    }
}

/// Where the stream stands after the request head `head`: at the next request, in its body, or
/// lost when the body cannot be framed.
fn after_head(head: &[u8]) -> Position {
    match body_length(head) {
        Some(0) => Position::Boundary,
        Some(length) => Position::Body(length),
        None => Position::Lost,
    }
}

/// Whether `bytes` begin with a request line's method and its space (`GET `), or with as much
/// of one as they hold.
fn starts_a_request(bytes: &[u8]) -> bool {
    METHODS.iter().any(|method| {
        let n = bytes.len().min(method.len());
        bytes[..n] == method[..n]
    }) && !bytes.is_empty()
}

/// The end (just past the blank line) of the head in `head`, searching from a little before
/// `from` so that a blank line split over two segments is found. A line may end in LF alone, as
/// servers and tshark accept.
fn find_head_end(head: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    let mut lf = None;
    for (at, &b) in head.iter().enumerate().skip(start) {
        if b != b'\n' {
            continue;
        }
        // A line feed ends the head when the line it ends is empty: LF LF, or LF CR LF.
        if let Some(previous) = lf {
            let between = &head[previous + 1..at];
            if between.is_empty() || between == b"\r" {
                return Some(at + 1);
            }
        }
        lf = Some(at);
    }
    None
}

/// The body length a request head announces: 0 without one, None when it cannot be framed here
/// (chunked, or a length that does not parse).
fn body_length(head: &[u8]) -> Option<u64> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return None,
    }
    let mut length = 0;
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
        if header.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(header.value)
                .ok()?
                .trim()
                .parse()
                .ok()?;
        }
    }
    Some(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(segments: &[(u32, &[u8])]) -> u64 {
        let mut counter = RequestCounter::default();
        for &(seq, bytes) in segments {
            counter.feed(SeqNumber(seq), bytes.len() as u32, bytes);
        }
        counter.count
    }

    const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn requests_in_one_segment_are_each_counted() {
        let burst = [GET, GET, GET, GET].concat();
        assert_eq!(count(&[(1, &burst)]), 4);
    }

    #[test]
    fn a_head_split_over_segments_is_one_request_and_the_next_is_found() {
        let burst = [GET, GET, GET].concat();
        // Split inside the first head's blank line, and inside the second request line.
        let (a, rest) = burst.split_at(GET.len() - 2);
        let (b, c) = rest.split_at(10);
        let at = |n: usize| 1 + n as u32;
        assert_eq!(
            count(&[(at(0), a), (at(a.len()), b), (at(a.len() + b.len()), c)]),
            3
        );
    }

    #[test]
    fn a_body_is_skipped_even_when_it_looks_like_a_request() {
        let post = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 28\r\n\r\n";
        let burst = [&post[..], GET, GET].concat();
        // The body is itself a GET's bytes: it is no request.
        assert_eq!(count(&[(1, &burst)]), 2);
    }

    #[test]
    fn a_resend_is_not_counted_again() {
        assert_eq!(count(&[(1, GET), (1, GET)]), 1);
    }

    #[test]
    fn after_a_gap_counting_resumes_at_a_request_line() {
        let second = 1 + GET.len() as u32;
        let third = second + GET.len() as u32;
        // The second request's segment was not captured.
        assert_eq!(count(&[(1, GET), (third, GET)]), 2);
        // A segment that starts inside a request after a gap is not counted.
        assert_eq!(count(&[(1, GET), (third + 3, &GET[3..])]), 1);
    }

    #[test]
    fn a_resend_with_new_bytes_reads_on_from_the_new_ones() {
        // A one-byte window probe, then the whole head sent again from the same number.
        assert_eq!(count(&[(1, &GET[..1]), (1, GET)]), 1);
        let burst = [GET, GET].concat();
        assert_eq!(count(&[(1, GET), (1, &burst)]), 2);
    }

    #[test]
    fn a_segment_that_fills_a_gap_later_is_counted() {
        let second = 1 + GET.len() as u32;
        let third = second + GET.len() as u32;
        // As a receiver-side capture sees a loss upstream: the second request comes last.
        assert_eq!(count(&[(1, GET), (third, GET), (second, GET)]), 3);
        // Sent again once more, it is not counted again.
        assert_eq!(
            count(&[(1, GET), (third, GET), (second, GET), (second, GET)]),
            3
        );
    }

    #[test]
    fn heads_may_end_their_lines_in_a_line_feed_alone() {
        let bare = b"GET /a HTTP/1.0\nHost: x\n\n";
        let burst = [&bare[..], bare, GET].concat();
        assert_eq!(count(&[(1, &burst)]), 3);
    }

    #[test]
    fn a_payload_cut_by_the_snap_length_counts_its_start_only() {
        let burst = [GET, GET].concat();
        let mut counter = RequestCounter::default();
        counter.feed(SeqNumber(1), burst.len() as u32, &burst[..20]);
        counter.feed(SeqNumber(1 + burst.len() as u32), GET.len() as u32, GET);
        assert_eq!(counter.count, 2);
    }

    #[test]
    fn bytes_that_are_no_request_are_not_counted() {
        assert_eq!(count(&[(1, b"hello, server\r\n")]), 0);
        assert_eq!(
            count(&[(1, GET), (1 + GET.len() as u32, b"\x16\x03\x01")]),
            1
        );
    }
}
