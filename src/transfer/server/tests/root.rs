//! Tests of the served root: which request targets map to which files, and which are refused.

use super::*;

#[test]
fn resolve_serves_files_under_the_root() {
    let site = site();
    let root = site.root.canonicalize().expect("canonical");
    assert_eq!(
        resolve(&site.root, "/hello.txt?x=1"),
        Ok(root.join("hello.txt"))
    );
    assert_eq!(
        resolve(&site.root, "/a/in%20sub.jpg"),
        Ok(root.join("a").join("in sub.jpg"))
    );
    // A symlink that stays inside the root is served as its target.
    assert_eq!(resolve(&site.root, "/in"), Ok(root.join("hello.txt")));
    // Absolute-form, as a proxy sends it.
    assert_eq!(
        resolve(&site.root, "http://example.com/hello.txt"),
        Ok(root.join("hello.txt"))
    );
    assert_eq!(resolve(&site.root, "HTTP://h:80"), Err(Refusal::NotFound));
}

#[test]
fn resolve_refuses_traversal_in_every_spelling() {
    let site = site();
    for path in [
        "/../etc/passwd",
        "/%2e%2e/x",
        "/..%2fx",
        "/a/%2E%2E/%2E%2E/x",
        "/../secret.txt",
        "//etc/passwd",
        "/a/..\\..\\secret.txt",
        "/a%5c..%5csecret.txt",
        "/./hello.txt",
    ] {
        assert_eq!(resolve(&site.root, path), Err(Refusal::Forbidden), "{path}");
    }
}

#[test]
fn resolve_refuses_a_symlink_leading_out_of_the_root() {
    let site = site();
    assert!(site.secret.exists());
    assert_eq!(resolve(&site.root, "/out"), Err(Refusal::Forbidden));
}

#[test]
fn the_open_root_serves_what_resolve_serves_and_refuses_what_it_refuses() {
    let site = site();
    std::os::unix::fs::symlink("../secret.txt", site.root.join("up")).expect("symlink");
    std::os::unix::fs::symlink("hello.txt", site.root.join("near")).expect("symlink");
    let root = Root::new(site.root.canonicalize().expect("canonical"));
    let status = |target: &str| match root.open(target).expect("metadata") {
        Ok(served) => (OK.0, served.length, served.content_type),
        Err(status) => (status.0, 0, ""),
    };
    let text = "text/plain; charset=utf-8";
    assert_eq!(status("/hello.txt"), (200, 6, text));
    assert_eq!(status("/in"), (200, 6, text));
    assert_eq!(status("/near"), (200, 6, text));
    assert_eq!(status("/a/in%20sub.jpg"), (200, 2, "image/jpeg"));
    for target in [
        "/out",
        "/up",
        "/../secret.txt",
        "/a/%2e%2e/%2e%2e/secret.txt",
    ] {
        assert_eq!(status(target).0, 403, "{target}");
    }
    for target in ["/", "/a", "/a/", "/missing"] {
        assert_eq!(status(target).0, 404, "{target}");
    }
}

#[test]
fn resolve_rejects_unusable_targets() {
    let site = site();
    for path in ["/%00", "/hello.txt%00.jpg", "hello.txt", "*", "/%ff"] {
        assert_eq!(
            resolve(&site.root, path),
            Err(Refusal::BadRequest),
            "{path}"
        );
    }
}

#[test]
fn resolve_reports_missing_files_and_directories_as_not_found() {
    let site = site();
    for path in ["/missing.txt", "/a", "/a/", "/"] {
        assert_eq!(resolve(&site.root, path), Err(Refusal::NotFound), "{path}");
    }
}

#[test]
fn content_type_follows_the_extension() {
    assert_eq!(content_type(Path::new("a.JPG")), "image/jpeg");
    assert_eq!(content_type(Path::new("b.mp3")), "audio/mpeg");
    assert_eq!(
        content_type(Path::new("index.html")),
        "text/html; charset=utf-8"
    );
    assert_eq!(content_type(Path::new("blob")), "application/octet-stream");
}
