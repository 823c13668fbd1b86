//! The documentation's relative links resolve: every `[text](path)` and `![alt](path)` in
//! README.md, docs/*.md and bench/README.md names a file that exists, and a `#fragment` names a
//! heading of that file (as GitHub makes anchors). Every page in docs/ is linked from the README,
//! and every picture in docs/ is shown somewhere. Reads files only; no network.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The Markdown files whose links are checked, relative to the crate root.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md"), root.join("bench/README.md")];
    pages.extend(files_in(&root.join("docs"), "md"));
    pages
}

fn files_in(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == extension))
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The lines of a Markdown text that are prose: fenced and indented code blocks left out, inline
/// code spans blanked, so a `](` in an example command is not taken for a link.
fn prose_lines(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || line.starts_with("    ") || line.starts_with('\t') {
            continue;
        }
        let mut prose = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                prose.push_str(part);
            }
        }
        lines.push(prose);
    }
    lines
}

/// Every link target of a Markdown text: what stands between `](` and the next `)`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(text) {
        let mut rest = line.as_str();
        while let Some(open) = rest.find("](") {
            let after = &rest[open + 2..];
            let end = after.find(')').unwrap_or(after.len());
            targets.push(after[..end].trim().to_owned());
            rest = &after[end..];
        }
    }
    targets
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown text's headings; a repeated heading gets `-1`, `-2` … as on GitHub.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut anchors = Vec::new();
    for line in prose_lines(text) {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let base = slug(title.trim_start_matches('#'));
        let count = seen.entry(base.clone()).or_insert(0);
        anchors.push(match *count {
            0 => base.clone(),
            n => format!("{base}-{n}"),
        });
        *count += 1;
    }
    anchors
}

/// What is wrong with one link of `page`, if anything.
fn broken(page: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, fragment) = match target.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        page.to_path_buf()
    } else {
        page.parent().expect("a page in a folder").join(path)
    };
    if !file.exists() {
        return Some(format!("{target}: no file {}", file.display()));
    }
    let fragment = fragment?;
    if file.extension().is_none_or(|x| x != "md") {
        return Some(format!(
            "{target}: a fragment of a file that is not Markdown"
        ));
    }
    let known = anchors(&read(&file));
    (!known.iter().any(|a| a == fragment)).then(|| {
        format!(
            "{target}: no heading #{fragment} in {} ({known:?})",
            file.display()
        )
    })
}

#[test]
fn every_relative_link_in_the_docs_names_an_existing_file_and_heading() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in pages() {
        for target in link_targets(&read(&page)) {
            checked += 1;
            if let Some(problem) = broken(&page, &target) {
                problems.push(format!("{}: {problem}", page.display()));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
    // The pages link to each other: a check that found no links checked nothing.
    assert!(
        checked >= 10,
        "only {checked} links found: is the link parser broken?"
    );
}

#[test]
fn the_readme_links_every_page_of_docs_and_the_docs_show_every_picture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = link_targets(&read(&root.join("README.md")));
    for page in files_in(&root.join("docs"), "md") {
        let name = format!("docs/{}", page.file_name().unwrap().to_string_lossy());
        assert!(
            readme
                .iter()
                .any(|t| t.split('#').next() == Some(name.as_str())),
            "README.md does not link {name}"
        );
    }
    let shown: Vec<String> = pages()
        .iter()
        .flat_map(|page| link_targets(&read(page)))
        .collect();
    for picture in files_in(&root.join("docs"), "png") {
        let name = picture.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            shown.iter().any(|t| t.ends_with(&name)),
            "no page shows docs/{name}"
        );
    }
}

#[test]
fn anchors_are_made_as_github_makes_them() {
    let text = "# The report\n## The client's deadlines\n## TLS, resumption and 0-RTT\n\
                ## Notes\n## Notes\n    # not a heading\n";
    assert_eq!(
        anchors(text),
        [
            "the-report",
            "the-clients-deadlines",
            "tls-resumption-and-0-rtt",
            "notes",
            "notes-1"
        ]
    );
    assert_eq!(
        link_targets("see [a](docs/a.md#x) and `[b](not/a/link)` and ![c](c.png)"),
        ["docs/a.md#x", "c.png"]
    );
}
