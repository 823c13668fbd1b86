//! Transfer layer, client: one request on an open connection and its response, read, checked and
//! saved. Must not import the client's modes, the server, capture or report code.

use std::io::{self, BufRead, Read, Write};
use std::path::Path;

use super::connection::Connection;
use super::deadline::network;
use super::part_file::PartFile;
use super::plan::Target;
use crate::timeline::Ts;
use crate::transfer::TransferError;
use crate::transfer::events::EventKind;
use crate::transfer::http::{self, ChunkedReader, HttpError, ResponseHead};
use crate::transfer::run::{FileResult, RequestTiming};
use crate::transfer::wire::Wire;

/// The longest error body whose last line is quoted as the server's reason.
pub(super) const MAX_REASON: usize = 512;

impl Connection<'_> {
    /// Sends one GET and saves its body; returns the timings and the file (seconds still 0).
    pub(super) fn exchange(
        &mut self,
        host: &str,
        target: &Target<'_>,
        close: bool,
        dir: &Path,
        body: &mut [u8],
    ) -> Result<(RequestTiming, FileResult), TransferError> {
        let sent = self.send_request(host, target, close)?;
        self.receive_response(target, sent, close, dir, body)
    }

    /// Writes one GET; returns when it had been fully written.
    pub(super) fn send_request(
        &mut self,
        host: &str,
        target: &Target<'_>,
        close: bool,
    ) -> Result<Ts, TransferError> {
        let network = network(self.addr, self.per_file);
        if self.handshake_pending {
            // A resumed TLS 1.3 session may carry the request with its ClientHello; the server
            // says only at the end of the handshake whether it took it.
            let mut request = Vec::new();
            http::write_request(&mut request, host, target.path, close).map_err(network)?;
            let early = match self.reader.get_mut() {
                Wire::Tls(tls) => tls.send_early(&request).map_err(network)?,
                Wire::Plain(_) => false,
            };
            let sent = Ts::now();
            self.handshake()?;
            let accepted = match self.reader.get_ref() {
                Wire::Tls(tls) => tls.session().early_data_accepted,
                Wire::Plain(_) => false,
            };
            let accepted = early && accepted;
            if !accepted {
                self.reader.get_mut().write_all(&request).map_err(network)?;
            }
            let sent = if accepted { sent } else { Ts::now() };
            self.events.at(
                sent,
                EventKind::Request {
                    path: target.path.to_owned(),
                },
            );
            return Ok(sent);
        }
        let before = Ts::now();
        http::write_request(self.reader.get_mut(), host, target.path, close).map_err(network)?;
        // A Fast Open socket's first write carries the SYN and returns only once the SYN-ACK is
        // in: the request left when the write began.
        let sent = if self.fastopen && self.timing.requests.is_empty() && self.tls_done.is_none() {
            before
        } else {
            Ts::now()
        };
        self.events.at(
            sent,
            EventKind::Request {
                path: target.path.to_owned(),
            },
        );
        Ok(sent)
    }

    /// Reads the response to the request for `target` (written at `sent`) and saves its body;
    /// returns the timings and the file (seconds still 0).
    pub(super) fn receive_response(
        &mut self,
        target: &Target<'_>,
        sent: Ts,
        close: bool,
        dir: &Path,
        body: &mut [u8],
    ) -> Result<(RequestTiming, FileResult), TransferError> {
        let network = network(self.addr, self.per_file);
        // Wait for the first byte separately so its arrival is timed apart from parsing.
        let first = self.reader.fill_buf().map_err(network)?;
        let available = first.len();
        // A TLS record (content type 20 to 24, version 3.x) where a status line belongs: an
        // HTTPS server answering plain HTTP with an alert.
        let tls_record = matches!(first, [20..=24, 3, ..]);
        let first_byte = Ts::now();
        if available == 0 {
            return Err(TransferError::BadResponse(format!(
                "{} closed the connection without answering {}",
                self.addr, target.path
            )));
        }
        if tls_record && matches!(self.reader.get_ref(), Wire::Plain(_)) {
            return Err(TransferError::SpeaksTls { addr: self.addr });
        }
        let head = http::read_response_head(&mut self.reader).map_err(|source| match source {
            HttpError::Io(error) => network(error),
            source => TransferError::Http {
                addr: self.addr,
                source,
            },
        })?;
        self.events.now(EventKind::ResponseStart {
            status: head.status,
        });
        if !self.any_status && !(200..300).contains(&head.status) {
            return Err(TransferError::Status {
                code: head.status,
                path: target.path.to_owned(),
                said: self.short_reason(&head),
            });
        }
        self.server_closes = head.close;
        let mut part = PartFile::create(dir, &target.name)?;
        let (bytes, last_byte) = self.receive_body(&head, close, target, &mut part, body)?;
        self.events.at(last_byte, EventKind::ResponseEnd { bytes });
        Ok((
            RequestTiming {
                file: target.index,
                sent,
                first_byte,
                last_byte,
            },
            part.keep(&target.name, target.expected.as_deref(), head.status, bytes)?,
        ))
    }

    /// The last line of an error response's body, when the body is short plain text that has
    /// already arrived whole (an HTML page or a body still on its way is not waited for) and
    /// says more than the status line ("404 Not Found").
    fn short_reason(&mut self, head: &ResponseHead) -> Option<String> {
        let length = usize::try_from(head.content_length?).ok()?;
        let buffered = self.reader.buffer();
        if head.chunked || length > MAX_REASON || buffered.len() < length {
            return None;
        }
        reason_line(&buffered[..length], head.status)
    }

    /// Reads the body with the framing the head announced; returns its size and the time the
    /// last byte was read.
    fn receive_body(
        &mut self,
        head: &ResponseHead,
        close: bool,
        target: &Target<'_>,
        part: &mut PartFile,
        body: &mut [u8],
    ) -> Result<(u64, Ts), TransferError> {
        let addr = self.addr;
        let sink = Sink {
            network: network(addr, self.per_file),
            max_size: self.max_size,
            path: target.path,
        };
        // No body, whatever the headers say (RFC 9112 §6.3): a 204 or a 304.
        if matches!(head.status, 204 | 304) {
            return Ok((0, Ts::now()));
        }
        if head.chunked {
            return sink.copy(&mut ChunkedReader::new(&mut self.reader), part, body);
        }
        match head.content_length {
            Some(length) if self.max_size.is_some_and(|max| length > max) => {
                Err(TransferError::TooLarge {
                    path: target.path.to_owned(),
                    limit: self.max_size.unwrap_or_default(),
                })
            }
            Some(length) => {
                let (got, last_byte) =
                    sink.copy(&mut (&mut self.reader).take(length), part, body)?;
                if got < length {
                    return Err(TransferError::Truncated {
                        path: target.path.to_owned(),
                        expected: length,
                        got,
                    });
                }
                Ok((got, last_byte))
            }
            // Without a length the body ends at the server's FIN, which would also end the
            // connection the persistent mode still needs.
            None if !close && !head.close => Err(TransferError::BadResponse(format!(
                "{addr} sent {} without Content-Length on a persistent connection",
                target.path
            ))),
            None => {
                self.server_closes = true;
                sink.copy(&mut self.reader, part, body)
            }
        }
    }
}

/// The last line of a short error body, when it is plain text and says more than the status line
/// ("404 Not Found").
pub(super) fn reason_line(body: &[u8], status: u16) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())?
        .trim();
    let plain = !line.starts_with('<') && line.chars().all(|c| !c.is_control());
    (plain && !line.starts_with(&status.to_string())).then(|| line.to_owned())
}

/// Where a body goes, and what may stop it.
struct Sink<'a, F> {
    network: F,
    max_size: Option<u64>,
    path: &'a str,
}

impl<F: Fn(io::Error) -> TransferError> Sink<'_, F> {
    /// Copies a body into `part`, timing the last byte as the end of the last read that returned
    /// data (not the read that found the end).
    fn copy(
        &self,
        source: &mut impl Read,
        part: &mut PartFile,
        buf: &mut [u8],
    ) -> Result<(u64, Ts), TransferError> {
        let mut total = 0u64;
        let mut last_byte = Ts::now();
        loop {
            let n = match source.read(buf) {
                Ok(0) => return Ok((total, last_byte)),
                Ok(n) => n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err((self.network)(error)),
            };
            last_byte = Ts::now();
            total += n as u64;
            if let Some(limit) = self.max_size.filter(|&max| total > max) {
                return Err(TransferError::TooLarge {
                    path: self.path.to_owned(),
                    limit,
                });
            }
            part.write(&buf[..n])?;
        }
    }
}
