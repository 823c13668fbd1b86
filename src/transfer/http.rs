//! Transfer layer: HTTP/1.1 message framing over blocking streams, with `httparse` doing all
//! head parsing. Must not import capture or report code.

use std::io::{self, BufRead, Read, Write};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Largest request or response head accepted, terminating blank line included.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// More header fields than this is not a client synack needs to talk to.
const MAX_HEADERS: usize = 64;

/// A request body up to this size is read and dropped so the next request stays framed;
/// larger ones are refused rather than read for nothing.
const MAX_DISCARDED_BODY: u64 = 64 * 1024;

/// Longest chunk-size line or trailer line accepted in a chunked body.
const MAX_CHUNK_LINE: u64 = 1024;

/// Characters escaped when a file name becomes one path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'[')
    .add(b']');

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The stream failed (including read timeouts).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The stream failed (including read timeouts) while a request's body was read and dropped.
    #[error("reading the request's body: {0}")]
    BodyIo(io::Error),
    /// The peer closed the connection inside a request's body.
    #[error("connection closed inside the request's body")]
    BodyCutShort,
    /// The peer closed the connection before a complete head arrived.
    #[error("connection closed before a complete message head")]
    UnexpectedEof,
    /// The head did not end within the size bound.
    #[error("{} larger than {limit} bytes", if *first_line { "first line" } else { "message head" })]
    HeadTooLarge {
        limit: usize,
        /// The first line alone (a request's target, mostly) passed the bound.
        first_line: bool,
    },
    /// More header fields than the parser keeps.
    #[error("more than {limit} header fields")]
    TooManyHeaders { limit: usize },
    /// httparse rejected the head.
    #[error("malformed message head: {0}")]
    Malformed(String),
    /// A request in an HTTP major version other than 1 (`HTTP/2.0` written as text, say).
    #[error("HTTP version {0:?} not supported (this server speaks HTTP/1.1)")]
    VersionNotSupported(String),
    /// HTTP/1.1 requires a Host header in every request (RFC 9112 §3.2).
    #[error("HTTP/1.1 request without a Host header")]
    MissingHost,
    /// A Content-Length that is not one decimal number.
    #[error("invalid Content-Length {0:?}")]
    BadContentLength(String),
    /// A transfer coding this implementation does not decode.
    #[error("unsupported Transfer-Encoding {0:?}")]
    UnsupportedTransferEncoding(String),
    /// A request body too large to be worth reading and dropping.
    #[error("request body of {length} bytes refused (GET and HEAD take no body)")]
    BodyTooLarge { length: u64 },
    /// A chunked request body that ran past the bound on what is read and dropped.
    #[error("chunked request body of more than {limit} bytes refused (GET and HEAD take no body)")]
    ChunkedBodyTooLarge { limit: u64 },
}

/// A parsed request line and the headers that matter to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Method token as sent (`GET`, `HEAD`, ...).
    pub method: String,
    /// Request target as sent, still percent-encoded.
    pub path: String,
    /// Whether the client expects the connection to stay open after the response.
    pub keep_alive: bool,
}

/// A parsed status line and the headers that frame the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// Body length, when announced and not overridden by a transfer coding.
    pub content_length: Option<u64>,
    /// Whether the server will close the connection after this response.
    pub close: bool,
    /// Whether the body uses the chunked transfer coding (read it with [`ChunkedReader`]).
    pub chunked: bool,
}

/// The framing headers shared by requests and responses.
#[derive(Debug, Default)]
struct Framing {
    close: bool,
    keep_alive: bool,
    content_length: Option<u64>,
    transfer_encoding: Option<String>,
    has_host: bool,
}

impl Framing {
    fn scan(headers: &[httparse::Header<'_>]) -> Result<Framing, HttpError> {
        let mut framing = Framing::default();
        for header in headers {
            let value = String::from_utf8_lossy(header.value);
            if header.name.eq_ignore_ascii_case("connection") {
                for token in value.split(',').map(str::trim) {
                    framing.close |= token.eq_ignore_ascii_case("close");
                    framing.keep_alive |= token.eq_ignore_ascii_case("keep-alive");
                }
            } else if header.name.eq_ignore_ascii_case("content-length") {
                let length = parse_content_length(&value)?;
                // Two different lengths mean the message cannot be framed (RFC 9112 §6.3).
                if framing
                    .content_length
                    .is_some_and(|earlier| earlier != length)
                {
                    return Err(HttpError::BadContentLength(value.into_owned()));
                }
                framing.content_length = Some(length);
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                let codings = framing.transfer_encoding.get_or_insert_with(String::new);
                if !codings.is_empty() {
                    codings.push_str(", ");
                }
                codings.push_str(value.trim());
            } else if header.name.eq_ignore_ascii_case("host") {
                framing.has_host = true;
            }
        }
        Ok(framing)
    }
}

fn parse_content_length(value: &str) -> Result<u64, HttpError> {
    let value = value.trim();
    // u64::from_str also accepts a leading '+', which HTTP does not.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HttpError::BadContentLength(value.to_owned()));
    }
    value
        .parse()
        .map_err(|_| HttpError::BadContentLength(value.to_owned()))
}

/// Reads one head up to and including its blank line; None on end of file before any byte.
fn read_head(reader: &mut impl BufRead) -> Result<Option<Vec<u8>>, HttpError> {
    let mut head = Vec::new();
    let mut consumed = 0usize;
    loop {
        let room = MAX_HEAD_BYTES - consumed;
        if room == 0 {
            // A request line that took the whole bound is what is too large, not the fields.
            let lines = head.iter().filter(|&&b| b == b'\n').count();
            return Err(HttpError::HeadTooLarge {
                limit: MAX_HEAD_BYTES,
                first_line: lines == 1,
            });
        }
        let start = head.len();
        // The bound applies while reading, so a peer that never sends a newline costs at most
        // MAX_HEAD_BYTES of memory.
        let n = reader
            .by_ref()
            .take(room as u64)
            .read_until(b'\n', &mut head)?;
        consumed += n;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(HttpError::UnexpectedEof)
            };
        }
        let line = &head[start..];
        if !line.ends_with(b"\n") {
            return Err(if consumed >= MAX_HEAD_BYTES {
                HttpError::HeadTooLarge {
                    limit: MAX_HEAD_BYTES,
                    first_line: start == 0,
                }
            } else {
                HttpError::UnexpectedEof
            });
        }
        if line == b"\r\n" || line == b"\n" {
            if start == 0 {
                // RFC 9112 §2.2: ignore empty lines before a request line.
                head.clear();
                continue;
            }
            return Ok(Some(head));
        }
    }
}

fn malformed(error: httparse::Error) -> HttpError {
    match error {
        httparse::Error::TooManyHeaders => HttpError::TooManyHeaders { limit: MAX_HEADERS },
        error => HttpError::Malformed(error.to_string()),
    }
}

/// Reads the next request head; Ok(None) when the peer closed cleanly before sending a byte.
///
/// A small `Content-Length` body is read and dropped so the following request stays framed;
/// a chunked or large body is an error (the server answers 400 and closes).
pub fn read_request(reader: &mut impl BufRead) -> Result<Option<Request>, HttpError> {
    let start = reader.fill_buf()?;
    if !could_start_a_request(start) {
        // Refused now rather than after a newline that may never come (a TLS handshake).
        return Err(HttpError::Malformed("not an HTTP request".into()));
    }
    let Some(mut head) = read_head(reader)? else {
        return Ok(None);
    };
    read_as_http_1_1(&mut head)?;
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&head).map_err(malformed)? {
        httparse::Status::Complete(_) => {}
        // read_head stops at the blank line, so this means a stray blank line inside the head.
        httparse::Status::Partial => return Err(HttpError::Malformed("incomplete head".into())),
    }
    let method = parsed.method.expect("a complete parse has a method");
    let path = parsed.path.expect("a complete parse has a path");
    let version = parsed.version.expect("a complete parse has a version");
    let framing = Framing::scan(parsed.headers)?;
    if version == 1 && !framing.has_host {
        return Err(HttpError::MissingHost);
    }
    if let Some(codings) = framing.transfer_encoding {
        // Chunked alone is read and dropped like a small Content-Length body (RFC 9112 §7.1);
        // beside a Content-Length the message's end is ambiguous, and refused (§6.3), as is any
        // other coding.
        // HTTP/1.0 has no transfer codings: such a message is badly framed (RFC 9112 §6.1).
        if !codings.eq_ignore_ascii_case("chunked")
            || framing.content_length.is_some()
            || version == 0
        {
            return Err(HttpError::UnsupportedTransferEncoding(codings));
        }
        let mut body = ChunkedReader::new(reader.by_ref()).take(MAX_DISCARDED_BODY + 1);
        let dropped = io::copy(&mut body, &mut io::sink()).map_err(|error| match error.kind() {
            io::ErrorKind::InvalidData => HttpError::Malformed(error.to_string()),
            io::ErrorKind::UnexpectedEof => HttpError::BodyCutShort,
            _ => HttpError::BodyIo(error),
        })?;
        if dropped > MAX_DISCARDED_BODY {
            return Err(HttpError::ChunkedBodyTooLarge {
                limit: MAX_DISCARDED_BODY,
            });
        }
    }
    if let Some(length) = framing.content_length.filter(|&length| length > 0) {
        if length > MAX_DISCARDED_BODY {
            return Err(HttpError::BodyTooLarge { length });
        }
        let dropped = io::copy(&mut reader.by_ref().take(length), &mut io::sink())
            .map_err(HttpError::BodyIo)?;
        if dropped < length {
            return Err(HttpError::BodyCutShort);
        }
    }
    let keep_alive = if version == 1 {
        !framing.close
    } else {
        framing.keep_alive && !framing.close
    };
    Ok(Some(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        keep_alive,
    }))
}

/// A request line in HTTP/1.2 or a later 1.x is read as HTTP/1.1, the highest minor version
/// this server implements (RFC 9110 §2.5), by rewriting its minor digit; one in another major
/// version is refused (answered 505, as nginx does). Anything else is left to the parser.
fn read_as_http_1_1(head: &mut [u8]) -> Result<(), HttpError> {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = head[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&head[..line_end]);
    let Some(space) = line.iter().rposition(|&b| b == b' ') else {
        return Ok(());
    };
    let token_at = space + 1;
    let &[b'H', b'T', b'T', b'P', b'/', major, b'.', minor] = &line[token_at..] else {
        return Ok(());
    };
    if !major.is_ascii_digit() || !minor.is_ascii_digit() {
        return Ok(());
    }
    if major != b'1' {
        let token = String::from_utf8_lossy(&line[token_at..]).into_owned();
        return Err(HttpError::VersionNotSupported(token));
    }
    if minor > b'1' {
        head[token_at + 7] = b'1';
    }
    Ok(())
}

/// Whether `bytes`, the first of a request, can begin a request line: blank lines, then a
/// method token (RFC 9110 §5.6.2) up to its space.
fn could_start_a_request(bytes: &[u8]) -> bool {
    const LONGEST_METHOD: usize = 32;
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let method = bytes.iter().skip_while(|b| matches!(b, b'\r' | b'\n'));
    for (at, &b) in method.enumerate() {
        if b == b' ' {
            return at > 0;
        }
        if !tchar(b) || at >= LONGEST_METHOD {
            return false;
        }
    }
    true
}

/// Interim 1xx responses skipped before a final one; a server sending more is broken or hostile.
const MAX_INTERIM: usize = 16;

/// Reads a response head, skipping interim 1xx responses (at most 16).
pub fn read_response_head(reader: &mut impl BufRead) -> Result<ResponseHead, HttpError> {
    for _ in 0..=MAX_INTERIM {
        let head = read_head(reader)?.ok_or(HttpError::UnexpectedEof)?;
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut headers);
        match parsed.parse(&head).map_err(malformed)? {
            httparse::Status::Complete(_) => {}
            httparse::Status::Partial => {
                return Err(HttpError::Malformed("incomplete head".into()));
            }
        }
        let status = parsed.code.expect("a complete parse has a status code");
        let version = parsed.version.expect("a complete parse has a version");
        // 100 Continue and friends precede the real response; 101 is final (protocol switch).
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let framing = Framing::scan(parsed.headers)?;
        let chunked = match &framing.transfer_encoding {
            None => false,
            // Chunked must be the last coding; anything else under it is not decoded here.
            Some(codings) if codings.eq_ignore_ascii_case("chunked") => true,
            Some(codings) => return Err(HttpError::UnsupportedTransferEncoding(codings.clone())),
        };
        let close = if version == 1 {
            framing.close
        } else {
            !framing.keep_alive || framing.close
        };
        // 204 and 304 never have a body, whatever the headers say (RFC 9112 §6.3).
        let bodiless = status == 204 || status == 304;
        return Ok(ResponseHead {
            status,
            // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3).
            content_length: if bodiless {
                Some(0)
            } else if chunked {
                None
            } else {
                framing.content_length
            },
            close,
            chunked: chunked && !bodiless,
        });
    }
    Err(HttpError::Malformed(format!(
        "more than {MAX_INTERIM} interim 1xx responses before a final one"
    )))
}

/// Refuses values that would break the head: control characters always, spaces where the
/// grammar ends a token at a space.
fn refuse_field(value: &str, what: &str, spaces_allowed: bool) -> io::Result<()> {
    let bad = |b: u8| b.is_ascii_control() || (b == b' ' && !spaces_allowed);
    if value.is_empty() || value.bytes().any(bad) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} {value:?} cannot go into an HTTP head"),
        ));
    }
    Ok(())
}

/// Writes a GET request head in one write, so it leaves in one segment.
pub fn write_request(w: &mut impl Write, host: &str, path: &str, close: bool) -> io::Result<()> {
    refuse_field(host, "host", false)?;
    refuse_field(path, "request path", false)?;
    let connection = if close { "close" } else { "keep-alive" };
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: synack/{}\r\nAccept: */*\r\n\
         Connection: {connection}\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    w.write_all(head.as_bytes())
}

/// Formats a response head, dated now; a 405 also gets the `Allow` header it requires.
pub fn response_head(
    status: u16,
    reason: &str,
    content_length: u64,
    close: bool,
    content_type: &str,
) -> String {
    let connection = if close { "close" } else { "keep-alive" };
    let allow = if status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    // An origin server with a clock sends the time it answered (RFC 9110 §6.6.1).
    let date = httpdate::HttpDate::from(std::time::SystemTime::now());
    format!(
        "HTTP/1.1 {status} {reason}\r\nServer: synack/{}\r\nDate: {date}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {content_length}\r\n{allow}\
         Connection: {connection}\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Writes a response head in one write.
pub fn write_response_head(
    w: &mut impl Write,
    status: u16,
    reason: &str,
    content_length: u64,
    close: bool,
    content_type: &str,
) -> io::Result<()> {
    refuse_field(reason, "reason phrase", true)?;
    refuse_field(content_type, "content type", true)?;
    let head = response_head(status, reason, content_length, close, content_type);
    w.write_all(head.as_bytes())
}

/// The request path for a file name: `/` followed by the name as one percent-encoded segment.
pub fn path_for_name(name: &str) -> String {
    format!("/{}", utf8_percent_encode(name, SEGMENT))
}

/// Decodes a chunked body from the reader the head came from; reads 0 after the last chunk.
#[derive(Debug)]
pub struct ChunkedReader<R> {
    inner: R,
    left_in_chunk: u64,
    done: bool,
}

impl<R: BufRead> ChunkedReader<R> {
    /// Wraps the reader positioned just after the response head.
    pub fn new(inner: R) -> Self {
        ChunkedReader {
            inner,
            left_in_chunk: 0,
            done: false,
        }
    }

    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.inner
            .by_ref()
            .take(MAX_CHUNK_LINE)
            .read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\n") {
            return Err(chunk_error("chunk line too long or cut short"));
        }
        Ok(line)
    }

    /// Reads the next chunk-size line; at the last chunk, also the trailer section.
    fn start_chunk(&mut self) -> io::Result<()> {
        let line = self.read_line()?;
        let size = match httparse::parse_chunk_size(&line) {
            Ok(httparse::Status::Complete((_, size))) => size,
            _ => return Err(chunk_error("invalid chunk size line")),
        };
        if size == 0 {
            // Trailer fields are allowed after the last chunk; none of them matter here.
            while !matches!(self.read_line()?.as_slice(), b"\r\n" | b"\n") {}
            self.done = true;
        }
        self.left_in_chunk = size;
        Ok(())
    }
}

fn chunk_error(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed chunked body: {what}"),
    )
}

impl<R: BufRead> Read for ChunkedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left_in_chunk == 0 && !self.done {
            self.start_chunk()?;
        }
        if self.done {
            return Ok(0);
        }
        let want =
            usize::try_from(self.left_in_chunk).map_or(buf.len(), |left| left.min(buf.len()));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunk",
            ));
        }
        self.left_in_chunk -= n as u64;
        if self.left_in_chunk == 0 && !matches!(self.read_line()?.as_slice(), b"\r\n" | b"\n") {
            return Err(chunk_error("chunk data not followed by a line break"));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(raw: &str) -> Result<Option<Request>, HttpError> {
        read_request(&mut raw.as_bytes())
    }

    fn response(raw: &str) -> Result<ResponseHead, HttpError> {
        read_response_head(&mut raw.as_bytes())
    }

    // Requests.

    #[test]
    fn http11_request_defaults_to_keep_alive() {
        let req = request("GET /a.jpg HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("valid")
            .expect("not eof");
        assert_eq!(req.method, "GET");
        assert_eq!(req.path, "/a.jpg");
        assert!(req.keep_alive);
    }

    #[test]
    fn connection_close_ends_keep_alive_in_any_token_position() {
        let req = request("GET / HTTP/1.1\r\nHost: x\r\nConnection: TE, Close\r\n\r\n")
            .expect("valid")
            .expect("not eof");
        assert!(!req.keep_alive);
    }

    #[test]
    fn http10_request_closes_unless_it_asks_for_keep_alive() {
        let plain = request("GET / HTTP/1.0\r\n\r\n")
            .expect("valid")
            .expect("not eof");
        assert!(!plain.keep_alive);
        let asked = request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .expect("valid")
            .expect("not eof");
        assert!(asked.keep_alive);
    }

    #[test]
    fn clean_eof_before_any_byte_is_none() {
        assert!(request("").expect("eof is not an error").is_none());
    }

    #[test]
    fn eof_inside_a_head_is_an_error() {
        assert!(matches!(
            request("GET / HTTP/1.1\r\nHost: x\r\n"),
            Err(HttpError::UnexpectedEof)
        ));
    }

    #[test]
    fn malformed_request_line_is_an_error() {
        assert!(matches!(
            request("GARBAGE\x01 / HTTP/9\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            request("GET / HTTP/1.1\r\n\r\n"),
            Err(HttpError::MissingHost)
        ));
    }

    #[test]
    fn oversize_head_is_an_error_even_without_a_newline() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
        assert!(matches!(
            request(&long),
            Err(HttpError::HeadTooLarge {
                first_line: true,
                ..
            })
        ));
        let many_lines = format!("GET / HTTP/1.1\r\n{}\r\n", "X-A: b\r\n".repeat(3000));
        assert!(matches!(
            request(&many_lines),
            Err(HttpError::HeadTooLarge {
                first_line: false,
                ..
            })
        ));
        // Small, but more fields than the parser keeps.
        let many_fields = format!(
            "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
            "X-A: b\r\n".repeat(MAX_HEADERS)
        );
        assert!(matches!(
            request(&many_fields),
            Err(HttpError::TooManyHeaders { limit: MAX_HEADERS })
        ));
    }

    #[test]
    fn a_request_line_that_fills_the_bound_to_its_newline_is_the_line_too_large() {
        let target = "a".repeat(MAX_HEAD_BYTES - "GET / HTTP/1.1\r\n".len());
        let line = format!("GET /{target} HTTP/1.1\r\n");
        assert_eq!(line.len(), MAX_HEAD_BYTES);
        assert!(matches!(
            request(&format!("{line}Host: x\r\n\r\n")),
            Err(HttpError::HeadTooLarge {
                first_line: true,
                ..
            })
        ));
    }

    #[test]
    fn a_body_the_peer_cut_short_is_named_as_the_body() {
        for raw in [
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab",
            "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\na\r\nab",
        ] {
            let error = request(raw).expect_err("cut short");
            assert!(
                matches!(error, HttpError::BodyCutShort),
                "{raw:?}: {error:?}"
            );
            assert_eq!(
                error.to_string(),
                "connection closed inside the request's body"
            );
        }
    }

    #[test]
    fn a_later_http_1_minor_version_is_read_as_http_1_1() {
        let req = request("GET /a HTTP/1.2\r\nHost: x\r\n\r\n")
            .expect("valid")
            .expect("not eof");
        assert_eq!(req.path, "/a");
        assert!(
            req.keep_alive,
            "read as HTTP/1.1, whose default is keep-alive"
        );
        assert!(matches!(
            request("GET /a HTTP/1.9\r\n\r\n"),
            Err(HttpError::MissingHost)
        ));
    }

    #[test]
    fn another_major_version_is_not_supported() {
        for version in ["HTTP/2.0", "HTTP/3.0", "HTTP/0.9"] {
            let raw = format!("GET / {version}\r\nHost: x\r\n\r\n");
            match request(&raw) {
                Err(HttpError::VersionNotSupported(said)) => assert_eq!(said, version),
                other => panic!("{version}: {other:?}"),
            }
        }
        // Not a version at all: still malformed.
        assert!(matches!(
            request("GET / HTTP/x.1\r\nHost: x\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
    }

    #[test]
    fn a_small_request_body_is_skipped_so_the_next_request_stays_framed() {
        let raw = "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut reader = raw.as_bytes();
        let first = read_request(&mut reader).expect("valid").expect("one");
        let second = read_request(&mut reader).expect("valid").expect("two");
        assert_eq!((first.path.as_str(), second.path.as_str()), ("/a", "/b"));
        assert!(read_request(&mut reader).expect("eof").is_none());
    }

    #[test]
    fn a_small_chunked_request_body_is_skipped_so_the_next_request_stays_framed() {
        let raw = "GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                   5\r\nhello\r\n0\r\n\r\n\
                   GET /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
                   GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut reader = raw.as_bytes();
        let paths: Vec<String> = std::iter::from_fn(|| read_request(&mut reader).expect("valid"))
            .map(|r| r.path)
            .collect();
        assert_eq!(paths, ["/a", "/b", "/c"]);
        // Past the bound, and with a chunk that does not parse: refused.
        let large = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
            MAX_DISCARDED_BODY + 1,
            "z".repeat(MAX_DISCARDED_BODY as usize + 1)
        );
        assert!(matches!(
            request(&large),
            Err(HttpError::ChunkedBodyTooLarge { .. })
        ));
        assert!(matches!(
            request("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            Err(HttpError::Malformed(_))
        ));
    }

    #[test]
    fn other_codings_or_ambiguous_request_bodies_are_refused() {
        assert!(matches!(
            request("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Err(HttpError::UnsupportedTransferEncoding(_))
        ));
        assert!(matches!(
            request(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\
                 Transfer-Encoding: chunked\r\n\r\n"
            ),
            Err(HttpError::UnsupportedTransferEncoding(_))
        ));
        assert!(matches!(
            request(
                "GET / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n\
                 0\r\n\r\n"
            ),
            Err(HttpError::UnsupportedTransferEncoding(_))
        ));
        assert!(matches!(
            request("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Err(HttpError::BadContentLength(_))
        ));
    }

    // Responses.

    #[test]
    fn response_head_with_content_length() {
        let head = response("HTTP/1.1 200 OK\r\nContent-Length: 245760\r\n\r\n").expect("valid");
        assert_eq!(
            head,
            ResponseHead {
                status: 200,
                content_length: Some(245760),
                close: false,
                chunked: false,
            }
        );
    }

    #[test]
    fn response_close_follows_the_version_default() {
        assert!(
            response("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                .expect("valid")
                .close
        );
        assert!(response("HTTP/1.0 200 OK\r\n\r\n").expect("valid").close);
    }

    #[test]
    fn interim_responses_are_skipped() {
        let head = response("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
            .expect("valid");
        assert_eq!(head.status, 204);
        assert_eq!(head.content_length, Some(0), "a 204 has no body");
    }

    #[test]
    fn bytes_that_cannot_begin_a_request_are_refused_before_a_newline() {
        for raw in [&b"\x16\x03\x01\x02\x00"[..], b"GET\x00", b"\r\n{\"json\":1"] {
            let mut reader = raw;
            assert!(
                matches!(read_request(&mut reader), Err(HttpError::Malformed(_))),
                "{raw:?}"
            );
        }
        assert!(could_start_a_request(b"GE"));
        assert!(could_start_a_request(b"\r\nGET /"));
    }

    #[test]
    fn an_endless_stream_of_interim_responses_is_an_error() {
        let raw = "HTTP/1.1 100 Continue\r\n\r\n".repeat(100) + "HTTP/1.1 200 OK\r\n\r\n";
        assert!(matches!(
            response(&raw),
            Err(HttpError::Malformed(message)) if message.contains("interim")
        ));
    }

    #[test]
    fn bad_content_length_is_an_error() {
        assert!(matches!(
            response("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n"),
            Err(HttpError::BadContentLength(_))
        ));
    }

    #[test]
    fn chunked_body_decodes_and_ends_the_message() {
        let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                   5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        let mut reader = raw.as_bytes();
        let head = read_response_head(&mut reader).expect("valid");
        assert!(head.chunked);
        assert_eq!(head.content_length, None);
        let mut body = String::new();
        ChunkedReader::new(&mut reader)
            .read_to_string(&mut body)
            .expect("valid chunks");
        assert_eq!(body, "hello, world");
        assert_eq!(reader, b"NEXT");
    }

    #[test]
    fn response_round_trip() {
        let mut wire = Vec::new();
        write_response_head(&mut wire, 200, "OK", 11264, true, "text/plain").expect("in memory");
        let head = read_response_head(&mut wire.as_slice()).expect("valid");
        assert_eq!(
            head,
            ResponseHead {
                status: 200,
                content_length: Some(11264),
                close: true,
                chunked: false,
            }
        );
    }

    #[test]
    fn request_round_trip() {
        let mut wire = Vec::new();
        write_request(&mut wire, "127.0.0.1:8080", "/b.mp3", false).expect("in memory");
        let req = read_request(&mut wire.as_slice())
            .expect("valid")
            .expect("not eof");
        assert_eq!(
            req,
            Request {
                method: "GET".into(),
                path: "/b.mp3".into(),
                keep_alive: true,
            }
        );
        let mut wire = Vec::new();
        write_request(&mut wire, "h", "/x", true).expect("in memory");
        assert!(
            !read_request(&mut wire.as_slice())
                .expect("valid")
                .expect("one")
                .keep_alive
        );
    }

    #[test]
    fn header_injection_is_refused_when_writing() {
        let mut wire = Vec::new();
        assert!(write_request(&mut wire, "h", "/a\r\nX: y", true).is_err());
        assert!(write_response_head(&mut wire, 200, "OK\r\n", 0, true, "text/plain").is_err());
        assert!(wire.is_empty());
    }

    #[test]
    fn names_become_one_encoded_segment() {
        assert_eq!(path_for_name("a b/c%.txt"), "/a%20b%2Fc%25.txt");
        assert_eq!(path_for_name("a.jpg"), "/a.jpg");
    }
}
