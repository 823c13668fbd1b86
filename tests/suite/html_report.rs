//! The HTML report opened in a real browser: headless Chromium must draw it (a screenshot that is
//! not one colour), its DOM must hold one ladder per drawn connection and one waterfall bar per
//! file, its check script must have run, and the console must stay silent. Made from a `synack
//! compare` on loopback (root) and from `synack analyze` of a capture tcpdump took of curl
//! fetching from `synack serve` (root); the page's structure is also checked without root.

use crate::common;
use crate::fixtures;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Stopped, free_port};
use serde_json::Value;

/// The largest report.html the default comparison may make.
const MAX_REPORT_BYTES: usize = 2 << 20;

/// What the headless browser made of a page.
struct Rendered {
    dom: String,
    console: Vec<String>,
    screenshot: PathBuf,
}

/// The Chromium binary, installed from Debian's packages when missing and root; None (a skip)
/// when it cannot be had, a failure under CI.
fn chromium(test: &str) -> Option<PathBuf> {
    let find = || {
        ["chromium", "chromium-browser"].into_iter().find(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    };
    if find().is_none() && common::is_root() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-deps.sh");
        let _ = Command::new(script).arg("--test").status();
    }
    match find() {
        Some(name) => Some(PathBuf::from(name)),
        None => {
            assert!(
                !common::in_ci(),
                "{test}: chromium must be installed under CI (scripts/install-deps.sh --test)"
            );
            println!("skipping the browser check in {test}: chromium is not installed");
            None
        }
    }
}

/// Opens `page` in headless Chromium twice: once dumping the DOM (with the console logged to
/// stderr), once taking a screenshot.
fn render(browser: &Path, page: &Path, scratch: &Path) -> Rendered {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let run = |extra: &[&str], profile: &str| {
        assert_cmd::Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!(
                "--user-data-dir={}",
                scratch.join(profile).display()
            ))
            .args(extra)
            .arg(&url)
            .env("HOME", scratch)
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap()
    };
    let dumped = run(&["--dump-dom"], "dom");
    assert!(
        dumped.status.success(),
        "chromium --dump-dom failed: {}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    let console = String::from_utf8_lossy(&dumped.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_owned)
        .collect();
    let screenshot = scratch.join("shot.png");
    let shot = run(
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1400,3000",
        ],
        "shot",
    );
    assert!(
        shot.status.success() && screenshot.exists(),
        "chromium --screenshot failed: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    Rendered {
        dom: String::from_utf8_lossy(&dumped.stdout).into_owned(),
        console,
        screenshot,
    }
}

/// How many pixels of the PNG differ from its first one, and how many distinct colours it has.
fn png_spread(path: &Path) -> (usize, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.line_size / info.width as usize;
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(bpp).collect();
    let first = pixels[0];
    let differing = pixels.iter().filter(|p| *p != &first).count();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    (differing, colours.len())
}

/// Checks what every report must show in the browser: drawn, the script ran, no console output,
/// `ladders` ladder diagrams and `bars` waterfall bars.
fn assert_rendered(r: &Rendered, ladders: usize, bars: usize) {
    assert!(
        r.dom.contains("data-rendered=\"ok\""),
        "the page's check script did not mark it drawn: {}",
        r.dom
            .find("data-rendered")
            .map_or("no mark at all", |i| &r.dom[i..(i + 80).min(r.dom.len())])
    );
    assert!(r.console.is_empty(), "console output: {:?}", r.console);
    assert_eq!(
        r.dom.matches("class=\"ladder\"").count(),
        ladders,
        "ladder diagrams"
    );
    assert_eq!(r.dom.matches("class=\"wf-bar\"").count(), bars, "bars");
    let (differing, colours) = png_spread(&r.screenshot);
    assert!(
        differing > 10_000 && colours > 8,
        "the screenshot is blank: {differing} pixels differ from the first, {colours} colours"
    );
}

/// Nothing on the page is fetched from anywhere: no external scripts, styles, fonts or images.
fn assert_self_contained(html: &str) {
    for needle in ["<link", "src=", "@import", "url(", "https://"] {
        assert!(!html.contains(needle), "the page refers outside: {needle}");
    }
    let http: Vec<&str> = html
        .match_indices("http://")
        .map(|(i, _)| &html[i..(i + 30).min(html.len())])
        .filter(|s| !s.starts_with("http://www.w3.org/2000/svg"))
        .collect();
    assert!(http.is_empty(), "the page refers outside: {http:?}");
}

#[test]
fn compare_on_loopback_writes_a_report_chromium_draws_as_root() {
    if !common::require_root("compare_on_loopback_writes_a_report_chromium_draws_as_root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = common::synack()
        .args(["compare", "--no-pdf", "--full", "--rounds", "3"])
        .arg("--captures")
        .arg(dir.path().join("captures"))
        .arg("--out")
        .arg(dir.path().join("received"))
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    common::ran(&out);
    let run_dir = std::fs::read_dir(dir.path().join("captures"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let page = run_dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.len() <= MAX_REPORT_BYTES,
        "report.html is {} bytes",
        html.len()
    );
    assert_self_contained(&html);
    for link in [
        "href=\"non-persistent.pcapng\"",
        "href=\"persistent.pcapng\"",
    ] {
        assert!(html.contains(link), "no link {link}");
    }
    let report: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).unwrap()).unwrap();
    let files = report["files"].as_array().unwrap().len();
    for line in report["summary"].as_array().unwrap() {
        let line = line.as_str().unwrap();
        let escaped = line.replace('&', "&amp;").replace('<', "&lt;");
        assert!(
            html.contains(&escaped),
            "the opening sentence {line:?} is not on the page"
        );
    }
    // What the terminal says of the model's premise, the phases' source, the slow-start
    // table's times and the kernel, the page says too (piped, the terminal's lines are whole).
    let stdout = String::from_utf8_lossy(&out.stdout);
    for start in [
        "The model (RTT ",
        "Phases, from the capture",
        "busy and limited",
        "Kernel: ",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no {start:?} line in {stdout}"));
        let escaped = line
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;");
        assert!(html.contains(&escaped), "{line:?} is not on the page");
    }
    // The drawn round is the one the page names; its connections are in the JSON.
    let at = html
        .find("data-round=\"")
        .expect("the ladders name their round")
        + 12;
    let round: usize = html[at..at + html[at..].find('"').unwrap()]
        .parse()
        .unwrap();
    let mut ladders = 0;
    for mode in ["non-persistent", "persistent"] {
        let run = &report["modes"][mode]["runs"][round];
        ladders += run["totals"]["connections"].as_u64().unwrap() as usize;
        let phases = run["file_phases"].as_array().unwrap();
        assert_eq!(
            phases.len(),
            files,
            "{mode}: one file_phases entry per file"
        );
        for f in phases {
            let total: f64 = [
                "between_s",
                "handshake_s",
                "client_s",
                "wait_s",
                "transfer_s",
                "closing_s",
            ]
            .iter()
            .map(|k| f[k].as_f64().unwrap())
            .sum();
            assert!(total > 0.0, "{mode}: {f}");
        }
    }
    assert_eq!(ladders, 4, "3 non-persistent connections and 1 persistent");
    let Some(browser) = chromium("compare_on_loopback_writes_a_report_chromium_draws_as_root")
    else {
        return;
    };
    // Chromium takes the cores for a second or two: not beside an emulated link's test.
    let _quiet = common::link_slot();
    let rendered = render(&browser, &page, dir.path());
    assert_rendered(&rendered, ladders, 2 * files);
}

#[test]
fn analyze_html_of_tcpdump_capturing_curl_renders_in_chromium_as_root() {
    let test = "analyze_html_of_tcpdump_capturing_curl_renders_in_chromium_as_root";
    if !common::require_root(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    let files = [
        ("big.bin", 300_000usize),
        ("mid.txt", 40_000),
        ("small.txt", 900),
    ];
    for (name, size) in files {
        let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(site.join(name), bytes).unwrap();
    }
    let port = free_port();
    let _server = Stopped(
        Command::new(assert_cmd::cargo::cargo_bin("synack"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--root"])
            .arg(&site)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "synack serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let capture = dir.path().join("curl.pcap");
    let mut tcpdump = Stopped(
        Command::new("tcpdump")
            .args([
                "-i",
                "lo",
                "--immediate-mode",
                "-U",
                "-n",
                "-s",
                "256",
                "-w",
            ])
            .arg(&capture)
            .arg(format!("tcp port {port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump (scripts/install-deps.sh --test)"),
    );
    // tcpdump writes the file's header once it listens.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&capture).map_or(0, |m| m.len()) < 24 {
        assert!(Instant::now() < deadline, "tcpdump did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let url = |name: &str| format!("http://127.0.0.1:{port}/{name}");
    // One keep-alive connection for all three files, then one more for the first again.
    for urls in [
        files.iter().map(|f| url(f.0)).collect::<Vec<_>>(),
        vec![url(files[0].0)],
    ] {
        let status = Command::new("curl")
            .args(["-sS", "--fail"])
            .args(urls.iter().flat_map(|u| ["-o", "/dev/null", u.as_str()]))
            .status()
            .expect("curl");
        assert!(status.success(), "curl failed");
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill only signals the tcpdump child started above, by its pid.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(tcpdump.0.id() as libc::pid_t, libc::SIGINT);
    }
    let _ = tcpdump.0.wait();

    let page = dir.path().join("curl.html");
    let out = common::synack()
        .arg("analyze")
        .arg(&capture)
        .arg("--html")
        .arg(&page)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    common::ran(&out);
    let html = std::fs::read_to_string(&page).unwrap();
    assert_self_contained(&html);
    assert!(
        html.contains("href=\"curl.pcap\""),
        "no link to the capture"
    );
    let Some(browser) = chromium(test) else {
        return;
    };
    // Chromium takes the cores for a second or two: not beside an emulated link's test.
    let _quiet = common::link_slot();
    let rendered = render(&browser, &page, dir.path());
    assert_rendered(&rendered, 2, files.len() + 1);
}

#[test]
fn analyze_html_of_a_built_capture_draws_each_connection_and_request() {
    use fixtures::{Capture, Link};
    let dir = tempfile::tempdir().unwrap();
    let capture = Capture::one_request_each(&["/a.jpg", "/b.mp3"], 30_000);
    let path = dir.path().join("built.pcap");
    common::write_pcap(&path, 1, &capture.frames(Link::Ethernet));
    let page = dir.path().join("built.html");
    common::synack()
        .arg("analyze")
        .arg(&path)
        .arg("--html")
        .arg(&page)
        .assert()
        .success();
    let html = std::fs::read_to_string(&page).unwrap();
    assert_self_contained(&html);
    assert_eq!(html.matches("class=\"ladder\"").count(), 2);
    assert_eq!(html.matches("class=\"wf-bar\"").count(), 2);
    assert_eq!(html.matches("class=\"tseq\"").count(), 2);
    for arrow in [">SYN<", ">SYN-ACK<", ">FIN<"] {
        assert!(html.contains(arrow), "no {arrow} arrow");
    }
    assert!(
        html.contains("<title>"),
        "arrows carry their packets' details"
    );

    common::synack()
        .arg("analyze")
        .arg("-")
        .arg("--html")
        .arg(dir.path().join("stdin.html"))
        .write_stdin(std::fs::read(&path).unwrap())
        .assert()
        .failure();
}
