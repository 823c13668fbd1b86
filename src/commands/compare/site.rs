//! `compare` on URLs: the ones given (as arguments, in a file, or a page and what it loads from
//! its own server), their one server, and each response's size, digest and status as a first
//! fetch finds them.

use std::path::Path;

use anyhow::{Context, bail};

use crate::analysis::comparison::SourceFile;
use crate::cli::CompareArgs;
use crate::commands::urls::{Site, parse, site, sites};
use crate::transfer::client::{FetchLimits, FetchPlan, fetch_sites};
use crate::transfer::run::Mode;
use crate::transfer::tls::ClientTls;

/// The URLs asked for, on their servers; none when the built-in server's files are compared.
pub(super) fn asked_sites(args: &CompareArgs) -> anyhow::Result<Vec<Site>> {
    let urls: Vec<String> = if let Some(file) = &args.urls_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read --urls {}", file.display()))?;
        let urls: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
        if urls.is_empty() {
            bail!("--urls {}: no URL in it", file.display());
        }
        urls
    } else if let Some(page) = &args.page {
        page_and_what_it_loads(page, args)?
    } else {
        args.urls.clone()
    };
    if urls.is_empty() {
        return Ok(Vec::new());
    }
    sites(&urls)
}

/// The client's TLS for `site`: verifying its certificate against the system's roots, or the
/// CAs of --cacert.
fn site_tls(site: &Site, args: &CompareArgs) -> anyhow::Result<Option<ClientTls>> {
    match args.tls.options(site.https).map_err(anyhow::Error::msg)? {
        Some(_) if !site.https => bail!("--tls asks for https:// URLs: {}", site.urls[0]),
        Some(options) => Ok(Some(
            ClientTls::verifying(args.cacert.as_deref(), &site.host, options)
                .context("cannot set up TLS")?,
        )),
        None => Ok(None),
    }
}

/// A plan for each server's URLs, keeping responses of any status.
pub(super) fn site_plans(sites: &[Site], args: &CompareArgs) -> anyhow::Result<Vec<FetchPlan>> {
    if args.cacert.is_some() && !sites.iter().any(|s| s.https) {
        bail!("--cacert is for https:// URLs");
    }
    sites
        .iter()
        .map(|site| {
            Ok(FetchPlan {
                addr: site.addr,
                host: site.host_header.clone(),
                paths: site.paths.clone(),
                out_dir: args.out.clone(),
                expected_sha256: None,
                parallel: args.parallel,
                rcvbuf: args.rcvbuf,
                fastopen: false,
                tls: site_tls(site, args)?,
                names: Some(site.names.clone()),
                any_status: true,
                h3_tls: None,
                limits: FetchLimits {
                    per_file: args
                        .timeout
                        .unwrap_or(crate::transfer::client::DEFAULT_TIMEOUT),
                    max_size: None,
                },
            })
        })
        .collect()
}

/// Fetches every URL once (persistent, the servers at once) into `dir`: each response's name,
/// size, digest and status, which the report gives beside its timing.
pub(super) fn first_look(plans: &[FetchPlan], dir: &Path) -> anyhow::Result<Vec<SourceFile>> {
    let plans: Vec<FetchPlan> = plans
        .iter()
        .map(|plan| FetchPlan {
            out_dir: dir.to_path_buf(),
            ..plan.clone()
        })
        .collect();
    let run = fetch_sites(Mode::Persistent, &plans, None).context("cannot fetch the URLs")?;
    Ok(run
        .files
        .iter()
        .map(|f| SourceFile {
            name: f.name.clone(),
            bytes: f.bytes,
            sha256: f.sha256.clone(),
            status: Some(f.status),
        })
        .collect())
}

/// `page` and the images, scripts and style sheets its HTML references on the same server, in
/// the order they appear, each once.
fn page_and_what_it_loads(page: &str, args: &CompareArgs) -> anyhow::Result<Vec<String>> {
    let base = parse(page)?;
    let one = site(&[page.to_owned()])?;
    let plans = site_plans(std::slice::from_ref(&one), args)?;
    let dir = tempfile::Builder::new()
        .prefix("synack-page-")
        .tempdir()
        .context("cannot make a temporary folder for the page")?;
    let files = first_look(&plans, dir.path())?;
    match files.first().and_then(|f| f.status) {
        Some(200) => {}
        Some(status) => bail!("--page {page}: the server answered {status}, not the page"),
        None => bail!("--page {page}: no response"),
    }
    let saved = dir
        .path()
        .join(Mode::Persistent.name())
        .join(&files[0].name);
    let html = std::fs::read(saved).with_context(|| format!("cannot read the page {page} back"))?;
    let mut urls = vec![page.to_owned()];
    for reference in references(&String::from_utf8_lossy(&html)) {
        let Ok(url) = base.join(&reference) else {
            continue;
        };
        let same_server = url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default();
        let mut url = url;
        url.set_fragment(None);
        if same_server && !urls.contains(&url.to_string()) {
            urls.push(url.to_string());
        }
    }
    Ok(urls)
}

/// What an HTML page loads as it is shown: `img src`, `script src`, and `link href` with rel
/// stylesheet, in document order.
fn references(html: &str) -> Vec<String> {
    let document = scraper::Html::parse_document(html);
    let selector =
        scraper::Selector::parse("img[src], script[src], link[href]").expect("a valid selector");
    document
        .select(&selector)
        .filter_map(|element| {
            let e = element.value();
            match e.name() {
                "link" => {
                    let rel = e.attr("rel").unwrap_or_default().to_ascii_lowercase();
                    rel.split_ascii_whitespace()
                        .any(|r| r == "stylesheet")
                        .then(|| e.attr("href"))
                        .flatten()
                }
                _ => e.attr("src"),
            }
        })
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::references;

    #[test]
    fn a_page_loads_its_images_scripts_and_style_sheets() {
        let html = r#"<!doctype html><html><head>
            <link rel="stylesheet" href="/s.css"><link rel="icon" href="/f.ico">
            <LINK REL="Alternate Stylesheet" HREF="alt.css">
            <script src="a.js"></script><script>inline()</script></head>
            <body><img src="i.png"><img alt="no source"><a href="/not-loaded.html">x</a>
            <img src=https://other.example/x.png></body></html>"#;
        assert_eq!(
            references(html),
            [
                "/s.css",
                "alt.css",
                "a.js",
                "i.png",
                "https://other.example/x.png"
            ]
        );
    }
}
