//! Transfer layer, server: the status codes the server answers with. Must not import the rest of
//! the server, the client, capture or report code.

/// A status code with its reason phrase.
pub(super) type Status = (u16, &'static str);

pub(super) const OK: Status = (200, "OK");
pub(super) const BAD_REQUEST: Status = (400, "Bad Request");
pub(super) const REQUEST_TIMEOUT: Status = (408, "Request Timeout");
pub(super) const FORBIDDEN: Status = (403, "Forbidden");
pub(super) const NOT_FOUND: Status = (404, "Not Found");
pub(super) const METHOD_NOT_ALLOWED: Status = (405, "Method Not Allowed");
pub(super) const URI_TOO_LONG: Status = (414, "URI Too Long");
pub(super) const TOO_EARLY: Status = (425, "Too Early");
pub(super) const HEADERS_TOO_LARGE: Status = (431, "Request Header Fields Too Large");
pub(super) const VERSION_NOT_SUPPORTED: Status = (505, "HTTP Version Not Supported");
