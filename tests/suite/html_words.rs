//! Words people read: counts with their nouns on `analyze --html`'s page, and the one line
//! `synack files` says when it cannot write. The real binary on files the tests make; no root.

use crate::fixtures;

#[test]
fn analyze_page_counts_one_connection_and_one_segment_in_the_singular() {
    let html = fixtures::analyze_page(&["/a.jpg"], 100);
    let meta = &html[html.find("<p class=\"meta\">").unwrap()..];
    let meta = &meta[..meta.find("</p>").unwrap()];
    assert!(meta.contains(" TCP packets, 1 connection."), "{meta}");
    assert!(!html.contains("1 connections"), "{meta}");
    let bands: Vec<&str> = html
        .split("<text class=\"band-label\"")
        .skip(1)
        .map(|t| &t[t.find("</title>").unwrap() + 8..t.find("</text>").unwrap()])
        .collect();
    assert_eq!(bands, ["round 1: 1 segment, 140 B"]);
    assert!(
        !html.contains(" 1 segments"),
        "a title still says 1 segments"
    );
}

#[test]
fn files_into_a_regular_file_says_it_is_a_file_not_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site2");
    std::fs::write(&site, b"not a folder").unwrap();
    let out = assert_cmd::Command::cargo_bin("synack")
        .unwrap()
        .arg("files")
        .arg("--set")
        .arg("compare")
        .arg(&site)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "synack: cannot write the files into {}: it is a file, not a folder\n",
            site.display()
        )
    );
    assert_eq!(std::fs::read(&site).unwrap(), b"not a folder");
}

#[test]
fn files_under_a_regular_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site2");
    std::fs::write(&site, b"not a folder").unwrap();
    let inner = site.join("inner");
    let out = assert_cmd::Command::cargo_bin("synack")
        .unwrap()
        .arg("files")
        .arg(&inner)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "synack: cannot write the files into {}: {} is a file, not a folder\n",
            inner.display(),
            site.display()
        )
    );
}
