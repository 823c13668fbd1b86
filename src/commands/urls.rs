//! The URLs `fetch` and `compare` take: checked, put on their one origin (scheme, host, port),
//! resolved once, and each given the name its file is saved under.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context, bail};

/// URLs on one origin, ready to become a fetch plan.
#[derive(Debug, Clone)]
pub struct Site {
    /// https:// rather than http://.
    pub https: bool,
    /// The host as written in the URLs (a name or an address).
    pub host: String,
    /// The value of the Host header: the host, and the port unless it is the scheme's default.
    pub host_header: String,
    /// The address the host resolved to, once, for every request.
    pub addr: SocketAddr,
    /// Each URL's request target (path and query), in the order given.
    pub paths: Vec<String>,
    /// The name each response is saved under: the path's last segment decoded (`index.html` for
    /// a path ending in `/`), made unique with `-2`, `-3` before the extension.
    pub names: Vec<String>,
    /// The URLs as given.
    pub urls: Vec<String>,
}

/// A URL's scheme, host and port.
type Origin = (String, String, u16);

/// Checks `urls`, which must share one origin, and resolves its host.
pub fn site(urls: &[String]) -> anyhow::Result<Site> {
    let mut sites = sites(urls)?;
    if sites.len() > 1 {
        let first = &sites[0];
        let other = &sites[1];
        bail!(
            "{}: every URL must be on {}://{} (one server at a time)",
            other.urls[0],
            if first.https { "https" } else { "http" },
            first.host_header
        );
    }
    sites.pop().context("no URL given")
}

/// Checks `urls` and puts them on their origins (scheme, host and port), in the order each origin
/// first appears, each URL keeping its place among its origin's; resolves each host once. The
/// names the files are saved under are unique across every origin.
pub fn sites(urls: &[String]) -> anyhow::Result<Vec<Site>> {
    // Each origin (scheme, host, port) with its URLs' request targets and the URLs as given.
    let mut origins: Vec<(Origin, Vec<(String, String)>)> = Vec::new();
    for raw in urls {
        let url = parse(raw)?;
        let origin = (
            url.scheme().to_owned(),
            url.host_str().unwrap_or_default().to_owned(),
            url.port_or_known_default().unwrap_or(80),
        );
        let mut path = url.path().to_owned();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        match origins.iter_mut().find(|(o, _)| *o == origin) {
            Some((_, paths)) => paths.push((path, raw.clone())),
            None => origins.push((origin, vec![(path, raw.clone())])),
        }
    }
    if origins.is_empty() {
        bail!("no URL given");
    }
    let every_path: Vec<String> = origins
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(path, _)| path.clone()))
        .collect();
    let mut names = unique_names(&every_path).into_iter();
    origins
        .into_iter()
        .map(|((scheme, host, port), paths)| {
            let https = scheme == "https";
            let default_port = if https { 443 } else { 80 };
            let host_header = if port == default_port {
                host.clone()
            } else {
                format!("{host}:{port}")
            };
            // A bracketed IPv6 literal resolves without its brackets.
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let addr = (bare, port)
                .to_socket_addrs()
                .with_context(|| format!("cannot resolve {host}"))?
                .next()
                .with_context(|| format!("{host} has no address"))?;
            Ok(Site {
                https,
                host,
                host_header,
                addr,
                names: names.by_ref().take(paths.len()).collect(),
                urls: paths.iter().map(|(_, raw)| raw.clone()).collect(),
                paths: paths.into_iter().map(|(path, _)| path).collect(),
            })
        })
        .collect()
}

/// `raw` as an http:// or https:// URL with a host, or one line saying what is wrong with it.
pub fn parse(raw: &str) -> anyhow::Result<url::Url> {
    if !raw.contains("://") {
        bail!("{raw:?} has no scheme: write it as http://{raw}");
    }
    let url = url::Url::parse(raw).with_context(|| format!("bad URL {raw:?}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        bail!("{raw}: only http:// and https:// URLs are supported");
    }
    if url.host_str().is_none_or(str::is_empty) {
        bail!("{raw}: no host");
    }
    Ok(url)
}

/// Each path's file name: its decoded last segment, `index.html` where that is empty or
/// unusable, with `-2`, `-3` … before the extension where two would be the same.
fn unique_names(paths: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(paths.len());
    for path in paths {
        let end = path.find(['?', '#']).unwrap_or(path.len());
        let last = path[..end].rsplit('/').next().unwrap_or_default();
        let decoded = percent_encoding::percent_decode_str(last).decode_utf8_lossy();
        let usable = !(decoded.is_empty()
            || decoded == "."
            || decoded == ".."
            || decoded.contains(['/', '\\', '\0']));
        let name = if usable {
            decoded.into_owned()
        } else {
            "index.html".to_owned()
        };
        let (stem, extension) = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem.to_owned(), format!(".{ext}")),
            _ => (name.clone(), String::new()),
        };
        let mut candidate = name;
        let mut n = 2;
        while names.contains(&candidate) {
            candidate = format!("{stem}-{n}{extension}");
            n += 1;
        }
        names.push(candidate);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_last_segments_made_unique() {
        let paths: Vec<String> = [
            "/",
            "/a/logo.png",
            "/b/logo.png",
            "/x?y=1",
            "/s/",
            "/%41.txt",
        ]
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
        assert_eq!(
            unique_names(&paths),
            [
                "index.html",
                "logo.png",
                "logo-2.png",
                "x",
                "index-2.html",
                "A.txt"
            ]
        );
    }

    #[test]
    fn urls_on_two_origins_are_refused_in_one_line() {
        let urls = [
            "http://127.0.0.1:8080/a".to_owned(),
            "http://127.0.0.1:8081/b".to_owned(),
        ];
        let error = site(&urls).unwrap_err().to_string();
        assert!(error.contains("one server at a time"), "{error}");
        let error = site(&["127.0.0.1/a".to_owned()]).unwrap_err().to_string();
        assert!(error.contains("no scheme"), "{error}");
        let error = site(&["ftp://h/a".to_owned()]).unwrap_err().to_string();
        assert!(error.contains("only http"), "{error}");
    }

    #[test]
    fn urls_are_put_on_their_origins_in_the_order_each_first_appears() {
        let urls: Vec<String> = [
            "http://127.0.0.1:8081/a.png",
            "http://127.0.0.1:8080/",
            "http://127.0.0.1:8081/b/a.png",
            "https://127.0.0.1:8080/x",
        ]
        .iter()
        .map(|u| (*u).to_owned())
        .collect();
        let sites = sites(&urls).unwrap();
        let origins: Vec<(&str, bool)> = sites
            .iter()
            .map(|s| (s.host_header.as_str(), s.https))
            .collect();
        assert_eq!(
            origins,
            [
                ("127.0.0.1:8081", false),
                ("127.0.0.1:8080", false),
                ("127.0.0.1:8080", true)
            ]
        );
        assert_eq!(sites[0].paths, ["/a.png", "/b/a.png"]);
        assert_eq!(sites[0].names, ["a.png", "a-2.png"]);
        assert_eq!(sites[1].names, ["index.html"]);
        assert_eq!(sites[2].urls, ["https://127.0.0.1:8080/x"]);
    }

    #[test]
    fn the_host_header_leaves_out_the_default_port() {
        let s = site(&["http://127.0.0.1/a".to_owned()]).unwrap();
        assert_eq!(s.host_header, "127.0.0.1");
        let s = site(&["https://127.0.0.1:8443/a".to_owned()]).unwrap();
        assert_eq!(s.host_header, "127.0.0.1:8443");
        assert!(s.https);
        let s = site(&["http://[::1]:8080/a".to_owned()]).unwrap();
        assert_eq!(s.addr, "[::1]:8080".parse().unwrap());
    }
}
